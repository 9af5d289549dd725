-- Deals with their amount in the reporting currency, at the rate of the day the deal closed
-- (or was created, while open).
with

deals as (
    select
        *,
        cast(coalesce(closed_at, created_at) as date) as valuation_date
    from {{ ref('stg_crm__deals') }}
),

with_rate as (
    {{ with_fx_rate('deals', ['deal_id'], 'currency', 'valuation_date') }}
),

final as (
    select
        deal_id,
        contact_id,
        created_at,
        status,
        closed_at,
        closed_date,
        valuation_date,
        amount,
        currency,
        _fx_rate as fx_rate,
        amount * _fx_rate as amount_reporting,
        _source_file
    from with_rate
)

select * from final
