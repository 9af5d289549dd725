{#- Data tests of the incremental event models check, on a nightly run, only the days that run
    rebuilt. A unique test over a year of events scans every event key every night (8 s on
    22 M events) although only the lookback changed; older rows were tested when they were built,
    and delete+insert on the unique key cannot duplicate a key across the boundary.

    A test opts in with a `where` config holding the placeholder __web_reprocess_from__
    (`where: "event_date >= __web_reprocess_from__"`); dbt renders `where` when it parses and
    cannot call project macros there, so the placeholder is replaced here, when the test runs
    (the override dbt documents for custom `where` logic). It becomes the first day the night
    rebuilt, two days early for sessions that span midnight, and 1900-01-01 (every row) on a
    --full-refresh or a plain `dbt build` without FIREWATCH_REPROCESS_FROM. -#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__web_reprocess_from__' in where -%}
        {%- set where = where | replace('__web_reprocess_from__', web_tests_from()) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) -%}
{%- endmacro %}

{% macro web_tests_from() -%}
    {%- if flags.FULL_REFRESH or env_var('FIREWATCH_REPROCESS_FROM', '') == '' -%}
        {{- return("cast('1900-01-01' as date)") -}}
    {%- endif -%}
    {{- return(dbt.dateadd('day', -2, reprocess_from('web', 'event_date'))) -}}
{%- endmacro %}
