with

source as (
    select * from {{ source('raw', 'crm_deals') }}
),

latest as (
    {{ latest_rows('source', ['deal_id']) }}
),

final as (
    select
        deal_id,
        contact_id,
        created_at,
        lower(trim(status)) as status,
        amount,
        upper(currency) as currency,
        closed_at,
        cast(closed_at as date) as closed_date,
        pipeline,
        lost_reason,
        _source_file
    from latest
    where _version_rank = 1
)

select * from final
