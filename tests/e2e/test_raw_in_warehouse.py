"""`firewatch run --raw-source warehouse`: raw tables an ELT tool keeps in the warehouse, read
without the loader (dagster_project/ingest/in_warehouse.py, docs/engines.md).

The "ELT tool" here is the `tiny` fixture's own raw schema (the hand-built landing as the
loader wrote it), without what only the loader writes (`_run_night`, `_quarantine`,
`_loaded_files`, `_load_log`) and without the optional `crm_activities`. Run with no landing
folder at all, the night must decide the same night from it as the loader did, create what
the loader would have, and build the same `metric_series` as the loaded night: on DuckDB (the
raw tables in the warehouse file) and on PostgreSQL (in the database's `raw` schema, where
they were put with COPY). A raw schema the contract cannot be read from is refused before
dbt starts, naming each table and column, and nothing is written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.support.engines import differences, series_and_counts
from tests.support.postgres import PostgresServer

AS_OF = "2025-05-31"  # the `tiny` fixture's night
LOADER_ONLY = ("_run_night", "_quarantine", "_loaded_files", "_load_log", "crm_activities")
NIGHT = "select night, ads_last_day, web_last_day, crm_last_day from raw._run_night"

pytestmark = pytest.mark.slow


def _firewatch(work: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`firewatch run --raw-source warehouse` over a landing folder that does not exist."""
    (work / "dagster").mkdir(exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    environment = {**os.environ, "DAGSTER_HOME": str(work / "dagster"),
                   "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), **env}  # fmt: skip
    command = [str(Path(bin_dir) / "firewatch"), "run", "--raw-source", "warehouse",
               "--raw-dir", str(work / "no-landing-folder"), *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=environment)


def _loaders_night(tiny: Path) -> list[tuple]:
    with duckdb.connect(str(tiny), read_only=True) as con:
        return con.execute(NIGHT).fetchall()


def test_the_raw_tables_in_the_duckdb_file_build_the_loaded_night(
    tiny: Path, tmp_path: Path
) -> None:
    from dagster_project.ingest.in_warehouse import warehouse_night
    from dagster_project.warehouse.engine import DuckDBWarehouse

    warehouse = tmp_path / "elt.duckdb"
    shutil.copy(tiny, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for table in LOADER_ONLY:
            con.execute(f"drop table if exists raw.{table}")
        # the night a run without --as-of is for: the loader's, from the tables alone
        assert warehouse_night(DuckDBWarehouse(con)) == _loaders_night(tiny)[0][0]
    run = _firewatch(tmp_path, "--warehouse", str(warehouse), "--as-of", AS_OF)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as ours:
        assert ours.execute(NIGHT).fetchall() == _loaders_night(tiny)
        assert ours.execute("select count(*) from raw._quarantine").fetchall() == [(0,)]
        assert ours.execute("select count(*) from raw.crm_activities").fetchall() == [(0,)]
        with duckdb.connect(str(tiny), read_only=True) as loaded:
            rows, counts = series_and_counts(loaded)
            assert rows > 10_000
            mine = ours.execute("select * from main.metric_series").fetchall()
            theirs = loaded.execute("select * from main.metric_series").fetchall()
            assert sorted(mine, key=repr) == sorted(theirs, key=repr)


def test_a_raw_schema_the_contract_cannot_read_is_refused_before_dbt(
    tiny: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "broken.duckdb"
    shutil.copy(tiny, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table raw.ads_daily")
        con.execute("alter table raw.web_events drop column _row_number")
        con.execute("alter table raw.web_events drop column session_id")
        before = con.execute("select count(*), max(as_of_date) from intermediate.int_run_context")
        before = before.fetchall()
    run = _firewatch(tmp_path, "--warehouse", str(warehouse), "--as-of", AS_OF)
    assert run.returncode == 1
    assert "the warehouse's raw tables were refused; nothing was written." in run.stderr
    assert f"raw.ads_daily is not in {warehouse}" in run.stderr
    assert "raw.web_events in" in run.stderr and "has no column session_id, _row_number" in (
        run.stderr
    )
    assert "Details: " in run.stderr and "dbt's log" not in run.stderr  # no dbt step ran
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' "
            "and table_name in ('_run_night', '_quarantine')"
        ).fetchall() == [(2,)]  # the loader's, untouched (not dropped here)
        assert (
            con.execute(
                "select count(*), max(as_of_date) from intermediate.int_run_context"
            ).fetchall()
            == before
        )


def test_the_raw_tables_in_postgresql_build_the_loaded_night(
    tiny: Path, postgres: PostgresServer, tmp_path: Path
) -> None:
    from dagster_project.warehouse.postgres import copy_raw_tables

    pg = postgres.connect()
    pg.autocommit = True
    try:
        with duckdb.connect(str(tiny), read_only=True) as duck:
            copy_raw_tables(duck, pg)
        with pg.cursor() as cursor:
            for table in LOADER_ONLY:
                cursor.execute(f"drop table if exists raw.{table}")
        run = _firewatch(
            tmp_path, "--target", "postgres", "--warehouse", str(tmp_path / "staging.duckdb"),
            "--as-of", AS_OF, **postgres.dbt_env(),
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        with pg.cursor() as cursor:
            cursor.execute(NIGHT)
            assert cursor.fetchall() == _loaders_night(tiny)
        with duckdb.connect(str(tiny), read_only=True) as duck:
            _, counts = series_and_counts(duck)
            assert differences(duck, pg, "metric_series", exact_rows=counts) == []
        # the staging file got no raw tables: nothing was loaded there
        with duckdb.connect(str(tmp_path / "staging.duckdb"), read_only=True) as staging:
            assert staging.execute(
                "select count(*) from information_schema.tables where table_schema = 'raw'"
            ).fetchall() == [(0,)]
    finally:
        pg.close()
