-- Timed page views with the channel of their session, for page-load percentiles.
-- Incremental like int_sessions: the page views of every session a night rebuilds.
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key='event_key',
    incremental_strategy='delete+insert',
) }}
with

final as (
    select
        events.event_key,
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
)

select * from final
