-- Incremental: a night re-aggregates the periods its web lookback touches (see rollup_components).
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key=['grain', 'period_start'],
    incremental_strategy='delete+insert',
) }}
{{ rollup_components(ref('int_sessions'), 'session_date', [
    ['sessions', 'count(*)'],
    ['engaged_sessions', 'sum(case when is_engaged then 1 else 0 end)'],
    ['lead_sessions', 'sum(case when lead_events > 0 then 1 else 0 end)'],
    ['direct_brand_sessions', 'sum(case when is_direct_or_brand then 1 else 0 end)'],
    ['visitors', 'count(distinct user_pseudo_id)'],
    ['returning_visitors', 'count(distinct case when is_returning then user_pseudo_id end)'],
], dimensions={'total': none, 'channel': 'channel', 'campaign': 'campaign'}, incremental_source='web') }}
