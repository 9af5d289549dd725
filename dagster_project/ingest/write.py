"""Writing a validated load into the warehouse's ``raw`` schema, every table in one transaction,
with the bookkeeping of which files are loaded (``raw._loaded_files``) and how each table was
loaded (``raw._load_log``), and the night the loaded data is complete to (``raw._run_night``,
see night.py).

Rows are never deduplicated here: each row keeps ``_source_file``, ``_file_index`` (name order,
from 0) and ``_row_number`` (1-based data row in its file) so that dbt staging can keep the row
from the latest file for each key.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from dagster_project.ingest.contract import DUCKDB_TYPES, META_COLUMNS
from dagster_project.ingest.convert import values_relation
from dagster_project.ingest.model import RN, SourceFile, TablePlan
from dagster_project.ingest.night import store_night
from dagster_project.ingest.quarantine import QUARANTINE_DDL, clear_quarantine, store_quarantine
from dagster_project.ingest.sql import connect, ident

_LOADED_DDL = """
CREATE TABLE IF NOT EXISTS raw._loaded_files (
    table_name VARCHAR, file_name VARCHAR, file_index INTEGER, size_bytes BIGINT,
    mtime_ns BIGINT, row_count BIGINT, loaded_at TIMESTAMP
)"""
_LOAD_LOG_DDL = """
CREATE TABLE IF NOT EXISTS raw._load_log (
    loaded_at TIMESTAMP, table_name VARCHAR, mode VARCHAR, new_files INTEGER, new_rows BIGINT
)"""


def write_warehouse(warehouse: Path, plans: list[TablePlan], stamp: datetime) -> date | None:
    """Replace or extend every raw table in one transaction; on any error nothing changes.
    Returns the night the loaded data is complete to (night.py)."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = connect(str(warehouse))
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            con.execute(_LOADED_DDL)
            con.execute(_LOAD_LOG_DDL)
            con.execute(QUARANTINE_DDL)
            for plan in plans:
                if plan.mode == "replace":
                    _create_table(con, plan)
                    clear_quarantine(con, plan.table.name)
                elif plan.mode == "append":
                    _add_new_extras(con, plan)
                for f in plan.new_files:
                    _insert_file(con, plan, f, stamp)
                _remember_files(con, plan, stamp)
            night = store_night(con, stamp)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return night


def _target(plan: TablePlan) -> str:
    return f"raw.{ident(plan.table.name)}"


def _create_table(con: duckdb.DuckDBPyConnection, plan: TablePlan) -> None:
    defs = [f"{ident(c.name)} {DUCKDB_TYPES[c.type]}" for c in plan.table.columns]
    defs += [f"{ident(x)} varchar" for x in plan.extras]
    defs += [f"{ident(m)} {t}" for m, t in META_COLUMNS.items()]
    con.execute(f"CREATE OR REPLACE TABLE {_target(plan)} ({', '.join(defs)})")


def _add_new_extras(con: duckdb.DuckDBPyConnection, plan: TablePlan) -> None:
    """A new file may bring an extra column the loaded files did not have: keep it too."""
    have = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ?",
            [plan.table.name],
        ).fetchall()
    }
    for extra in plan.extras:
        if extra not in have:
            con.execute(f"ALTER TABLE {_target(plan)} ADD COLUMN {ident(extra)} varchar")


def _insert_file(
    con: duckdb.DuckDBPyConnection, plan: TablePlan, f: SourceFile, stamp: datetime
) -> None:
    table = plan.table
    rel, convs = values_relation(plan, f)
    select = []
    for i, col in enumerate(table.columns):
        value = f"p_{i}" if col.name in convs else f"CAST(NULL AS {DUCKDB_TYPES[col.type]})"
        select.append(f"{value} AS {ident(col.name)}")
    select += [f"x_{j} AS {ident(x)}" for j, x in enumerate(plan.extras)]
    meta = ["CAST(? AS VARCHAR)", "CAST(? AS INTEGER)", RN, "CAST(? AS TIMESTAMP)"]
    select += [f"{value} AS {ident(m)}" for value, m in zip(meta, META_COLUMNS, strict=True)]
    keep = f" WHERE NOT ({f.quarantine_sql})" if f.quarantined and f.quarantine_sql else ""
    # BY NAME: an appended table may have its columns in another order than this plan's.
    con.execute(
        f"INSERT INTO {_target(plan)} BY NAME SELECT {', '.join(select)} FROM ({rel}){keep}",
        [f.rel, f.index, stamp],
    )
    if f.quarantined:
        store_quarantine(con, table.name, f, stamp)


def _remember_files(con: duckdb.DuckDBPyConnection, plan: TablePlan, stamp: datetime) -> None:
    name = plan.table.name
    con.execute("DELETE FROM raw._loaded_files WHERE table_name = ?", [name])
    if plan.files:
        con.executemany(
            "INSERT INTO raw._loaded_files VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[name, f.rel, f.index, f.size, f.mtime_ns, f.rows, stamp] for f in plan.files],
        )
    con.execute(
        "INSERT INTO raw._load_log VALUES (?, ?, ?, ?, ?)",
        [stamp, name, plan.mode, len(plan.new_files), sum(f.rows for f in plan.new_files)],
    )
