"""The same table on DuckDB and on PostgreSQL, compared row by row (docs/engines.md): counts
exactly, every other float to 1e-9 relative, everything else (dates, flags, text, the columns
and their order) exactly."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import duckdb

# The public dbt marts (docs/contract.md section 2) and the columns naming one row of each; None:
# no key, the rows are compared as a whole.
MARTS: dict[str, tuple[str, ...] | None] = {
    "metric_series": ("metric_id", "grain", "period_start", "dimension", "dimension_value"),
    "metric_catalog": ("metric_id",),
    "control_daily": ("period_start", "dimension", "dimension_value"),
    "control_weekly": ("period_start", "dimension", "dimension_value"),
    "control_monthly": ("period_start", "dimension", "dimension_value"),
    "target_attainment": ("period_start", "metric_id", "dimension", "dimension_value"),
    "meaning_weekly": ("period_start", "dimension", "dimension_value"),
    "meaning_monthly": ("period_start", "dimension", "dimension_value"),
    "target_gap_explanation": ("explanation_id",),
    "quarantine": None,
}
RELATIVE = 1e-9


def _rows(columns: list[str], rows: list[tuple], key: tuple[str, ...] | None) -> dict:
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    names = key or tuple(columns)
    by_key: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        by_key.setdefault(tuple(record[name] for name in names), []).append(record)
    if key:
        assert all(len(group) == 1 for group in by_key.values()), f"{key} is not a key"
    return by_key


def _same(a: Any, b: Any, exact: bool) -> bool:
    if a is None or b is None:
        return a is b
    if type(a) is not type(b):  # an integer where the other engine has a float, say
        return False
    if isinstance(a, float) and not exact:
        return a == b or math.isclose(a, b, rel_tol=RELATIVE, abs_tol=0.0)
    return a == b


def compare(
    duck: duckdb.DuckDBPyConnection,
    mart: str,
    other: tuple[str, list[str], list[tuple]],
    exact_rows: Collection[str] = (),
    shown: int = 10,
    key: tuple[str, ...] | None = None,
) -> list[str]:
    """What differs between a table of the marts' schema on DuckDB and the same table read
    from another engine, `other` = (its name, its columns, its rows), one line per difference.
    A float is compared to 1e-9 relative, exactly in rows whose metric_id is in exact_rows.
    `key` names a row (default: MARTS)."""
    key = key if key is not None else MARTS.get(mart)
    name, other_columns, other_list = other
    duck_result = duck.execute(f"select * from main.{mart}")
    duck_columns = [d[0] for d in duck_result.description]
    duck_rows = _rows(duck_columns, duck_result.fetchall(), key)
    other_rows = _rows(other_columns, other_list, key)
    if duck_columns != other_columns:
        return [f"columns: duckdb {duck_columns}, {name} {other_columns}"]
    found = [f"only on duckdb: {k}" for k in duck_rows.keys() - other_rows.keys()]
    found += [f"only on {name}: {k}" for k in other_rows.keys() - duck_rows.keys()]
    for row_key in sorted(duck_rows.keys() & other_rows.keys(), key=repr):
        mine, theirs = duck_rows[row_key], other_rows[row_key]
        if len(mine) != len(theirs):
            found.append(f"{row_key}: {len(mine)} rows on duckdb, {len(theirs)} on {name}")
            continue
        for left, right in zip(mine, theirs, strict=True):
            exact = left.get("metric_id") in exact_rows
            found += [
                f"{row_key} {column}: duckdb {left[column]!r}, {name} {right[column]!r}"
                for column in duck_columns
                if not _same(left[column], right[column], exact)
            ]
    return found[:shown] + ([f"... {len(found) - shown} more"] if len(found) > shown else [])


def differences(
    duck: duckdb.DuckDBPyConnection,
    pg: Any,
    mart: str,
    exact_rows: Collection[str] = (),
    shown: int = 10,
    key: tuple[str, ...] | None = None,
) -> list[str]:
    """`compare` against the table in PostgreSQL's `public` schema (a psycopg2 connection)."""
    with pg.cursor() as cursor:
        cursor.execute(f"select * from public.{mart}")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    return compare(duck, mart, ("postgres", columns, rows), exact_rows, shown, key)


def series_and_counts(duck: duckdb.DuckDBPyConnection) -> tuple[int, set[str]]:
    """metric_series' row count on DuckDB, and the metrics whose unit is a count (compared
    exactly across engines; the others to 1e-9 relative)."""
    [(rows, counts)] = duck.execute(
        "select (select count(*) from metric_series), "
        "(select list(metric_id) from metric_catalog where unit = 'count')"
    ).fetchall()
    return rows, set(counts)
