-- One row per GA4 session (visitor + session_id) with its traffic source, channel and what
-- happened in it. Engaged follows GA4: 10 s of engagement, 2+ page views, or a conversion.
-- Incremental: a night rebuilds the sessions with an event on or after its reprocessing date,
-- from all their events. A GA4 session ends after 30 minutes without activity, so its events
-- never lie more than two days before its last one: reading two days earlier is enough.
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key='session_key',
    incremental_strategy='delete+insert',
) }}
with

events as (
    select * from {{ ref('stg_web__events') }}
    {% if is_incremental() -%}
    where event_date >= {{ dbt.dateadd('day', -2, reprocess_from('web', 'session_date')) }}
    {%- endif %}
),

channels as (
    select * from {{ ref('int_source_medium_channels') }}
),

sessions as (
    select
        session_key,
        min(user_pseudo_id) as user_pseudo_id,
        min(event_at) as session_start_at,
        max(session_number) as session_number,
        -- GA4 stamps the session's traffic source on its events; absent means direct
        coalesce(max(source), '(direct)') as source,
        coalesce(max(medium), '(none)') as medium,
        max(campaign) as campaign,
        max(gclid) as gclid,
        count(*) as events,
        sum(case when event_name = 'page_view' then 1 else 0 end) as page_views,
        coalesce(sum(engagement_time_msec), 0) as engagement_time_msec,
        sum(case when event_name = 'generate_lead' then 1 else 0 end) as lead_events,
        sum(case when event_name = 'comment' then 1 else 0 end) as comment_events,
        sum(case when event_name = 'purchase' then 1 else 0 end) as purchase_events
    from events
    group by session_key
    {% if is_incremental() -%}
    having max(event_date) >= {{ reprocess_from('web', 'session_date') }}
    {%- endif %}
),

final as (
    select
        sessions.session_key,
        sessions.user_pseudo_id,
        sessions.session_start_at,
        cast(sessions.session_start_at as date) as session_date,
        sessions.session_number,
        coalesce(sessions.session_number, 1) > 1 as is_returning,
        sessions.source,
        sessions.medium,
        sessions.campaign,
        sessions.gclid,
        coalesce(channels.channel, 'other') as channel,
        sessions.events,
        sessions.page_views,
        sessions.engagement_time_msec,
        sessions.lead_events,
        sessions.comment_events,
        sessions.purchase_events,
        (
            sessions.engagement_time_msec >= {{ var('engaged_session_min_msec') }}
            or sessions.page_views >= 2
            or sessions.lead_events > 0
            or sessions.purchase_events > 0
        ) as is_engaged,
        (
            coalesce(channels.channel, 'other') = 'direct'
            or lower(coalesce(sessions.campaign, '')) like {{ sql_string(var("brand_campaign_pattern") | lower) }}
        ) as is_direct_or_brand
    from sessions
    left join channels
        on sessions.source = channels.source
        and sessions.medium = channels.medium
)

select * from final
