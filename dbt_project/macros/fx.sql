{#- Adds `_fx_rate`: the latest rate to the reporting currency on or before the row's date, so a
    weekend or a missing day uses the last known rate. Rows in the reporting currency get 1;
    rows with no rate at all get null and fail the not_null test on the converted amount. -#}
{% macro with_fx_rate(relation, key_columns, currency_column, date_column) -%}
    select
        ranked.*,
        case
            when ranked.{{ currency_column }} = '{{ reporting_currency() }}' then 1.0
            else ranked._matched_rate
        end as _fx_rate
    from (
        select
            base.*,
            fx.rate_to_reporting as _matched_rate,
            row_number() over (
                partition by {% for key in key_columns %}base.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
                order by fx.rate_date desc
            ) as _fx_rank
        from {{ relation }} as base
        left join {{ ref('stg_finance__fx_rates') }} as fx
            on fx.currency = base.{{ currency_column }}
            and fx.rate_date <= base.{{ date_column }}
    ) as ranked
    where ranked._fx_rank = 1
{%- endmacro %}
