-- All metric components in one long table, zero-filled: every component that was ever seen for
-- a dimension value gets a row for every period of history, so "no leads that day" is a 0 and
-- not a missing row. Percentiles are not filled: no page views means no p75, not a p75 of 0.
{{ config(post_hook="{{ refresh_planner_statistics(this) }}") }}
{%- set component_models = [
    'int_components__web', 'int_components__page_load', 'int_components__ads',
    'int_components__funnel', 'int_components__cohorts', 'int_components__conversations',
    'int_components__social', 'int_components__content', 'int_components__calendar',
] %}
{%- set not_zero_filled = ['page_load_p75'] %}

with

components as (
    -- a sum over nothing but nulls (a platform that does not report a counter) is absent, not 0
    {% for model in component_models -%}
    select * from {{ ref(model) }} where value is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

calendar as (
    select * from {{ ref('int_calendar') }}
),

periods as (
    {% for grain in ['day', 'week', 'month'] -%}
    select distinct
        '{{ grain }}' as grain,
        {{ period_start(grain, 'calendar_date') }} as period_start
    from calendar
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

observed_series as (
    select distinct grain, dimension, dimension_value, component
    from components
),

spine as (
    select
        observed_series.grain,
        periods.period_start,
        observed_series.dimension,
        observed_series.dimension_value,
        observed_series.component
    from observed_series
    inner join periods
        on observed_series.grain = periods.grain
),

final as (
    select
        spine.grain,
        spine.period_start,
        spine.dimension,
        spine.dimension_value,
        spine.component,
        case
            when components.value is not null then components.value
            when spine.component in ('{{ not_zero_filled | join("', '") }}') then null
            else 0
        end as value
    from spine
    left join components
        on spine.grain = components.grain
        and spine.period_start = components.period_start
        and spine.dimension = components.dimension
        and spine.dimension_value = components.dimension_value
        and spine.component = components.component
)

select * from final
