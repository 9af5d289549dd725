{{ rollup_components(ref('int_funnel_events'), 'event_date', [
    ['mql', "sum(case when step = 'mql' then 1 else 0 end)"],
    ['sql', "sum(case when step = 'sql' then 1 else 0 end)"],
    ['customers', "sum(case when step = 'customer' then 1 else 0 end)"],
    ['won_deals', "sum(case when step = 'won_deal' then 1 else 0 end)"],
    ['revenue', "sum(case when step = 'won_deal' then amount_reporting else 0 end)"],
]) }}
