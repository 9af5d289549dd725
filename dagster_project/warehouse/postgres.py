"""PostgreSQL as the warehouse: the first piece of the warehouse interface (docs/engines.md).

Today the loader writes the landing folder into DuckDB; `copy_raw_tables` copies what it wrote
(every table of the `raw` schema, the loader's bookkeeping tables included) into a PostgreSQL
database, where dbt's `postgres` target builds the same marts from it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from psycopg2 import sql

RAW_SCHEMA = "raw"

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
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL type that holds every value of a DuckDB column type exactly."""
    decimal = _DECIMAL.fullmatch(duckdb_type)
    if decimal:
        return f"numeric({decimal[1]}, {decimal[2]})"
    if duckdb_type not in _TYPES:
        raise ValueError(f"no PostgreSQL type for the DuckDB type {duckdb_type}")
    return _TYPES[duckdb_type]


def copy_raw_tables(
    source: duckdb.DuckDBPyConnection, target: Any, schema: str = RAW_SCHEMA
) -> dict[str, int]:
    """Copies every table of DuckDB's `raw` schema into `schema` of a PostgreSQL database.

    `source` is a DuckDB connection to the warehouse the loader wrote (read-only will do);
    `target` a psycopg2 connection. Each table is created anew (a table of the same name is
    dropped first) with the same columns in the same order and matching types
    (`postgres_type`), and filled with one `COPY ... FROM STDIN` of a CSV file DuckDB writes
    (NULL is an empty field, an empty string `""`, doubles their shortest exact text), never
    row by row. All tables are replaced in one transaction, committed at the end: a reader sees
    the old tables or the new ones. Returns the rows copied per table.
    """
    tables = [
        name
        for (name,) in source.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
            [RAW_SCHEMA],
        ).fetchall()
    ]
    copied: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="firewatch-copy-") as folder:
        with target.cursor() as cursor:
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            for table in tables:
                copied[table] = _copy_table(source, cursor, schema, table, Path(folder))
        target.commit()
    return copied


def _copy_table(
    source: duckdb.DuckDBPyConnection, cursor: Any, schema: str, table: str, folder: Path
) -> int:
    columns = source.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [RAW_SCHEMA, table],
    ).fetchall()
    relation = sql.Identifier(schema, table)
    cursor.execute(sql.SQL("drop table if exists {}").format(relation))
    cursor.execute(
        sql.SQL("create table {} ({})").format(
            relation,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(postgres_type(kind)))
                for name, kind in columns
            ),
        )
    )
    csv_file = folder / f"{table}.csv"
    quoted = f'"{RAW_SCHEMA}"."' + table.replace('"', '""') + '"'
    source.execute(f"copy (select * from {quoted}) to '{csv_file}' (format csv, header false)")
    with csv_file.open("rb") as handle:
        cursor.copy_expert(sql.SQL("copy {} from stdin with (format csv)").format(relation), handle)
    rows = cursor.rowcount
    csv_file.unlink()
    return rows
