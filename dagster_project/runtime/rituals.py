"""Reads the warehouse for the ritual-metrics report and writes `main.ritual_metrics`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from dagster_project.warehouse.connection import open_warehouse, publish_frame, run_as_of

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd


def compute(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    import pandas as pd

    from dagster_project.divergence.rituals import ritual_metrics

    catalog = con.execute("select metric_id, layer, owner from main.metric_catalog").df()
    # When a metric was first reported: its first period with a value, at its finest grain (the
    # series is zero-filled over the calendar, and a month starts before its first day of data).
    first = con.execute(
        "select metric_id, grain, min(period_start) as first_period from main.metric_series "
        "where coalesce(numerator, 0) <> 0 group by metric_id, grain"
    ).df()
    finest = {"day": 0, "week": 1, "month": 2}
    first = (
        first.assign(order=first["grain"].map(finest))
        .sort_values(["metric_id", "order"])
        .drop_duplicates("metric_id")[["metric_id", "first_period"]]
    )
    as_of = run_as_of(con)
    tables = {
        r[0]
        for r in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    }
    alerts = (
        con.execute("select alert_id, leading_metric, outcome_metric from main.alerts").df()
        if "main.alerts" in tables
        else pd.DataFrame(columns=["alert_id", "leading_metric", "outcome_metric"])
    )
    if "main.decision_queue" in tables and len(alerts):
        # a decision covers every alert of its cause (decision_queue.alert_ids)
        queue = con.execute("select decision_id, alert_ids from main.decision_queue").df()
        covers = {
            alert_id: row.decision_id
            for row in queue.itertuples()
            for alert_id in str(row.alert_ids or "").split(",")
            if alert_id
        }
        alerts["decision_id"] = alerts["alert_id"].map(covers)
    log = (
        con.execute(
            "select decision_id, action, actor, text, entered_at from firewatch_state.decision_log"
        ).df()
        if "firewatch_state.decision_log" in tables
        else pd.DataFrame(columns=["decision_id", "action", "actor", "text", "entered_at"])
    )
    return ritual_metrics(catalog, first, alerts, log, as_of)


def refresh(warehouse: Path) -> pd.DataFrame:
    """Recomputes `main.ritual_metrics` in one transaction."""
    with open_warehouse(warehouse) as con:
        frame = compute(con)
        publish_frame(con, "main.ritual_metrics", frame)
    return frame
