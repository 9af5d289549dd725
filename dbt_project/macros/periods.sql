{#- Calendar helpers shared by every rollup, so "a week" means the same thing everywhere
    (ISO weeks starting Monday, as date_trunc gives on DuckDB, PostgreSQL and Spark). -#}

{% macro period_start(grain, date_expression) -%}
    {%- if grain == 'day' -%}
        cast({{ date_expression }} as date)
    {%- else -%}
        cast({{ dbt.date_trunc(grain, date_expression) }} as date)
    {%- endif -%}
{%- endmacro %}

{#- True when the period starting at period_start_expression has ended and lag_days more have
    passed by as_of_expression: the metric's numbers for it can no longer change. -#}
{% macro period_is_settled(grain, period_start_expression, lag_days, as_of_expression) -%}
    cast({{ dbt.dateadd('day', lag_days - 1, dbt.dateadd(grain, 1, period_start_expression)) }} as date)
        <= {{ as_of_expression }}
{%- endmacro %}

{% macro as_of_date() -%}
    (select as_of_date from {{ ref('int_run_context') }})
{%- endmacro %}

{% macro validated_as_of() -%}
    {#- The `as_of` var, else FIREWATCH_AS_OF (how Dagster passes a night: an env var changes
        no parse, a --vars value makes dbt parse the whole project again). -#}
    {%- set raw = var('as_of', '') | string | trim -%}
    {{ return(validated_date(raw or env_var('FIREWATCH_AS_OF', ''), 'as_of')) }}
{%- endmacro %}

{% macro validated_date(text, what) -%}
    {#- Only a real calendar date may reach the SQL: anything else fails the run at compile. -#}
    {%- set raw = text | string | trim -%}
    {%- if raw == '' -%}
        {{ return('') }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', raw) -%}
        {{ exceptions.raise_compiler_error(what ~ ' must be a date YYYY-MM-DD, got ' ~ raw) }}
    {%- endif -%}
    {%- set parsed = modules.datetime.datetime.strptime(raw, '%Y-%m-%d') -%}
    {{ return(parsed.strftime('%Y-%m-%d')) }}
{%- endmacro %}

{% macro reporting_currency() -%}
    {#- The `reporting_currency` var, checked: it is written into SQL as a literal. -#}
    {%- set raw = var('reporting_currency') | string | trim | upper -%}
    {%- if not modules.re.fullmatch('[A-Z]{3}', raw) -%}
        {{ exceptions.raise_compiler_error('reporting_currency must be an ISO 4217 code like USD, got ' ~ raw) }}
    {%- endif -%}
    {{ return(raw) }}
{%- endmacro %}

{% macro sql_string(text) -%}
    {#- A configuration value as an SQL string literal, its quotes doubled. -#}
    '{{ text | string | replace("'", "''") }}'
{%- endmacro %}
