"""Connections to the DuckDB warehouse that wait for a nightly run instead of failing on its lock,
and the few helpers every reader and writer of the warehouse shares."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import duckdb

from dagster_project.warehouse.run_lock import held_here, lock_path

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

    from dagster_project.warehouse.engine import Warehouse


def publish_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Replaces a derived report table (`schema.name`, from code, never user input) atomically."""
    con.execute("begin transaction")
    try:
        con.register("_frame", frame)
        con.execute(f"create or replace table {table} as select * from _frame")
        con.unregister("_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _is_lock_error(error: duckdb.Error) -> bool:
    return "lock" in str(error).lower()


class WarehouseBusyError(TimeoutError):
    """A nightly run (or another client) held the warehouse for longer than the wait allowed."""


@contextmanager
def _outside_nightly_runs(
    path: Path, wait_seconds: float, tell: Callable[[], None], sleep: Callable[[float], None]
) -> Iterator[float]:
    """Waits while a nightly run holds the warehouse's run lock and keeps a shared hold on it
    until the caller is done, so a run never starts while a person's command is connected.

    A run opens the warehouse many times (the loader, the dbt build, the alerts, the BI copy);
    any other connection open at one of those moments, even a read-only one, makes that step
    fail and the night with it. Waiting on DuckDB's own lock alone is not enough: it is free
    between a run's steps. Yields the seconds waited. No lock file (no run yet): no wait."""
    lock = lock_path(path)
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        fd = -1
    if fd < 0:  # (outside the except clause: the caller's errors must not chain onto this)
        yield 0.0
        return
    try:
        if held_here(path):  # a run's own steps: they must not wait for themselves
            yield 0.0
            return
        waited = 0.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited >= wait_seconds:
                    raise WarehouseBusyError(
                        f"a nightly run still holds {path} after {waited:.0f} s; try again "
                        "when it has finished"
                    ) from None
                tell()
                sleep(0.5)
                waited += 0.5
            except OSError:  # a file system without flock: DuckDB's lock is all there is
                break
        # (`firewatch run` holds the lock until its summary is printed: nothing of the run
        # touches the warehouse once it is free.)
        try:
            yield waited
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def open_warehouse(
    path: Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 600.0,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection, waiting (and saying so) while a nightly run holds the warehouse: for the
    whole run (its run lock), not only while one of its steps has DuckDB's file lock."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `firewatch run` first")
    told = False

    def tell() -> None:
        nonlocal told
        if not told:
            _say_busy(path, "a nightly run is writing", wait_seconds, out)
            told = True

    with _outside_nightly_runs(path, wait_seconds, tell, sleep) as waited:
        con = connect_when_free(
            path,
            read_only=read_only,
            wait_seconds=wait_seconds,
            out=out,
            sleep=sleep,
            waited=waited,
            told=told,
        )
        try:
            yield con
        finally:
            con.close()


def connect_when_free(
    path: Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 600.0,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    waited: float = 0.0,
    told: bool = False,
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retried once a second while another process holds the file's lock (up
    to `wait_seconds` in all, counting `waited`), saying once who holds it unless `told`
    already. Any other error, or the lock still held at the end, is raised."""
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            if not _is_lock_error(error) or waited >= wait_seconds:
                raise
            if not told:
                _say_busy(path, _holder(error), wait_seconds, out)
                told = True
            sleep(1.0)
            waited += 1.0


def _say_busy(path: Path, why: str, wait_seconds: float, out: TextIO | None) -> None:
    print(
        f"The warehouse {path} is busy ({why}); waiting up to {wait_seconds:.0f} s…",
        file=out or sys.stderr,
        flush=True,
    )


def _holder(error: duckdb.Error) -> str:
    """Who holds the file, from DuckDB's lock error ("… is held in /usr/bin/python3 (PID 7)")."""
    found = re.search(r"held in (\S+) \(PID (\d+)\)", str(error))
    if not found:
        return "another process has it open"
    return f"another process has it open: {Path(found.group(1)).name}, PID {found.group(2)}"


def run_as_of(con: duckdb.DuckDBPyConnection | Warehouse) -> date:
    """The night the warehouse was last built as of (dbt's int_run_context)."""
    from dagster_project.warehouse.engine import as_warehouse

    return as_warehouse(con).rows("select as_of_date from intermediate.int_run_context")[0][0]


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    return bool(found)
