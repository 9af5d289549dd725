-- Why a monthly target was missed: for every closed month whose all-channel target on a funnel
-- metric (sessions, leads, sql, customers, revenue) was missed, the change of that metric against
-- a comparison baseline split across funnel steps, plus the system factors that moved with it.
--
-- Funnel identity, exact per month because every term is a flow of the same calendar month:
--   revenue = sessions * (leads / sessions) * (sql / leads) * (customers / sql) * (revenue / customers)
-- A target on leads, sql or customers uses the same chain cut after that metric.
--
-- Comparison: the up to N (var explain_comparison_months, default 3) months before the missed
-- month, pooled: counts are monthly averages and every rate is a ratio of the sums, so the
-- comparison's factors multiply exactly to its average monthly value. Only months that start on
-- or after both the first day with sessions (web analytics) and the first day with leads (the
-- CRM) count: a CRM export often reaches back further than the web analytics, and a month with
-- half its sessions would fake a conversion jump. SQL, customers and revenue come from the same
-- CRM and are too sparse for their first day to mark where history starts. A missed month that
-- starts before that has no comparison.
--
-- Decomposition: additive LMDI-I. With V the targeted metric, 1 = the month, 0 = the comparison,
-- factor i contributes L(V1, V0) * ln(x_i1 / x_i0), L(a, b) = (a - b) / (ln a - ln b), L(a, a) = a;
-- the contributions sum to V1 - V0. When a funnel count is zero in either period the logarithms
-- do not exist: the first funnel step that is zero takes the whole change and the others 0 (the
-- limit of LMDI when that count tends to zero), flagged decomposition = 'zero_step'.
{%- set comparison_months = var('explain_comparison_months', 3) | int %}
{%- set min_change = var('explain_min_relative_change', 0.05) | float %}
{%- set float = type_double() %}
{%- set funnel = [
    {'factor': 'sessions', 'metric': 'sessions', 'count': 'sessions', 'per': none, 'unit': 'count'},
    {'factor': 'lead_rate', 'metric': 'leads', 'count': 'leads', 'per': 'sessions', 'unit': 'ratio'},
    {'factor': 'sql_rate', 'metric': 'sql', 'count': 'sql', 'per': 'leads', 'unit': 'ratio'},
    {'factor': 'win_rate', 'metric': 'customers', 'count': 'customers', 'per': 'sql', 'unit': 'ratio'},
    {'factor': 'deal_size', 'metric': 'revenue', 'count': 'revenue', 'per': 'customers', 'unit': 'currency'},
] %}
{%- set system_factors = ['page_load_p75', 'content_regularity', 'first_response_minutes'] %}

with

targets as (
    select * from {{ ref('target_attainment') }}
),

monthly_series as (
    select * from {{ ref('metric_series') }}
    where grain = 'month' and dimension = 'total'
),

daily_series as (
    select * from {{ ref('metric_series') }}
    where grain = 'day' and dimension = 'total'
),

catalog as (
    select * from {{ ref('metric_catalog') }}
),

missed_targets as (
    select
        period_start,
        metric_id,
        cast(target_value as {{ float }}) as target_value,
        cast(actual_value as {{ float }}) as actual_value,
        case metric_id
            {% for step in funnel -%}
            when '{{ step.metric }}' then {{ loop.index }}
            {% endfor -%}
        end as funnel_depth
    from targets
    where dimension = 'total'
        and is_month_closed
        and status = 'missed'
        and metric_id in ('{{ funnel | map(attribute="metric") | join("', '") }}')
),

funnel_months as (
    select
        period_start,
        {% for step in funnel -%}
        max(case when metric_id = '{{ step.metric }}' then cast(value as {{ float }}) end)
            as {{ step.count }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from monthly_series
    where metric_id in ('{{ funnel | map(attribute="metric") | join("', '") }}')
    group by period_start
),

first_active_days as (
    -- where each source's history starts: web analytics (sessions) and the CRM (leads)
    select
        metric_id,
        case metric_id when 'sessions' then 1 else 2 end as funnel_step,
        min(period_start) as first_active_day
    from daily_series
    where metric_id in ('sessions', 'leads')
        and value > 0
    group by metric_id
),

funnel_histories as (
    -- the first day on which every source of the target's chain has data
    select
        missed_targets.period_start,
        missed_targets.metric_id,
        max(first_active_days.first_active_day) as history_start
    from missed_targets
    inner join first_active_days
        on first_active_days.funnel_step <= missed_targets.funnel_depth
    group by missed_targets.period_start, missed_targets.metric_id
    having count(*) = case when max(missed_targets.funnel_depth) >= 2 then 2 else 1 end
),

comparison_windows as (
    select
        missed_targets.period_start,
        missed_targets.metric_id,
        funnel_months.period_start as comparison_period
    from missed_targets
    inner join funnel_histories
        on missed_targets.period_start = funnel_histories.period_start
        and missed_targets.metric_id = funnel_histories.metric_id
    inner join funnel_months
        on funnel_months.period_start < missed_targets.period_start
        and funnel_months.period_start
            >= cast({{ dbt.dateadd('month', -comparison_months, 'missed_targets.period_start') }} as date)
        and funnel_months.period_start >= funnel_histories.history_start
    where missed_targets.period_start >= funnel_histories.history_start
),

comparison_funnels as (
    select
        comparison_windows.period_start,
        comparison_windows.metric_id,
        min(comparison_windows.comparison_period) as comparison_start,
        count(*) as comparison_months,
        {% for step in funnel -%}
        sum(funnel_months.{{ step.count }}) / count(*) as {{ step.count }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from comparison_windows
    inner join funnel_months
        on comparison_windows.comparison_period = funnel_months.period_start
    group by comparison_windows.period_start, comparison_windows.metric_id
),

month_shapes as (
    select
        missed_targets.period_start,
        missed_targets.metric_id,
        missed_targets.funnel_depth,
        missed_targets.target_value,
        missed_targets.actual_value,
        coalesce(comparison_funnels.comparison_months, 0) as comparison_months,
        comparison_funnels.comparison_start,
        {% for step in funnel -%}
        now_funnel.{{ step.count }} as {{ step.count }}_now,
        comparison_funnels.{{ step.count }} as {{ step.count }}_then,
        {% endfor -%}
        case missed_targets.metric_id
            {% for step in funnel -%}
            when '{{ step.metric }}' then comparison_funnels.{{ step.count }}
            {% endfor -%}
        end as comparison_value,
        case
            {% for step in funnel -%}
            when missed_targets.funnel_depth >= {{ loop.index }}
                and (coalesce(now_funnel.{{ step.count }}, 0) <= 0
                    or coalesce(comparison_funnels.{{ step.count }}, 0) <= 0)
                then {{ loop.index }}
            {% endfor -%}
        end as first_zero_step
    from missed_targets
    left join funnel_months as now_funnel
        on missed_targets.period_start = now_funnel.period_start
    left join comparison_funnels
        on missed_targets.period_start = comparison_funnels.period_start
        and missed_targets.metric_id = comparison_funnels.metric_id
),

log_means as (
    select
        *,
        case
            when comparison_months = 0 then 'no_comparison'
            when first_zero_step is not null then 'zero_step'
            else 'lmdi'
        end as decomposition,
        case
            when comparison_months = 0 or first_zero_step is not null then null
            when actual_value = comparison_value then actual_value
            else (actual_value - comparison_value)
                / (ln(case when actual_value > 0 then actual_value end)
                    - ln(case when comparison_value > 0 then comparison_value end))
        end as log_mean_weight
    from month_shapes
),

funnel_factors as (
    {% for step in funnel -%}
    select
        period_start,
        metric_id,
        'funnel_step' as kind,
        '{{ step.factor }}' as factor,
        {{ loop.index }} as factor_order,
        '{{ step.unit }}' as unit,
        'up' as good_direction,
        {% if step.per -%}
        {{ step.count }}_then / case when {{ step.per }}_then > 0 then {{ step.per }}_then end
            as value_then,
        {{ step.count }}_now / case when {{ step.per }}_now > 0 then {{ step.per }}_now end
            as value_now,
        {%- else -%}
        {{ step.count }}_then as value_then,
        {{ step.count }}_now as value_now,
        {%- endif %}
        decomposition,
        log_mean_weight,
        first_zero_step,
        target_value,
        actual_value,
        comparison_value,
        comparison_start,
        comparison_months
    from log_means
    where funnel_depth >= {{ loop.index }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

funnel_contributions as (
    select
        *,
        case decomposition
            when 'lmdi' then log_mean_weight * (
                ln(case when value_now > 0 then value_now end)
                - ln(case when value_then > 0 then value_then end)
            )
            when 'zero_step' then
                case when factor_order = first_zero_step then actual_value - comparison_value else 0 end
        end as raw_contribution
    from funnel_factors
),

system_factor_list as (
    {% for metric_id in system_factors -%}
    select '{{ metric_id }}' as factor, {{ funnel | length + loop.index }} as factor_order
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

system_then as (
    -- a ratio is pooled over the comparison months (sum / sum); a metric without a denominator
    -- (a percentile such as page_load_p75) is the mean of its monthly values
    select
        comparison_windows.period_start,
        comparison_windows.metric_id,
        monthly_series.metric_id as factor,
        case
            when max(catalog.denominator_component) is null then avg(monthly_series.value)
            else sum(monthly_series.numerator)
                / case when sum(monthly_series.denominator) > 0 then sum(monthly_series.denominator) end
        end as value_then
    from comparison_windows
    inner join monthly_series
        on comparison_windows.comparison_period = monthly_series.period_start
    inner join catalog
        on monthly_series.metric_id = catalog.metric_id
    where monthly_series.metric_id in ('{{ system_factors | join("', '") }}')
    group by comparison_windows.period_start, comparison_windows.metric_id, monthly_series.metric_id
),

system_factors as (
    select
        log_means.period_start,
        log_means.metric_id,
        'system_factor' as kind,
        system_factor_list.factor,
        system_factor_list.factor_order,
        catalog.unit,
        catalog.good_direction,
        system_then.value_then,
        cast(now_series.value as {{ float }}) as value_now,
        log_means.decomposition,
        log_means.target_value,
        log_means.actual_value,
        log_means.comparison_value,
        log_means.comparison_start,
        log_means.comparison_months
    from log_means
    cross join system_factor_list
    inner join catalog
        on system_factor_list.factor = catalog.metric_id
    left join monthly_series as now_series
        on log_means.period_start = now_series.period_start
        and system_factor_list.factor = now_series.metric_id
    left join system_then
        on log_means.period_start = system_then.period_start
        and log_means.metric_id = system_then.metric_id
        and system_factor_list.factor = system_then.factor
),

all_factors as (
    select
        period_start, metric_id, kind, factor, factor_order, unit, good_direction,
        value_then, value_now,
        cast(raw_contribution as {{ dbt.type_numeric() }}) as contribution,
        decomposition, target_value, actual_value, comparison_value, comparison_start,
        comparison_months
    from funnel_contributions
    union all
    select
        period_start, metric_id, kind, factor, factor_order, unit, good_direction,
        value_then, value_now,
        cast(null as {{ dbt.type_numeric() }}) as contribution,
        decomposition, target_value, actual_value, comparison_value, comparison_start,
        comparison_months
    from system_factors
),

final as (
    select
        {{ dbt.concat([
            dbt.cast('period_start', dbt.type_string()), "'|'", 'metric_id', "'|'", 'factor'
        ]) }} as explanation_id,
        period_start,
        metric_id,
        kind,
        factor,
        factor_order,
        unit,
        good_direction,
        value_then,
        value_now,
        case
            when value_then is null or value_now is null or value_then = 0 then null
            else value_now / value_then - 1
        end as relative_change,
        case
            when value_then is null or value_now is null then null
            when good_direction = 'up' then value_now < value_then
                and (value_then = 0 or (value_then - value_now) / abs(value_then) >= {{ min_change }})
            else value_now > value_then
                and (value_then = 0 or (value_now - value_then) / abs(value_then) >= {{ min_change }})
        end as moved_the_bad_way,
        contribution,
        case
            when kind <> 'funnel_step' or actual_value = comparison_value then null
            when contribution = 0 then 0
            else cast(contribution as {{ float }}) / (actual_value - comparison_value)
        end as share_of_gap,
        target_value,
        actual_value,
        comparison_value,
        actual_value - comparison_value as change_vs_comparison,
        actual_value - target_value as target_gap,
        comparison_value - target_value as comparison_gap_to_target,
        comparison_start,
        comparison_months,
        decomposition
    from all_factors
)

select * from final
