{{ config(meta={'dagster': {'ref': {'name': 'target_gap_explanation'}}}) }}
-- LMDI is exact: the funnel contributions of every explained month and metric add up to the
-- metric's change against the comparison. The tolerance only covers each contribution's rounding
-- to 6 decimals and floating point on large values.
with

explanation as (
    select * from {{ ref('target_gap_explanation') }}
    where kind = 'funnel_step' and decomposition <> 'no_comparison'
),

sums as (
    select
        period_start,
        metric_id,
        max(change_vs_comparison) as change_vs_comparison,
        sum(contribution) as contributions,
        count(*) as factors
    from explanation
    group by period_start, metric_id
)

select *
from sums
where contributions is null
    or abs(contributions - change_vs_comparison) > 0.0001 + 0.000000001 * abs(change_vs_comparison)
