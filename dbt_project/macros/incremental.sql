{#- Late data: ads platforms restate about four weeks, GA4 about three days. The event-level
    models are incremental and rebuild, each night, every date from the run's first night
    minus the source's lookback; older dates are kept as built. `dbt build --full-refresh`
    (or `firewatch run --full-refresh`) rebuilds everything, e.g. after a change of the
    channel mapping seeds. -#}

{% macro lookback_days(source) -%}
    {#- Days a source can still restate: FIREWATCH_ADS_LOOKBACK_DAYS / FIREWATCH_WEB_LOOKBACK_DAYS,
        else the project vars ads_lookback_days / web_lookback_days. -#}
    {%- set env_name = 'FIREWATCH_' ~ (source | upper) ~ '_LOOKBACK_DAYS' -%}
    {%- set raw = env_var(env_name, var(source ~ '_lookback_days') | string) | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{1,3}', raw) -%}
        {{ exceptions.raise_compiler_error(env_name ~ ' must be a number of days, got ' ~ raw) }}
    {%- endif -%}
    {{ return(raw | int) }}
{%- endmacro %}

{% macro reprocess_from(source, built_date_column) -%}
    {#- The first date an incremental run rebuilds. FIREWATCH_REPROCESS_FROM is the first night
        of the run (Dagster sets it to the partition, or to the start of a backfilled range);
        without it (a plain `dbt build`), the newest date already built. -#}
    {%- set days = lookback_days(source) -%}
    {%- set start = validated_date(env_var('FIREWATCH_REPROCESS_FROM', ''), 'FIREWATCH_REPROCESS_FROM') -%}
    {%- if start -%}
        cast({{ dbt.dateadd('day', -days, "cast('" ~ start ~ "' as date)") }} as date)
    {%- else -%}
        (select cast({{ dbt.dateadd('day', -days, 'max(' ~ built_date_column ~ ')') }} as date) from {{ this }})
    {%- endif -%}
{%- endmacro %}

{% macro incremental_materialization() -%}
    {#- The materialization of the incremental models: `incremental` with delete+insert, except
        where delete+insert cannot be had (see the spark__ variant). -#}
    {{ return(adapter.dispatch('incremental_materialization', 'kpi_firewatch')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {#- dbt-spark has no delete+insert, and on Parquet tables only append and insert_overwrite
        (merge needs Delta, Iceberg or Hudi, whose jars are not in pyspark): every night rebuilds
        these models whole, which gives what a first (full) incremental build gives. -#}
    {{ return('table') }}
{%- endmacro %}
