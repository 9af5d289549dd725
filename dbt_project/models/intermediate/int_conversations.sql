-- Every place where people talk to us, one row each: comments on the site, inbound CRM
-- activities (e-mails, calls, chats, comments, social replies) and replies/comments on our
-- organic posts. Conversation volume is a meaning-layer signal: people who argue care.
with

site_comments as (
    select
        session_date as conversation_date,
        channel,
        'site_comment' as kind,
        comment_events as conversations,
        cast(null as {{ type_double() }}) as response_minutes
    from {{ ref('int_sessions') }}
    where comment_events > 0
),

inbound_activities as (
    select
        activities.occurred_date as conversation_date,
        coalesce(contacts.channel, 'unattributed') as channel,
        {{ dbt.concat(["'inbound_'", 'activities.activity_type']) }} as kind,
        1 as conversations,
        activities.response_minutes
    from {{ ref('stg_crm__activities') }} as activities
    left join {{ ref('int_contacts_attributed') }} as contacts
        on activities.contact_id = contacts.contact_id
    where activities.direction = 'inbound'
),

social_replies as (
    select
        snapshot_date as conversation_date,
        'organic_social' as channel,
        'social_reply' as kind,
        coalesce(replies_delta, 0) + coalesce(comments_delta, 0) as conversations,
        cast(null as {{ type_double() }}) as response_minutes
    from {{ ref('int_social_post_days') }}
),

final as (
    select * from site_comments
    union all
    select * from inbound_activities
    union all
    select * from social_replies
)

select * from final
