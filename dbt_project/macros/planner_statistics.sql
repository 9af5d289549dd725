{#- Statistics for the query planner, taken right after a model is built. PostgreSQL plans from
    statistics that autovacuum gathers in its own time (and never for a table of a few rows):
    a model read in the same build as it was written is planned blind, and metric_series, which
    joins int_metric_components with itself once per metric, then ran nested loops for minutes.
    DuckDB keeps its statistics as it writes: nothing to do there. Used as a post_hook. -#}
{% macro refresh_planner_statistics(relation) -%}
    {{ return(adapter.dispatch('refresh_planner_statistics', 'kpi_firewatch')(relation)) }}
{%- endmacro %}

{% macro default__refresh_planner_statistics(relation) -%}
{%- endmacro %}

{% macro postgres__refresh_planner_statistics(relation) -%}
    analyze {{ relation }}
{%- endmacro %}
