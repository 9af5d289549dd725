-- One row: the night this run is "as of", where history starts, and the reporting currency.
-- Without an explicit as_of var the night is the one the loader decided by its one rule (the
-- last day both ads and web have data; raw._run_night), so the same files always give the same
-- numbers whatever the wall clock says, and a stray event after midnight never makes a
-- near-empty day the night.
{{ config(post_hook="{{ refresh_planner_statistics(this) }}") }}
with

activity_dates as (
    select min(report_date) as first_date
    from {{ ref('stg_ads__campaign_days') }}
    union all
    select min(event_date)
    from {{ ref('stg_web__events') }}
    union all
    select min(created_date)
    from {{ ref('stg_crm__contacts') }}
    union all
    select min(entered_date)
    from {{ ref('stg_crm__lifecycle_events') }}
    union all
    select min(closed_date)
    from {{ ref('stg_crm__deals') }}
),

history as (
    select min(first_date) as history_start_date
    from activity_dates
),

loaded_night as (
    select max(night) as night
    from {{ source('raw', '_run_night') }}
),

nights as (
    select
        {#- read when the model runs, not when dbt parses it: an env var read at parse time
            is part of the parse state, and a new night would re-parse the project -#}
        {%- set as_of = validated_as_of() if execute else '' %}
        {% if as_of -%}
        cast('{{ as_of }}' as date)
        {%- else -%}
        loaded_night.night
        {%- endif %} as as_of_date,
        loaded_night.night as loaded_night,
        history.history_start_date
    from history
    cross join loaded_night
),

final as (
    select
        as_of_date,
        -- a night named later than the data reaches (the schedule's "yesterday" before the web
        -- export has it) leaves its last days incomplete: is_complete_period stops here
        case
            when loaded_night is null or loaded_night > as_of_date then as_of_date
            else loaded_night
        end as complete_through_date,
        history_start_date,
        '{{ reporting_currency() }}' as reporting_currency
    from nights
)

select * from final
