"""One nightly run per warehouse at a time, whoever starts it (the Dagster daemon, the UI, cron).

Dagster's `max_concurrent_runs: 1` only orders the runs it launches itself; a cron
`firewatch run` next to a running `make dev` would be a second writer, and DuckDB lets one of
them fail half-way. The run holds an exclusive `flock` on `<warehouse>.run.lock` from its first
step to its last. The kernel drops the lock when the process ends in any way, SIGKILL included,
so a crashed run never leaves a stale lock behind; the file's text (pid, start) is only there
to tell the next run whom it is waiting for.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from dagster_project.settings import RUN_LOCK_WAIT_ENV, Settings, run_lock_wait
from dagster_project.warehouse.target import PostgresConfig

# Locks this process holds, with their depth: the lock is re-entrant within a process, so
# `firewatch run` can hold it from before the job until after its summary while the job's own
# settings resource takes it again (two flocks of one process on one file would conflict).
# Per thread: another thread of the process is another run and waits like one.
_HELD: dict[tuple[Path, int], int] = {}


def held_here(warehouse: Path) -> bool:
    """Whether this process (any of its threads) holds the warehouse's run lock."""
    path = lock_path(warehouse).resolve()
    return any(held == path for held, _ in _HELD)


class RunLockTimeout(RuntimeError):
    """Another run held the warehouse for longer than the wait allowed."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".run.lock")


@contextmanager
def hold_run_lock(
    warehouse: Path,
    *,
    wait: float | None = None,
    out: TextIO | None = None,
    say: Callable[[str], None] | None = None,
    poll: float = 0.5,
) -> Iterator[None]:
    """Holds the warehouse's run lock, waiting (and saying once for whom) while another run
    has it."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = (path.resolve(), threading.get_ident())
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    limit = run_lock_wait() if wait is None else wait
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # a run writes its pid; a person's queue command holds the lock shared, unnamed
                text = path.read_text(encoding="utf-8").strip()
                holder = f"another nightly run ({text})" if text else "a firewatch command"
                if time.monotonic() - started >= limit:
                    raise RunLockTimeout(
                        f"{holder} still holds {path} after {limit:.0f} s; not running a second "
                        f"writer (set {RUN_LOCK_WAIT_ENV} to wait longer)"
                    ) from None
                if not told:
                    message = (
                        f"{holder} is using {warehouse}; waiting for it to finish (up to "
                        f"{limit:.0f} s)…"
                    )
                    (say or (lambda m: print(m, file=out or sys.stderr, flush=True)))(message)
                    told = True
                time.sleep(poll)
        os.ftruncate(fd, 0)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.write(fd, f"pid {os.getpid()}, started {stamp}\n".encode())
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def hold_database_lock(
    config: PostgresConfig,
    *,
    wait: float | None = None,
    say: Callable[[str], None] | None = None,
    poll: float = 0.5,
) -> Iterator[None]:
    """One nightly run per PostgreSQL database, whichever machine starts it: a session-level
    advisory lock on a connection of its own, held for the run. The server drops it when the
    connection ends in any way, so a crashed run leaves nothing behind."""
    from dagster_project.warehouse.engine import NIGHT_LOCK

    limit = run_lock_wait() if wait is None else wait
    con = config.connect()
    try:
        started, told = time.monotonic(), False
        with con.cursor() as cursor:
            while True:
                cursor.execute("select pg_try_advisory_lock(%s)", [NIGHT_LOCK])
                if cursor.fetchone()[0]:
                    break
                if time.monotonic() - started >= limit:
                    raise RunLockTimeout(
                        f"another nightly run still holds {config} after {limit:.0f} s; not "
                        f"running a second writer (set {RUN_LOCK_WAIT_ENV} to wait longer)"
                    )
                if not told:
                    message = (
                        f"another nightly run is using {config}; waiting (up to {limit:.0f} s)…"
                    )
                    (say or (lambda m: print(m, file=sys.stderr, flush=True)))(message)
                    told = True
                time.sleep(poll)
        yield
    finally:
        con.close()


@contextmanager
def hold_engine(settings: Settings, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """On Spark, the catalog for the whole run: its run lock (people's commands wait for the
    night, as on a DuckDB file) and one Spark session for the run's steps (`keep_spark`). On
    DuckDB and PostgreSQL, nothing more than the run's other locks."""
    if settings.spark is None:
        yield
        return
    from dagster_project.warehouse.spark import keep_spark

    with hold_run_lock(settings.spark.catalog, say=say), keep_spark():
        yield
