"""The dbt project on Apache Spark gives the numbers it gives on DuckDB (a spike: SPARK_REPORT.md).

Like tests/e2e/test_postgres_equality.py: the `tiny` landing, loaded into DuckDB and built there
by the nightly job as of 2025-05-31, has its raw tables written as Parquet and registered in a
throwaway Hive metastore (dagster_project/warehouse/spark.py); `dbt build --target spark`
(dbt-spark's session method: Spark runs inside dbt, master local[2]) then builds and tests every
model there, and the public marts must hold the same rows as on DuckDB: counts exactly, every
other number to 1e-9 relative, everything else exactly. Skipped where pyspark, dbt-spark or
Java is missing (none of them is a pinned dependency). Slow: the dbt build takes minutes."""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.defs.partitions import RunWindow
from dagster_project.settings import DBT_PROJECT_DIR
from tests.e2e.test_postgres_equality import MARTS

AS_OF = date(2025, 5, 31)  # the `tiny` fixture's night
SCHEMA = "firewatch"  # the database of the marts (FIREWATCH_SPARK_SCHEMA)
RELATIVE = 1e-9


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
    """What differs between the mart on DuckDB and on Spark, one line per difference."""
    duck, spark = built
    duck_result = duck.execute(f"select * from main.{mart}")
    duck_columns = [d[0] for d in duck_result.description]
    duck_rows = _rows(duck_columns, duck_result.fetchall(), MARTS[mart])
    frame = spark.table(f"{SCHEMA}.{mart}")
    spark_columns = frame.columns
    spark_rows = _rows(spark_columns, [tuple(row) for row in frame.collect()], MARTS[mart])
    if duck_columns != spark_columns:
        return [f"columns: duckdb {duck_columns}, spark {spark_columns}"]
    found = [f"only on duckdb: {k}" for k in duck_rows.keys() - spark_rows.keys()]
    found += [f"only on spark: {k}" for k in spark_rows.keys() - duck_rows.keys()]
    for key in sorted(duck_rows.keys() & spark_rows.keys(), key=repr):
        if len(duck_rows[key]) != len(spark_rows[key]):
            found.append(f"{key}: {len(duck_rows[key])} rows on duckdb, {len(spark_rows[key])}")
            continue
        for left, right in zip(duck_rows[key], spark_rows[key], strict=True):
            exact = left.get("metric_id") in exact_rows
            found += [
                f"{key} {column}: duckdb {left[column]!r}, spark {right[column]!r}"
                for column in duck_columns
                if not _same(left[column], right[column], exact)
            ]
    return found[:shown] + ([f"... {len(found) - shown} more"] if len(found) > shown else [])


def test_metric_series_is_the_same_on_spark(built: tuple) -> None:
    duck, _ = built
    [(rows, counts)] = duck.execute(
        "select (select count(*) from metric_series), "
        "(select list(metric_id) from metric_catalog where unit = 'count')"
    ).fetchall()
    assert rows > 10_000 and "sessions" in counts
    assert _differences(built, "metric_series", exact_rows=set(counts)) == []


@pytest.mark.parametrize("mart", [m for m in MARTS if m != "metric_series"])
def test_public_mart_is_the_same_on_spark(built: tuple, mart: str) -> None:
    assert _differences(built, mart) == []
