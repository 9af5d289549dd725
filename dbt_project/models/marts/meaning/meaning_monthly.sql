{{ wide_metrics('meaning', 'month') }}
