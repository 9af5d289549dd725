-- Funnel steps as dated events with the lead's channel: when each lead became an MQL, an SQL and
-- a customer, and every won deal with its revenue. Control-layer flow metrics count these by the
-- day they happened (lead-quality metrics use int_lead_cohorts instead).
with

cohorts as (
    select * from {{ ref('int_lead_cohorts') }}
),

context as (
    select * from {{ ref('int_run_context') }}
),

steps as (
    {% for step in ['mql', 'sql', 'customer'] -%}
    select
        cast({{ step }}_at as date) as event_date,
        channel,
        '{{ step }}' as step,
        cast(null as {{ type_double() }}) as amount_reporting
    from cohorts
    where {{ step }}_at is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

won_deals as (
    select
        deals.closed_date as event_date,
        coalesce(contacts.channel, 'unattributed') as channel,
        'won_deal' as step,
        deals.amount_reporting
    from {{ ref('int_deals_converted') }} as deals
    cross join context
    left join {{ ref('int_contacts_attributed') }} as contacts
        on deals.contact_id = contacts.contact_id
    where deals.status = 'won' and deals.closed_date <= context.as_of_date
),

final as (
    select * from steps
    union all
    select * from won_deals
)

select * from final
