{#- Calendar helpers shared by every rollup, so "a week" means the same thing everywhere
    (ISO weeks starting Monday, as date_trunc gives on DuckDB, PostgreSQL and Spark). -#}

{% macro period_start(grain, date_expression) -%}
    {%- if grain == 'day' -%}
        cast({{ date_expression }} as date)
    {%- else -%}
        cast({{ dbt.date_trunc(grain, date_expression) }} as date)
    {%- endif -%}
{%- endmacro %}

{#- True when the period starting at period_start_expression has ended and lag_days more have
    passed by as_of_expression: the metric's numbers for it can no longer change. -#}
{% macro period_is_settled(grain, period_start_expression, lag_days, as_of_expression) -%}
    cast({{ dbt.dateadd('day', lag_days - 1, dbt.dateadd(grain, 1, period_start_expression)) }} as date)
        <= {{ as_of_expression }}
{%- endmacro %}

{% macro as_of_date() -%}
    (select as_of_date from {{ ref('int_run_context') }})
{%- endmacro %}

{% macro validated_as_of() -%}
    {#- Only a real calendar date may reach the SQL: anything else fails the run at compile. -#}
    {%- set raw = var('as_of', '') | string | trim -%}
    {%- if raw == '' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.strptime(raw, '%Y-%m-%d') -%}
    {{ return(parsed.strftime('%Y-%m-%d')) }}
{%- endmacro %}
