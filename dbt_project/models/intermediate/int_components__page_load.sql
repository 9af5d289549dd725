-- Incremental: a night re-aggregates the periods its web lookback touches (see rollup_components).
{{ config(
    materialized=incremental_materialization(),
    unique_key=['grain', 'period_start'],
    incremental_strategy='delete+insert',
) }}
{{ rollup_components(ref('int_page_views'), 'event_date', [
    ['page_load_p75', percentile_cont('page_load_ms', 0.75)],
    ['timed_page_views', 'count(*)'],
], incremental_source='web') }}
