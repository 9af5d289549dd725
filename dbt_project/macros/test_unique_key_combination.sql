{#- A composite key is unique (dbt_utils' unique_combination_of_columns, without the package:
    the project installs nothing from the network at run time). -#}
{% test unique_key_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as duplicates
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
