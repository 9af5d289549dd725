"""The dbt project on PostgreSQL gives the numbers it gives on DuckDB (docs/engines.md).

The `tiny` landing, loaded into DuckDB and built there by the nightly job as of 2025-05-31, has
its raw tables copied into a throwaway PostgreSQL (tests/support/postgres.py) with COPY; `dbt
build --target postgres` then builds and tests every model there, and the public marts of
docs/contract.md section 2 must hold the same rows as on DuckDB: counts exactly, every other
number to 1e-9 relative, everything else (dates, flags, text, the columns and their order)
exactly. Starting PostgreSQL takes about a second once it is installed; the dbt build most of
the rest."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Collection, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.defs.partitions import RunWindow
from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.warehouse.postgres import copy_raw_tables
from tests.support.postgres import (
    PostgresServer,
    PostgresUnavailable,
    postgres_server,
    server_binaries,
)

AS_OF = date(2025, 5, 31)  # the `tiny` fixture's night
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own for the test run (installed first if root and missing)."""
    try:
        server_binaries()
    except PostgresUnavailable as missing:
        pytest.skip(str(missing))
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def built(tiny: Path, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory):
    """(DuckDB connection, PostgreSQL connection) once dbt built `tiny`'s raw tables on both."""
    duck = duckdb.connect(str(tiny), read_only=True)
    pg = postgres.connect()
    copied = copy_raw_tables(duck, pg)
    for table, rows in copied.items():
        assert duck.execute(f'select count(*) from raw."{table}"').fetchall() == [(rows,)], table
    assert {"_quarantine", "_load_log", "_loaded_files", "_run_night", "web_events"} <= set(copied)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--target", "postgres",
         "--exclude", "test_type:unit", "--profiles-dir", ".",
         "--target-path", str(tmp_path_factory.mktemp("dbt-target-postgres"))],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, **postgres.dbt_env(),
             **RunWindow(first_night=AS_OF, as_of=AS_OF).dbt_env(),
             "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    yield duck, pg
    pg.close()
    duck.close()


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


def _differences(
    built: tuple, mart: str, exact_rows: Collection[str] = (), shown: int = 10
) -> list[str]:
    """What differs between the mart on DuckDB and on PostgreSQL, one line per difference.
    A float is compared to 1e-9 relative, exactly in rows whose metric_id is in exact_rows."""
    duck, pg = built
    duck_result = duck.execute(f"select * from main.{mart}")
    duck_columns = [d[0] for d in duck_result.description]
    duck_rows = _rows(duck_columns, duck_result.fetchall(), MARTS[mart])
    with pg.cursor() as cursor:
        cursor.execute(f"select * from public.{mart}")
        pg_columns = [d[0] for d in cursor.description]
        pg_rows = _rows(pg_columns, cursor.fetchall(), MARTS[mart])
    if duck_columns != pg_columns:
        return [f"columns: duckdb {duck_columns}, postgres {pg_columns}"]
    found = [f"only on duckdb: {k}" for k in duck_rows.keys() - pg_rows.keys()]
    found += [f"only on postgres: {k}" for k in pg_rows.keys() - duck_rows.keys()]
    for key in sorted(duck_rows.keys() & pg_rows.keys(), key=repr):
        if len(duck_rows[key]) != len(pg_rows[key]):
            found.append(f"{key}: {len(duck_rows[key])} rows on duckdb, {len(pg_rows[key])}")
            continue
        for left, right in zip(duck_rows[key], pg_rows[key], strict=True):
            exact = left.get("metric_id") in exact_rows
            found += [
                f"{key} {column}: duckdb {left[column]!r}, postgres {right[column]!r}"
                for column in duck_columns
                if not _same(left[column], right[column], exact)
            ]
    return found[:shown] + ([f"... {len(found) - shown} more"] if len(found) > shown else [])


def test_metric_series_is_the_same_on_postgres(built: tuple) -> None:
    duck, _ = built
    [(rows, counts)] = duck.execute(
        "select (select count(*) from metric_series), "
        "(select list(metric_id) from metric_catalog where unit = 'count')"
    ).fetchall()
    assert rows > 10_000 and "sessions" in counts
    assert _differences(built, "metric_series", exact_rows=set(counts)) == []


@pytest.mark.parametrize("mart", [m for m in MARTS if m != "metric_series"])
def test_public_mart_is_the_same_on_postgres(built: tuple, mart: str) -> None:
    assert _differences(built, mart) == []
