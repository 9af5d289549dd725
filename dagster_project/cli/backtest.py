"""`firewatch backtest`: replay the nightly checks over a range into `backtest_alerts`."""

from __future__ import annotations

import argparse
import sys

from dagster_project.cli.args import add_target, add_warehouse, iso_date
from dagster_project.settings import Settings


def _run(args: argparse.Namespace) -> int:
    # Imported here: the statistics (scipy, statsmodels) take seconds to import, and every
    # `firewatch` command builds this parser before it does anything.
    from dagster_project.runtime.backtest import episodes_frame, replay, write
    from dagster_project.runtime.night import read_inputs

    warehouse = Settings.from_env(warehouse=args.warehouse, target=args.target).location
    try:
        inputs = read_inputs(warehouse, args.rules)
        frame = episodes_frame(replay(inputs, args.start, args.end), args.start, args.end)
    except (ValueError, OSError) as error:  # OSError: no file, no server
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
    print(f"{len(frame)} episode(s) written to backtest_alerts in {warehouse}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "backtest", help="Replay the nightly checks as of each day and say when alerts fire."
    )
    parser.add_argument(
        "--from", dest="start", type=iso_date, required=True, help="First night (YYYY-MM-DD)."
    )
    parser.add_argument(
        "--to", dest="end", type=iso_date, required=True, help="Last night (YYYY-MM-DD)."
    )
    add_warehouse(parser)
    add_target(parser)
    parser.add_argument("--rules", help="Rule file (default $FIREWATCH_RULES or rules.yml).")
    parser.set_defaults(handler=_run)
