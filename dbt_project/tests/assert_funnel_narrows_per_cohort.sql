{{ config(meta={'dagster': {'ref': {'name': 'int_lead_cohorts'}}}) }}
-- Every weekly lead cohort of every channel narrows down the funnel:
-- leads >= MQL >= SQL >= customers.
with

cohorts as (
    select
        {{ period_start('week', 'cohort_date') }} as cohort_week,
        channel,
        count(*) as leads,
        count(mql_at) as mqls,
        count(sql_at) as sqls,
        count(customer_at) as customers
    from {{ ref('int_lead_cohorts') }}
    group by {{ period_start('week', 'cohort_date') }}, channel
)

select *
from cohorts
where not (leads >= mqls and mqls >= sqls and sqls >= customers)
