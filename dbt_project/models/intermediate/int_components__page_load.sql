{{ rollup_components(ref('int_page_views'), 'event_date', [
    ['page_load_p75', percentile_cont('page_load_ms', 0.75)],
    ['timed_page_views', 'count(*)'],
]) }}
