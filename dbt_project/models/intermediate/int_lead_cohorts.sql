-- One row per lead (contact) with when it reached each funnel step and whether its cohort is
-- old enough to judge. Quality is "reached SQL / won within N days of creation", so cohorts are
-- compared at equal age; a lead younger than N days is immature and its flags may still flip.
-- A later step implies the earlier ones (a won deal is an SQL even if the CRM skipped the stage),
-- which keeps leads >= MQL >= SQL >= customers for every cohort. The early window (SQL within
-- 7 days) is a faster, noisier read of the same quality: its cohorts are final a week after they
-- start, so a quality drop can raise an alert within two weeks instead of five.
with

context as (
    select * from {{ ref('int_run_context') }}
),

contacts as (
    select * from {{ ref('int_contacts_attributed') }}
),

funnel_entries as (
    select contact_id, stage_order, entered_at
    from {{ ref('stg_crm__lifecycle_events') }}
    where stage_order is not null
    union all
    -- a won deal makes its contact a customer when it closes
    select contact_id, 5 as stage_order, closed_at as entered_at
    from {{ ref('int_deals_converted') }}
    where status = 'won' and closed_at is not null
),

steps as (
    select
        funnel_entries.contact_id,
        min(case when stage_order >= 2 then entered_at end) as mql_at,
        min(case when stage_order >= 3 then entered_at end) as sql_at,
        min(case when stage_order >= 4 then entered_at end) as opportunity_at,
        min(case when stage_order >= 5 then entered_at end) as customer_at
    from funnel_entries
    cross join context
    -- what happened after the as-of night is not known yet on that night
    where cast(funnel_entries.entered_at as date) <= context.as_of_date
    group by funnel_entries.contact_id
),

won_revenue as (
    select
        contact_id,
        sum(amount_reporting) as won_amount_reporting
    from {{ ref('int_deals_converted') }}
    cross join context
    where status = 'won' and closed_date <= context.as_of_date
    group by contact_id
),

measured as (
    select
        contacts.contact_id,
        contacts.created_at,
        contacts.created_date as cohort_date,
        contacts.channel,
        contacts.campaign,
        contacts.attribution_method,
        steps.mql_at,
        steps.sql_at,
        steps.opportunity_at,
        steps.customer_at,
        won_revenue.won_amount_reporting,
        {{ dbt.datediff('contacts.created_date', 'cast(steps.sql_at as date)', 'day') }} as days_to_sql,
        {{ dbt.datediff('contacts.created_date', 'cast(steps.customer_at as date)', 'day') }}
            as days_to_customer,
        {{ dbt.datediff('contacts.created_date', 'context.as_of_date', 'day') }} as age_days
    from contacts
    cross join context
    left join steps
        on contacts.contact_id = steps.contact_id
    left join won_revenue
        on contacts.contact_id = won_revenue.contact_id
    where contacts.created_date <= context.as_of_date
),

final as (
    select
        *,
        coalesce(days_to_sql <= {{ var('lead_to_sql_window_days') }}, false) as is_sql_within_window,
        coalesce(days_to_sql <= {{ var('lead_to_sql_early_window_days') }}, false)
            as is_sql_within_early_window,
        coalesce(days_to_customer <= {{ var('lead_to_win_window_days') }}, false)
            as is_won_within_window,
        age_days >= {{ var('lead_to_sql_window_days') }} as is_sql_window_mature,
        age_days >= {{ var('lead_to_sql_early_window_days') }} as is_sql_early_window_mature,
        age_days >= {{ var('lead_to_win_window_days') }} as is_win_window_mature
    from measured
)

select * from final
