"""The `firewatch generate` subcommand: sample data with labelled scenarios for demos and tests."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from .profiles import DEFAULT_END_DATE, PROFILES
from .scenarios import SCENARIO_NAMES, parse_scenario


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Adds `generate` to an argparse subparsers object; its handler returns an exit code."""
    p = subparsers.add_parser(
        "generate",
        help="Write sample raw data (all contract tables) plus a ground-truth JSON.",
        description=(
            "Writes OUT/raw/<table>/ for every contract table and OUT/ground_truth.json. "
            "Scenarios inject a labelled change after an onset date: "
            "name[:channel[:YYYY-MM-DD[:magnitude]]], names: " + ", ".join(SCENARIO_NAMES) + "."
        ),
    )
    p.add_argument("--out", type=Path, required=True, help="Output folder (raw/ goes inside).")
    p.add_argument("--days", type=int, default=None, help="Days of history (default per profile).")
    p.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
    p.add_argument("--profile", choices=sorted(PROFILES), default="small", help="Data volume.")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="SPEC",
        help="name[:channel[:YYYY-MM-DD[:magnitude]]]; repeat to combine (default channel "
        "paid_social, onset end-date minus 35 days, magnitude 0.4).",
    )
    p.add_argument(
        "--end-date",
        type=_date,
        default=None,
        help=f"Last day of data (default {DEFAULT_END_DATE.isoformat()}).",
    )
    p.add_argument(
        "--format", dest="fmt", choices=["csv", "parquet"], default=None,
        help="Force one file format for all tables (default: the profile's).",
    )  # fmt: skip
    p.set_defaults(handler=run)
    return p


def summary(truth: dict, out: Path, seconds: float) -> str:
    """One paragraph: rows per table, files, scenarios."""
    rows = ", ".join(
        f"{t} {n:,} rows in {len(truth['files'][t])} file{'s' * (len(truth['files'][t]) != 1)}"
        for t, n in truth["row_counts"].items()
    )
    scen = (
        "; ".join(
            f"{s['name']} on {s['channel']} from {s['onset']} (magnitude {s['magnitude']:g}: "
            f"{s['leading_metric']} {s['leading_direction']}, {s['outcome_metric']} "
            f"{s['outcome_direction']})"
            for s in truth["scenarios"]
        )
        or "none"
    )
    return (
        f"Generated {truth['days']} days ({truth['start_date']} to {truth['end_date']}, CRM "
        f"history from {truth['crm_history_start']}), profile {truth['profile']}, seed "
        f"{truth['seed']}, in {seconds:.1f} s into {out / 'raw'}: {rows}. Scenarios: {scen}. "
        f"Ground truth: {out / 'ground_truth.json'}."
    )


def run(args: argparse.Namespace) -> int:
    from .core import generate  # numpy and pyarrow: only when generating

    end = args.end_date or DEFAULT_END_DATE
    try:
        specs = [parse_scenario(text, end) for text in args.scenario]
        t0 = time.perf_counter()
        truth = generate(
            args.out, days=args.days, seed=args.seed, profile=args.profile, scenarios=specs,
            end_date=end, fmt=args.fmt,
        )  # fmt: skip
    except (ValueError, FileExistsError) as exc:
        print(f"firewatch generate: error: {exc}", file=sys.stderr)
        return 2
    print(summary(truth, args.out, time.perf_counter() - t0))
    return 0
