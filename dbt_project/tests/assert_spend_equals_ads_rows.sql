{{ config(meta={'dagster': {'ref': {'name': 'metric_series'}}}) }}
-- Daily total spend in metric_series equals the converted spend of the deduplicated ads rows.
with

ads as (
    select report_date, sum(spend_reporting) as spend
    from {{ ref('int_ads_daily') }}
    where report_date <= (select as_of_date from {{ ref('int_run_context') }})
    group by report_date
),

series as (
    select period_start, value
    from {{ ref('metric_series') }}
    where metric_id = 'spend' and grain = 'day' and dimension = 'total'
)

select ads.report_date, ads.spend, series.value
from ads
left join series on ads.report_date = series.period_start
where series.value is null or abs(ads.spend - series.value) > 1e-6 * (1 + ads.spend)
