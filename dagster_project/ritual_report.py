"""Reads the warehouse for the ritual-metrics report, writes `main.ritual_metrics`, and serves
`firewatch rituals`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from dagster_project.settings import Settings
from dagster_project.state import open_warehouse, publish_frame, run_as_of

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


def _run(args: argparse.Namespace) -> int:
    warehouse = Settings.from_env(warehouse=args.warehouse).warehouse
    try:
        with open_warehouse(warehouse, read_only=True) as con:
            frame = compute(con)  # live: includes decisions entered since the last run
    except FileNotFoundError as error:
        print(f"firewatch rituals: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(json.loads(frame.to_json(orient="records", date_format="iso")), indent=2))
        return 0
    shown = frame[
        [
            "metric_id",
            "days_reported",
            "alerts_raised",
            "decisions_taken",
            "last_decision",
            "is_ritual",
        ]
    ]
    print(shown.to_string(index=False, max_colwidth=50))
    rituals = int(frame["is_ritual"].sum())
    print(f"{rituals} of {len(frame)} metrics reported for 90+ days without a decision.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rituals", help="Metrics reported without ever changing a decision.")
    parser.add_argument("--warehouse", help="DuckDB file (default $FIREWATCH_WAREHOUSE).")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(handler=_run)
