-- Every day from the start of history to the as-of date: the spine that zero-fills metrics.
with

numbers as (
    {{ dbt.generate_series(var('calendar_max_days')) }}
),

context as (
    select * from {{ ref('int_run_context') }}
),

final as (
    select
        cast({{ dbt.dateadd('day', 'numbers.generated_number - 1', 'context.history_start_date') }} as date)
            as calendar_date
    from numbers
    cross join context
    where numbers.generated_number - 1
        <= {{ dbt.datediff('context.history_start_date', 'context.as_of_date', 'day') }}
)

select * from final
