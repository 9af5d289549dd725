{#- Continuous percentile as an aggregate. Ordered-set syntax works on DuckDB and PostgreSQL;
    Spark's `percentile` is the same exact, linearly interpolated percentile (percentile_approx
    is approximate and returns one of the values). -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'kpi_firewatch')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}
