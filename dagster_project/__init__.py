"""kpi-firewatch: a dbt + Dagster pipeline from marketing data to marts and divergence alerts."""
