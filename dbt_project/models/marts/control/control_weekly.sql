{{ wide_metrics('control', 'week') }}
