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

-- latest_rows ranks every row, which sorts the whole table: on a large year (22 M events) that
-- doubled the model's time. An event repeats only where a restated day was exported again, so
-- only the keys found more than once are ranked; the rest pass as they are. A null key is never
-- a repeat (its not_null test reports it).
repeated_keys as (
    select event_key
    from source
    where event_key is not null
    group by event_key
    having count(*) > 1
),

latest as (
    select
        source.*,
        1 as _version_rank
    from source
    where not exists (
        select 1 from repeated_keys where repeated_keys.event_key = source.event_key
    )
    union all
    select
        source.*,
        row_number() over (
            partition by source.event_key
            order by source._file_index desc, source._row_number desc
        ) as _version_rank
    from source
    where source.event_key in (select repeated_keys.event_key from repeated_keys)
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
