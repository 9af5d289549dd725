"""`firewatch brief`: write the morning brief (one self-contained HTML page) on demand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dagster_project.cli.args import add_target, add_warehouse
from dagster_project.settings import Settings
from dagster_project.warehouse.connection import WarehouseBusyError


def _run(args: argparse.Namespace) -> int:
    from dagster_project.runtime.brief import write_brief  # pandas, matplotlib: only when used

    settings = Settings.from_env(warehouse=args.warehouse, target=args.target)
    try:
        report = write_brief(settings, Path(args.out) if args.out else None)
    except (WarehouseBusyError, FileNotFoundError, OSError) as error:
        print(f"firewatch brief: {error}", file=sys.stderr)
        return 1
    overdue = f", {report.overdue} overdue" if report.overdue else ""
    print(
        f"Wrote {report.path} (night of {report.night or '—'}, {report.waiting} "
        f"decision{'' if report.waiting == 1 else 's'} waiting{overdue}; read from "
        f"{report.source})."
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "brief",
        help="Write the morning brief: open decisions by owner with their charts, targets, "
        "ritual metrics (one HTML file that opens offline).",
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="Where to write the HTML file (default: brief.html beside the BI copy, where the "
        "nightly run writes it).",
    )
    add_warehouse(parser)
    add_target(parser)
    parser.set_defaults(handler=_run)
