-- Lifetime counters of organic posts as of each snapshot date.
with

source as (
    select * from {{ source('raw', 'social_posts') }}
),

latest as (
    {{ latest_rows('source', ['platform', 'post_id', 'snapshot_date']) }}
),

final as (
    select
        lower(platform) as platform,
        post_id,
        published_at,
        cast(published_at as date) as published_date,
        snapshot_date,
        impressions,
        reactions,
        comments,
        shares,
        replies
    from latest
    where _version_rank = 1
)

select * from final
