{#- A continuous percentile and the count of values it was taken over, as metric components in
    rollup_components' long shape (grain, period_start, dimension, dimension_value, component,
    value), computed from histograms instead of from every value.

    percentile_cont holds every value of a group in memory until the group is done: on a year
    of a large site (44 M page views) it does not fit DuckDB's memory cap. A histogram (one row
    per distinct value and its count: page loads are whole milliseconds, so a few thousand rows
    per period) is built once per day and dimension value, summed into weeks and months, and the
    percentile read off the cumulative counts. The result is the same number percentile_cont
    gives, with the same interpolation: for n values sorted ascending and h = fraction * (n - 1),
    the value at 0-based rank floor(h) plus (h - floor(h)) times the step to the next one.

    value_column: a column whose distinct values are few (whole numbers, say); nulls are skipped.
    count_column: when the relation is already a histogram, the column holding each row's
        number of values (none: every row is one value).
    The other arguments are rollup_components'. -#}
{% macro rollup_percentile(relation, date_column, value_column, fraction, name, count_name, grains=['day', 'week', 'month'], dimensions=none, incremental_source=none, count_column=none) -%}
    {%- if dimensions is none -%}
        {%- set dimensions = {'total': none, 'channel': 'channel'} -%}
    {%- endif -%}
    {%- set cutoff = rollup_cutoff(incremental_source) -%}
    {%- set position -%}({{ fraction }} * (n - 1)){%- endset -%}
    with

    scoped as (
        {{ rollup_scoped(relation, date_column, grains, cutoff) }}
    ),

    {#- one histogram per day and dimension value; every grain sums these -#}
    {% for dimension, column in dimensions.items() %}
    daily_{{ dimension }} as (
        select
            {{ period_start('day', date_column) }} as day_start,
            {{ rollup_dimension_value(column) }} as dimension_value,
            {{ value_column }} as value,
            {% if count_column is none %}count(*){% else %}sum({{ count_column }}){% endif %} as value_count
        from scoped
        where {{ value_column }} is not null
        group by
            {{ period_start('day', date_column) }},
            {% if column is not none %}{{ rollup_dimension_value(column) }},{% endif %}
            {{ value_column }}
    ),
    {% endfor %}

    histograms as (
        {% for grain in grains %}
        {%- set grain_last = loop.last -%}
        {% for dimension, column in dimensions.items() %}
        select
            '{{ grain }}' as grain,
            {{ period_start(grain, 'day_start') }} as period_start,
            '{{ dimension }}' as dimension,
            dimension_value,
            value,
            sum(value_count) as value_count
        from daily_{{ dimension }}
        {% if cutoff is not none -%}
        where day_start >= {{ period_start(grain, cutoff) }}
        {% endif -%}
        group by {{ period_start(grain, 'day_start') }}, dimension_value, value
        {% if not (grain_last and loop.last) %}union all{% endif %}
        {% endfor %}
        {% endfor %}
    ),

    cumulative as (
        select
            grain,
            period_start,
            dimension,
            dimension_value,
            value,
            sum(value_count) over (
                partition by grain, period_start, dimension, dimension_value
                order by value
                rows between unbounded preceding and current row
            ) as values_up_to,
            sum(value_count) over (
                partition by grain, period_start, dimension, dimension_value
            ) as n
        from histograms
    ),

    {#- the value at 0-based rank r is the smallest value whose cumulative count exceeds r -#}
    ranks as (
        select
            grain,
            period_start,
            dimension,
            dimension_value,
            max(n) as n,
            min(case when values_up_to > floor({{ position }}) then value end) as lower_value,
            min(case when values_up_to > floor({{ position }}) + 1 then value end) as upper_value,
            max({{ position }} - floor({{ position }})) as step_share
        from cumulative
        group by grain, period_start, dimension, dimension_value
    ),

    final as (
        select
            grain,
            period_start,
            dimension,
            dimension_value,
            '{{ name }}' as component,
            cast(
                lower_value
                + step_share * (coalesce(upper_value, lower_value) - lower_value)
                as {{ type_double() }}
            ) as value
        from ranks
        union all
        select
            grain,
            period_start,
            dimension,
            dimension_value,
            '{{ count_name }}' as component,
            cast(n as {{ type_double() }}) as value
        from ranks
    )

    select * from final
{%- endmacro %}
