-- One row per GA4 event, deduplicated on event_id (or the GA4 natural key when it is absent).
-- Incremental: a night re-reads only the raw events from its first night minus the web
-- lookback (GA4 restates about three days); a restated event replaces its earlier version.
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key='event_key',
    incremental_strategy='delete+insert',
) }}

with

source as (
    select
        *,
        coalesce(
            event_id,
            {{ dbt.concat(["user_pseudo_id", "'|'", "session_id", "'|'",
                           dbt.cast("event_timestamp", dbt.type_string()), "'|'", "event_name"]) }}
        ) as event_key
    from {{ source('raw', 'web_events') }}
    {% if is_incremental() -%}
    where cast(event_timestamp as date) >= {{ reprocess_from('web', 'event_date') }}
    {%- endif %}
),

latest as (
    {{ latest_rows('source', ['event_key']) }}
),

final as (
    select
        event_key,
        event_timestamp as event_at,
        cast(event_timestamp as date) as event_date,
        lower(event_name) as event_name,
        user_pseudo_id,
        -- GA4's session_id is only unique per visitor
        {{ dbt.concat(["user_pseudo_id", "'|'", "session_id"]) }} as session_key,
        session_number,
        engagement_time_msec,
        lower(source) as source,
        lower(medium) as medium,
        campaign,
        gclid,
        page_location,
        page_load_ms,
        contact_id
    from latest
    where _version_rank = 1
)

select * from final
