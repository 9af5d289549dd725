{{ rollup_components(ref('int_calendar'), 'calendar_date', [
    ['calendar_days', 'count(*)'],
], dimensions={'total': none}) }}
