{{ rollup_components(ref('int_social_post_days'), 'snapshot_date', [
    ['social_impressions', 'sum(impressions_delta)'],
    ['social_engagements', 'sum(coalesce(reactions_delta, 0) + coalesce(comments_delta, 0) + coalesce(shares_delta, 0))'],
], dimensions={'total': none, 'platform': 'platform'}) }}
