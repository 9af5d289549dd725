-- One row: the night this run is "as of", where history starts, and the reporting currency.
-- Without an explicit as_of var the last day on which anything happened (ads, web, CRM) is
-- used, so the same files always give the same numbers whatever the wall clock says.
with

activity_dates as (
    select min(report_date) as first_date, max(report_date) as last_date
    from {{ ref('stg_ads__campaign_days') }}
    union all
    select min(event_date), max(event_date)
    from {{ ref('stg_web__events') }}
    union all
    select min(created_date), max(created_date)
    from {{ ref('stg_crm__contacts') }}
    union all
    select min(entered_date), max(entered_date)
    from {{ ref('stg_crm__lifecycle_events') }}
    union all
    select min(closed_date), max(closed_date)
    from {{ ref('stg_crm__deals') }}
),

final as (
    select
        {%- set as_of = validated_as_of() %}
        {% if as_of -%}
        cast('{{ as_of }}' as date)
        {%- else -%}
        max(last_date)
        {%- endif %} as as_of_date,
        min(first_date) as history_start_date,
        '{{ reporting_currency() }}' as reporting_currency
    from activity_dates
)

select * from final
