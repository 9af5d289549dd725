-- Timed page views with the channel of their session, for page-load percentiles.
with

final as (
    select
        events.event_date,
        sessions.channel,
        events.page_load_ms
    from {{ ref('stg_web__events') }} as events
    inner join {{ ref('int_sessions') }} as sessions
        on events.session_key = sessions.session_key
    where events.event_name = 'page_view'
        and events.page_load_ms is not null
)

select * from final
