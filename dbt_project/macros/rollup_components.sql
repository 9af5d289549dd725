{#- Aggregates a row-level relation into metric components (docs/contract.md: metric_series inputs):
    one long row per grain, period, dimension value and component. Every grain and dimension is
    aggregated from the rows themselves, never from daily sums, so distinct counts and
    percentiles are right at every grain.

    measures: list of [component_name, aggregate_sql]
    dimensions: mapping of dimension name -> column (none for the total)
    incremental_source: 'web' or 'ads' for a model materialized incrementally with
        unique_key ['grain', 'period_start']: a night then re-aggregates only the periods that
        contain its reprocessing date or come after it, each from all of its rows. -#}
{% macro rollup_components(relation, date_column, measures, grains=['day', 'week', 'month'], dimensions=none, incremental_source=none) -%}
    {%- if dimensions is none -%}
        {%- set dimensions = {'total': none, 'channel': 'channel'} -%}
    {%- endif -%}
    {%- set cutoff = rollup_cutoff(incremental_source) -%}
    with

    scoped as (
        {{ rollup_scoped(relation, date_column, grains, cutoff) }}
    ),

    {% for grain in grains %}
    {%- set grain_loop = loop -%}
    {% for dimension, column in dimensions.items() %}
    agg_{{ grain }}_{{ dimension }} as (
        select
            {{ period_start(grain, date_column) }} as period_start,
            {{ rollup_dimension_value(column) }} as dimension_value,
            {% for name, aggregate in measures -%}
            {{ aggregate }} as {{ name }}{% if not loop.last %},{% endif %}
            {% endfor %}
        from scoped
        group by
            {{ period_start(grain, date_column) }}{% if column is not none %},
            {{ rollup_dimension_value(column) }}{% endif %}
    ),
    {% endfor %}
    {% endfor %}

    final as (
        {% for grain in grains %}
        {%- set outer_last = loop.last -%}
        {% for dimension, column in dimensions.items() %}
        {%- set dimension_last = loop.last -%}
        {% for name, aggregate in measures %}
        select
            '{{ grain }}' as grain,
            period_start,
            '{{ dimension }}' as dimension,
            dimension_value,
            '{{ name }}' as component,
            cast({{ name }} as {{ type_double() }}) as value
        from agg_{{ grain }}_{{ dimension }}
        {% if cutoff is not none -%}
        where period_start >= {{ period_start(grain, cutoff) }}
        {% endif -%}
        {% if not (outer_last and dimension_last and loop.last) %}union all{% endif %}
        {% endfor %}
        {% endfor %}
        {% endfor %}
    )

    select * from final
{%- endmacro %}


{#- The reprocessing date of an incremental rollup's night, none for a full build: two days
    earlier than the event models' date, since a rebuilt session may have started up to two days
    before its last event (see int_sessions). -#}
{% macro rollup_cutoff(incremental_source) -%}
    {%- if incremental_source is not none and is_incremental() -%}
        {{ return(dbt.dateadd('day', -2, reprocess_from(incremental_source, 'period_start'))) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The rows a rollup aggregates: up to the as-of date and, on an incremental night, from the
    start of the earliest period that contains the cutoff, so every period rebuilt is complete. -#}
{% macro rollup_scoped(relation, date_column, grains, cutoff) -%}
        select *
        from {{ relation }}
        where {{ date_column }} <= {{ as_of_date() }}
        {% if cutoff is not none -%}
        and {{ date_column }} >= least(
            {%- for grain in grains %}{{ period_start(grain, cutoff) }}{% if not loop.last %}, {% endif %}{% endfor -%}
        )
        {%- endif %}
{%- endmacro %}

{#- A dimension's value as the rollups write it ('total' for the total, 'unattributed' for null). -#}
{% macro rollup_dimension_value(column) -%}
    {%- if column is none -%}
    'total'
    {%- else -%}
    coalesce({{ dbt.cast(column, dbt.type_string()) }}, 'unattributed')
    {%- endif -%}
{%- endmacro %}
