{{ wide_metrics('meaning', 'week') }}
