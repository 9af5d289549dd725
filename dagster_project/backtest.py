"""`firewatch backtest`: replay the nightly divergence checks as of each day of a range.

Detection enforces completeness and cohort maturity by the calendar of the night it is given,
so the latest metric_series replays earlier nights faithfully, except that restated control
data shows its final values. The replay writes `main.backtest_alerts` and never touches
`alerts`, `decision_queue` or the decision log.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from dagster_project.divergence.detect import detect, prepare
from dagster_project.divergence.episodes import Alert, merge_alerts
from dagster_project.night import NightInputs, read_inputs
from dagster_project.settings import Settings
from dagster_project.state import open_warehouse, publish_frame


@dataclass(frozen=True)
class Replay:
    """Alert episodes of a replayed range, and what fired on each night."""

    alerts: list[Alert]
    fired: dict[date, list[tuple[str, str, str]]]  # night -> (rule_id, dimension, value)
    first_window_end: dict[str, date]  # alert_id -> end of its window on its first night


def replay_nights(inputs: NightInputs, start: date, end: date, *, screen: bool = True) -> Replay:
    """Replays the nightly checks from `start` to `end`, merging episodes as a nightly run does
    (metric_series is indexed once, detection runs per night on the night's calendar). `screen`
    as in `detect` (the benchmark compares both)."""
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    prepared = prepare(inputs.series, inputs.catalog, inputs.rules)
    alerts: list[Alert] = []
    fired: dict[date, list[tuple[str, str, str]]] = {}
    first_window_end: dict[str, date] = {}
    night = start
    while night <= end:
        findings = detect(prepared, inputs.catalog, inputs.rules, night, screen=screen)
        alerts = merge_alerts(alerts, findings, night)
        fired[night] = [(f.rule_id, f.dimension, f.dimension_value) for f in findings]
        for alert in alerts:
            first_window_end.setdefault(alert.alert_id, alert.window_end)
        night += timedelta(days=1)
    return Replay(alerts, fired, first_window_end)


def replay(inputs: NightInputs, start: date, end: date) -> list[Alert]:
    """Alert episodes as the nightly checks would have built them from `start` to `end`."""
    return replay_nights(inputs, start, end).alerts


def _frame(alerts: list[Alert], start: date, end: date) -> pd.DataFrame:
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


def write(warehouse: Path, frame: pd.DataFrame) -> None:
    with open_warehouse(warehouse) as con:
        publish_frame(con, "main.backtest_alerts", frame)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    warehouse = Settings.from_env(warehouse=args.warehouse).warehouse
    try:
        inputs = read_inputs(warehouse, args.rules)
        frame = _frame(replay(inputs, args.start, args.end), args.start, args.end)
    except (ValueError, FileNotFoundError) as error:
        print(f"firewatch backtest: {error}", file=sys.stderr)
        return 1
    write(warehouse, frame)
    if frame.empty:
        print(f"No rule would have fired from {args.start} to {args.end}.")
    else:
        shown = frame[
            ["rule_id", "dimension_value", "first_detected_at", "last_detected_at", "status"]
        ]
        print(shown.to_string(index=False))
    print(f"{len(frame)} episode(s) written to main.backtest_alerts in {warehouse}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "backtest", help="Replay the nightly checks as of each day and say when alerts fire."
    )
    parser.add_argument("--from", dest="start", type=_date, required=True)
    parser.add_argument("--to", dest="end", type=_date, required=True)
    parser.add_argument("--warehouse", help="DuckDB file (default $FIREWATCH_WAREHOUSE).")
    parser.add_argument("--rules", help="Rule file (default $FIREWATCH_RULES or rules.yml).")
    parser.set_defaults(handler=_run)
