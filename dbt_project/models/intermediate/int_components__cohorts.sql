{{ rollup_components(ref('int_lead_cohorts'), 'cohort_date', [
    ['leads', 'count(*)'],
    ['sql_within_window', 'sum(case when is_sql_within_window then 1 else 0 end)'],
    ['sql_within_early_window', 'sum(case when is_sql_within_early_window then 1 else 0 end)'],
    ['won_within_window', 'sum(case when is_won_within_window then 1 else 0 end)'],
    ['days_to_sql_total', 'sum(case when is_sql_within_window then days_to_sql else 0 end)'],
]) }}
