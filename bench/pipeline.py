"""Performance benchmark of the nightly pipeline against the engine floor. Writes
docs/performance.md.

For each profile (small, medium, large) it generates N+1 days (N = the profile's days) and
moves the last day D's rows of web_events and ads_daily into day files, so that one landing
folder holds the history up to D-1 and the day files add exactly one day. Then, each as its own
process, with wall time and peak RSS of the whole process tree (psutil, polled every 50 ms):

- full build: `firewatch run --as-of D-1` on a fresh warehouse with the history;
- nightly: the day files added, `firewatch run --as-of D` on the same warehouse;
- the same two on 2N+1 generated days (the nightly is the target there);
- the engine floor: runtime/floor_control.sql (control_daily and the web components at every
  grain from the raw files, one DuckDB process, no dbt, no Dagster) on the same history as the
  full build, twice at the pipeline's memory cap (the faster counts) and once uncapped;

and once per bench run (they do not depend on the data set): the divergence checks alone
(`detect`) over ~10,000 synthetic series, and the load of the Dagster code location.

    .venv/bin/python bench/pipeline.py                     # small, medium and large
    .venv/bin/python bench/pipeline.py --profiles small    # one profile
    .venv/bin/python bench/pipeline.py --fresh             # regenerate the cached data sets

Generated data sets are kept under --work (default bench/.cache/pipeline) and reused.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline_checks import measure_checks, measure_code_location  # noqa: E402
from bench.pipeline_datasets import chosen_profiles, prepare_dataset  # noqa: E402
from bench.pipeline_report import ProfileResult, write_report  # noqa: E402
from bench.pipeline_runs import (  # noqa: E402
    measure_dataset,
    supports_full_refresh,
)
from dagster_project.faults.env import private_env  # noqa: E402

DEFAULT_WORK = ROOT / "bench" / ".cache" / "pipeline"
PROFILES = ("small", "medium", "large")


def main(argv: Sequence[str] | None = None) -> int:
    from dagster_project.generate.profiles import PROFILES as SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--fresh", action="store_true", help="regenerate the data sets")
    args = parser.parse_args(argv)
    profiles = chosen_profiles(parser, args.profiles, PROFILES)
    load_at_start = os.getloadavg()[0]
    work = args.work.resolve()
    # A fresh Dagster instance per bench run: its run history is not what is measured.
    shutil.rmtree(work / "dagster_home", ignore_errors=True)
    env = private_env(work)
    full_refresh = supports_full_refresh(env)
    results = []
    for profile in profiles:
        n = SIZES[profile].days
        print(f"{profile}: {n} days, then {2 * n}", flush=True)
        measured = []
        for days, with_floor in ((n + 1, True), (2 * n + 1, False)):
            dataset, generated = prepare_dataset(profile, days, work, env, args.fresh)
            if generated is not None:
                print(f"  generated {days} days in {generated.seconds:.1f} s", flush=True)
            measured.append(measure_dataset(dataset, work / "run", env, full_refresh, with_floor))
        results.append(ProfileResult(profile, n, measured[0], measured[1]))
    logs = work / "logs"
    print("divergence checks and code location", flush=True)
    first = work / f"{profiles[0]}-{SIZES[profiles[0]].days + 1}d" / "logs"
    checks = measure_checks(first / "metric_catalog.parquet", env, logs)
    location = measure_code_location(env, logs)
    command = ".venv/bin/python bench/pipeline.py" + (
        f" --profiles {','.join(profiles)}" if profiles != list(PROFILES) else ""
    )
    load = (load_at_start, os.getloadavg()[0])
    print(write_report(args.out, command, results, checks, location, full_refresh, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
