-- One row per day, platform, account and campaign: the restated value wins.
with

source as (
    select * from {{ source('raw', 'ads_daily') }}
),

latest as (
    {{ latest_rows('source', ['date', 'platform', 'account_id', 'campaign_id']) }}
),

final as (
    select
        date as report_date,
        lower(platform) as platform,
        account_id,
        campaign_id,
        campaign_name,
        -- the utm_campaign is what the site's sessions carry, so it joins ads to web traffic
        coalesce(utm_campaign, campaign_id) as campaign,
        impressions,
        clicks,
        spend,
        upper(currency) as currency,
        reactions,
        comments,
        shares,
        video_views,
        platform_conversions,
        platform_conversion_value,
        account_timezone,
        _source_file
    from latest
    where _version_rank = 1
)

select * from final
