{#- The landing zone keeps every file's rows; docs/contract.md says the row from the later file wins
    for a key (platforms restate days, CRMs update records). Within one file the loader already
    rejected duplicate keys, so the file order decides. -#}
{% macro latest_rows(relation, key_columns) -%}
    select
        *,
        row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by _file_index desc, _row_number desc
        ) as _version_rank
    from {{ relation }}
{%- endmacro %}
