{#- Continuous percentile as an aggregate. Ordered-set syntax works on DuckDB and PostgreSQL;
    Spark only has percentile_approx. -#}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'kpi_firewatch')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro spark__percentile_cont(expression, fraction) -%}
    percentile_approx({{ expression }}, {{ fraction }})
{%- endmacro %}
