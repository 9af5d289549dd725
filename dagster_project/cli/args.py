"""Arguments every `firewatch` verb shares: dates, and the warehouse and landing paths."""

from __future__ import annotations

import argparse
from datetime import date

from dagster_project.warehouse.target import TARGETS

WAREHOUSE_HELP = "DuckDB file (default $FIREWATCH_WAREHOUSE or warehouse/firewatch.duckdb)."
RAW_DIR_HELP = "Landing folder (default $FIREWATCH_RAW_DIR or data/raw)."
ACCEPT_DROP_HELP = (
    "Publish the night even though control totals (spend, sessions, leads over all history) "
    "fell against the last accepted night by more than FIREWATCH_MAX_DROP: they are real "
    "(the run tag firewatch/accept_drop=true does the same from the Dagster UI)."
)


def iso_date(text: str) -> date:
    """An argparse type: a YYYY-MM-DD date, refused with the text it was given."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_warehouse(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", help=WAREHOUSE_HELP)


def add_target(parser: argparse.ArgumentParser) -> None:
    """--target: the engine the marts, alerts and the queue live in (docs/engines.md)."""
    parser.add_argument(
        "--target",
        choices=list(TARGETS),
        help="duckdb (the file, default), postgres (the database the FIREWATCH_PG_* "
        "variables name) or spark (the catalog in FIREWATCH_SPARK_HOME); default "
        "$FIREWATCH_TARGET or duckdb.",
    )


def add_accept_drop(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accept-drop", action="store_true", help=ACCEPT_DROP_HELP)
