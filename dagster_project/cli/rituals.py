"""`firewatch rituals`: the metrics reported for months without changing a decision."""

from __future__ import annotations

import argparse
import json
import sys

from dagster_project.cli.args import add_warehouse
from dagster_project.runtime.rituals import compute
from dagster_project.settings import Settings
from dagster_project.warehouse.connection import open_warehouse


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
    add_warehouse(parser)
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.set_defaults(handler=_run)
