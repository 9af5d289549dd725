"""The DuckDB side shared by every loader stage: how a connection is set up, and how names,
strings and file paths are quoted into SQL."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.settings import duckdb_memory_limit, lock_wait


def connect(database: str, *, temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory database (``":memory:"``) or the warehouse, set up as the loader reads."""
    con = duckdb.connect(database) if database == ":memory:" else _connect_warehouse(database)
    # Values without an offset are UTC, and TIMESTAMPTZ -> TIMESTAMP must yield UTC.
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = {lit(duckdb_memory_limit())}")
    # Row numbers rely on order-preserving scans; this is DuckDB's default, made explicit.
    con.execute("SET preserve_insertion_order = true")
    if temp_directory is not None:
        con.execute(f"SET temp_directory = {lit(temp_directory)}")
    return con


def _connect_warehouse(database: str) -> duckdb.DuckDBPyConnection:
    from dagster_project.warehouse.connection import connect_when_free

    return connect_when_free(Path(database), wait_seconds=lock_wait())


def ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """Quote an SQL string literal (for table-function arguments that take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def path_lit(path: Path) -> str:
    """A file path as a literal for read_csv/read_parquet, which take `*`, `?` and `[` as glob
    patterns: `x[1].csv` would read `x1.csv`. A one-character class `[c]` matches c itself."""
    return lit("".join(f"[{c}]" if c in "*?[" else c for c in str(path)))
