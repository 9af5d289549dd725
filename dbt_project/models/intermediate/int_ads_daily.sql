-- Ads stats per day and campaign in the reporting currency, with the channel of the platform.
-- Incremental: platforms restate spend and conversions for weeks, so a night rebuilds its
-- first night minus the ads lookback (28 days by default).
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key=['report_date', 'platform', 'account_id', 'campaign_id'],
    incremental_strategy='delete+insert',
) }}
with

ads as (
    select * from {{ ref('stg_ads__campaign_days') }}
    {% if is_incremental() -%}
    where report_date >= {{ reprocess_from('ads', 'report_date') }}
    {%- endif %}
),

with_rate as (
    {{ with_fx_rate('ads', ['report_date', 'platform', 'account_id', 'campaign_id'], 'currency', 'report_date') }}
),

platforms as (
    select * from {{ ref('platform_channels') }}
),

final as (
    select
        with_rate.report_date,
        with_rate.platform,
        coalesce(platforms.channel, 'other') as channel,
        with_rate.account_id,
        with_rate.campaign_id,
        with_rate.campaign,
        with_rate.impressions,
        with_rate.clicks,
        with_rate.spend,
        with_rate.currency,
        with_rate._fx_rate as fx_rate,
        with_rate.spend * with_rate._fx_rate as spend_reporting,
        -- engagement is absent (not zero) when the platform reports none of its parts
        case
            when with_rate.reactions is null
                and with_rate.comments is null
                and with_rate.shares is null then null
            else coalesce(with_rate.reactions, 0)
                + coalesce(with_rate.comments, 0)
                + coalesce(with_rate.shares, 0)
        end as ad_engagements,
        with_rate.platform_conversions
    from with_rate
    left join platforms
        on with_rate.platform = platforms.platform
)

select * from final
