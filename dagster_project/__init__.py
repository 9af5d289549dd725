"""kpi-firewatch: dbt + Dagster pipeline that turns marketing data into marts and divergence alerts."""
