with

source as (
    select * from {{ source('raw', 'crm_contacts') }}
),

latest as (
    {{ latest_rows('source', ['contact_id']) }}
),

final as (
    select
        contact_id,
        created_at,
        cast(created_at as date) as created_date,
        lower(first_touch_source) as first_touch_source,
        lower(first_touch_medium) as first_touch_medium,
        first_touch_campaign,
        lower(last_touch_source) as last_touch_source,
        lower(last_touch_medium) as last_touch_medium,
        last_touch_campaign,
        gclid,
        fbclid,
        lower(lead_source) as lead_source,
        owner_id,
        email_hash
    from latest
    where _version_rank = 1
)

select * from final
