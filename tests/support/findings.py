"""A divergence finding with everyday values, and the nights the queue tests use."""

from __future__ import annotations

from datetime import date

from dagster_project.divergence.findings import Finding


def finding(value: str = "paid_social", as_of: date = date(2025, 9, 21), **kw) -> Finding:
    base = dict(
        rule_id="engagement_up_quality_down",
        leading_metric="ad_engagements",
        outcome_metric="lead_to_sql_rate",
        dimension="channel",
        dimension_value=value,
        window_start=date(2025, 8, 25),
        window_end=date(2025, 9, 7),
        leading_change=0.41,
        outcome_change=-0.38,
        severity="warn",
        explanation=f"{value} engagement +41% while lead-to-SQL rate -38%",
        owner="demand_generation",
        question=f"Keep funding {value}?",
        as_of=as_of,
        evidence={"q": 0.01},
    )
    base.update(kw)
    return Finding(**base)


NIGHT1, NIGHT2, NIGHT3 = date(2025, 9, 21), date(2025, 9, 22), date(2025, 9, 23)
