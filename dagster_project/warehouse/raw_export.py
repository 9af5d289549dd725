"""The loader's raw tables as another engine receives them (PostgreSQL, Spark): which tables
DuckDB's `raw` schema holds, their columns, and each DuckDB column type as the engine's."""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb

RAW_SCHEMA = "raw"
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def raw_tables(source: duckdb.DuckDBPyConnection) -> list[str]:
    """The base tables of the `raw` schema, by name."""
    return [
        name
        for (name,) in source.execute(
            "select table_name from information_schema.tables "
            "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
            [RAW_SCHEMA],
        ).fetchall()
    ]


def raw_columns(source: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(name, DuckDB type) of a raw table's columns, in order."""
    return source.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [RAW_SCHEMA, table],
    ).fetchall()


def quoted_raw(table: str) -> str:
    """`raw.<table>` quoted for DuckDB's SQL."""
    return f'"{RAW_SCHEMA}"."' + table.replace('"', '""') + '"'


def engine_type(duckdb_type: str, types: Mapping[str, str], decimal: str, engine: str) -> str:
    """The `engine` type that holds every value of a DuckDB column type exactly: from `types`,
    or `decimal` (a format of precision and scale) for DECIMAL(p, s)."""
    found = _DECIMAL.fullmatch(duckdb_type)
    if found:
        return decimal.format(found[1], found[2])
    if duckdb_type not in types:
        raise ValueError(f"no {engine} type for the DuckDB type {duckdb_type}")
    return types[duckdb_type]
