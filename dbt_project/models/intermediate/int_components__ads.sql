{{ rollup_components(ref('int_ads_daily'), 'report_date', [
    ['spend', 'sum(spend_reporting)'],
    ['impressions', 'sum(impressions)'],
    ['clicks', 'sum(clicks)'],
    ['ad_engagements', 'sum(ad_engagements)'],
    ['platform_conversions', 'sum(platform_conversions)'],
], dimensions={'total': none, 'channel': 'channel', 'platform': 'platform', 'campaign': 'campaign'}) }}
