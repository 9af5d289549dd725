{#- One row per period and dimension value, one column per metric of a layer: the shape BI tools
    and spreadsheets want. Values come from metric_series, so they cannot disagree with it. -#}
{% macro wide_metrics(layer, grain) -%}
    {%- set metrics = [] -%}
    {%- for m in firewatch_metrics() if m.layer == layer and grain in m.grains -%}
        {%- do metrics.append(m) -%}
    {%- endfor -%}
    with

    series as (
        select * from {{ ref('metric_series') }}
        where grain = '{{ grain }}'
            and dimension in ('total', 'channel')
            and layer = '{{ layer }}'
    ),

    final as (
        select
            period_start,
            dimension,
            dimension_value,
            {% for m in metrics -%}
            max(case when metric_id = '{{ m.metric_id }}' then value end) as {{ m.metric_id }},
            {% endfor -%}
            {%- if layer == 'meaning' %}
            -- false while any cohort metric of the row is still too young to be final
            min(case when is_mature then 1 else 0 end) = 1 as is_mature,
            {%- endif %}
            min(case when is_complete_period then 1 else 0 end) = 1 as is_complete_period
        from series
        group by period_start, dimension, dimension_value
    )

    select * from final
{%- endmacro %}
