"""The `firewatch` command: generate sample data and run the nightly job outside the daemon."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence

from dagster_project.cli.args import (
    RAW_DIR_HELP,
    WAREHOUSE_HELP,
    add_accept_drop,
    add_target,
    iso_date,
)
from dagster_project.settings import RAW_SOURCES


def _run(args: argparse.Namespace) -> int:
    # Imported here so `firewatch generate` works before the dbt manifest exists.
    # A first line before the imports below (Dagster, dbt: a few seconds), so a person sees the
    # run has started.
    print(
        "firewatch run: starting (loading Dagster and the dbt project)…",
        file=sys.stderr,
        flush=True,
    )
    from dagster_project.runtime import dbt_process
    from dagster_project.settings import Settings

    settings = Settings.from_env(
        raw_dir=args.raw_dir, warehouse=args.warehouse, target=args.target,
        raw_source=args.raw_source,
    )  # fmt: skip
    # dbt imports and warms up on the other core while this process loads Dagster
    with dbt_process.waiting_for(settings):
        from dagster_project.cli.run import run_nightly

        return run_nightly(
            raw_dir=args.raw_dir,
            warehouse=args.warehouse,
            target=args.target,
            raw_source=args.raw_source,
            as_of=args.as_of.isoformat() if args.as_of else "",
            full_refresh=args.full_refresh,
            accept_drop=args.accept_drop,
            verbose=args.verbose,
        )


def build_parser() -> argparse.ArgumentParser:
    from dagster_project.cli.backtest import register as register_backtest
    from dagster_project.cli.brief import register as register_brief
    from dagster_project.cli.explain import register as register_explain
    from dagster_project.cli.queue import register as register_queue
    from dagster_project.cli.rituals import register as register_rituals
    from dagster_project.generate import register as register_generate

    parser = argparse.ArgumentParser(
        prog="firewatch",
        description="kpi-firewatch: marketing marts, divergence checks and decisions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    register_generate(sub)

    run = sub.add_parser(
        "run", help="Run the nightly job in this process (what the schedule runs)."
    )
    run.add_argument("--raw-dir", help=RAW_DIR_HELP)
    run.add_argument("--warehouse", help=WAREHOUSE_HELP)
    add_target(run)
    run.add_argument(
        "--raw-source",
        choices=list(RAW_SOURCES),
        help="landing (default $FIREWATCH_RAW_SOURCE or landing): the loader checks the landing "
        "folder's files into `raw`; warehouse: the raw tables are already in the warehouse "
        "(an ELT tool keeps them there; docs/engines.md) and are checked, not loaded.",
    )
    run.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="Night to run as of (YYYY-MM-DD): that day's partition, as the schedule runs it "
        "(default: the last day both ads and web data reach).",
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="Reload every raw file and rebuild the incremental models from scratch.",
    )
    add_accept_drop(run)
    run.add_argument(
        "--verbose",
        action="store_true",
        help="Show Dagster's step log and stack traces on the terminal (they always go to the "
        "run log beside the warehouse).",
    )
    run.set_defaults(handler=_run)
    register_queue(sub)
    register_explain(sub)
    register_backtest(sub)
    register_rituals(sub)
    register_brief(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


def entry() -> None:
    """The `firewatch` command: `main`, then out without Python's teardown.

    After a run, some 3,900 imported modules (Dagster, dbt, pandas, scipy, matplotlib) are
    freed object by object when the interpreter shuts down: about 1 s of every night, after
    the last line was printed. Nothing is left to write by then: the exit handlers (logging,
    temporary folders, file locks) run first and the output, theirs included, is flushed. An
    exception takes the ordinary way out, with its traceback.
    """
    code = main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
