"""Fault injection: kill `firewatch run` with SIGKILL at random points of nightly runs, recover,
check that nothing people entered or BI tools read was lost or torn. Writes docs/reliability.md.

The command-line front end of `dagster_project.faults` (the campaign, described there): one
campaign, then the other reliability suites, then the report.

    .venv/bin/python bench/reliability.py --kills 24          # the long run, docs/reliability.md
    .venv/bin/python bench/reliability.py --kills 4 --no-report --no-suites --seed 7

`--seed` makes a campaign reproducible (kill targets, delays, decisions); it is printed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from dagster_project.faults.campaign import campaign  # noqa: E402
from dagster_project.faults.report import REPORT, write_report  # noqa: E402
from dagster_project.faults.suites import run_suites  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--no-suites", action="store_true", help="skip the other suites")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    work = args.work or Path(tempfile.mkdtemp(prefix="firewatch-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"seed {seed}", flush=True)
    try:
        c = campaign(work / "campaign", args.kills, seed, say=lambda m: print(m, flush=True))
        cases, missing, suite_seconds = ([], [], 0.0)
        if not args.no_suites:
            cases, missing, suite_seconds = run_suites(work)
        if not args.no_report:
            command = f"python bench/reliability.py --kills {args.kills} --seed {seed}"
            write_report(args.report, c, cases, missing, suite_seconds, command, describe())
            print(f"wrote {args.report}")
        print(
            f"kills survived {c.survived}/{c.killed}; decisions entered {c.entered}, found "
            f"{c.kills[-1].decisions_found if c.kills else 0}; {c.seconds / 60:.1f} min"
        )
        failed = [x for x in cases if x.outcome in ("failed", "error")]
        return 0 if c.ok and not failed else 1
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
