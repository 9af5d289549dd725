{{ wide_metrics('control', 'month') }}
