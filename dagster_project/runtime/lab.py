"""Generated data set -> warehouse metrics -> nightly replay, without Dagster: what the detection
benchmark (`bench/detection.py`) and the scenario tests run dozens to hundreds of times.

It runs the same loader and the same dbt models as the nightly job (`dbt build` of the models
and seeds, without the data tests, which the nightly job and `make test` already run), in this
process with a manifest parsed once, so a small data set costs seconds instead of a whole
Dagster run. Detection is then replayed night by night with `backtest.replay_nights`, as
`firewatch backtest` does.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from dagster_project.ingest.loader import load_raw
from dagster_project.runtime.night import NightInputs, read_inputs
from dagster_project.settings import DBT_PROJECT_DIR, WAREHOUSE_ENV

# Parsed manifests by warehouse file stem: dbt-duckdb names the database after the file, and
# the parsed nodes carry that name.
_MANIFESTS: dict[str, Any] = {}
_WORK = Path(tempfile.gettempdir()) / f"firewatch-lab-{os.getpid()}"
atexit.register(shutil.rmtree, _WORK, True)  # dbt's target and logs of this process


class BuildError(RuntimeError):
    """dbt could not build the metrics of a data set."""


def _dbt_args(command: str, *extra: str) -> list[str]:
    # A target and log folder of this process's own: dbt_project/target holds the manifest the
    # Dagster definitions read, and parallel benchmark workers must not share one.
    return [
        command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(_WORK / "target"),
        "--log-path",
        str(_WORK / "logs"),
        "--quiet",
        *extra,
    ]


def _manifest(warehouse: Path) -> Any:
    """The project parsed once per process (and per warehouse file name)."""
    if warehouse.stem not in _MANIFESTS:
        from dbt.cli.main import dbtRunner

        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        result = dbtRunner().invoke(_dbt_args("parse"))
        _release_duckdb()
        if not result.success:
            raise BuildError(f"dbt parse failed: {result.exception}")
        _MANIFESTS[warehouse.stem] = result.result
    return _MANIFESTS[warehouse.stem]


def build_metrics(raw_dir: Path, warehouse: Path) -> None:
    """Loads `raw_dir` into `warehouse` and builds every dbt model and seed (no data tests)."""
    from dbt.cli.main import dbtRunner

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    load_raw(raw_dir, warehouse)
    # dbt reads the warehouse path from the environment (profiles.yml); put it back after, so
    # whatever else runs in this process (a test session) keeps its own settings.
    previous = os.environ.get(WAREHOUSE_ENV)
    os.environ[WAREHOUSE_ENV] = str(warehouse)
    try:
        manifest = _manifest(warehouse)
        result = dbtRunner(manifest=manifest).invoke(
            _dbt_args("build", "--exclude", "resource_type:test", "resource_type:unit_test")
        )
    finally:
        _release_duckdb()
        if previous is None:
            os.environ.pop(WAREHOUSE_ENV, None)
        else:
            os.environ[WAREHOUSE_ENV] = previous
    if not result.success:
        raise BuildError(f"dbt build failed for {raw_dir}: {result.exception or result.result}")


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open for the life of the process (a class-level
    environment); until it is closed, no other connection may open the file read-only, and the
    next data set's build would reuse it. There is no public call for this (dbt-duckdb 1.11)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def metrics_of(raw_dir: Path, warehouse: Path, rules_file: str | Path | None = None) -> NightInputs:
    """build_metrics, then the inputs of a night's detection read back from the warehouse."""
    build_metrics(raw_dir, warehouse)
    return read_inputs(warehouse, rules_file)
