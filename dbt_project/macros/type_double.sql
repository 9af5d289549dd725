{#- A 64-bit float for measures. dbt.type_float() renders `float`, which is 32 bits on DuckDB
    and Spark: revenue lost cents and counts above 16.7 million were inexact in metric_series.
    PostgreSQL's `float` is already 64-bit, but `double precision` says so on every ANSI adapter. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'kpi_firewatch')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{% macro databricks__type_double() -%}
    double
{%- endmacro %}
