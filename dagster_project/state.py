"""Alerts, the decision log and the decision queue in the warehouse.

The log (schema `firewatch_state`) is written only here and only by appending: dbt never manages it,
so neither a re-run nor `dbt build --full-refresh` can touch what people entered. `alerts` and
`decision_queue` (the public tables of CONTRACT.md section 2) are rebuilt from it in one
transaction with the rest of the night's state.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import duckdb

from dagster_project.divergence.episodes import Alert
from dagster_project.divergence.queue import (
    LogEntry,
    QueueError,
    QueueItem,
    build_queue,
    check_action,
)
from dagster_project.run_lock import held_here, lock_path

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

_ALERTS_DDL = """
create table if not exists main.alerts (
    alert_id varchar primary key, rule_id varchar, leading_metric varchar,
    outcome_metric varchar, dimension varchar, dimension_value varchar, window_start date,
    window_end date, leading_change double, outcome_change double, severity varchar,
    explanation varchar, evidence varchar, first_detected_at date, last_detected_at date,
    status varchar, cleared_at date, owner varchar, question varchar
)"""
_LOG_DDL = """
create table if not exists firewatch_state.decision_log (
    entry_id bigint primary key, decision_id varchar not null, action varchar not null,
    actor varchar not null, entered_at timestamp not null, text varchar, snooze_until date
)"""
_QUEUE_DDL = """
create table if not exists main.decision_queue (
    decision_id varchar primary key, alert_id varchar, rule_id varchar, dimension_value varchar,
    owner varchar, question varchar, status varchar, opened_at date, due_at date,
    decision varchar, decided_by varchar, decided_at timestamp, note varchar,
    snoozed_until date, severity varchar
)"""


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

    A run opens the warehouse many times (the loader, two dbt builds, the alerts, the BI copy);
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


def run_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The night the warehouse was last built as of (dbt's int_run_context)."""
    return con.execute("select as_of_date from intermediate.int_run_context").fetchone()[0]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists firewatch_state")
    for ddl in (_ALERTS_DDL, _LOG_DDL, _QUEUE_DDL):
        con.execute(ddl)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    return bool(found)


def _frame(rows: list, cls: type) -> pd.DataFrame:
    import pandas as pd

    names = [f.name for f in fields(cls)]
    return pd.DataFrame([asdict(r) for r in rows], columns=names)


def read_alerts(con: duckdb.DuckDBPyConnection) -> list[Alert]:
    if not table_exists(con, "main", "alerts"):
        return []
    names = [f.name for f in fields(Alert)]
    rows = con.execute(f"select {', '.join(names)} from main.alerts").fetchall()
    return [Alert(**dict(zip(names, row, strict=True))) for row in rows]


def read_log(con: duckdb.DuckDBPyConnection) -> list[LogEntry]:
    if not table_exists(con, "firewatch_state", "decision_log"):
        return []
    names = [f.name for f in fields(LogEntry)]
    rows = con.execute(
        f"select {', '.join(names)} from firewatch_state.decision_log order by entry_id"
    ).fetchall()
    return [LogEntry(**dict(zip(names, row, strict=True))) for row in rows]


def read_queue(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not table_exists(con, "main", "decision_queue"):
        return _frame([], QueueItem)
    return con.execute("select * from main.decision_queue order by opened_at, decision_id").df()


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.execute(f"delete from {table}")
    if len(frame):
        con.register("_incoming", frame)
        con.execute(f"insert into {table} by name select * from _incoming")
        con.unregister("_incoming")


def save_night(con: duckdb.DuckDBPyConnection, alerts: list[Alert], today: date) -> None:
    """Writes tonight's alerts and the queue rebuilt from them and the log, all or nothing."""
    ensure_tables(con)
    con.execute("begin transaction")
    try:
        _replace(con, "main.alerts", _frame(alerts, Alert))
        queue = build_queue(alerts, read_log(con), today)
        _replace(con, "main.decision_queue", _frame(queue, QueueItem))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


# Actions whose text is the record itself, with the CLI flag that carries it.
TEXT_FLAGS = {"decide": "--decision", "dismiss": "--reason"}


def record_action(
    con: duckdb.DuckDBPyConnection,
    decision_id: str,
    action: str,
    actor: str,
    *,
    text: str = "",
    snooze_until: date | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> QueueItem:
    """Appends one person's action to the log and rebuilds the queue, in one transaction."""
    if not actor.strip():
        raise ValueError("--by must name who acts")
    if action in TEXT_FLAGS and not text.strip():
        # a decision with no words in it records nothing anyone can act on or audit later
        raise ValueError(f"{TEXT_FLAGS[action]} must say something (it is empty)")
    ensure_tables(con)
    today = today or date.today()
    con.execute("begin transaction")
    try:
        alerts = read_alerts(con)
        log = read_log(con)
        items = {i.decision_id: i for i in build_queue(alerts, log, today)}
        if decision_id not in items:
            raise QueueError(f"unknown decision id {decision_id!r}: see `firewatch queue`")
        check_action(items[decision_id], action)
        if action == "snooze" and (snooze_until is None or snooze_until <= today):
            raise QueueError("--until must be a date after today")
        entry_id = con.execute(
            "select coalesce(max(entry_id), 0) + 1 from firewatch_state.decision_log"
        ).fetchone()[0]
        entered_at = (now or datetime.now(UTC)).replace(tzinfo=None)
        con.execute(
            "insert into firewatch_state.decision_log values (?, ?, ?, ?, ?, ?, ?)",
            [entry_id, decision_id, action, actor.strip(), entered_at, text, snooze_until],
        )
        queue = build_queue(alerts, read_log(con), today)
        _replace(con, "main.decision_queue", _frame(queue, QueueItem))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return next(i for i in queue if i.decision_id == decision_id)
