"""Apache Spark's part of bench/engines.py: the pieces a night on Spark would be made of, each as
its own process. The nightly job does not run on Spark (docs/engines.md: no `--target spark`,
no Dagster, no loader there), so a Spark night is measured as what it would be built from:

- raw copy: `python -m dagster_project.warehouse.spark WAREHOUSE.duckdb HOME`, the DuckDB
  warehouse's `raw` schema written as Parquet and registered in Spark's catalog;
- dbt build: `dbt build --target spark --exclude test_type:unit` with the night's variables
  (`RunWindow(...).dbt_env()`), as tests/e2e/test_spark_equality.py runs it; the incremental
  models are plain tables on Spark, rebuilt whole every night;
- checks and state: this module as a script (`checks`) reads the night's inputs from the
  catalog, detects, merges the findings into the alert episodes and writes the night's state
  with `save_night`, as the nightly job's alerts step does on DuckDB.

Embedded Derby (the metastore) admits one process at a time: the three run one after the other.

    .venv/bin/python -m bench.engines_spark HOME AS_OF RESULT.json   # the checks alone
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the checks process imports no more than a night's checks do
    from bench.pipeline_measure import Measurement

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCHEMA = "firewatch"  # the marts' database (FIREWATCH_SPARK_SCHEMA), alerts and queue included
PARTS = {"copy": "raw copy", "dbt": "dbt build", "checks": "checks and state"}
# measure(label, command, env) -> Measurement, raising SystemExit when the process fails
Measure = Callable[[str, Sequence[str], dict[str, str]], "Measurement"]


@dataclass
class SparkNight:
    """One night's three Spark processes and what the checks left."""

    runs: dict[str, Measurement] = field(default_factory=dict)  # keys of PARTS
    copied_rows: int = 0
    copied_tables: int = 0
    checks: dict[str, Any] = field(default_factory=dict)  # the checks' RESULT.json

    @property
    def seconds(self) -> float:
        return sum(m.seconds for m in self.runs.values())

    @property
    def peak_gb(self) -> float:
        return max((m.rss_gb for m in self.runs.values()), default=0.0)


def spark_night(
    label: str,
    warehouse: Path,
    as_of: date,
    home: Path,
    target: Path,
    env: dict[str, str],
    logs: Path,
    run: Measure,
) -> SparkNight:
    """Raw copy from the DuckDB `warehouse`, dbt build and checks as of `as_of` on the catalog
    under `home`; dbt's `target` folder stays from night to night (partial parse, as a
    scheduled night would have)."""
    from bench.pipeline_runs import _invocation
    from dagster_project.defs.partitions import RunWindow
    from dagster_project.warehouse.target import SPARK_HOME_ENV, SPARK_SCHEMA_ENV

    night = SparkNight()
    home.mkdir(parents=True, exist_ok=True)
    python = str(BIN / "python")
    copy = [python, "-m", "dagster_project.warehouse.spark", str(warehouse), str(home)]
    night.runs["copy"] = run(f"{label}_copy", copy, env)
    copied = _copied(night.runs["copy"].log)
    night.copied_tables, night.copied_rows = len(copied), sum(copied.values())
    project = ROOT / "dbt_project"
    build = [
        str(BIN / "dbt"), "build", "--target", "spark", "--exclude", "test_type:unit",
        "--project-dir", str(project), "--profiles-dir", str(project),
        "--target-path", str(target), "--log-path", str(target),
    ]  # fmt: skip
    dbt_env = {
        **env,
        SPARK_HOME_ENV: str(home),
        SPARK_SCHEMA_ENV: SCHEMA,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # one night, as `firewatch run --as-of` gives it (defs/partitions.py run_window)
        **RunWindow(first_night=as_of, as_of=as_of).dbt_env(),
    }
    (target / "run_results.json").unlink(missing_ok=True)  # not last night's, if this fails
    night.runs["dbt"] = run(f"{label}_dbt", build, dbt_env)
    invocation = _invocation(target)
    night.runs["dbt"].extra["dbt"] = [invocation] if invocation is not None else []
    if invocation is not None:
        shutil.copyfile(target / "run_results.json", logs / f"{label}_dbt.run_results.json")
    result = logs / f"{label}_checks.json"
    checks = [python, "-m", "bench.engines_spark", str(home), as_of.isoformat(), str(result)]
    night.runs["checks"] = run(f"{label}_checks", checks, env)
    night.checks = json.loads(result.read_text(encoding="utf-8"))
    return night


def _copied(log: Path) -> dict[str, int]:
    """The raw copy's "raw.<table>: <rows>" lines."""
    out = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, rows = line.partition(": ")
        if name.startswith("raw.") and rows.strip().isdigit():
            out[name] = int(rows)
    return out


def checks(home: Path, as_of: date, result: Path) -> None:
    """The nightly job's detection and alerts steps on Spark's catalog, in one process, through
    its own functions (runtime/night.py: `read_inputs`, `read_episodes`, `findings_for`,
    `record_night`; one Spark session held for all of them); what the night left goes to
    `result`: the active alert ids, the queue's (decision_id, status), row counts and the
    seconds of each phase."""
    from dagster_project.runtime.night import (
        findings_for,
        read_episodes,
        read_inputs,
        record_night,
    )
    from dagster_project.warehouse.engine import connect
    from dagster_project.warehouse.target import SparkConfig

    seconds: dict[str, float] = {}
    started = time.monotonic()

    def lap(phase: str) -> None:
        nonlocal started
        now = time.monotonic()
        seconds[phase] = round(now - started, 2)
        started = now
        print(f"{phase}: {seconds[phase]:.1f} s", flush=True)

    catalog = SparkConfig(home, SCHEMA)
    # the session started here is the one every `connect(catalog)` below reuses
    with connect(catalog) as wh:
        lap("session")  # the JVM and the metastore
        inputs = read_inputs(catalog)
        if inputs.as_of != as_of:
            raise SystemExit(f"the catalog is as of {inputs.as_of}, not {as_of}")
        episodes, accepted = read_episodes(catalog)
        lap("inputs")
        findings = findings_for(inputs, episodes, accepted)
        lap("detection")
        alerts = record_night(catalog, findings, as_of)
        lap("state")
        active = wh.rows("select alert_id from {marts}.alerts where status = 'active'")
        queue = wh.rows("select decision_id, status from {marts}.decision_queue")
        (series_rows,) = wh.rows("select count(*) from {marts}.metric_series")[0]
        out = {
            "as_of": as_of.isoformat(),
            "series_rows_read": len(inputs.series),
            "findings": len(findings),
            "active_alerts": sorted(a for (a,) in active),
            "queue": sorted([d, s] for d, s in queue),
            "alerts_rows": len(alerts),
            "metric_series_rows": int(series_rows),
        }
        lap("read back")
    out["seconds"] = seconds
    result.parent.mkdir(parents=True, exist_ok=True)
    result.write_text(json.dumps(out, indent=1), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))  # (run as `python -m bench.engines_spark` from ROOT)
    parser = argparse.ArgumentParser(description=checks.__doc__)
    parser.add_argument("home", type=Path, help="Spark's folder (FIREWATCH_SPARK_HOME)")
    parser.add_argument("as_of", type=date.fromisoformat, help="the night, YYYY-MM-DD")
    parser.add_argument("result", type=Path, help="where the JSON of what the night left goes")
    args = parser.parse_args(argv)
    checks(args.home.resolve(), args.as_of, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
