"""Ritual metrics on a built warehouse (the tiny one, copied): the ritual_metrics table and
`firewatch rituals` follow the decisions people take."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from dagster_project.cli.main import main
from dagster_project.divergence.episodes import merge_alerts
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import record_action, save_night
from tests.support.findings import finding
from tests.support.warehouse import query


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
