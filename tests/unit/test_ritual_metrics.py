"""Ritual metrics: a metric that never changed a decision in 90 days is flagged (the report from
frames; the table and `firewatch rituals` on a built warehouse are in
tests/integration/test_ritual_metrics_cli.py)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from dagster_project.divergence.rituals import ritual_metrics

AS_OF = date(2025, 6, 30)


def test_pure_report() -> None:
    catalog = pd.DataFrame(
        {
            "metric_id": ["ad_engagements", "lead_to_sql_rate", "ctr", "cac"],
            "layer": ["control", "meaning", "control", "control"],
            "owner": ["a", "b", "c", "d"],
        }
    )
    first = pd.DataFrame(
        {
            "metric_id": ["ad_engagements", "lead_to_sql_rate", "ctr", "cac"],
            "first_period": [
                date(2025, 1, 1),
                date(2025, 1, 1),
                date(2025, 1, 1),
                date(2025, 6, 1),
            ],
        }
    )
    alerts = pd.DataFrame(
        {
            "alert_id": ["A-1", "A-2"],
            "leading_metric": ["ad_engagements", "ad_engagements"],
            "outcome_metric": ["lead_to_sql_rate", "cac"],
        }
    )
    log = pd.DataFrame(
        {
            "decision_id": ["D-1", "D-1", "D-2"],
            "action": ["acknowledge", "decide", "dismiss"],
            "actor": ["ana", "ana", "bo"],
            "text": ["", "cut lookalikes", "noise"],
            "entered_at": [datetime(2025, 6, 2), datetime(2025, 6, 3), datetime(2025, 6, 4)],
        }
    )
    report = ritual_metrics(catalog, first, alerts, log, AS_OF).set_index("metric_id")
    assert report.loc["ad_engagements", ["alerts_raised", "decisions_taken"]].tolist() == [2, 1]
    assert report.loc["ad_engagements", "last_decision"] == "cut lookalikes"
    assert not report.loc["lead_to_sql_rate", "is_ritual"]  # its alert led to a decision
    # 181 days reported, one alert but only a dismissal: a ritual
    assert report.loc["cac", "days_reported"] == 30 and not report.loc["cac", "is_ritual"]
    assert report.loc["ctr", "days_reported"] == 181 and report.loc["ctr", "is_ritual"]
