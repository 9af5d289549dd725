with

source as (
    select * from {{ source('raw', 'crm_activities') }}
),

latest as (
    {{ latest_rows('source', ['activity_id']) }}
),

final as (
    select
        activity_id,
        contact_id,
        lower(activity_type) as activity_type,
        lower(direction) as direction,
        occurred_at,
        cast(occurred_at as date) as occurred_date,
        response_minutes
    from latest
    where _version_rank = 1
)

select * from final
