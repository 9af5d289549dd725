"""PostgreSQL as the warehouse: the raw tables reach it by COPY (docs/engines.md).

The loader checks the landing folder exactly as on DuckDB and writes it into the DuckDB file,
which on PostgreSQL is its staging copy; `copy_raw_tables` then copies what it wrote (every table
of the `raw` schema, the loader's bookkeeping tables included) into the PostgreSQL database, in
one transaction, where dbt's `postgres` target builds the same marts from it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from psycopg2 import sql

from dagster_project.warehouse.raw_export import (
    RAW_SCHEMA,
    engine_type,
    quoted_raw,
    raw_columns,
    raw_tables,
)
from dagster_project.warehouse.target import PostgresConfig

if TYPE_CHECKING:
    from dagster_project.ingest.loader import LoadReport

# DuckDB column type -> PostgreSQL column type, for the types the loader writes and a few more.
_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "HUGEINT": "numeric(38, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "jsonb",
    '"NULL"': "text",  # a column of nothing but NULLs
}


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL type that holds every value of a DuckDB column type exactly."""
    return engine_type(duckdb_type, _TYPES, "numeric({}, {})", "PostgreSQL")


def copy_raw_tables(
    source: duckdb.DuckDBPyConnection,
    target: Any,
    schema: str = RAW_SCHEMA,
    changes: Mapping[str, Sequence[str] | None] | None = None,
) -> dict[str, int]:
    """Copies every table of DuckDB's `raw` schema into `schema` of a PostgreSQL database.

    `source` is a DuckDB connection to the warehouse the loader wrote (read-only will do);
    `target` a psycopg2 connection. A table is created with the same columns in the same order
    and matching types (`postgres_type`) and filled with one `COPY ... FROM STDIN` of a CSV
    file DuckDB writes (NULL is an empty field, an empty string `""`, doubles their shortest
    exact text), never row by row. All tables change in one transaction, committed at the end:
    a reader sees last night's tables or tonight's. Returns the rows copied per table copied.

    `changes` says what the load did to a table, so a night copies what is new, not the whole
    history again: `[]` nothing (the table is left as it is), a list of files appended (only
    their rows are copied), None replaced (copied whole). Each shortcut is taken only when the
    database's table has the same columns and the rows it should already hold; otherwise, and
    for a table not named, the table is copied whole: emptied in the transaction when its
    columns are unchanged, so the staging views dbt built on it (and a reader's own views)
    stay, or else dropped and created anew.
    """
    tables = raw_tables(source)
    changes = changes or {}
    copied: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="firewatch-copy-") as folder:
        with target.cursor() as cursor:
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            for table in tables:
                rows = _copy_table(source, cursor, schema, table, Path(folder), changes.get(table))
                if rows is not None:
                    copied[table] = rows
        target.commit()
    return copied


def _files_filter(files: Sequence[str]) -> str:
    # file names from the loader's plan, as literals: DuckDB's COPY takes no parameters
    names = ", ".join("'" + name.replace("'", "''") + "'" for name in files)
    return f"_source_file in ({names})"


def _copy_table(
    source: duckdb.DuckDBPyConnection,
    cursor: Any,
    schema: str,
    table: str,
    folder: Path,
    new_files: Sequence[str] | None = None,
) -> int | None:
    columns = raw_columns(source, table)
    relation = sql.Identifier(schema, table)
    wanted = [(name, postgres_type(kind)) for name, kind in columns]
    same_columns = _columns(cursor, schema, table) == [(n, _canonical(k)) for n, k in wanted]
    quoted = quoted_raw(table)
    where = "true"
    if same_columns and new_files is not None:
        [(total,)] = source.execute(f"select count(*) from {quoted}").fetchall()
        new = 0
        if new_files:
            [(new,)] = source.execute(
                f"select count(*) from {quoted} where {_files_filter(new_files)}"
            ).fetchall()
        cursor.execute(sql.SQL("select count(*) from {}").format(relation))
        if cursor.fetchone()[0] == total - new:  # the database holds the rows before tonight's
            if not new_files:
                return None
            where = _files_filter(new_files)
    if where == "true":
        if same_columns:
            cursor.execute(sql.SQL("truncate {}").format(relation))
        else:
            cursor.execute(sql.SQL("drop table if exists {} cascade").format(relation))
            cursor.execute(
                sql.SQL("create table {} ({})").format(
                    relation,
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                        for name, kind in wanted
                    ),
                )
            )
    csv_file = folder / f"{table}.csv"
    source.execute(
        f"copy (select * from {quoted} where {where}) to '{csv_file}' (format csv, header false)"
    )
    with csv_file.open("rb") as handle:
        cursor.copy_expert(sql.SQL("copy {} from stdin with (format csv)").format(relation), handle)
    rows = cursor.rowcount
    csv_file.unlink()
    return rows


# How information_schema spells the types postgres_type gives (numeric's precision aside).
_SPELLED = {
    "text": "text",
    "boolean": "boolean",
    "smallint": "smallint",
    "integer": "integer",
    "bigint": "bigint",
    "real": "real",
    "double precision": "double precision",
    "date": "date",
    "time": "time without time zone",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "interval": "interval",
    "uuid": "uuid",
    "jsonb": "jsonb",
}


def _canonical(kind: str) -> str:
    return "numeric" if kind.startswith("numeric") else _SPELLED[kind]


def _columns(cursor: Any, schema: str, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        [schema, table],
    )
    return [(name, kind) for name, kind in cursor.fetchall()]


def copy_landing(
    warehouse: Path, config: PostgresConfig, changes: Mapping[str, Sequence[str] | None]
) -> dict[str, int]:
    """The night's load, from the DuckDB staging file into PostgreSQL's `raw` schema: per
    contract table what the load did (`copy_raw_tables`' `changes`)."""
    from dagster_project.warehouse.connection import connect_when_free

    source = connect_when_free(warehouse, read_only=True)
    try:
        target = config.connect()
        target.autocommit = False
        try:
            return copy_raw_tables(source, target, changes=changes)
        finally:
            target.close()
    finally:
        source.close()


def load_changes(report: LoadReport) -> dict[str, list[str] | None]:
    """What the loader did to each contract table, as `copy_raw_tables` takes it: no new file
    ([]), files appended (their names), or the table replaced (None)."""
    changes: dict[str, list[str] | None] = {}
    for table, mode in report.modes.items():
        if mode == "unchanged":
            changes[table] = []
        elif mode == "append":
            changes[table] = list(report.new_files.get(table, []))
        else:
            changes[table] = None
    return changes
