{{ rollup_components(ref('int_conversations'), 'conversation_date', [
    ['conversations', 'sum(conversations)'],
    ['responded_inbound', 'sum(case when response_minutes is not null then 1 else 0 end)'],
    ['response_minutes_total', 'sum(response_minutes)'],
], grains=['day', 'week', 'month']) }}
