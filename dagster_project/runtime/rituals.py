"""Reads the warehouse for the ritual-metrics report and writes `ritual_metrics` beside the
marts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster_project.warehouse.connection import run_as_of
from dagster_project.warehouse.engine import Connection, as_warehouse, connect
from dagster_project.warehouse.target import Location

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd


def compute(con: Connection) -> pd.DataFrame:
    import pandas as pd

    from dagster_project.divergence.rituals import ritual_metrics

    wh = as_warehouse(con)
    catalog = wh.frame("select metric_id, layer, owner from {marts}.metric_catalog")
    # When a metric was first reported: its first period with a value, at its finest grain (the
    # series is zero-filled over the calendar, and a month starts before its first day of data).
    first = wh.frame(
        "select metric_id, grain, min(period_start) as first_period from {marts}.metric_series "
        "where coalesce(numerator, 0) <> 0 group by metric_id, grain"
    )
    finest = {"day": 0, "week": 1, "month": 2}
    first = (
        first.assign(order=first["grain"].map(finest))
        .sort_values(["metric_id", "order"])
        .drop_duplicates("metric_id")[["metric_id", "first_period"]]
    )
    as_of = run_as_of(wh)
    alerts = (
        wh.frame("select alert_id, leading_metric, outcome_metric from {marts}.alerts")
        if wh.table_exists("{marts}", "alerts")
        else pd.DataFrame(columns=["alert_id", "leading_metric", "outcome_metric"])
    )
    if wh.table_exists("{marts}", "decision_queue") and len(alerts):
        # a decision covers every alert of its cause (decision_queue.alert_ids)
        queue = wh.frame("select decision_id, alert_ids from {marts}.decision_queue")
        covers = {
            alert_id: row.decision_id
            for row in queue.itertuples()
            for alert_id in str(row.alert_ids or "").split(",")
            if alert_id
        }
        alerts["decision_id"] = alerts["alert_id"].map(covers)
    log = (
        wh.frame(
            "select decision_id, action, actor, text, entered_at from firewatch_state.decision_log"
        )
        if wh.table_exists("firewatch_state", "decision_log")
        else pd.DataFrame(columns=["decision_id", "action", "actor", "text", "entered_at"])
    )
    return ritual_metrics(catalog, first, alerts, log, as_of)


def refresh(warehouse: Location) -> pd.DataFrame:
    """Recomputes `ritual_metrics` in one transaction."""
    with connect(warehouse) as wh:
        frame = compute(wh)
        wh.replace("{marts}.ritual_metrics", frame)
    return frame
