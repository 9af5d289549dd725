with

source as (
    select * from {{ source('raw', 'fx_rates') }}
),

latest as (
    {{ latest_rows('source', ['date', 'currency']) }}
),

final as (
    select
        date as rate_date,
        upper(currency) as currency,
        rate_to_reporting
    from latest
    where _version_rank = 1
)

select * from final
