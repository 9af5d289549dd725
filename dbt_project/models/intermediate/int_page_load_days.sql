-- Page-load histograms: one row per day, session channel and load time (whole milliseconds),
-- with the number of page views that loaded in it. The percentiles are read off these
-- (macros/rollup_percentile.sql), so the 44 M page views of a large year are never written
-- out one by one: a day and channel has a few thousand distinct load times.
-- Incremental like int_sessions: a night rebuilds every day from two days before its
-- reprocessing date, from all of that day's page views (a rebuilt session may have started
-- up to two days before its last event), so a day is replaced whole.
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key='event_date',
    incremental_strategy='delete+insert',
) }}
with

page_views as (
    select
        events.event_date,
        sessions.channel,
        events.page_load_ms
    from {{ ref('stg_web__events') }} as events
    inner join {{ ref('int_sessions') }} as sessions
        on events.session_key = sessions.session_key
    where events.event_name = 'page_view'
        and events.page_load_ms is not null
        {% if is_incremental() -%}
        and events.event_date >= {{ dbt.dateadd('day', -2, reprocess_from('web', 'event_date')) }}
        {%- endif %}
),

final as (
    select
        event_date,
        channel,
        page_load_ms,
        count(*) as page_views
    from page_views
    group by event_date, channel, page_load_ms
)

select * from final
