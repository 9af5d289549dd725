"""Apache Spark as the warehouse of the dbt project (docs/engines.md): the raw tables as Parquet.

dbt-spark's `session` method runs Spark inside the dbt process (local, no cluster, no server).
A session's catalog lives as long as the process, so the raw tables dbt reads must be in a
catalog that outlives it: a Hive metastore in an embedded Derby database in a folder of our own
(`<home>/metastore_db`), beside Spark's warehouse folder (`<home>/warehouse`), where the tables
dbt builds go. `copy_raw_tables` exports each table of DuckDB's `raw` schema to Parquet
(`<home>/raw/<table>/`) and registers it in that metastore as an external table of the database
`raw`; `dbt build --target spark` (profiles.yml, env FIREWATCH_SPARK_HOME) then builds from it.

Embedded Derby admits one process at a time: copy in one process (`python -m
dagster_project.warehouse.spark WAREHOUSE.duckdb HOME`), run dbt in another, read after it ended.

`SparkWarehouse` is the read side of the warehouse interface on Spark (docs/engines.md): the
night's detection reads `metric_series`, `metric_catalog` and `lead_cohort_ages` through it,
as frames typed as DuckDB's. Writing the night's state (alerts, the queue, the decision log)
on Spark is not done: it deletes and rewrites rows, which Parquet tables cannot.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from dagster_project.warehouse.raw_export import (
    RAW_SCHEMA,
    engine_type,
    quoted_raw,
    raw_columns,
    raw_tables,
)
from dagster_project.warehouse.target import SPARK

if TYPE_CHECKING:
    import pandas as pd

HOME_ENV = "FIREWATCH_SPARK_HOME"

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


def spark_conf(home: Path) -> dict[str, str]:
    """The Spark settings dbt's `spark` output uses (profiles.yml), for a session of our own."""
    home = Path(home).resolve()
    return {
        "spark.master": "local[2]",
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
        "spark.driver.memory": "2g",
        "spark.ui.enabled": "false",
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


class SparkWarehouse:
    """Spark's catalog through the read half of the `Warehouse` interface (engine.py): `sql`,
    `rows`, `records`, `frame`, `table_exists`. Queries take no parameters (write validated
    literals into the text); `{marts}` is the database of the public marts."""

    engine = SPARK

    def __init__(self, spark: Any, marts: str) -> None:
        self.spark = spark
        self.marts = marts

    def sql(self, text: str) -> str:
        return text.replace("{marts}", f"`{self.marts}`")

    def _query(self, text: str, params: Sequence[Any]) -> Any:
        if params:
            raise ValueError("SparkWarehouse queries take no parameters")
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
        return bool(self.spark.catalog.tableExists(table, schema.replace("{marts}", self.marts)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=copy_raw_tables.__doc__)
    parser.add_argument("warehouse", type=Path, help="the DuckDB file the loader wrote")
    parser.add_argument("home", type=Path, help="Spark's folder (FIREWATCH_SPARK_HOME)")
    args = parser.parse_args(argv)
    args.home.mkdir(parents=True, exist_ok=True)
    spark = spark_session(args.home)
    with duckdb.connect(str(args.warehouse), read_only=True) as source:
        for table, rows in copy_raw_tables(source, spark, args.home).items():
            print(f"{RAW_SCHEMA}.{table}: {rows}")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
