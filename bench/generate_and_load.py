"""Benchmark of the foundation: generate a profile, load it, run the whole nightly job.

Each stage runs as its own process; wall time and peak RSS come from the OS (wait4 rusage),
so nothing is timed from inside the code under test. Results go to docs/foundation_benchmark.md.

    .venv/bin/python bench/generate_and_load.py --profile small --profile large
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402


def _measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command and the children it waited for."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    # ru_maxrss is in KiB on Linux; for a process tree it is the largest member's peak
    return elapsed, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", action="append", choices=["small", "medium", "large"])
    parser.add_argument("--out", default=str(ROOT / "docs" / "foundation_benchmark.md"))
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    rows = []
    for profile in args.profile or ["small"]:
        work = Path(tempfile.mkdtemp(prefix=f"firewatch-bench-{profile}-"))
        try:
            gen = _measure(
                [str(BIN / "firewatch"), "generate", "--out", str(work), "--profile", profile],
                env,
            )
            events = sum(1 for _ in (work / "raw" / "web_events").iterdir())
            load = _measure(
                [
                    str(BIN / "python"),
                    "-c",
                    "import sys; from pathlib import Path; "
                    "from dagster_project.ingest.loader import load_raw; "
                    "load_raw(Path(sys.argv[1]), Path(sys.argv[2]))",
                    str(work / "raw"),
                    str(work / "load.duckdb"),
                ],
                env,
            )
            run = _measure(
                [
                    str(BIN / "firewatch"),
                    "run",
                    "--raw-dir",
                    str(work / "raw"),
                    "--warehouse",
                    str(work / "run.duckdb"),
                ],
                env,
            )
            truth = json.loads((work / "ground_truth.json").read_text())
            rows.append((profile, truth["row_counts"]["web_events"], events, gen, load, run))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    lines = [
        "# Foundation benchmark: generate, load, full nightly run",
        "",
        f"Machine: {describe()}. Command: `.venv/bin/python bench/generate_and_load.py "
        + " ".join(f"--profile {p}" for p in (args.profile or ["small"]))
        + "`. Each stage is a separate process; peak RSS is the largest process of the stage.",
        "",
        "| profile | web_events rows | event files | generate s | generate MiB | load s "
        "| load MiB | full run s | full run MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for profile, n_events, files, gen, load, run in rows:
        lines.append(
            f"| {profile} | {n_events:,} | {files} | {gen[0]:.1f} | {gen[1]:,.0f} | "
            f"{load[0]:.1f} | {load[1]:,.0f} | {run[0]:.1f} | {run[1]:,.0f} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
