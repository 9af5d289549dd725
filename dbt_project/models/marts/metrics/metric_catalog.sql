-- One row per metric (docs/contract.md section 2), rendered from the firewatch_metrics() macro.
with

final as (
    {% for m in firewatch_metrics() -%}
    select
        '{{ m.metric_id }}' as metric_id,
        '{{ m.layer }}' as layer,
        '{{ m.label | replace("'", "''") }}' as label,
        '{{ m.description | replace("'", "''") }}' as description,
        '{{ m.unit }}' as unit,
        '{{ m.good_direction }}' as good_direction,
        '{{ m.owner }}' as owner,
        '{{ m.decision | replace("'", "''") }}' as decision,
        {{ m.maturity_lag_days }} as maturity_lag_days,
        '{{ m.numerator }}' as numerator_component,
        {% if m.denominator %}'{{ m.denominator }}'{% else %}cast(null as {{ dbt.type_string() }}){% endif %}
            as denominator_component,
        {{ 'true' if m.is_additive else 'false' }} as is_additive,
        '{{ m.grains | join(",") }}' as grains,
        '{{ m.dimensions | join(",") }}' as dimensions
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
