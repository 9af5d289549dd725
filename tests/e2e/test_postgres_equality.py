"""The dbt project on PostgreSQL gives the numbers it gives on DuckDB (docs/engines.md).

The `tiny` landing, loaded into DuckDB and built there by the nightly job as of 2025-05-31, has
its raw tables copied into a throwaway PostgreSQL (tests/support/postgres.py) with COPY; `dbt
build --target postgres` then builds and tests every model there, and the public marts of
docs/contract.md section 2 must hold the same rows as on DuckDB: counts exactly, every other
number to 1e-9 relative, everything else (dates, flags, text, the columns and their order)
exactly. Starting PostgreSQL takes about a second once it is installed; the dbt build most of
the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from dagster_project.defs.partitions import RunWindow
from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.warehouse.postgres import copy_raw_tables
from tests.support.engines import MARTS, differences, series_and_counts
from tests.support.postgres import PostgresServer

AS_OF = date(2025, 5, 31)  # the `tiny` fixture's night


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


def test_metric_series_is_the_same_on_postgres(built: tuple) -> None:
    duck, _ = built
    rows, counts = series_and_counts(duck)
    assert rows > 10_000 and "sessions" in counts
    assert differences(*built, "metric_series", exact_rows=counts) == []


@pytest.mark.parametrize("mart", [m for m in MARTS if m != "metric_series"])
def test_public_mart_is_the_same_on_postgres(built: tuple, mart: str) -> None:
    assert differences(*built, mart) == []


def test_the_dbt_unit_tests_pass_on_postgres(
    built: tuple, postgres: PostgresServer, tmp_path: Path
) -> None:
    """The project's dbt unit tests (the tricky SQL: percentiles off histograms, the lookback,
    cohorts, periods) on PostgreSQL, against the relations the build above left."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "test", "--target", "postgres",
         "--select", "test_type:unit", "--profiles-dir", ".", "--target-path", str(tmp_path)],
        cwd=DBT_PROJECT_DIR,
        # no night's variables: as on DuckDB (tests/integration/test_dbt_project.py), the
        # incremental tests take their lookback from the rows they are given
        env={**os.environ, **postgres.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "PASS=13 " in result.stdout and "ERROR=0" in result.stdout
