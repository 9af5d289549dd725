-- One row per lead cohort (creation day), dimension value and age at SQL: how many of the
-- cohort's leads reached SQL on each day of their life so far, and how many have not (yet).
-- Detection compares young cohorts with what the baseline's cohorts did at the same age
-- (divergence/censored.py): a cohort one day old counts for what one day can say, without
-- waiting for the 7- or 28-day cut-off of the fixed-horizon rates in metric_series.
with

leads as (
    select
        cohort_date,
        coalesce({{ dbt.cast('channel', dbt.type_string()) }}, 'unattributed') as channel,
        -- an SQL stamped before the contact's creation counts as on its first day
        case when days_to_sql < 0 then 0 else days_to_sql end as age_at_sql_days
    from {{ ref('int_lead_cohorts') }}
),

by_total as (
    select
        cohort_date,
        'total' as dimension,
        'total' as dimension_value,
        age_at_sql_days,
        count(*) as lead_count
    from leads
    group by cohort_date, age_at_sql_days
),

by_channel as (
    select
        cohort_date,
        'channel' as dimension,
        channel as dimension_value,
        age_at_sql_days,
        count(*) as lead_count
    from leads
    group by cohort_date, channel, age_at_sql_days
),

final as (
    select * from by_total
    union all
    select * from by_channel
)

select * from final
