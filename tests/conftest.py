"""Shared fixtures: a dbt manifest built once, landing-folder writers and warehouse queries."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.settings import DBT_PROJECT_DIR

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def write_csv(raw_dir: Path, table: str, name: str, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Writes rows to raw_dir/table/name with the union of their keys as the header."""
    rows = list(rows)
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    folder = raw_dir / table
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_header_only(raw_dir: Path, table: str, columns: list[str]) -> None:
    folder = raw_dir / table
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.csv").write_text(",".join(columns) + "\n", encoding="utf-8")


def query(warehouse: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@contextmanager
def another_process_holding(warehouse: Path, seconds: float = 3600.0) -> Iterator[int]:
    """A separate process with a write connection to `warehouse` (DuckDB's file lock, as a BI
    tool or notebook opened on it would hold), from when the block starts until `seconds` have
    passed or the block ends, whichever is first. Yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, select, sys; con = duckdb.connect(sys.argv[1]); print('held', "
         "flush=True); select.select([sys.stdin], [], [], float(sys.argv[2])); con.close()",
         str(warehouse), str(seconds)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.communicate("done\n", timeout=60)


def metric(
    warehouse: Path, metric_id: str, grain: str, period: str, dimension_value: str = "total"
) -> tuple:
    """(numerator, denominator, value, is_mature) of one metric_series row."""
    rows = query(
        warehouse,
        "select numerator, denominator, value, is_mature from metric_series "
        "where metric_id = ? and grain = ? and period_start = ? and dimension_value = ?",
        [metric_id, grain, period, dimension_value],
    )
    assert len(rows) == 1, f"{metric_id} {grain} {period} {dimension_value}: {rows}"
    return rows[0]


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """The manifest `make` builds; built here too so `pytest` alone works on a fresh clone."""
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.exists():
        subprocess.run(
            [str(Path(bin_dir) / "dbt"), "parse", "--profiles-dir", ".", "--quiet"],
            cwd=DBT_PROJECT_DIR,
            check=True,
        )
    return manifest


def run_pipeline(raw_dir: Path, warehouse: Path, as_of: str = "") -> int:
    from dagster_project.cli.run import run_nightly

    return run_nightly(raw_dir=raw_dir, warehouse=warehouse, as_of=as_of, quiet=True)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-built landing folder run through the whole nightly job as of 2025-05-31."""
    from tests.tiny_landing import write_tiny_landing

    root = tmp_path_factory.mktemp("tiny")
    write_tiny_landing(root / "raw")
    warehouse = root / "firewatch.duckdb"
    assert run_pipeline(root / "raw", warehouse, as_of="2025-05-31") == 0
    return warehouse
