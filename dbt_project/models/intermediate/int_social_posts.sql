-- One row per organic post, dated by publication: the basis of content regularity.
with

final as (
    select
        platform,
        post_id,
        min(published_date) as published_date
    from {{ ref('stg_social__post_snapshots') }}
    group by platform, post_id
)

select * from final
