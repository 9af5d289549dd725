-- Daily values of organic posts: the difference between consecutive lifetime snapshots
-- (the first snapshot counts whole). A counter that drops keeps its negative delta, so the
-- platform's correction shows instead of being hidden.
with

snapshots as (
    select * from {{ ref('stg_social__post_snapshots') }}
),

final as (
    select
        platform,
        post_id,
        published_date,
        snapshot_date,
        {% for counter in ['impressions', 'reactions', 'comments', 'shares', 'replies'] -%}
        {{ counter }} - coalesce(
            lag({{ counter }}) over (partition by platform, post_id order by snapshot_date), 0
        ) as {{ counter }}_delta{% if not loop.last %},{% endif %}
        {% endfor %}
    from snapshots
)

select * from final
