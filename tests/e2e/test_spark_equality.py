"""The nightly job on Apache Spark gives the numbers it gives on DuckDB (docs/engines.md).

Like tests/e2e/test_postgres_equality.py: the `tiny` landing folder, built on DuckDB by the
nightly job as of 2025-05-31, is run through `firewatch run --target spark` as well: the
loader checks it into a DuckDB staging file, its raw tables are written as Parquet and
registered in a throwaway Hive metastore (dagster_project/warehouse/spark.py), dbt builds
and tests every model there (dbt-spark's session method: Spark inside dbt, master local[2]),
and the guard, the checks, the alerts, the queue, ritual metrics and the brief run against
the Spark catalog. The public marts must hold the same rows as on DuckDB (counts exactly, every
other number to 1e-9 relative, everything else exactly), the run's summary and the state it
wrote must read as on DuckDB, and the night's state (alerts, the decision log, the queue)
written on Spark reads back as on DuckDB. `make test` installs the `spark` extra
(pyproject.toml) first; skipped where pyspark, dbt-spark or Java is missing. Slow: about
4 min on 2 cores, most of it the dbt build on Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.warehouse.spark import spark_missing
from tests.support.engines import MARTS, compare, series_and_counts

AS_OF = date(2025, 5, 31)  # the `tiny` fixture's night
SCHEMA = "firewatch"  # the database of the marts (FIREWATCH_SPARK_SCHEMA)


MISSING = spark_missing()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]


@pytest.fixture(scope="module")
def spark_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's Spark folder (FIREWATCH_SPARK_HOME): the metastore and the warehouse."""
    return tmp_path_factory.mktemp("spark-home")


def _environment(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "FIREWATCH_SPARK_HOME": str(home), "FIREWATCH_SPARK_SCHEMA": SCHEMA,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **extra}  # fmt: skip


def _firewatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "firewatch"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def night(tiny: Path, spark_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`firewatch run --target spark` over `tiny`'s landing folder as of its night, in a
    process of its own (the run starts and ends its JVMs); returns the DuckDB staging file."""
    work = tmp_path_factory.mktemp("spark-night")
    (work / "dagster").mkdir()
    staging = work / "staging.duckdb"
    bin_dir = str(Path(sys.executable).parent)
    env = _environment(spark_home, DAGSTER_HOME=str(work / "dagster"),
                       PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))  # fmt: skip
    raw = str(tiny.parent / "raw")
    args = ("--raw-dir", raw, "--warehouse", str(staging), "--as-of", AS_OF.isoformat())
    run = _firewatch("run", "--target", "spark", *args, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (work / "summary.txt").write_text(run.stdout, encoding="utf-8")
    return staging


@pytest.fixture(scope="module")
def built(tiny: Path, spark_home: Path, night: Path):
    """(DuckDB connection, Spark session) once the night ran on both."""
    from dagster_project.warehouse.spark import release_spark, spark_session

    duck = duckdb.connect(str(tiny), read_only=True)
    spark = spark_session(spark_home)
    yield duck, spark
    release_spark()
    duck.close()


def test_the_queue_verbs_run_on_spark_and_wait_for_the_night(night: Path, spark_home: Path) -> None:
    """`firewatch queue --target spark` reads the queue the night left (empty on `tiny`); while
    a night holds the catalog (its run lock, taken here) the verb waits, then gives up with
    EX_TEMPFAIL rather than meeting the metastore's lock half-way. Runs before `built` starts
    a session in this process, which would hold the catalog."""
    from dagster_project.warehouse.run_lock import hold_run_lock
    from dagster_project.warehouse.target import SparkConfig

    args = ("queue", "--target", "spark", "--warehouse", str(night), "--format", "json")
    listed = _firewatch(*args, env=_environment(spark_home))
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert json.loads(listed.stdout) == []
    with hold_run_lock(SparkConfig(home=spark_home).catalog):
        busy = _firewatch(*args, env=_environment(spark_home, FIREWATCH_QUEUE_WAIT="1"))
    assert busy.returncode == 75, busy.stderr[-2000:]
    assert "try again when it has finished" in busy.stderr


@pytest.mark.skipif(
    os.environ.get("FIREWATCH_SPARK_FULL") != "1",
    reason="the dbt unit tests on Spark run in `make spark-test` (about 80 s; `make test` runs "
    "them on DuckDB and PostgreSQL, and the tiny night on Spark uses the same macros)",
)
def test_the_dbt_unit_tests_pass_on_spark(night: Path, spark_home: Path, tmp_path: Path) -> None:
    """The project's dbt unit tests (the tricky SQL) on Spark, against the relations the night
    left; before `built` holds the catalog in this process. No night's variables, as on DuckDB
    (tests/integration/test_dbt_project.py)."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "test", "--target", "spark",
         "--select", "test_type:unit", "--profiles-dir", ".", "--target-path", str(tmp_path)],
        cwd=DBT_PROJECT_DIR,
        env=_environment(spark_home),
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "PASS=13 " in result.stdout and "ERROR=0" in result.stdout


def test_the_night_on_spark_reads_as_on_duckdb(built: tuple, night: Path, tiny: Path) -> None:
    """What the night wrote besides the marts: the run's summary (every line but the one naming
    the warehouse), the guard's totals, ritual metrics, the alerts and the queue (none on
    `tiny`) as on DuckDB; the brief written from the catalog; no BI copy (BI tools read the
    catalog)."""
    from dagster_project.runtime.summary import warehouse_summary

    duck, spark = built
    printed = (night.parent / "summary.txt").read_text(encoding="utf-8")
    ours = printed[printed.index("Warehouse ") :].splitlines()
    theirs = warehouse_summary(tiny).splitlines()
    assert ours[0].startswith("Warehouse the Spark catalog in ")
    assert ours[1:] == theirs[1:] and len(theirs) > 4
    assert "spend 490" in theirs[3]  # tests/e2e/test_pipeline_tiny.py's hand-worked total

    def rows(con_rows: list) -> list:
        return sorted(tuple(row) for row in con_rows)

    totals = "select night, metric_id, total, accepted_drop from firewatch_state.night_totals"
    assert rows(spark.sql(totals).collect()) == rows(duck.execute(totals).fetchall())
    assert len(rows(duck.execute(totals).fetchall())) == 3  # spend, sessions, leads
    assert _differences(built, "ritual_metrics") == []
    for table in ("alerts", "decision_queue"):
        assert spark.table(f"{SCHEMA}.{table}").count() == 0
        assert duck.execute(f"select count(*) from {table}").fetchall() == [(0,)]
    night_row = "select night from firewatch_state.queue_night"
    assert rows(spark.sql(night_row).collect()) == rows(duck.execute(night_row).fetchall())
    brief = (night.parent / "brief.html").read_text(encoding="utf-8")
    assert AS_OF.isoformat() in brief
    assert not list(night.parent.glob("*_bi.duckdb"))


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


def test_the_checks_read_the_same_inputs_back_from_spark(built: tuple) -> None:
    """What the night's checks read (metric_series for the rules' metrics and grains,
    metric_catalog, lead_cohort_ages, the night) read back from Spark through SparkWarehouse:
    the same frames as from DuckDB, column kinds included, row for row; detection, a pure function
    of them, then finds the same (on `tiny`: nothing, on either engine)."""
    import pandas as pd

    from dagster_project.runtime.night import findings_for, inputs_from
    from dagster_project.warehouse.engine import DuckDBWarehouse
    from dagster_project.warehouse.spark import SparkWarehouse

    duck, spark = built
    on_duck = inputs_from(DuckDBWarehouse(duck))
    on_spark = inputs_from(SparkWarehouse(spark, SCHEMA))
    assert on_spark.as_of == on_duck.as_of == AS_OF
    assert [r.id for r in on_spark.rules] == [r.id for r in on_duck.rules]
    assert len(on_duck.series) > 1_000

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    for name in ("series", "catalog", "cohorts"):
        ours, theirs = getattr(on_duck, name), getattr(on_spark, name)
        assert (ours is None) == (theirs is None), name
        if ours is not None:
            # the same kinds of column (dates, numbers, text, flags); an integer's width may
            # differ (Spark's datediff is an int, DuckDB's a bigint)
            assert [t.kind for t in theirs.dtypes] == [t.kind for t in ours.dtypes], name
            pd.testing.assert_frame_equal(
                ordered(theirs), ordered(ours), check_dtype=False, rtol=1e-9
            )
    assert findings_for(on_spark) == findings_for(on_duck)


def _state_alerts() -> list:
    """Five alerts for four queue items: two rules on paid_social the same night (one decision
    covers both), email (a quote and non-ASCII text) and organic active, display cleared on the
    second night; the active ones have no clearing date (NULL)."""
    from dagster_project.divergence.episodes import merge_alerts
    from tests.support.findings import NIGHT1, NIGHT2, finding

    def found(night: date) -> list:
        revenue = dict(rule_id="clicks_up_revenue_down", outcome_metric="revenue", owner="growth")
        text = dict(explanation="email's opens +41% — Käse, ü", question="Keep the 'weekly' mail?")
        return [
            finding("paid_social", night),
            finding("paid_social", night, **revenue),
            finding("email", night, **text),
            finding("organic", night),
        ]

    first = merge_alerts([], [*found(NIGHT1), finding("display", NIGHT1)], NIGHT1)
    return merge_alerts(first, found(NIGHT2), NIGHT2)


def test_the_state_written_on_spark_reads_back_as_on_duckdb(
    built: tuple, spark_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`save_night` and the same `record_action` calls on a fresh DuckDB file and on Spark (no
    DELETE, no transactions there: tables replaced whole, the log appended): the same alerts,
    log, night and queue (a frame of the same dtypes) read back; then on Spark another night
    replaces the alerts rather than adding to them and keeps every log entry."""
    import pandas as pd

    from dagster_project.warehouse.decisions import (
        queue_night,
        read_alerts,
        read_log,
        read_queue,
        record_action,
        save_night,
    )
    from dagster_project.warehouse.engine import connect
    from dagster_project.warehouse.target import SPARK, SPARK_HOME_ENV, SparkConfig
    from tests.support.findings import NIGHT2, NIGHT3

    _, spark = built
    alerts = _state_alerts()
    assert len(alerts) == 5 and [a.status for a in alerts].count("cleared") == 1
    decision = "shift 20% to 'search' — Käse, ü"
    monkeypatch.delenv(SPARK_HOME_ENV, raising=False)
    with pytest.raises(ValueError, match=SPARK_HOME_ENV):  # not a metastore at `/metastore_db`
        SparkConfig.from_env()
    monkeypatch.setenv(SPARK_HOME_ENV, str(spark_home))
    monkeypatch.setenv("FIREWATCH_SPARK_SCHEMA", SCHEMA)
    with (
        connect(tmp_path / "state.duckdb") as on_duck,
        connect(SparkConfig.from_env()) as on_spark,
    ):
        assert on_spark.engine == SPARK and on_spark.spark is spark  # no second session
        for wh in (on_duck, on_spark):
            save_night(wh, alerts, NIGHT2)
            ids = read_queue(wh).set_index("dimension_value")["decision_id"]
            at = datetime(2025, 9, 22, 8, 30, 15, 123456)
            record_action(wh, ids["paid_social"], "decide", "ana", text=decision, now=at)
            record_action(wh, ids["email"], "snooze", "bo", snooze_until=date(2025, 9, 30), now=at)
            record_action(wh, ids["organic"], "dismiss", "cy", text="seasonal, known", now=at)

        def by_id(wh: object) -> list:
            return sorted(read_alerts(wh), key=lambda a: a.alert_id)

        assert by_id(on_spark) == by_id(on_duck) == sorted(alerts, key=lambda a: a.alert_id)
        log = read_log(on_duck)
        assert read_log(on_spark) == log
        assert [(e.action, e.entered_at) for e in log] == [
            ("decide", at), ("snooze", at), ("dismiss", at)
        ]  # fmt: skip
        assert queue_night(on_spark) == queue_night(on_duck) == NIGHT2
        queue = read_queue(on_spark)
        pd.testing.assert_frame_equal(queue, read_queue(on_duck))  # values and dtypes
        queue = queue.set_index("dimension_value")
        assert len(queue) == 4  # five alerts, paid_social's two under one decision
        assert len(queue.loc["paid_social", "alert_ids"].split(",")) == 2
        assert queue.loc["paid_social", ["status", "decision"]].tolist() == ["decided", decision]
        assert queue.loc["email", "status"] == "snoozed"
        assert queue.loc["email", "snoozed_until"] == pd.Timestamp("2025-09-30")
        assert queue.loc["organic", ["status", "note"]].tolist() == ["dismissed", "seasonal, known"]
        assert queue.loc["display", "status"] == "resolved"

        # Another night on Spark: the alerts replaced (10 if an overwrite appended), the log
        # whole, the queue rebuilt to the same; then a night with no alerts at all.
        save_night(on_spark, alerts, NIGHT2)
        assert len(read_alerts(on_spark)) == 5
        assert read_log(on_spark) == log
        pd.testing.assert_frame_equal(read_queue(on_spark), read_queue(on_duck))
        save_night(on_spark, [], NIGHT3)
        assert read_alerts(on_spark) == [] and read_queue(on_spark).empty
        assert queue_night(on_spark) == NIGHT3 and read_log(on_spark) == log
        # The guard's totals on two nights: the second reads the first back (dates as
        # datetime64) and writes both (failed before the date columns were converted).
        from dagster_project.warehouse.totals import last_accepted, record_totals

        record_totals(on_spark, NIGHT2, {"spend": 10.0}, accepted_drop=False)
        record_totals(on_spark, NIGHT3, {"spend": 12.5}, accepted_drop=False)
        assert last_accepted(on_spark, NIGHT3) == (NIGHT2, {"spend": 10.0})
    # one folder per replaced table: the versions it replaced were removed
    assert len(list((spark_home / "warehouse" / f"{SCHEMA}.db").glob("alerts*"))) == 1
    assert spark.sql("select 1").collect()  # connect() left the module's session running
