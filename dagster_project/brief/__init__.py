"""What people read about an alert: the numbers behind it in words, its chart, the morning brief.

Pure presentation over rows already read from the warehouse (no database access here)."""
