{{ config(meta={'dagster': {'ref': {'name': 'metric_series'}}}) }}
-- For every additive metric (counts and sums), the total row equals the sum of its channel rows
-- and of its platform rows: nothing is lost or counted twice by channel grouping.
with

catalog as (
    select metric_id from {{ ref('metric_catalog') }} where is_additive
),

series as (
    select series.*
    from {{ ref('metric_series') }} as series
    inner join catalog on series.metric_id = catalog.metric_id
),

totals as (
    select metric_id, grain, period_start, value as total_value
    from series
    where dimension = 'total'
),

parts as (
    select metric_id, grain, period_start, dimension, sum(value) as parts_value
    from series
    where dimension in ('channel', 'platform')
    group by metric_id, grain, period_start, dimension
)

select parts.*, totals.total_value
from parts
inner join totals
    on parts.metric_id = totals.metric_id
    and parts.grain = totals.grain
    and parts.period_start = totals.period_start
where abs(parts.parts_value - totals.total_value) > 1e-6 * (1 + abs(totals.total_value))
