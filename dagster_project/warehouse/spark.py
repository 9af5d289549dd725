"""Apache Spark as the warehouse of the dbt project (docs/engines.md): the raw tables as Parquet.

dbt-spark's `session` method runs Spark inside the dbt process (local, no cluster, no server).
A session's catalog lives as long as the process, so the raw tables dbt reads must be in a
catalog that outlives it: a Hive metastore in an embedded Derby database in a folder of our own
(`<home>/metastore_db`), beside Spark's warehouse folder (`<home>/warehouse`), where the tables
dbt builds go. `copy_raw_tables` exports each table of DuckDB's `raw` schema to Parquet
(`<home>/raw/<table>/`) and registers it in that metastore as an external table of the database
`raw`; `dbt build --target spark` (profiles.yml, env FIREWATCH_SPARK_HOME) then builds from it.

Embedded Derby admits one process at a time, and a JVM keeps it open until the JVM ends (a
stopped session is not enough). So a process opens the catalog under its run lock
(`<home>/metastore_db.run.lock`, `spark_warehouse`), and ends its JVM (`release_spark`) before
dbt starts its own: `firewatch run --target spark` holds one session for its steps
(`keep_spark`) and lets go of it around each dbt invocation. By hand: copy in one process
(`python -m dagster_project.warehouse.spark WAREHOUSE.duckdb HOME`), run dbt in another.

`SparkWarehouse` is the warehouse interface on Spark (docs/engines.md) for what the night reads
(`metric_series`, `metric_catalog`, `lead_cohort_ages`, as frames typed as DuckDB's) and for
the night's state (`decisions.py`): `alerts` and `decision_queue` in the marts' database, the
append-only `firewatch_state.decision_log` and `firewatch_state.queue_night`. They are plain
Parquet tables (Delta Lake's jars come from Maven): no DELETE, no UPDATE, no transactions. A
table's rows are replaced by writing them to a new folder and pointing the table at it (one
metastore update: a reader sees the old rows or the new, a failed write leaves the old); the
log is only ever appended to. What a crash between two tables leaves: `SparkWarehouse.transaction`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import duckdb

from dagster_project.warehouse.connection import WarehouseBusyError
from dagster_project.warehouse.raw_export import (
    RAW_SCHEMA,
    engine_type,
    quoted_raw,
    raw_columns,
    raw_tables,
)
from dagster_project.warehouse.run_lock import RunLockTimeout, hold_run_lock
from dagster_project.warehouse.target import SPARK, SPARK_HOME_ENV, SparkConfig

if TYPE_CHECKING:
    import pandas as pd

HOME_ENV = SPARK_HOME_ENV

# DuckDB column type -> Spark SQL type, for the types the loader writes and a few more.
_TYPES = {
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "FLOAT": "float",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    '"NULL"': "string",  # a column of nothing but NULLs
}
# What DuckDB writes for a column, so that Parquet carries the type Spark reads it as: DuckDB
# writes TIMESTAMP as a local (not UTC-adjusted) timestamp, which Spark reads as TIMESTAMP_NTZ;
# as TIMESTAMPTZ in a UTC session it is the same instant, read as Spark's TIMESTAMP.
_EXPORT = {"TIMESTAMP": "timestamptz", '"NULL"': "varchar"}


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type that holds every value of a DuckDB column type exactly."""
    return engine_type(duckdb_type, _TYPES, "decimal({}, {})", "Spark")


def spark_missing() -> str | None:
    """Why Spark cannot run here (the `spark` extra or Java missing: `make .venv/.spark-stamp`
    installs the extra), None if it can. Imports nothing of Spark's."""
    import importlib.util

    for module, what in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark[session]")):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{what} is not installed"
        except ModuleNotFoundError:
            return f"{what} is not installed"
    if shutil.which("java") is None:
        return "no Java for Spark"
    return None


def spark_conf(home: Path) -> dict[str, str]:
    """The Spark settings dbt's `spark` output uses (profiles.yml), for a session of our own."""
    home = Path(home).resolve()
    return {
        # the variables and defaults dbt's profile reads, so both sessions match
        "spark.master": os.environ.get("FIREWATCH_SPARK_MASTER", "").strip() or "local[2]",
        "spark.app.name": "kpi-firewatch",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.ansi.enabled": "false",  # what dbt-spark sets, whatever the profile says
        "spark.driver.memory": os.environ.get("FIREWATCH_SPARK_DRIVER_MEMORY", "").strip() or "2g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def spark_session(home: Path) -> Any:
    """A local Spark session on the metastore and warehouse folder under `home`."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(home).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def copy_raw_tables(
    source: duckdb.DuckDBPyConnection, spark: Any, home: Path, schema: str = RAW_SCHEMA
) -> dict[str, int]:
    """Copies every table of DuckDB's `raw` schema into the database `schema` of Spark's catalog.

    Each table is written by DuckDB as one Parquet file in `<home>/raw/<table>/` (replaced if
    there) and registered as an external Parquet table with the same columns in the same order
    (`spark_type`); a table of the same name is dropped first. Returns the rows per table.
    """
    source.execute("set TimeZone = 'UTC'")
    tables = raw_tables(source)
    spark.sql(f"create database if not exists `{schema}`")
    copied: dict[str, int] = {}
    for table in tables:
        copied[table] = _copy_table(source, spark, schema, table, Path(home).resolve() / "raw")
    return copied


def _copy_table(
    source: duckdb.DuckDBPyConnection, spark: Any, schema: str, table: str, folder: Path
) -> int:
    columns = raw_columns(source, table)
    location = folder / table
    shutil.rmtree(location, ignore_errors=True)
    location.mkdir(parents=True)
    selected = ", ".join(
        f'cast("{name}" as {_EXPORT[kind]}) as "{name}"' if kind in _EXPORT else f'"{name}"'
        for name, kind in columns
    )
    quoted = quoted_raw(table)
    source.execute(
        f"copy (select {selected} from {quoted}) to '{location / 'part-0.parquet'}' "
        "(format parquet)"
    )
    relation = f"`{schema}`.`{table}`"
    spark.sql(f"drop table if exists {relation}")
    spark.sql(
        f"create table {relation} ("
        + ", ".join(f"`{name}` {spark_type(kind)}" for name, kind in columns)
        + f") using parquet location '{location}'"
    )
    return spark.table(relation).count()


# The column type of each Python type the state's dataclasses hold (engine.SQL_TYPES on DuckDB
# and PostgreSQL): the state's timestamps are UTC without a zone, as DuckDB's `timestamp`, so
# they read back as the same naive datetimes whatever the Python process's time zone.
STATE_TYPES: Mapping[type, str] = {
    str: "string",
    bool: "boolean",
    int: "bigint",
    float: "double",
    date: "date",
    datetime: "timestamp_ntz",
}
# One writer of the state at a time in this process (threads); the embedded Derby metastore
# keeps every other process out of the catalog altogether.
_WRITER = threading.RLock()


class SparkWarehouse:
    """Spark's catalog through the `Warehouse` interface (engine.py). Queries take `?`
    parameters (Spark's positional parameters); `{marts}` is the database of the public
    marts. The state's writes are `overwrite` and `replace` (a whole table, atomically),
    `insert` and `append` (new files beside the old), never a DELETE."""

    engine = SPARK
    types = STATE_TYPES
    constraints = False  # no primary keys; NOT NULL is accepted but not enforced on insert

    def __init__(self, spark: Any, marts: str) -> None:
        self.spark = spark
        self.marts = marts

    def sql(self, text: str) -> str:
        return text.replace("{marts}", f"`{self.marts}`")

    def _query(self, text: str, params: Sequence[Any]) -> Any:
        if params:
            return self.spark.sql(self.sql(text), args=list(params))
        return self.spark.sql(self.sql(text))

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        return [tuple(row) for row in self._query(text, params).collect()]

    def records(self, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [row.asDict() for row in self._query(text, params).collect()]

    def frame(self, text: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Through Arrow and DuckDB, so dates, decimals and strings get the dtypes a DuckDB
        frame of the same table has (detection cannot tell the engines apart)."""
        arrow = self._query(text, params).toArrow()
        return duckdb.from_arrow(arrow).df()

    def table_exists(self, schema: str, table: str) -> bool:
        database = schema.replace("{marts}", self.marts)
        return bool(self.spark.catalog.tableExists(f"{database}.{table}"))

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self._query(text, params)  # Spark runs commands (DDL, INSERT) eagerly

    def _spark_frame(self, table: str, frame: pd.DataFrame) -> Any:
        """The frame as a Spark DataFrame with the table's columns and types, through Arrow
        (no pandas conversion of Spark's: dates, naive timestamps and NULLs kept exactly)."""
        import pyarrow as pa

        schema = self.spark.table(table).schema
        if not len(frame):  # (an empty frame's columns have no type to convert from)
            return self.spark.createDataFrame([], schema)
        import pandas as pd
        from pyspark.sql.types import DateType

        # A date column read back (datetime64) and extended with `date` objects holds both:
        # Arrow takes one kind per column, so every date column goes in as dates.
        dates = [f.name for f in schema.fields if isinstance(f.dataType, DateType)]
        frame = frame.assign(**{c: pd.to_datetime(frame[c]).dt.date for c in dates})
        arrow = pa.Table.from_pandas(frame, preserve_index=False).select(schema.names)
        return self.spark.createDataFrame(arrow, schema=schema)

    def append(self, table: str, frame: pd.DataFrame) -> None:
        if len(frame):
            name = self.sql(table)
            self._spark_frame(name, frame).write.insertInto(name)

    def insert(self, table: str, row: Sequence[Any]) -> None:
        name = self.sql(table)
        schema = self.spark.table(name).schema
        self.spark.createDataFrame([tuple(row)], schema).write.insertInto(name)

    def overwrite(self, table: str, frame: pd.DataFrame) -> None:
        """The rows are written to a new folder beside the table's, then the table is pointed at
        it (ALTER TABLE SET LOCATION: one metastore update, so a failed or killed write leaves
        the old rows, where INSERT OVERWRITE deletes them first); older folders are removed."""
        name = self.sql(table)
        self._point_at_new_folder(name, self._spark_frame(name, frame))

    def _point_at_new_folder(self, name: str, rows: Any) -> None:
        current = self._location(name)
        base = current.name.split(".")[0]  # `<table>` or `<table>.<version>` (no dots in names)
        folder = current.parent / f"{base}.{uuid.uuid4().hex}"
        rows.write.parquet(str(folder))
        self.spark.sql(f"alter table {name} set location '{folder}'")
        for stale in (current.parent / base, *current.parent.glob(f"{base}.*")):
            if stale != folder:  # (also a folder a crash left before its table pointed at it)
                shutil.rmtree(stale, ignore_errors=True)

    def _location(self, table: str) -> Path:
        rows = self.spark.sql(f"describe table extended {table}").collect()
        uri = next(row[1] for row in rows if row[0] == "Location")
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            raise ValueError(f"{table} is at {uri}: the state is written on a local folder only")
        return Path(unquote(parsed.path))

    def add_column(self, table: str, column: str, kind: type) -> None:
        name = self.sql(table)
        if column not in self.spark.table(name).columns:
            self.spark.sql(f"alter table {name} add columns ({column} {self.types[kind]})")

    def replace(self, table: str, frame: pd.DataFrame) -> None:
        """A derived table (`ritual_metrics`, `backtest_alerts`) replaced by `frame`, columns
        and types taken from it: atomically as `overwrite` while they stay the same; a table
        whose columns changed is dropped and created anew."""
        import pyarrow as pa

        name = self.sql(table)
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        # a column of nothing but NULLs has no type Parquet can hold: text
        arrow = arrow.cast(
            pa.schema(pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                      for f in arrow.schema)
        )  # fmt: skip
        rows = self.spark.createDataFrame(arrow)
        if self.spark.catalog.tableExists(name):
            shape = [(f.name, f.dataType) for f in self.spark.table(name).schema]
            if shape == [(f.name, f.dataType) for f in rows.schema]:
                self._point_at_new_folder(name, rows)
                return
            self.spark.sql(f"drop table {name}")
        rows.write.format("parquet").saveAsTable(name)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time, but no transaction: Parquet tables have none. Within the
        process the writers take turns on a lock; another process cannot open the catalog at
        all while this one holds it (the embedded Derby metastore admits one process).

        A write that fails stays undone (each table is replaced whole by `overwrite`, the log
        gets one new file per `insert`) but the ones before it in the block stay done. So the
        state's writers (`decisions.py`) write what people entered and the night's alerts
        before `decision_queue`, which is derived from them, the log and the night and rebuilt
        by the next run or action: a crash between two writes loses nothing people entered and
        leaves at worst a queue one step behind."""
        with _WRITER:
            yield


# How long a released JVM may take to end on SIGTERM before it is killed.
JVM_GRACE_SECONDS = 10.0
# How many `keep_spark` blocks this process is in: the session a step starts outlives the step.
_KEPT = 0


@contextmanager
def keep_spark() -> Iterator[None]:
    """The Spark session a `spark_warehouse` starts inside the block stays up for the next one
    (a JVM takes about 10 s to start) and is released when the block ends."""
    global _KEPT
    _KEPT += 1
    try:
        yield
    finally:
        _KEPT -= 1
        if not _KEPT:
            release_spark()


def _running_session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or SparkSession._instantiatedSession


def release_spark() -> None:
    """Stops this process's Spark session and ends its JVM: only then does the embedded Derby
    metastore let another process (dbt, a person's command) open the catalog."""
    if "pyspark" not in sys.modules:  # no session was ever started here
        return
    from pyspark import SparkContext

    session = _running_session()
    if session is not None:
        session.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)  # the JVM pyspark started (None: not ours)
    gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if process is not None:
        # A JVM's shutdown hooks can take minutes on a busy machine (seen in CI). The session
        # is stopped and every write is committed (Derby logs each commit), so after a grace
        # period the JVM is killed: the kernel then frees Derby's lock as for any ended process.
        process.terminate()
        try:
            process.wait(timeout=JVM_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def spark_warehouse(
    config: SparkConfig, *, wait_seconds: float = 600.0
) -> Iterator[SparkWarehouse]:
    """The Spark catalog under `config.home` as a warehouse, under its run lock (waiting up to
    `wait_seconds` while a nightly run or another command has the catalog). Uses the process's
    Spark session if one runs (released by its owner) and must then be on the same home; else
    starts one (slow: a JVM) and releases it after, unless inside `keep_spark`."""
    try:
        with hold_run_lock(config.catalog, wait=wait_seconds):
            running = _running_session() if "pyspark" in sys.modules else None
            spark = running or spark_session(config.home)
            expected = spark_conf(config.home)["spark.sql.warehouse.dir"]
            if Path(urlparse(spark.conf.get("spark.sql.warehouse.dir")).path) != Path(expected):
                raise ValueError(f"this process's Spark session is not on {config.home}")
            try:
                yield SparkWarehouse(spark, config.schema)
            finally:
                if running is None and not _KEPT:
                    release_spark()
    except RunLockTimeout:
        raise WarehouseBusyError(
            f"a nightly run or another command still held {config} after {wait_seconds:.0f} s; "
            "try again when it has finished"
        ) from None


def copy_landing(warehouse: Path, config: SparkConfig) -> dict[str, int]:
    """The loader's checked raw tables (the DuckDB file `warehouse`) copied into the catalog's
    `raw` database (`copy_raw_tables`). Returns the rows per table."""
    config.home.mkdir(parents=True, exist_ok=True)
    with (
        duckdb.connect(str(warehouse), read_only=True) as source,
        spark_warehouse(config) as wh,
    ):
        return copy_raw_tables(source, wh.spark, config.home)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=copy_raw_tables.__doc__)
    parser.add_argument("warehouse", type=Path, help="the DuckDB file the loader wrote")
    parser.add_argument("home", type=Path, help="Spark's folder (FIREWATCH_SPARK_HOME)")
    args = parser.parse_args(argv)
    config = SparkConfig(home=args.home.resolve())
    for table, rows in copy_landing(args.warehouse, config).items():
        print(f"{RAW_SCHEMA}.{table}: {rows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
