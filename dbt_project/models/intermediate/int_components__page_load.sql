-- Incremental: a night re-aggregates the periods its web lookback touches (see rollup_components).
-- The percentile comes from per-day histograms of whole milliseconds (macros/rollup_percentile.sql):
-- percentile_cont over every page view of a year did not fit DuckDB's memory cap on large data.
{{ config(
    materialized=incremental_materialization(),
    tags=['event_level'],
    unique_key=['grain', 'period_start'],
    incremental_strategy='delete+insert',
) }}
{{ rollup_percentile(ref('int_page_load_days'), 'event_date', 'page_load_ms', 0.75,
    'page_load_p75', 'timed_page_views', incremental_source='web', count_column='page_views') }}
