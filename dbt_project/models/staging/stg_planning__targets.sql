-- Monthly targets; a blank channel means the target is for all channels together.
with

source as (
    select
        *,
        coalesce(nullif(lower(channel), ''), 'total') as channel_key
    from {{ source('raw', 'targets') }}
),

latest as (
    {{ latest_rows('source', ['period_start', 'metric', 'channel_key']) }}
),

final as (
    select
        cast({{ dbt.date_trunc('month', 'period_start') }} as date) as period_start,
        lower(metric) as metric_id,
        case when channel_key = 'total' then 'total' else 'channel' end as dimension,
        channel_key as dimension_value,
        value as target_value,
        upper(currency) as currency
    from latest
    where _version_rank = 1
)

select * from final
