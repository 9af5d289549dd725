"""Reading a warehouse from a test, and holding it from another process as a BI tool would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb


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
