"""Ritual metrics: a metric that never changed a decision in 90 days is flagged."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.cli.main import main
from dagster_project.divergence.episodes import merge_alerts
from dagster_project.divergence.rituals import ritual_metrics
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import record_action, save_night
from tests.conftest import query
from tests.test_queue import finding

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


def test_cli_and_table_follow_decisions(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dagster_project.runtime.rituals import refresh

    warehouse = tmp_path / "w.duckdb"
    shutil.copy(tiny, warehouse)
    with open_warehouse(warehouse) as con:
        save_night(con, merge_alerts([], [finding()], date(2025, 5, 31)), date(2025, 5, 31))
        did = con.execute("select decision_id from main.decision_queue").fetchone()[0]
        record_action(con, did, "decide", "ana", text="retarget to buyers")
    frame = refresh(warehouse).set_index("metric_id")
    # the tiny data's first spend is on 2025-03-03 (not the month's first day, which the
    # zero-filled series also holds): 03-03..05-31 = 90 days
    assert frame.loc["spend", "days_reported"] == 90 and frame.loc["spend", "is_ritual"]
    assert frame.loc["lead_to_sql_rate", "decisions_taken"] == 1
    assert not frame.loc["lead_to_sql_rate", "is_ritual"]
    assert query(warehouse, "select count(*) from main.ritual_metrics where is_ritual") == [
        (int(frame["is_ritual"].sum()),)
    ]
    assert main(["rituals", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert "retarget to buyers" in out and "metrics reported for 90+ days without a decision" in out
