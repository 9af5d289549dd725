{{ rollup_components(ref('int_social_posts'), 'published_date', [
    ['posts_published', 'count(*)'],
    ['publishing_days', 'count(distinct published_date)'],
], dimensions={'total': none, 'platform': 'platform'}) }}
