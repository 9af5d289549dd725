-- Monthly targets against actuals: attainment, pacing (actual against the share of the target
-- that the days elapsed call for) and a straight-line projection to the month's end.
with

targets as (
    select * from {{ ref('stg_planning__targets') }}
),

actuals as (
    select * from {{ ref('metric_series') }}
    where grain = 'month'
),

context as (
    select * from {{ ref('int_run_context') }}
),

calendar as (
    select
        targets.*,
        {{ dbt.datediff('targets.period_start', dbt.dateadd('month', 1, 'targets.period_start'), 'day') }}
            as days_in_month,
        {{ dbt.datediff('targets.period_start', 'context.as_of_date', 'day') }} + 1 as days_since_start
    from targets
    cross join context
    where targets.period_start <= context.as_of_date
),

measured as (
    select
        calendar.period_start,
        calendar.metric_id,
        calendar.dimension,
        calendar.dimension_value,
        calendar.target_value,
        coalesce(actuals.value, 0) as actual_value,
        calendar.days_in_month,
        case
            when calendar.days_since_start > calendar.days_in_month then calendar.days_in_month
            else calendar.days_since_start
        end as days_elapsed,
        actuals.metric_id is not null as has_actuals
    from calendar
    left join actuals
        on calendar.metric_id = actuals.metric_id
        and calendar.period_start = actuals.period_start
        and calendar.dimension = actuals.dimension
        and calendar.dimension_value = actuals.dimension_value
),

final as (
    select
        period_start,
        metric_id,
        dimension,
        dimension_value,
        target_value,
        actual_value,
        actual_value - target_value as gap,
        case when target_value = 0 then null else actual_value / target_value end as attainment,
        days_elapsed,
        days_in_month,
        target_value * days_elapsed / days_in_month as expected_to_date,
        case
            when target_value = 0 then null
            else actual_value / (target_value * days_elapsed / days_in_month)
        end as pacing,
        actual_value * days_in_month / days_elapsed as projected_value,
        days_elapsed = days_in_month as is_month_closed,
        case
            when days_elapsed = days_in_month and actual_value >= target_value then 'met'
            when days_elapsed = days_in_month then 'missed'
            when actual_value * days_in_month / days_elapsed >= target_value then 'on_track'
            else 'behind'
        end as status,
        has_actuals
    from measured
)

select * from final
