"""The one narrow warehouse interface the Python side needs (docs/engines.md): run a statement,
read a query as rows or as a frame, append a frame to a table, run in a transaction, hold the
night's lock, and the few writes of the night's state. DuckDB (the default, a file) and
PostgreSQL (a server) implement all of it; Spark (`spark.SparkWarehouse`) the reads and the
state's writes.

SQL passed here is written once for every engine: `?` placeholders, types both engines know
(`varchar`, `double precision`, `bigint`, `date`, `timestamp`), and the public marts' schema
as `{marts}` (DuckDB's `main`, PostgreSQL's `FIREWATCH_PG_SCHEMA`), filled in by `sql()`.
Spark takes no `?` and has no DELETE: the state (`decisions.py`) writes through the narrow
methods `overwrite`, `insert` and `add_column` instead, and builds its tables' DDL from its
dataclasses with the engine's `types`.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import duckdb

from dagster_project.warehouse.target import (
    DUCKDB,
    POSTGRES,
    Location,
    PostgresConfig,
    SparkConfig,
)

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd


class Warehouse(Protocol):
    """What detection, the alerts, the decision log and the queue need of a warehouse."""

    engine: str
    marts: str  # the schema of the public marts and of `alerts` / `decision_queue`
    types: Mapping[type, str]  # the column type for each Python type of the state's fields
    constraints: bool  # whether CREATE TABLE takes `primary key` and `not null`

    def sql(self, text: str) -> str:
        """`text` with `{marts}` filled in."""
        ...

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]: ...

    def records(self, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows as dicts by column name, values as the driver gives them."""
        ...

    def frame(self, text: str, params: Sequence[Any] = ()) -> pd.DataFrame: ...

    def execute(self, text: str, params: Sequence[Any] = ()) -> None: ...

    def append(self, table: str, frame: pd.DataFrame) -> None:
        """Inserts the frame's rows into an existing table, matching columns by name."""
        ...

    def replace(self, table: str, frame: pd.DataFrame) -> None:
        """Replaces a derived table (a name from code, never user input) by the frame,
        atomically: a reader sees the old table or the new one."""
        ...

    def overwrite(self, table: str, frame: pd.DataFrame) -> None:
        """Replaces every row of an existing table (a name from code) by the frame's, columns
        matched by name; the table and its columns stay."""
        ...

    def insert(self, table: str, row: Sequence[Any]) -> None:
        """Appends one row, its values in the table's column order."""
        ...

    def add_column(self, table: str, column: str, kind: type) -> None:
        """Adds a column of `types[kind]` to a table that lacks it (one an older version made)."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All or nothing; on PostgreSQL also one writer of the state at a time. On Spark one
        writer at a time but not all or nothing (`SparkWarehouse.transaction`)."""
        ...

    def table_exists(self, schema: str, table: str) -> bool: ...


def _format(text: str, marts: str) -> str:
    return text.replace("{marts}", marts)


# The column type of each Python type the state's dataclasses hold, on DuckDB and PostgreSQL.
SQL_TYPES: Mapping[type, str] = {
    str: "varchar",
    bool: "boolean",
    int: "bigint",
    float: "double precision",
    date: "date",
    datetime: "timestamp",
}


class _SqlStateWrites:
    """The state's writes in the SQL DuckDB and PostgreSQL share (DELETE, `?` parameters,
    ADD COLUMN IF NOT EXISTS), all inside the caller's `transaction()`."""

    types = SQL_TYPES
    constraints = True

    def overwrite(self: Warehouse, table: str, frame: pd.DataFrame) -> None:
        self.execute(f"delete from {table}")
        self.append(table, frame)

    def insert(self: Warehouse, table: str, row: Sequence[Any]) -> None:
        self.execute(f"insert into {table} values ({', '.join('?' * len(row))})", row)

    def add_column(self: Warehouse, table: str, column: str, kind: type) -> None:
        self.execute(f"alter table {table} add column if not exists {column} {self.types[kind]}")


class DuckDBWarehouse(_SqlStateWrites):
    """A DuckDB connection (opened by `connection.open_warehouse`, which waits for a run)."""

    engine = DUCKDB
    marts = "main"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def sql(self, text: str) -> str:
        return _format(text, self.marts)

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.con.execute(self.sql(text), list(params)).fetchall()

    def records(self, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.con.execute(self.sql(text), list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def frame(self, text: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        return self.con.execute(self.sql(text), list(params)).df()

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(self.sql(text), list(params))

    def append(self, table: str, frame: pd.DataFrame) -> None:
        if len(frame):
            self.con.register("_incoming", frame)
            try:
                self.con.execute(f"insert into {self.sql(table)} by name select * from _incoming")
            finally:
                self.con.unregister("_incoming")

    def replace(self, table: str, frame: pd.DataFrame) -> None:
        from dagster_project.warehouse.connection import publish_frame

        publish_frame(self.con, self.sql(table), frame)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        # DuckDB has one writer per file already (and `open_warehouse` waits for the night)
        self.con.execute("begin transaction")
        try:
            yield
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise

    def table_exists(self, schema: str, table: str) -> bool:
        from dagster_project.warehouse.connection import table_exists

        return table_exists(self.con, _format(schema, self.marts), table)


# What the state functions accept: a Warehouse, or a DuckDB connection a caller opened itself.
Connection = Warehouse | duckdb.DuckDBPyConnection


def as_warehouse(con: Connection) -> Warehouse:
    """A Warehouse for a DuckDB connection (the callers that open DuckDB themselves)."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBWarehouse(con)
    return con


# PostgreSQL type oid -> the DuckDB type a frame column is read as, so a frame read from
# PostgreSQL has the dtypes DuckDB's `.df()` gives for the same table (detection then cannot
# tell the engines apart). Anything else is read as text.
_OID_TYPES = {
    16: "BOOLEAN",
    20: "BIGINT",
    21: "SMALLINT",
    23: "INTEGER",
    700: "FLOAT",
    701: "DOUBLE",
    1700: "DOUBLE",  # numeric: the marts' sums and ratios are doubles on DuckDB
    1082: "DATE",
    1114: "TIMESTAMP",
    1184: "TIMESTAMPTZ",
}
# One advisory lock key per purpose (any two fixed 64-bit numbers unlikely to clash).
STATE_LOCK = 0x6669726577617401  # writers of alerts / the queue / the log, per transaction
NIGHT_LOCK = 0x6669726577617402  # one nightly run at a time, per session


class PostgresWarehouse(_SqlStateWrites):
    """A PostgreSQL connection. Writers of the state serialize on a transaction-level advisory
    lock, so concurrent people and the nightly run rely on the database alone (no file lock)."""

    engine = POSTGRES

    def __init__(self, con: Any, marts: str = "public") -> None:
        self.con = con
        self.marts = marts

    def sql(self, text: str) -> str:
        return _format(text, f'"{self.marts}"')

    def _statement(self, text: str) -> str:
        # psycopg2's placeholders; no statement of ours holds a literal `?` or `%`
        return self.sql(text).replace("%", "%%").replace("?", "%s")

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.con.cursor() as cursor:
            cursor.execute(self._statement(text), list(params))
            return cursor.fetchall()

    def records(self, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.con.cursor() as cursor:
            cursor.execute(self._statement(text), list(params))
            names = [d.name for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        with self.con.cursor() as cursor:
            cursor.execute(self._statement(text), list(params))

    def frame(self, text: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The query's rows through one COPY ... TO STDOUT (fast for the marts' hundreds of
        thousands of rows), read back by DuckDB with the columns' types."""
        with self.con.cursor() as cursor:
            query = cursor.mogrify(self._statement(text), list(params)).decode()
            cursor.execute(f"select * from ({query}) as _q limit 0")
            columns = [(d.name, _OID_TYPES.get(d.type_code, "VARCHAR")) for d in cursor.description]
            with tempfile.NamedTemporaryFile(suffix=".csv", prefix="firewatch-") as handle:
                cursor.copy_expert(f"copy ({query}) to stdout with (format csv)", handle)
                handle.flush()
                return _read_csv(Path(handle.name), columns)

    def append(self, table: str, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        names = ", ".join(f'"{c}"' for c in frame.columns)
        with tempfile.NamedTemporaryFile(suffix=".csv", prefix="firewatch-") as handle:
            duckdb.from_df(frame).write_csv(handle.name, header=False)
            with open(handle.name, "rb") as data, self.con.cursor() as cursor:
                cursor.copy_expert(
                    f"copy {self.sql(table)} ({names}) from stdin with (format csv)", data
                )

    def replace(self, table: str, frame: pd.DataFrame) -> None:
        from dagster_project.warehouse.postgres import postgres_type

        kinds = duckdb.from_df(frame).types
        columns = ", ".join(
            f'"{name}" {postgres_type(str(kind))}'
            for name, kind in zip(frame.columns, kinds, strict=True)
        )
        with self.transaction():
            self.execute(f"drop table if exists {table}")
            self.execute(f"create table {table} ({columns})")
            self.append(table, frame)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("begin")
        try:
            self.execute("select pg_advisory_xact_lock(?)", [STATE_LOCK])
            yield
            self.execute("commit")
        except BaseException:
            if not self.con.closed:
                self.execute("rollback")
            raise

    def table_exists(self, schema: str, table: str) -> bool:
        found = self.rows(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [_format(schema, self.marts), table],
        )
        return bool(found[0][0])


def _read_csv(path: Path, columns: list[tuple[str, str]]) -> pd.DataFrame:
    """PostgreSQL's CSV as DuckDB reads it: NULL an empty field, an empty string `""`."""
    spec = ", ".join(f"'{name.replace(chr(39), chr(39) * 2)}': '{kind}'" for name, kind in columns)
    con = duckdb.connect()
    try:
        return con.execute(
            f"select * from read_csv(?, columns = {{{spec}}}, header = false, delim = ',', "
            "quote = '\"', escape = '\"', auto_detect = false, allow_quoted_nulls = false)",
            [str(path)],
        ).df()
    finally:
        con.close()


@contextmanager
def connect(
    location: Location,
    *,
    read_only: bool = False,
    wait_seconds: float = 600.0,
    out: TextIO | None = None,
) -> Iterator[Warehouse]:
    """The warehouse at `location`: a DuckDB file (waiting while a nightly run holds it), a
    PostgreSQL database (the database's own transactions order its writers) or a local Spark
    catalog (one process at a time, waiting like a DuckDB file; `read_only` is not enforced
    there)."""
    if isinstance(location, SparkConfig):
        from dagster_project.warehouse.spark import spark_warehouse

        with spark_warehouse(location, wait_seconds=wait_seconds) as wh:
            yield wh
        return
    if isinstance(location, PostgresConfig):
        con = location.connect()
        if read_only:
            con.set_session(readonly=True, autocommit=True)
        try:
            yield PostgresWarehouse(con, location.schema)
        finally:
            con.close()
        return
    from dagster_project.warehouse.connection import open_warehouse

    with open_warehouse(
        Path(location), read_only=read_only, wait_seconds=wait_seconds, out=out
    ) as con:
        yield DuckDBWarehouse(con)
