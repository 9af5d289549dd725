"""`firewatch explain ID`: the numbers behind one alert (or one queue item's alert)."""

from __future__ import annotations

import argparse
import sys

from dagster_project.cli.args import add_target, add_warehouse
from dagster_project.runtime.alert_detail import explanation, read_alerts
from dagster_project.settings import Settings, queue_wait
from dagster_project.warehouse.connection import WarehouseBusyError
from dagster_project.warehouse.engine import connect


def _run(args: argparse.Namespace) -> int:
    warehouse = Settings.from_env(warehouse=args.warehouse, target=args.target).location
    try:
        with connect(warehouse, read_only=True, wait_seconds=queue_wait()) as con:
            found = read_alerts(con, [args.id])
            texts = [explanation(con, alert) for alert in found]
    except (WarehouseBusyError, OSError) as error:  # OSError: no file, no server
        print(f"firewatch explain: {error}", file=sys.stderr)
        return 1
    if not texts:
        print(
            f"firewatch explain: no alert {args.id!r}: see `firewatch queue` for the ids",
            file=sys.stderr,
        )
        return 1
    print("\n\n".join(texts))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "explain", help="Show the numbers behind an alert: window against baseline, how sure."
    )
    parser.add_argument("id", help="An alert id (A-…) or the decision id (D-…) of its queue item.")
    add_warehouse(parser)
    add_target(parser)
    parser.set_defaults(handler=_run)
