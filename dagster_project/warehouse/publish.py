"""Publishes the public tables to a read-only copy that BI tools read instead of the warehouse.

Any open DuckDB writer locks its file against every other process, read-only ones included, and a
BI client holding the warehouse makes `dbt build` fail. So BI tools never open the warehouse: after
each successful run the public tables (the `main` schema: marts, metric_series, metric_catalog,
alerts, decision_queue, ritual_metrics) are copied into a new file next to the published one,
which is then swapped in with `os.replace`. A client that has the old copy open keeps reading the
old file (POSIX keeps the unlinked inode alive), and a new client sees the new run in full or not
at all. The optional Parquet export swaps a `current` symlink the same way.

Nothing outside `main` is copied: staging, intermediate, raw, lookups and the append-only decision
log (`firewatch_state`) stay in the warehouse, and so does the backtest replay.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

PUBLIC_SCHEMA = "main"
INFO_TABLE = "bi_copy_info"
# In `main` but not public: the backtest replays past nights and would read as tonight's alerts.
EXCLUDED_TABLES = frozenset({"backtest_alerts", INFO_TABLE})
# BI clients bundle their own DuckDB (the Metabase driver's JDBC jar, Evidence's Node package, the
# duckdb that duckdb-engine finds), often older than ours; a file in the newest storage format
# opens only in a DuckDB at least as new. v1.0.0 opens in every DuckDB since 1.0.
BI_STORAGE_VERSION = "v1.0.0"
# Parquet versions kept: the current one and the one before, for a reader that resolved
# `current` just before the swap.
PARQUET_VERSIONS_KEPT = 2
# Leftovers of a publish that was killed, where the output folder cannot be locked (no flock):
# younger ones may belong to a publish still running. With the lock, any age.
_STALE_SECONDS = 3600.0

_NAME = re.compile(r"[a-z0-9_]+")
_VERSION = re.compile(r"\d{8}T\d{6}\.\d{6}Z")
_SOURCE = "firewatch_source"
_COPY = "firewatch_bi"


class PublishError(RuntimeError):
    """The warehouse cannot be published as it is (no public tables, an unexpected name...)."""


@dataclass(frozen=True)
class PublishReport:
    """What one publish wrote: the copy, its tables' row counts and the run it shows."""

    target: Path
    published_at: datetime  # UTC
    as_of_date: date | None
    row_counts: dict[str, int] = field(default_factory=dict)
    parquet_version: Path | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        as_of = f", as of {self.as_of_date}" if self.as_of_date else ""
        parquet = f"; Parquet {self.parquet_version}" if self.parquet_version else ""
        rows = sum(self.row_counts.values())
        return (
            f"BI copy {self.target}: {len(self.row_counts)} tables, {rows:,} rows{as_of}, "
            f"in {self.seconds:.1f} s{parquet}"
        )


def publish_bi_copy(
    warehouse: Path,
    target: Path,
    *,
    parquet_dir: Path | None = None,
    wait_seconds: float = 60.0,
) -> PublishReport:
    """Copies the public tables of `warehouse` to `target` (and Parquet files under
    `parquet_dir/current/`), swapping each in whole. Needs the warehouse free of writers (waits
    up to `wait_seconds` for one to finish); never opens `target`, so readers never block it."""
    started = time.monotonic()
    warehouse, target = Path(warehouse).resolve(), Path(target).resolve()
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `firewatch run` first")
    if target == warehouse:
        raise PublishError(f"the BI copy cannot be the warehouse itself ({warehouse})")
    target.parent.mkdir(parents=True, exist_ok=True)
    if parquet_dir is not None:
        Path(parquet_dir).mkdir(parents=True, exist_ok=True)
    folders = [target.parent] + ([Path(parquet_dir).resolve()] if parquet_dir is not None else [])
    with _publishing(folders, wait_seconds) as alone:
        return _publish(warehouse, target, parquet_dir, wait_seconds, started, alone)


@contextmanager
def _publishing(folders: list[Path], wait_seconds: float) -> Iterator[bool]:
    """Holds an exclusive flock on each output folder for the whole publish (a lock on the
    folder itself, so no lock file appears beside the copy), waiting while another publish
    holds it. Yields whether the locks are held: then every temporary file or partial version
    in the folders is a leftover of a publish that was killed, however young."""
    deadline = time.monotonic() + wait_seconds
    fds: list[int] = []
    alone = True
    try:
        for folder in dict.fromkeys(folders):
            fd = os.open(folder, os.O_RDONLY)
            fds.append(fd)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise PublishError(
                            f"another publish still holds {folder} after {wait_seconds:.0f} s"
                        ) from None
                    time.sleep(0.2)
                except OSError:  # no flock on this file system: fall back to the age rule
                    alone = False
                    break
        yield alone
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _publish(
    warehouse: Path,
    target: Path,
    parquet_dir: Path | None,
    wait_seconds: float,
    started: float,
    alone: bool,
) -> PublishReport:
    _remove_stale(target.parent, f".{target.name}.", (".tmp", ".tmp.wal"), any_age=alone)
    published_at = datetime.now(UTC)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    version: Path | None = None
    try:
        con = duckdb.connect()
        try:
            _attach_source(con, warehouse, wait_seconds)
            con.execute(
                f"attach {_literal(tmp)} as {_COPY} (storage_version '{BI_STORAGE_VERSION}')"
            )
            as_of, counts = _copy_tables(con, published_at)
            if parquet_dir is not None:
                version = _export_parquet(
                    con, Path(parquet_dir).resolve(), counts, published_at, any_age=alone
                )
            con.execute(f"detach {_SOURCE}")
            # detach checkpoints: the copy is one self-contained file, no WAL beside it
            con.execute(f"detach {_COPY}")
        finally:
            con.close()
        _fsync(tmp)
        # The copy is rebuilt every night; a client that opens it read-write should fail, not
        # write changes the next publish throws away.
        tmp.chmod(0o444)
        # A WAL beside the published file (a client that opened it read-write and crashed)
        # would be replayed onto the new file.
        _unlink(_wal(target))
        os.replace(tmp, target)
        _fsync(target.parent)
    except BaseException:
        _unlink(tmp)
        _unlink(_wal(tmp))
        if version is not None:
            shutil.rmtree(version, ignore_errors=True)
        raise
    if version is not None:
        _swap_current(version)
        _prune_versions(version.parent)
    return PublishReport(
        target=target,
        published_at=published_at,
        as_of_date=as_of,
        row_counts=counts,
        parquet_version=version,
        seconds=time.monotonic() - started,
    )


def _attach_source(con: duckdb.DuckDBPyConnection, warehouse: Path, wait_seconds: float) -> None:
    """Attaches the warehouse read-only, waiting while a writer (e.g. `firewatch queue`) holds it.
    Read-only and lock-holding for the whole copy, so no writer can change it half-way."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con.execute(f"attach {_literal(warehouse)} as {_SOURCE} (read_only)")
            return
        except duckdb.Error as error:
            if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(1.0)


def _public_tables(con: duckdb.DuckDBPyConnection, catalog: str = _SOURCE) -> list[str]:
    """The base tables of `catalog`'s `main` schema that the BI copy carries, validated."""
    names = [
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables where table_catalog = ? "
            "and table_schema = ? and table_type = 'BASE TABLE' order by table_name",
            [catalog, PUBLIC_SCHEMA],
        ).fetchall()
    ]
    bad = [name for name in names if not _NAME.fullmatch(name)]
    if bad:
        raise PublishError(f"unexpected table names in {PUBLIC_SCHEMA} (only [a-z0-9_]): {bad}")
    return [name for name in names if name not in EXCLUDED_TABLES]


def _copy_tables(
    con: duckdb.DuckDBPyConnection, published_at: datetime
) -> tuple[date | None, dict[str, int]]:
    tables = _public_tables(con)
    if not tables:
        raise PublishError(f"no tables in {PUBLIC_SCHEMA}: has a run succeeded on this warehouse?")
    as_of = _as_of_date(con)
    counts: dict[str, int] = {}
    # one transaction: a failure leaves no half-filled copy behind (and the file is thrown away)
    con.execute("begin transaction")
    for name in tables:
        con.execute(
            f"create table {_COPY}.main.{_ident(name)} as "
            f"select {_select_list(con, name)} from {_SOURCE}.main.{_ident(name)}"
        )
        counted = con.execute(f"select count(*) from {_COPY}.main.{_ident(name)}").fetchone()
        counts[name] = int(counted[0])
    con.execute(
        f"create table {_COPY}.main.{INFO_TABLE} (table_name varchar primary key, "
        "row_count bigint not null, published_at timestamp not null, as_of_date date)"
    )
    # naive UTC, as the warehouse's own timestamps (decision_log.entered_at)
    stamp = published_at.replace(tzinfo=None)
    con.executemany(
        f"insert into {_COPY}.main.{INFO_TABLE} values (?, ?, ?, ?)",
        [[name, count, stamp, as_of] for name, count in counts.items()],
    )
    con.execute("commit")
    return as_of, counts


def _select_list(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Every column as it is, except all-null columns pandas wrote as type NULL, which BI
    drivers cannot map: those become VARCHAR (they hold no value to lose)."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = ? "
        "and table_schema = ? and table_name = ? order by ordinal_position",
        [_SOURCE, PUBLIC_SCHEMA, table],
    ).fetchall()
    return ", ".join(
        f"cast({_ident(name)} as varchar) as {_ident(name)}"
        if data_type.strip('"').upper() == "NULL"
        else _ident(name)
        for name, data_type in columns
    )


def _as_of_date(con: duckdb.DuckDBPyConnection) -> date | None:
    """The night the source run was as of, when the warehouse has dbt's run context."""
    found = con.execute(
        "select count(*) from information_schema.columns where table_catalog = ? and "
        "table_schema = 'intermediate' and table_name = 'int_run_context' "
        "and column_name = 'as_of_date'",
        [_SOURCE],
    ).fetchone()[0]
    if not found:
        return None
    row = con.execute(
        f"select max(as_of_date) from {_SOURCE}.intermediate.int_run_context"
    ).fetchone()
    return row[0] if row else None


def _export_parquet(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    counts: dict[str, int],
    published_at: datetime,
    *,
    any_age: bool = False,
) -> Path:
    """One Parquet file per table of the copy, written under a hidden name and renamed whole
    to `root/<timestamp>/`, so a listed version is always complete."""
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root, ".", (".partial", ".tmp"), any_age=any_age)
    name = published_at.strftime("%Y%m%dT%H%M%S.%fZ")
    partial = root / f".{name}.{uuid.uuid4().hex}.partial"
    partial.mkdir()
    try:
        for table in [*counts, INFO_TABLE]:
            path = partial / f"{table}.parquet"
            con.execute(f"copy {_COPY}.main.{_ident(table)} to {_literal(path)} (format parquet)")
            _fsync(path)
        _fsync(partial)
        version = root / name
        os.rename(partial, version)
        _fsync(root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return version


def _swap_current(version: Path) -> None:
    """Points `current` at `version` in one step: a new symlink renamed over the old one."""
    current = version.parent / "current"
    if current.exists() and not current.is_symlink():
        raise PublishError(f"{current} exists and is not a symlink; move it away")
    link = version.parent / f".current.{uuid.uuid4().hex}.tmp"
    # relative, so the Parquet folder can be moved or mounted elsewhere
    os.symlink(version.name, link)
    try:
        os.replace(link, current)
    except BaseException:
        _unlink(link)
        raise
    _fsync(version.parent)


def _prune_versions(root: Path) -> None:
    """Removes versions older than the last PARQUET_VERSIONS_KEPT, never the current one."""
    current = (root / "current").resolve()
    versions = sorted(p for p in root.iterdir() if p.is_dir() and _VERSION.fullmatch(p.name))
    for old in versions[:-PARQUET_VERSIONS_KEPT]:
        if old.resolve() != current:
            shutil.rmtree(old, ignore_errors=True)


def _remove_stale(
    folder: Path, prefix: str, suffixes: tuple[str, ...], *, any_age: bool = False
) -> None:
    """Removes what a killed publish left (temp copies, partial Parquet versions, links): any
    of them while this publish holds the folder's lock (`any_age`), else those older than
    _STALE_SECONDS (a younger one may belong to a publish still running)."""
    if not folder.exists():
        return
    cutoff = float("inf") if any_age else time.time() - _STALE_SECONDS
    for path in folder.iterdir():
        name = path.name
        if not (name.startswith(prefix) and name.endswith(suffixes)):
            continue
        if path.lstat().st_mtime < cutoff:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                _unlink(path)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flushes a file's (or a folder's entries') data to disk before it is swapped in."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
