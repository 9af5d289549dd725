"""Detection benchmark: precision, recall and time-to-detect per rule over seeded scenario runs,
false alerts per rule per 90 days over null runs, and the same figures for an Elementary-style
z-score baseline on the same data. Writes docs/detection.md.

Every run is a real data set: `firewatch generate` with its own seed (and, for scenario runs, one
injected change), loaded and built by the same loader and dbt models as the nightly job
(`dagster_project.runtime.lab`), then replayed night by night like `firewatch backtest`. Two stages:

1. build: generate + load + dbt for each run; the metric rows the rules read are cached under
   bench/.cache/detection/<run>/ (so stage 2 can be repeated after a rule change in minutes);
2. evaluate: replay the nights of every cached run with the current rules and the z-score
   baseline, tally, write the report.

    .venv/bin/python bench/detection.py                 # both stages, 56 scenario + 200 null runs
    .venv/bin/python bench/detection.py --stage evaluate  # re-tally the cached runs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.detection_hold import SECTION  # noqa: E402
from bench.detection_report import report  # noqa: E402
from bench.detection_runs import CACHE, build, evaluate_run, plan  # noqa: E402


def _hold_section(path: Path) -> str:
    """The "Episodes that hold" section of the current file (bench/detection_hold.py's)."""
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    start = doc.find(SECTION)
    if start < 0:
        return ""
    end = doc.find("\n## ", start + len(SECTION))
    return "\n" + (doc[start : end + 1] if end >= 0 else doc[start:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "build", "evaluate", "report"], default="all")
    parser.add_argument(
        "--results",
        default=str(CACHE / "results.json"),
        help="Where evaluate writes (and report reads) the per-run episodes.",
    )
    parser.add_argument("--kinds", choices=["all", "scenario"], default="all")
    parser.add_argument("--scenario-runs-per-kind", type=int, default=8)
    parser.add_argument("--null-runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "docs" / "detection.md"))
    args = parser.parse_args()
    os.environ.setdefault("FIREWATCH_DBT_THREADS", "1" if args.workers > 1 else "2")
    runs = plan(args.scenario_runs_per_kind, 0 if args.kinds == "scenario" else args.null_runs)
    build_seconds = None
    if args.stage in ("all", "build"):
        started = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            for done, run_id in enumerate(pool.map(build, runs), start=1):
                print(f"[{time.perf_counter() - started:7.0f}s] built {done}/{len(runs)} {run_id}",
                      flush=True)  # fmt: skip
        build_seconds = time.perf_counter() - started
    results_path = Path(args.results)
    if args.stage in ("all", "evaluate"):
        ids = [r.run_id for r in runs if (CACHE / r.run_id / "done").exists()]
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(evaluate_run, ids))
        results_path.write_text(json.dumps(results), encoding="utf-8")
    if args.stage in ("all", "evaluate", "report"):
        results = json.loads(results_path.read_text(encoding="utf-8"))
        out = Path(args.out)
        kept = _hold_section(out)  # bench/detection_hold.py's section, not rebuilt here
        out.write_text(report(results, build_seconds) + kept, encoding="utf-8")
        print(f"wrote {args.out} from {len(results)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
