-- Each source/medium pair seen in sessions or CRM touches, with the channel the mapping seed
-- gives it: the most specific matching row (lowest priority, exact source before `*`) wins.
with

pairs as (
    select distinct
        coalesce(source, '(direct)') as source,
        coalesce(medium, '(none)') as medium
    from {{ ref('stg_web__events') }}
    union
    select distinct first_touch_source, first_touch_medium
    from {{ ref('stg_crm__contacts') }}
    where first_touch_source is not null and first_touch_medium is not null
),

mapping as (
    select * from {{ ref('channel_mapping') }}
),

ranked as (
    select
        pairs.source,
        pairs.medium,
        mapping.channel,
        row_number() over (
            partition by pairs.source, pairs.medium
            order by
                mapping.priority,
                case when mapping.source = '*' then 1 else 0 end,
                case when mapping.medium = '*' then 1 else 0 end
        ) as match_rank
    from pairs
    inner join mapping
        on (mapping.source = pairs.source or mapping.source = '*')
        and (mapping.medium = pairs.medium or mapping.medium = '*')
),

final as (
    select source, medium, channel
    from ranked
    where match_rank = 1
)

select * from final
