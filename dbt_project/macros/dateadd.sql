{#- dbt.dateadd on Spark. dbt-spark's own spark__dateadd writes its argument five times (null
    checks and a clock component), so a dateadd of a dateadd (period_is_settled) grew
    exponentially: metric_series compiled to 39,000 lines and Spark's planner ran out of memory
    after 11 minutes. Spark 3.3+ has timestampadd, which gives the same timestamp (a month added
    to the 31st gives the month's last day, as on DuckDB and PostgreSQL). It takes the place of
    dbt-spark's macro through the `dbt` namespace's search order in dbt_project.yml; other
    adapters still find their own. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, cast({{ interval }} as int), {{ from_date_or_timestamp }})
{%- endmacro %}
