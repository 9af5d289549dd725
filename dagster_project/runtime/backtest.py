"""Replay the nightly divergence checks as of each day of a range (`firewatch backtest`).

Detection enforces completeness and cohort maturity by the calendar of the night it is given,
so the latest metric_series replays earlier nights faithfully, except that restated control
data shows its final values. The replay writes `backtest_alerts` beside the marts (DuckDB's
`main`, the PostgreSQL schema of the marts) and never touches `alerts`, `decision_queue` or the
decision log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import pandas as pd

from dagster_project.divergence.detect import prepare
from dagster_project.divergence.episodes import Alert, merge_alerts
from dagster_project.divergence.hold import judge_night
from dagster_project.runtime.night import NightInputs
from dagster_project.warehouse.engine import connect
from dagster_project.warehouse.target import Location


@dataclass(frozen=True)
class Replay:
    """Alert episodes of a replayed range, and what fired on each night."""

    alerts: list[Alert]
    fired: dict[date, list[tuple[str, str, str]]]  # night -> (rule_id, dimension, value)
    first_window_end: dict[str, date]  # alert_id -> end of its window on its first night
    # night -> (rule_id, dimension, value) of the episodes active after it
    active: dict[date, list[tuple[str, str, str]]] = field(default_factory=dict)


def replay_nights(
    inputs: NightInputs, start: date, end: date, *, screen: bool = True, hold: bool = True
) -> Replay:
    """Replays the nightly checks from `start` to `end`, merging episodes as a nightly run does
    (metric_series is indexed once, detection runs per night on the night's calendar, the
    episodes are carried night to night and held by the same `judge_night`). `screen` as in
    `detect` (the benchmark compares both); `hold=False` judges every night afresh, as before
    episodes were held (the benchmark's "before")."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    prepared = prepare(inputs.series, inputs.catalog, inputs.rules, inputs.cohorts)
    alerts: list[Alert] = []
    fired: dict[date, list[tuple[str, str, str]]] = {}
    active: dict[date, list[tuple[str, str, str]]] = {}
    first_window_end: dict[str, date] = {}
    night = start
    while night <= end:
        findings = judge_night(
            prepared, inputs.catalog, inputs.rules, night, alerts, screen=screen, hold=hold
        )
        alerts = merge_alerts(alerts, findings, night)
        fired[night] = [(f.rule_id, f.dimension, f.dimension_value) for f in findings]
        active[night] = [a.key for a in alerts if a.status == "active"]
        for alert in alerts:
            first_window_end.setdefault(alert.alert_id, alert.window_end)
        night += timedelta(days=1)
    return Replay(alerts, fired, first_window_end, active)


def replay(inputs: NightInputs, start: date, end: date) -> list[Alert]:
    """Alert episodes as the nightly checks would have built them from `start` to `end`."""
    return replay_nights(inputs, start, end).alerts


def episodes_frame(alerts: list[Alert], start: date, end: date) -> pd.DataFrame:
    columns = [
        "alert_id",
        "rule_id",
        "dimension",
        "dimension_value",
        "first_detected_at",
        "last_detected_at",
        "status",
        "cleared_at",
        "leading_change",
        "outcome_change",
        "explanation",
    ]
    frame = pd.DataFrame([asdict(a) for a in alerts], columns=list(Alert.__dataclass_fields__))
    frame = frame[columns].copy()
    frame["replay_from"], frame["replay_to"] = start, end
    return frame


def write(warehouse: Location, frame: pd.DataFrame) -> None:
    """Replaces `backtest_alerts` by the replay's episodes, atomically on either engine."""
    with connect(warehouse) as wh:
        wh.replace("{marts}.backtest_alerts", frame)
