"""The dbt project on Apache Spark gives the numbers it gives on DuckDB (docs/engines.md).

Like tests/e2e/test_postgres_equality.py: the `tiny` landing, loaded into DuckDB and built there
by the nightly job as of 2025-05-31, has its raw tables written as Parquet and registered in a
throwaway Hive metastore (dagster_project/warehouse/spark.py); `dbt build --target spark`
(dbt-spark's session method: Spark runs inside dbt, master local[2]) then builds and tests every
model there, and the public marts must hold the same rows as on DuckDB: counts exactly, every
other number to 1e-9 relative, everything else exactly. Skipped where pyspark, dbt-spark or
Java is missing (none of them is a pinned dependency). Slow: the dbt build takes minutes."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Collection
from datetime import date
from pathlib import Path

import duckdb
import pytest

from dagster_project.defs.partitions import RunWindow
from dagster_project.settings import DBT_PROJECT_DIR
from tests.support.engines import MARTS, compare, series_and_counts

AS_OF = date(2025, 5, 31)  # the `tiny` fixture's night
SCHEMA = "firewatch"  # the database of the marts (FIREWATCH_SPARK_SCHEMA)


def _missing() -> str | None:
    for module, what in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark[session]")):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{what} is not installed"
        except ModuleNotFoundError:
            return f"{what} is not installed"
    if shutil.which("java") is None:
        return "no Java for Spark"
    return None


MISSING = _missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]


@pytest.fixture(scope="module")
def built(tiny: Path, tmp_path_factory: pytest.TempPathFactory):
    """(DuckDB connection, Spark session) once dbt built `tiny`'s raw tables on both."""
    from dagster_project.warehouse.spark import HOME_ENV, spark_session

    home = tmp_path_factory.mktemp("spark-home")
    bin_dir = Path(sys.executable).parent
    # Embedded Derby admits one process at a time: copy, build and read one after the other.
    copy = subprocess.run(
        [str(bin_dir / "python"), "-m", "dagster_project.warehouse.spark", str(tiny), str(home)],
        capture_output=True,
        text=True,
    )
    assert copy.returncode == 0, copy.stdout[-2000:] + copy.stderr[-4000:]
    duck = duckdb.connect(str(tiny), read_only=True)
    copied = dict(line.split(": ") for line in copy.stdout.splitlines() if line.startswith("raw."))
    for table, rows in copied.items():
        name = table.removeprefix("raw.")
        assert duck.execute(f'select count(*) from raw."{name}"').fetchall() == [(int(rows),)]
    assert {"raw._quarantine", "raw._run_night", "raw.web_events"} <= set(copied)
    result = subprocess.run(
        [str(bin_dir / "dbt"), "build", "--target", "spark",
         "--exclude", "test_type:unit", "--profiles-dir", ".",
         "--target-path", str(tmp_path_factory.mktemp("dbt-target-spark"))],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, HOME_ENV: str(home), "FIREWATCH_SPARK_SCHEMA": SCHEMA,
             **RunWindow(first_night=AS_OF, as_of=AS_OF).dbt_env(),
             "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    spark = spark_session(home)
    yield duck, spark
    spark.stop()
    duck.close()


def _differences(built: tuple, mart: str, exact_rows: Collection[str] = ()) -> list[str]:
    duck, spark = built
    frame = spark.table(f"{SCHEMA}.{mart}")
    rows = [tuple(row) for row in frame.collect()]
    return compare(duck, mart, ("spark", frame.columns, rows), exact_rows)


def test_metric_series_is_the_same_on_spark(built: tuple) -> None:
    duck, _ = built
    rows, counts = series_and_counts(duck)
    assert rows > 10_000 and "sessions" in counts
    assert _differences(built, "metric_series", exact_rows=counts) == []


@pytest.mark.parametrize("mart", [m for m in MARTS if m != "metric_series"])
def test_public_mart_is_the_same_on_spark(built: tuple, mart: str) -> None:
    assert _differences(built, mart) == []
