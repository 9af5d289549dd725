"""Reads what `firewatch explain`, the queue's JSON and the brief say about an alert: its row, its
evidence and how many of its window's periods are still maturing."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from dagster_project.brief.explain import explain_alert
from dagster_project.divergence.episodes import Alert
from dagster_project.warehouse.engine import Connection, as_warehouse


def _young_periods(con: Connection, alert: dict[str, Any], grain: str) -> int:
    """The window's periods of the outcome metric that are not mature yet (cohorts too young)."""
    [(count,)] = as_warehouse(con).rows(
        "select count(*) from {marts}.metric_series where metric_id = ? and grain = ? "
        "and dimension = ? and dimension_value = ? and period_start between ? and ? "
        "and not is_mature",
        [alert["outcome_metric"], grain, alert["dimension"], alert["dimension_value"],
         alert["window_start"], alert["window_end"]],
    )  # fmt: skip
    return int(count)


def read_alerts(con: Connection, ids: list[str] | None = None) -> list[dict]:
    """Alert rows as dicts, for alert ids or the decision ids of their queue items (None: all)."""
    wh = as_warehouse(con)
    if not wh.table_exists("{marts}", "alerts"):
        return []
    names = [f.name for f in fields(Alert)]  # the table's columns (warehouse/decisions.py)
    rows = [
        dict(zip(names, row, strict=True))
        for row in wh.rows(
            f"select {', '.join(names)} from {{marts}}.alerts order by first_detected_at, alert_id"
        )
    ]
    if ids is None:
        return rows
    wanted = {i.strip() for i in ids}
    wanted |= {"A-" + i.removeprefix("D-") for i in wanted if i.startswith("D-")}
    if wh.table_exists("{marts}", "decision_queue"):  # a decision covers its cause's alerts
        listed = sorted(wanted)  # (a list of `?`: Spark has no array parameter to unnest)
        for (covered,) in wh.rows(
            "select alert_ids from {marts}.decision_queue "
            f"where decision_id in ({', '.join('?' * len(listed))})",
            listed,
        ):
            wanted |= set(filter(None, (covered or "").split(",")))
    return [row for row in rows if row["alert_id"] in wanted]


def explanation(con: Connection, alert: dict[str, Any]) -> str:
    evidence = json.loads(alert.get("evidence") or "{}")
    young = None
    if as_warehouse(con).table_exists("{marts}", "metric_series") and evidence.get("grain"):
        young = _young_periods(con, alert, evidence["grain"])
    return explain_alert(alert, evidence, young)


# About six months of weeks before the window's end: enough to see the level before the change.
CHART_WEEKS = 26


def chart_png(con: Connection, alert: dict[str, Any]) -> bytes | None:
    """The alert's chart, from the weekly metric_series of its dimension value (weekly ratios of
    sums read the same whatever the rule's grain). None when the series are not there."""
    import pandas as pd

    from dagster_project.brief.chart import ChartSpec, alert_chart

    evidence = json.loads(alert.get("evidence") or "{}")
    end = pd.Timestamp(alert["window_end"])
    start = end - pd.Timedelta(weeks=CHART_WEEKS)
    wh = as_warehouse(con)
    frame = wh.frame(
        "select metric_id, period_start, value from {marts}.metric_series where grain = 'week' "
        "and dimension = ? and dimension_value = ? and metric_id in (?, ?) "
        "and period_start between ? and ? order by period_start",
        [alert["dimension"], alert["dimension_value"], alert["leading_metric"],
         alert["outcome_metric"], start.date(), end.date()],
    )  # fmt: skip
    if frame.empty:
        return None
    wide = frame.pivot(index="period_start", columns="metric_id", values="value")
    # a week's point in the middle of its week, so it sits inside the shaded spans it belongs to
    wide.index = pd.to_datetime(wide.index) + pd.Timedelta(days=3.5)
    units = dict(
        wh.rows(
            "select metric_id, unit from {marts}.metric_catalog where metric_id in (?, ?)",
            [alert["leading_metric"], alert["outcome_metric"]],
        )
    )
    baseline = evidence.get("baseline", {})
    spec = ChartSpec(
        title=str(alert.get("explanation", "")),
        leading_label=evidence.get("leading", {}).get("label", alert["leading_metric"]),
        outcome_label=evidence.get("outcome", {}).get("label", alert["outcome_metric"]),
        baseline=(
            pd.Timestamp(baseline.get("start", start)),
            pd.Timestamp(baseline.get("end", end)),
        ),
        window=(pd.Timestamp(alert["window_start"]), end),
        first_detected=pd.Timestamp(alert["first_detected_at"]),
        leading_is_ratio=units.get(alert["leading_metric"]) in ("ratio", "share", "rate"),
        outcome_is_ratio=units.get(alert["outcome_metric"]) in ("ratio", "share", "rate"),
    )
    return alert_chart(
        wide.get(alert["leading_metric"], pd.Series(dtype=float)).dropna(),
        wide.get(alert["outcome_metric"], pd.Series(dtype=float)).dropna(),
        spec,
    )
