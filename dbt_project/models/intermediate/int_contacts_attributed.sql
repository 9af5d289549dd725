-- Each contact (a lead) with the channel and campaign it is attributed to. Evidence is taken in
-- this order, strongest first:
--   1. the site session in which the lead form was sent (generate_lead carrying contact_id):
--      the same taxonomy as sessions, so lead rate = leads / sessions per channel holds;
--   2. a click id on the contact (gclid: paid search, fbclid: paid social);
--   3. the CRM's first-touch source/medium through the channel mapping;
--   4. the CRM's lead_source through its seed;
--   5. otherwise 'unattributed'.
with

contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

lead_form_events as (
    select
        contact_id,
        session_key,
        row_number() over (partition by contact_id order by event_at, event_key) as form_rank
    from {{ ref('stg_web__events') }}
    where event_name = 'generate_lead' and contact_id is not null
),

lead_form_sessions as (
    select
        lead_form_events.contact_id,
        sessions.channel,
        sessions.campaign
    from lead_form_events
    inner join {{ ref('int_sessions') }} as sessions
        on lead_form_events.session_key = sessions.session_key
    where lead_form_events.form_rank = 1
),

first_touch as (
    select
        contacts.contact_id,
        channels.channel
    from contacts
    inner join {{ ref('int_source_medium_channels') }} as channels
        on contacts.first_touch_source = channels.source
        and contacts.first_touch_medium = channels.medium
),

lead_sources as (
    select * from {{ ref('lead_source_channels') }}
),

final as (
    select
        contacts.contact_id,
        contacts.created_at,
        contacts.created_date,
        contacts.owner_id,
        coalesce(
            lead_form_sessions.channel,
            case
                when contacts.gclid is not null then 'paid_search'
                when contacts.fbclid is not null then 'paid_social'
            end,
            first_touch.channel,
            lead_sources.channel,
            'unattributed'
        ) as channel,
        case
            when lead_form_sessions.channel is not null then 'lead_form_session'
            when contacts.gclid is not null or contacts.fbclid is not null then 'click_id'
            when first_touch.channel is not null then 'first_touch'
            when lead_sources.channel is not null then 'lead_source'
            else 'none'
        end as attribution_method,
        coalesce(lead_form_sessions.campaign, contacts.first_touch_campaign) as campaign
    from contacts
    left join lead_form_sessions
        on contacts.contact_id = lead_form_sessions.contact_id
    left join first_touch
        on contacts.contact_id = first_touch.contact_id
    left join lead_sources
        on contacts.lead_source = lead_sources.lead_source
)

select * from final
