{{ wide_metrics('control', 'day') }}
