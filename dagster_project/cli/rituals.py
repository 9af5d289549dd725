"""`firewatch rituals`: the metrics reported for months without changing a decision."""

from __future__ import annotations

import argparse
import json
import sys

from dagster_project.cli.args import add_target, add_warehouse
from dagster_project.runtime.rituals import compute
from dagster_project.settings import Settings
from dagster_project.warehouse.engine import connect


def _run(args: argparse.Namespace) -> int:
    warehouse = Settings.from_env(warehouse=args.warehouse, target=args.target).location
    try:
        with connect(warehouse, read_only=True) as wh:
            frame = compute(wh)  # live: includes decisions entered since the last run
    except (ValueError, OSError) as error:  # OSError: no file, no server
        print(f"firewatch rituals: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(json.loads(frame.to_json(orient="records", date_format="iso")), indent=2))
        return 0
    shown = frame[
        ["metric_id", "days_reported", "alerts_raised", "decisions_taken", "last_decision"]
    ].astype(object)
    shown = shown.where(shown.notna(), "—")  # no decision yet: a dash, not NaN or None
    shown.insert(len(shown.columns), "ritual", frame["is_ritual"].map({True: "yes", False: ""}))
    print(shown.to_string(index=False, max_colwidth=50))
    rituals = int(frame["is_ritual"].sum())
    decided = int(frame["decisions_taken"].sum())
    if decided == 0:
        print(
            "No decisions have been recorded yet. A metric becomes a ritual when it has been "
            "reported for 90+ days and no decision was ever taken on an alert it was part of: "
            "answer the queue (`firewatch queue`, `firewatch decide`) and the metrics that "
            "change decisions drop off this list."
        )
    print(f"{rituals} of {len(frame)} metrics reported for 90+ days without a decision.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rituals", help="Metrics reported without ever changing a decision.")
    add_warehouse(parser)
    add_target(parser)
    parser.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="table for people (default), json for scripts (every column).",
    )
    parser.set_defaults(handler=_run)
