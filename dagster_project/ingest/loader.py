"""Load the landing folder (CONTRACT.md section 1) into the DuckDB warehouse's ``raw`` schema.

``load_raw`` reads ``<raw_dir>/<table>/*.csv|*.parquet`` for every table in
``raw_schema.TABLES``, checks every value against the contract and, only when nothing is wrong,
replaces all ``raw.<table>`` tables in one transaction. Any problem - a missing required column,
an unparsable or negative value, an empty required value, a duplicate key within one file, an
unreadable file - is collected (all tables, all files) and raised as one ``RawInputError`` that
names the file, the line (CSV: physical line, header = line 1; Parquet: 1-based row) and the
column. The warehouse is not opened at all in that case, so its raw schema keeps its content.

How it stays fast on tens of millions of rows: every file is read by DuckDB (``read_csv`` with
all columns as varchar, ``read_parquet`` with native types), and validation is one aggregate
query per file that counts bad values per column and duplicate keys. Only when a count is not
zero does a second query fetch the first few offending rows, and only then is a CSV re-scanned
with Python's ``csv`` module to turn record numbers into physical line numbers (a quoted field
may contain newlines, so record number != line number). The happy path has no per-row Python.

Loads are incremental by file: ``raw._loaded_files`` remembers every file loaded (name, size,
modification time, rows). When the files already loaded are still there, unchanged and first in
name order, only the new files are validated and appended; otherwise (a file changed, vanished
or sorts before one already loaded) that table is replaced from all its files. A night that
adds one day of files therefore reads one day, not the history. ``raw._load_log`` records how
each table was loaded, so dbt's incremental models know when a table was replaced and a full
rebuild of them is due. ``full_refresh=True`` replaces every table.

Rows are never deduplicated here: each row keeps ``_source_file``, ``_file_index`` (name order,
from 0) and ``_row_number`` (1-based data row in its file) so that dbt staging can keep the row
from the latest file for each key.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from dagster_project.ingest.contract import (
    ABSURD_VALUE,
    DUCKDB_TYPES,
    FUTURE_SLACK_DAYS,
    META_COLUMNS,
    TABLES,
    Column,
    RawTable,
)
from dagster_project.settings import duckdb_memory_limit, lock_wait

__all__ = ["InputProblem", "LoadReport", "RawInputError", "latest_event_date", "load_raw"]

# At most this many problems are listed per file and column; the rest are summed up in one line.
MAX_PROBLEMS_PER_COLUMN = 20
# Offending values are shown in messages, cut to this many characters.
MAX_VALUE_CHARS = 60

# Name of the row-number column added to every source relation. Unusual on purpose, so that it
# cannot collide with a column of the file.
_RN = "__firewatch_rn"

# Regular expressions (RE2, used by DuckDB's regexp_full_match) for what the contract accepts.
# DuckDB's own casts are more lenient (e.g. '2025-9-1' as a date, '1_000' or '0x10' as numbers,
# 'infinity' or time-zone names in timestamps), so a value must match these as well.
_NUMBER_RE = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_INTEGER_RE = r"[+-]?\d+(\.0*)?"
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_TIMESTAMP_RE = (
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?\s?([Zz]|[+-]\d{2}(:?\d{2})?)?)?"
)

# Where each table says when something happened (what int_run_context's as-of date is made of).
_ACTIVITY_COLUMNS = (
    ("ads_daily", "date"),
    ("web_events", "event_timestamp"),
    ("crm_contacts", "created_at"),
    ("crm_lifecycle_events", "entered_at"),
    ("crm_deals", "closed_at"),
)

# web_events has a two-way key: event_id when present, else the natural key of a GA4 event.
_WEB_EVENTS_FALLBACK_KEY = ("user_pseudo_id", "session_id", "event_timestamp", "event_name")

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE"}
_TIMESTAMP_TYPES = {
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
}


# --------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with the raw input.

    ``line`` is the physical line in a CSV file (header = 1) or the 1-based row in a Parquet
    file; ``None`` when the problem concerns the whole file or folder.
    """

    path: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            word = "row" if self.path.lower().endswith(".parquet") else "line"
            parts.append(f"{word} {self.line}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts) + ": " + self.message


class RawInputError(ValueError):
    """The landing folder breaks the contract; ``problems`` lists every problem found."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"raw input rejected, {n} problem{'s' if n != 1 else ''}:"
        return "\n".join([head, *(str(p) for p in self.problems)])


@dataclass
class LoadReport:
    """What ``load_raw`` wrote."""

    warehouse: Path
    loaded_at: datetime
    row_counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)  # replace | append | unchanged
    new_files: dict[str, list[str]] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)  # rows set aside from new files
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def summary(self) -> str:
        lines = [
            f"loaded {self.total_rows:,} rows into {len(self.row_counts)} raw tables "
            f"of {self.warehouse} in {self.seconds:.1f}s"
        ]
        for name, rows in self.row_counts.items():
            n_files = len(self.files.get(name, []))
            line = f"  {name}: {rows:,} rows from {n_files} file{'s' if n_files != 1 else ''}"
            if name in self.modes:
                line += f" ({self.modes[name]}, {len(self.new_files.get(name, []))} new)"
            if self.extra_columns.get(name):
                line += f" (extra columns: {', '.join(self.extra_columns[name])})"
            lines.append(line)
        if self.missing_optional:
            lines.append(f"  missing optional tables: {', '.join(self.missing_optional)}")
        if self.quarantine_message():
            lines.append(f"  {self.quarantine_message()}")
        return "\n".join(lines)

    def quarantine_message(self) -> str:
        """One sentence on the rows set aside by this load ('' when none were)."""
        counts = {t: n for t, n in self.quarantined.items() if n}
        if not counts:
            return ""
        listed = ", ".join(f"{t} {n:,}" for t, n in counts.items())
        return (
            f"quarantined {sum(counts.values()):,} rows ({listed}): not loaded; see the "
            "`quarantine` table for file, line, column and reason"
        )


# --------------------------------------------------------------------------------------------
# Internal model
# --------------------------------------------------------------------------------------------


@dataclass
class _Conv:
    """SQL that turns one source column into a contract value.

    ``value`` (in terms of the source column) is NULL exactly when the input is empty;
    ``parsed`` (in terms of the value column) is the typed result; ``bad`` (in terms of both)
    is true for a non-empty value the contract does not accept.
    """

    value: str
    parsed: str
    bad: str | None


@dataclass
class _SourceFile:
    path: Path
    rel: str  # name relative to the table folder; what _source_file holds
    index: int  # position in name order, from 0
    kind: Literal["csv", "parquet"]
    refs: dict[str, str] = field(default_factory=dict)  # lower-case name -> SQL reference
    types: dict[str, str] = field(default_factory=dict)  # lower-case name -> DuckDB type
    n_fields: int = 0  # CSV: number of header fields
    rows: int = 0
    readable: bool = True
    size: int = 0
    mtime_ns: int = 0
    # Rows set aside (valid, but not believable): (line, column, problem, value), and the SQL
    # predicate over the values relation that keeps them out of the raw table.
    quarantined: list[tuple[int, str, str, str]] = field(default_factory=list)
    quarantine_sql: str | None = None

    @property
    def display(self) -> str:
        return str(self.path)

    def header_line(self) -> int | None:
        return 1 if self.kind == "csv" else None

    def relation(self) -> str:
        """A subquery with the file's columns plus its 1-based row number ``_RN``."""
        path = _path_lit(self.path)
        if self.kind == "csv":
            cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.n_fields))
            # Explicit options instead of sniffing: RFC 4180, comma, double quote, the header
            # row skipped. Column names are positional (c0, c1, ...) so that odd header names
            # need no quoting. row_number() OVER () runs as DuckDB's order-preserving streaming
            # window, so it is the record number in the file.
            return (
                f"(SELECT *, row_number() OVER () AS {_RN} FROM read_csv({path}, header = true, "
                f"auto_detect = false, columns = {{{cols}}}, delim = ',', quote = '\"', "
                f"escape = '\"', skip = 0, strict_mode = true, null_padding = false, "
                f"encoding = 'utf-8'))"
            )
        if "file_row_number" in self.refs:
            # The file has its own column of that name; fall back to the (slower) window.
            return f"(SELECT *, row_number() OVER () AS {_RN} FROM read_parquet({path}))"
        return (
            f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {_RN} "
            f"FROM read_parquet({path}, file_row_number = true))"
        )


@dataclass
class _TablePlan:
    table: RawTable
    folder: Path
    files: list[_SourceFile] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)  # lower-case, in order of first appearance
    # "replace": rebuild from all files; "append": add files[n_loaded:]; "unchanged": nothing new
    mode: Literal["replace", "append", "unchanged"] = "replace"
    n_loaded: int = 0
    future_after: date | None = None  # a not_future value after this day is quarantined

    @property
    def new_files(self) -> list[_SourceFile]:
        return self.files[self.n_loaded :]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def load_raw(
    raw_dir: Path,
    warehouse: Path,
    *,
    loaded_at: datetime | None = None,
    full_refresh: bool = False,
    today: date | None = None,
) -> LoadReport:
    """Validate the new raw files under ``raw_dir`` and bring ``raw.*`` in ``warehouse`` up to date.

    Raises ``RawInputError`` (listing all problems) without touching the warehouse when any
    input breaks the contract. ``loaded_at`` (default: now) is stored in ``_loaded_at`` as a
    naive UTC timestamp; an aware value is converted to UTC, a naive one is taken as UTC.
    ``today`` (default: the UTC date now) is what "in the future" is measured from.
    """
    started = time.perf_counter()
    raw_dir = Path(raw_dir)
    warehouse = Path(warehouse)
    stamp = _utc_naive(loaded_at if loaded_at is not None else datetime.now(UTC))
    report = LoadReport(warehouse=warehouse, loaded_at=stamp)
    problems: list[InputProblem] = []

    if not raw_dir.is_dir():
        problems.append(InputProblem(str(raw_dir), None, None, "raw folder does not exist"))
        raise RawInputError(problems)

    plans: list[_TablePlan] = []
    future_after = (today or datetime.now(UTC).date()) + timedelta(days=FUTURE_SLACK_DAYS)
    loaded = {} if full_refresh else _loaded_files(warehouse)
    # Validation runs in a private in-memory database whose spill files go to a temporary
    # folder, so a failed load never opens (let alone creates or locks) the warehouse.
    with tempfile.TemporaryDirectory(prefix="firewatch-load-") as tmp:
        con = _connect(":memory:", temp_directory=tmp)
        try:
            for table in TABLES.values():
                found: list[InputProblem] = []
                plan = _plan_table(con, raw_dir, table, found)
                plan.future_after = future_after
                plans.append(plan)
                if not plan.files and not table.needed_for_run:
                    report.missing_optional.append(table.name)
                _choose_mode(plan, loaded.get(table.name, []))
                for f in plan.new_files:
                    _validate_file(con, plan, f, found)
                # Header problems are found before any values; list them file by file.
                order = {f.display: f.index for f in plan.files}
                problems.extend(sorted(found, key=lambda p: order.get(p.path, -1)))
        finally:
            con.close()

    if problems:
        raise RawInputError(problems)

    for plan in plans:
        name = plan.table.name
        report.files[name] = [f.rel for f in plan.files]
        report.row_counts[name] = sum(f.rows for f in plan.files)
        report.extra_columns[name] = list(plan.extras)
        report.modes[name] = plan.mode
        report.new_files[name] = [f.rel for f in plan.new_files]
        report.quarantined[name] = sum(len({q[0] for q in f.quarantined}) for f in plan.new_files)

    _write_warehouse(warehouse, plans, stamp)
    report.seconds = time.perf_counter() - started
    return report


def latest_event_date(raw_dir: Path) -> date | None:
    """The last day anything happened in the landing folder (ads, web, CRM: the same columns
    dbt's int_run_context takes): the night a run without an explicit date is for. Days after
    tomorrow (UTC) are ignored: a mistyped future event must not move the whole run into the
    future. None when nothing can be read; the load then says what is wrong."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=FUTURE_SLACK_DAYS)
    found: list[date] = []
    con = _connect(":memory:")
    try:
        for table, column in _ACTIVITY_COLUMNS:
            files = _landing_files(Path(raw_dir) / table)
            for kind in (".csv", ".parquet"):
                chosen = [_path_lit(p) for p in files if p.suffix.lower() == kind]
                if not chosen:
                    continue
                listed = f"[{', '.join(chosen)}]"
                source = (
                    f"read_csv({listed}, all_varchar = true, header = true, union_by_name = true)"
                    if kind == ".csv"
                    else f"read_parquet({listed}, union_by_name = true)"
                )
                day = f"TRY_CAST(left(CAST({_q(column)} AS VARCHAR), 10) AS DATE)"
                try:
                    (latest,) = con.execute(
                        f"SELECT max(d) FROM (SELECT {day} AS d FROM {source}) WHERE d <= ?",
                        [tomorrow],
                    ).fetchone()
                except duckdb.Error:
                    continue  # unreadable, or an optional column absent: the load will say
                if latest is not None:
                    found.append(latest)
    finally:
        con.close()
    return max(found, default=None)


def _landing_files(folder: Path) -> list[Path]:
    """A table folder's data files in name order (the order "the later file wins" follows)."""
    if not folder.is_dir():
        return []
    # Hidden files (editor backups, macOS "._x.csv" resource forks) are not data.
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and p.suffix.lower() in (".csv", ".parquet")
        ),
        key=lambda p: p.name,
    )


# --------------------------------------------------------------------------------------------
# What is already loaded
# --------------------------------------------------------------------------------------------

_LOADED_DDL = """
CREATE TABLE IF NOT EXISTS raw._loaded_files (
    table_name VARCHAR, file_name VARCHAR, file_index INTEGER, size_bytes BIGINT,
    mtime_ns BIGINT, row_count BIGINT, loaded_at TIMESTAMP
)"""
# Rows that were valid but not believable (CONTRACT.md: "a quarantine row"); dbt's `quarantine`
# model shows them. `line` is the CSV line (header = 1) or the Parquet row.
_QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw._quarantine (
    table_name VARCHAR, source_file VARCHAR, line BIGINT, column_name VARCHAR, problem VARCHAR,
    value VARCHAR, loaded_at TIMESTAMP
)"""
_LOAD_LOG_DDL = """
CREATE TABLE IF NOT EXISTS raw._load_log (
    loaded_at TIMESTAMP, table_name VARCHAR, mode VARCHAR, new_files INTEGER, new_rows BIGINT
)"""


@dataclass(frozen=True)
class _Loaded:
    name: str
    index: int
    size: int
    mtime_ns: int
    rows: int
    columns: frozenset[str]


def _loaded_files(warehouse: Path) -> dict[str, list[_Loaded]]:
    """What the warehouse holds already, per raw table; empty when it has no load yet."""
    if not warehouse.exists():
        return {}
    # Imported here: the state module pulls in the divergence package, the loader needs only
    # its lock-waiting connection.
    from dagster_project.warehouse.connection import open_warehouse, table_exists

    with open_warehouse(warehouse, read_only=True, wait_seconds=lock_wait()) as con:
        if not table_exists(con, "raw", "_loaded_files"):
            return {}
        columns: dict[str, set[str]] = {}
        for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw'"
        ).fetchall():
            columns.setdefault(table, set()).add(column)
        rows = con.execute(
            "SELECT table_name, file_name, file_index, size_bytes, mtime_ns, row_count "
            "FROM raw._loaded_files ORDER BY table_name, file_index"
        ).fetchall()
    loaded: dict[str, list[_Loaded]] = {}
    for table, name, index, size, mtime_ns, count in rows:
        if table not in columns:  # the table itself was dropped: load it again
            continue
        loaded.setdefault(table, []).append(
            _Loaded(name, index, size, mtime_ns, count, frozenset(columns[table]))
        )
    return loaded


def _choose_mode(plan: _TablePlan, loaded: list[_Loaded]) -> None:
    """Append when the loaded files are an unchanged prefix of today's files, else replace."""
    prefix = [(f.rel, f.index, f.size, f.mtime_ns) for f in plan.files[: len(loaded)]]
    same = prefix == [(x.name, x.index, x.size, x.mtime_ns) for x in loaded]
    if not loaded or not same:
        plan.mode, plan.n_loaded = "replace", 0
        return
    plan.n_loaded = len(loaded)
    for f, x in zip(plan.files, loaded, strict=False):
        f.rows = x.rows
    plan.mode = "append" if plan.new_files else "unchanged"


# --------------------------------------------------------------------------------------------
# Discovery and headers
# --------------------------------------------------------------------------------------------


def _plan_table(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, table: RawTable, problems: list[InputProblem]
) -> _TablePlan:
    folder = raw_dir / table.name
    plan = _TablePlan(table=table, folder=folder)
    paths = _landing_files(folder)
    if not paths:
        if table.needed_for_run:
            what = "is empty (no .csv or .parquet files)" if folder.is_dir() else "is missing"
            problems.append(
                InputProblem(str(folder), None, None, f"folder {what}; table is needed for a run")
            )
        return plan

    contract = {c.name for c in table.columns}
    landing = raw_dir.resolve()
    outside = [p for p in paths if not p.resolve().is_relative_to(landing)]
    for path in outside:
        # A link out of the landing folder would let a landing file read anything the run can.
        problems.append(
            InputProblem(
                str(path),
                None,
                None,
                f"symlink to {path.resolve()}, outside the landing folder {landing}; copy the "
                "file in instead",
            )
        )
    paths = [p for p in paths if p not in outside]
    for index, path in enumerate(paths):
        kind: Literal["csv", "parquet"] = "csv" if path.suffix.lower() == ".csv" else "parquet"
        stat = path.stat()
        f = _SourceFile(
            path=path,
            rel=path.name,
            index=index,
            kind=kind,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )
        plan.files.append(f)
        names = (
            _read_csv_header(f, problems)
            if kind == "csv"
            else _read_parquet_schema(con, f, problems)
        )
        if names is None:
            f.readable = False
            continue
        _map_columns(f, names, problems)
        for name in f.refs:
            if name not in contract and name not in plan.extras:
                plan.extras.append(name)
        for col in table.required_columns:
            if col not in f.refs:
                problems.append(
                    InputProblem(f.display, f.header_line(), col, "missing required column")
                )
    return plan


def _read_csv_header(f: _SourceFile, problems: list[InputProblem]) -> list[tuple[str, str]] | None:
    """Header names of a CSV file as (name, SQL reference) pairs; None if unreadable."""
    try:
        # utf-8-sig: Excel writes a byte-order mark that must not end up in the first name.
        # surrogateescape: text is decoded in chunks, so bad UTF-8 further down must not fail
        # the header; DuckDB reports it later with its line.
        with f.path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            header = next(csv.reader(fh, strict=True), None)
    except (OSError, csv.Error) as exc:
        problems.append(InputProblem(f.display, 1, None, f"unreadable header row: {exc}"))
        return None
    if not header:
        problems.append(InputProblem(f.display, 1, None, "file is empty (no header row)"))
        return None
    if any(_has_surrogates(name) for name in header):
        problems.append(InputProblem(f.display, 1, None, "header row is not UTF-8"))
        return None
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        # European Excel exports use ';' (or tabs); say so instead of "missing column" x9.
        sep = "semicolon" if ";" in header[0] else "tab"
        problems.append(
            InputProblem(
                f.display,
                1,
                None,
                f"the file is {sep}-separated; the contract needs comma-separated CSV (RFC 4180)",
            )
        )
        return None
    f.n_fields = len(header)
    f.types = {}
    return [(name, _q(f"c{i}")) for i, name in enumerate(header)]


def _read_parquet_schema(
    con: duckdb.DuckDBPyConnection, f: _SourceFile, problems: list[InputProblem]
) -> list[tuple[str, str]] | None:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_path_lit(f.path)})").fetchall()
    except duckdb.Error as exc:
        problems.append(InputProblem(f.display, None, None, f"unreadable file: {_first_line(exc)}"))
        return None
    pairs = [(str(r[0]), _q(str(r[0]))) for r in rows]
    f.types = {str(r[0]).strip().lower(): str(r[1]).upper() for r in rows}
    return pairs


def _map_columns(
    f: _SourceFile, names: list[tuple[str, str]], problems: list[InputProblem]
) -> None:
    """Match file columns to lower-case names; report duplicates and reserved names."""
    types = f.types
    f.refs, f.types = {}, {}
    for position, (raw_name, ref) in enumerate(names, start=1):
        name = raw_name.strip().lower()
        if not name:
            # pandas writes its index with an empty header; keep it under a stable name.
            name = f"unnamed_{position}"
        if name in f.refs:
            problems.append(
                InputProblem(f.display, f.header_line(), name, "column appears more than once")
            )
            continue
        if name in META_COLUMNS or name == _RN:
            problems.append(
                InputProblem(
                    f.display, f.header_line(), name, "column name is reserved for the loader"
                )
            )
            continue
        f.refs[name] = ref
        f.types[name] = types.get(raw_name.strip().lower(), "VARCHAR")


# --------------------------------------------------------------------------------------------
# Conversions: one place decides what is valid, used by validation and by the load alike
# --------------------------------------------------------------------------------------------


def _conv(col: Column, ref: str, source_type: str) -> _Conv:
    """How to read contract column ``col`` from source column ``ref`` of type ``source_type``."""
    base = source_type.split("(")[0].strip()
    target = col.type
    if target == "string":
        if base == "VARCHAR":
            return _Conv(f"NULLIF({ref}, '')", "{v}", None)
        return _Conv(f"CAST({ref} AS VARCHAR)", "{v}", None)

    if base == "VARCHAR":
        return _text_conv(target, ref)

    if target in ("integer", "number") and (
        base in _INTEGER_TYPES or base in _FLOAT_TYPES or base == "DECIMAL"
    ):
        if base in _INTEGER_TYPES:
            if target == "integer":
                return _Conv(ref, "TRY_CAST({v} AS BIGINT)", "{v} IS NOT NULL AND {p} IS NULL")
            return _Conv(ref, "CAST({v} AS DOUBLE)", None)
        # A NaN in a Parquet float column is how pandas spells "missing": treat as empty.
        value = f"CASE WHEN isnan(CAST({ref} AS DOUBLE)) THEN NULL ELSE CAST({ref} AS DOUBLE) END"
        if target == "integer":
            return _Conv(
                value,
                "CASE WHEN isfinite({v}) AND {v} = trunc({v}) AND abs({v}) < 9.2e18 "
                "THEN CAST({v} AS BIGINT) END",
                "{v} IS NOT NULL AND {p} IS NULL",
            )
        return _Conv(value, "{v}", "{v} IS NOT NULL AND NOT isfinite({v})")

    if target == "timestamp" and (base in _TIMESTAMP_TYPES or base == "DATE"):
        # TIMESTAMPTZ -> TIMESTAMP uses the session time zone, which is UTC.
        return _Conv(ref, "CAST({v} AS TIMESTAMP)", None)

    if target == "date":
        if base == "DATE":
            return _Conv(ref, "{v}", None)
        if base in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
            # A timestamp at midnight is a date written by a tool without a date type.
            return _Conv(
                ref,
                "CASE WHEN CAST({v} AS TIME) = TIME '00:00:00' THEN CAST({v} AS DATE) END",
                "{v} IS NOT NULL AND {p} IS NULL",
            )

    # Anything else (booleans, times, a date where a number belongs, ...) is judged by its
    # text, which then fails the contract's rules and is reported with its value.
    return _text_conv(target, f"CAST({ref} AS VARCHAR)")


def _text_conv(target: str, ref: str) -> _Conv:
    value = f"NULLIF(trim({ref}), '')"
    if target == "integer":
        return _Conv(
            value,
            "TRY_CAST({v} AS BIGINT)",
            # TRY_CAST rounds '1372.5' to 1373, so integrality is checked separately.
            f"{{v}} IS NOT NULL AND NOT ({{p}} IS NOT NULL "
            f"AND regexp_full_match({{v}}, '{_NUMBER_RE}') "
            f"AND (regexp_full_match({{v}}, '{_INTEGER_RE}') "
            f"OR TRY_CAST({{v}} AS DOUBLE) = trunc(TRY_CAST({{v}} AS DOUBLE))))",
        )
    if target == "number":
        return _Conv(
            value,
            "TRY_CAST({v} AS DOUBLE)",
            f"{{v}} IS NOT NULL AND NOT ({{p}} IS NOT NULL AND isfinite({{p}}) "
            f"AND regexp_full_match({{v}}, '{_NUMBER_RE}'))",
        )
    if target == "date":
        return _Conv(
            value,
            "TRY_CAST({v} AS DATE)",
            f"{{v}} IS NOT NULL AND ({{p}} IS NULL OR NOT regexp_full_match({{v}}, '{_DATE_RE}'))",
        )
    # timestamp: parse with an offset where given (TIMESTAMPTZ, session zone UTC for values
    # without one), then drop the zone: the result is naive UTC.
    return _Conv(
        value,
        "CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)",
        f"{{v}} IS NOT NULL AND ({{p}} IS NULL OR NOT regexp_full_match({{v}}, '{_TIMESTAMP_RE}'))",
    )


_TYPE_WORDS = {
    "integer": "not an integer",
    "number": "not a number",
    "date": "not a date (expected YYYY-MM-DD)",
    "timestamp": "not an ISO 8601 timestamp",
}


def _values_relation(plan: _TablePlan, f: _SourceFile) -> tuple[str, dict[str, _Conv]]:
    """SELECT giving per present contract column ``v_<i>`` (raw) and ``p_<i>`` (parsed).

    Two layers (value, then parsed) so each conversion is written once and DuckDB computes
    the trimmed text once per row.
    """
    convs: dict[str, _Conv] = {}
    layer1 = [_RN]
    layer2 = [_RN]
    for i, col in enumerate(plan.table.columns):
        if col.name not in f.refs:
            continue
        c = _conv(col, f.refs[col.name], f.types.get(col.name, "VARCHAR"))
        convs[col.name] = c
        layer1.append(f"{c.value} AS v_{i}")
        layer2.append(f"v_{i}")
        layer2.append(f"{_fill(c.parsed, f'v_{i}')} AS p_{i}")
    for j, name in enumerate(plan.extras):
        if name in f.refs:
            expr = f"NULLIF(CAST({f.refs[name]} AS VARCHAR), '')"
        else:
            expr = "CAST(NULL AS VARCHAR)"
        layer1.append(f"{expr} AS x_{j}")
        layer2.append(f"x_{j}")
    sql = f"SELECT {', '.join(layer2)} FROM (SELECT {', '.join(layer1)} FROM {f.relation()})"
    return sql, convs


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@dataclass
class _Check:
    column: str
    predicate: str  # over the values relation
    shown: str  # SQL for the value to show
    message: str  # with {value}


@dataclass
class _KeyCheck:
    columns: tuple[str, ...]
    filter: str  # rows that take part
    exprs: list[str]  # parsed key expressions


def _validate_file(
    con: duckdb.DuckDBPyConnection, plan: _TablePlan, f: _SourceFile, problems: list[InputProblem]
) -> None:
    if not f.readable:
        return
    table = plan.table
    rel, convs = _values_relation(plan, f)
    idx = {c.name: i for i, c in enumerate(table.columns)}

    checks: list[_Check] = []
    for col in table.columns:
        if col.name not in convs:
            continue
        i = idx[col.name]
        c = convs[col.name]
        v, p = f"v_{i}", f"p_{i}"
        bad = _fill(c.bad, v, p) if c.bad else None
        shown = f"CAST({v} AS VARCHAR)"
        if col.required:
            empty = f"{v} IS NULL" if col.type != "string" else f"({v} IS NULL OR trim({v}) = '')"
            what = "key column" if col.name in table.key else "required column"
            checks.append(_Check(col.name, empty, shown, f"empty value in {what}"))
        if bad:
            checks.append(_Check(col.name, bad, shown, f"{_TYPE_WORDS[col.type]}: {{value}}"))
        if col.non_negative and col.type in ("integer", "number"):
            neg = f"{p} < 0" + (f" AND NOT ({bad})" if bad else "")
            checks.append(_Check(col.name, neg, shown, "negative value {value} (must be >= 0)"))

    keys = _key_checks(table, f, convs, idx)
    held = _quarantine_checks(plan, convs, idx)

    aggs = ["count(*)"]
    aggs += [f"count(*) FILTER (WHERE {c.predicate})" for c in checks]
    for k in keys:
        tup = "(" + ", ".join(k.exprs) + ")" if len(k.exprs) > 1 else k.exprs[0]
        # Surplus rows = rows - distinct keys, among the rows whose key is complete and valid.
        aggs.append(
            f"count(*) FILTER (WHERE {k.filter}) - count(DISTINCT CASE WHEN {k.filter} "
            f"THEN {tup} END)"
        )
    held_at = len(aggs)
    if held:
        f.quarantine_sql = " OR ".join(f"coalesce({c.predicate}, false)" for c in held)
        aggs.append(f"count(*) FILTER (WHERE {f.quarantine_sql})")
    # DuckDB decodes (and checks the UTF-8 of) only the columns a query reads: read every one,
    # or a bad byte in an unchecked text column would surface only while writing the warehouse.
    aggs += [f"count(v_{idx[name]})" for name in convs] + [
        f"count(x_{j})" for j in range(len(plan.extras))
    ]
    try:
        counts = con.execute(f"SELECT {', '.join(aggs)} FROM ({rel})").fetchone()
    except duckdb.Error as exc:
        problems.append(_unreadable(f, exc))
        return
    assert counts is not None
    f.rows = int(counts[0])
    check_counts = [int(n) for n in counts[1 : 1 + len(checks)]]
    key_counts = [int(n) for n in counts[1 + len(checks) : 1 + len(checks) + len(keys)]]
    if not any(check_counts) and not any(key_counts):
        if held and counts[held_at]:
            f.rows -= int(counts[held_at])
            _collect_quarantine(con, f, rel, held)
        return

    # Error path: fetch the first offending rows per column, then map them to lines.
    found: list[tuple[int, int, str, str, int | None]] = []  # (rn, order, column, msg, first rn)
    totals: dict[str, int] = {}
    shown_per_col: dict[str, int] = {}
    for order, (check, n) in enumerate(zip(checks, check_counts, strict=True)):
        if not n:
            continue
        totals[check.column] = totals.get(check.column, 0) + n
        room = MAX_PROBLEMS_PER_COLUMN - shown_per_col.get(check.column, 0)
        if room <= 0:
            continue
        rows = con.execute(
            f"SELECT {_RN}, {check.shown} FROM ({rel}) WHERE {check.predicate} "
            f"ORDER BY {_RN} LIMIT {room}"
        ).fetchall()
        for rn, value in rows:
            found.append(
                (int(rn), order, check.column, check.message.replace("{value}", _show(value)), None)
            )
        shown_per_col[check.column] = shown_per_col.get(check.column, 0) + len(rows)

    for order, (k, n) in enumerate(zip(keys, key_counts, strict=True), start=len(checks)):
        if not n:
            continue
        column = ", ".join(k.columns)
        totals[column] = totals.get(column, 0) + n
        names = [f"k{i}" for i in range(len(k.exprs))]
        sel = ", ".join(f"{e} AS {nm}" for e, nm in zip(k.exprs, names, strict=True))
        rows = con.execute(
            f"SELECT {_RN}, first_rn, {', '.join(names)} FROM ("
            f"  SELECT {_RN}, {', '.join(names)}, "
            f"    min({_RN}) OVER (PARTITION BY {', '.join(names)}) AS first_rn "
            f"  FROM (SELECT {_RN}, {sel} FROM ({rel}) WHERE {k.filter})"
            f") WHERE {_RN} > first_rn ORDER BY {_RN} LIMIT {MAX_PROBLEMS_PER_COLUMN}"
        ).fetchall()
        for row in rows:
            rn, first_rn, values = int(row[0]), int(row[1]), row[2:]
            desc = ", ".join(f"{c}={_show(v)}" for c, v in zip(k.columns, values, strict=True))
            found.append((rn, order, column, f"duplicate key {desc}", first_rn))
        shown_per_col[column] = len(rows)

    lines = _line_numbers(f, {rn for rn, *_ in found} | {r[4] for r in found if r[4]})
    unit = "line" if f.kind == "csv" else "row"
    for rn, _order, column, message, first_rn in sorted(found, key=lambda r: (r[0], r[1])):
        if first_rn is not None:
            message += f" (first on {unit} {lines.get(first_rn, first_rn)})"
        problems.append(InputProblem(f.display, lines.get(rn, rn), column, message))
    for column, total in totals.items():
        more = total - shown_per_col.get(column, 0)
        if more > 0:
            problems.append(
                InputProblem(f.display, None, column, f"... and {more:,} more problems not listed")
            )


def _quarantine_checks(
    plan: _TablePlan, convs: dict[str, _Conv], idx: dict[str, int]
) -> list[_Check]:
    """Rows that parse but cannot be believed: absurd amounts, dates in the future, values
    outside a column's allowed set, a deal closed before it was created."""
    table, out = plan.table, []
    for col in table.columns:
        if col.name not in convs:
            continue
        p, shown = f"p_{idx[col.name]}", f"CAST(v_{idx[col.name]} AS VARCHAR)"
        if col.type in ("integer", "number"):
            out.append(
                _Check(
                    col.name,
                    f"{p} > {ABSURD_VALUE:.0f}",
                    shown,
                    "absurd value {value} (over 10^12)",
                )
            )
        if col.not_future and plan.future_after is not None:
            cutoff = plan.future_after.isoformat()
            out.append(
                _Check(
                    col.name,
                    f"CAST({p} AS DATE) > DATE {_lit(cutoff)}",
                    shown,
                    f"in the future: {{value}} (after {cutoff})",
                )
            )
        if col.allowed:
            listed = ", ".join(_lit(a) for a in col.allowed)
            out.append(
                _Check(
                    col.name,
                    f"lower(trim({p})) NOT IN ({listed})",
                    shown,
                    f"unknown value {{value}} (allowed: {', '.join(col.allowed)})",
                )
            )
    for later, earlier in table.ordered:
        if later in convs and earlier in convs:
            pl, pe = f"p_{idx[later]}", f"p_{idx[earlier]}"
            out.append(
                _Check(
                    later,
                    f"{pl} < {pe}",
                    f"CAST(v_{idx[later]} AS VARCHAR)",
                    f"{{value}} is before {earlier}",
                )
            )
    return out


def _collect_quarantine(
    con: duckdb.DuckDBPyConnection, f: _SourceFile, rel: str, held: list[_Check]
) -> None:
    found: list[tuple[int, str, str, str]] = []
    for check in held:
        rows = con.execute(
            f"SELECT {_RN}, {check.shown} FROM ({rel}) WHERE coalesce({check.predicate}, false)"
        ).fetchall()
        found += [
            (int(rn), check.column, check.message.replace("{value}", _show(v)), str(v))
            for rn, v in rows
        ]
    lines = _line_numbers(f, {rn for rn, *_ in found})
    f.quarantined = sorted(
        (lines.get(rn, rn), column, problem, value) for rn, column, problem, value in found
    )


def _key_checks(
    table: RawTable, f: _SourceFile, convs: dict[str, _Conv], idx: dict[str, int]
) -> list[_KeyCheck]:
    """Key uniqueness checks that apply to this file (none if a key column is absent)."""

    def usable(cols: tuple[str, ...]) -> tuple[str, list[str]] | None:
        conds, exprs = [], []
        for name in cols:
            if name not in convs:
                return None
            i = idx[name]
            col = table.column(name)
            c = convs[name]
            if col.required:
                # Rows with an empty or bad key are reported already; do not pair them up.
                conds.append(f"p_{i} IS NOT NULL")
            if c.bad:
                conds.append(f"NOT ({_fill(c.bad, f'v_{i}', f'p_{i}')})")
            exprs.append(f"p_{i}")
        return (" AND ".join(conds) or "true"), exprs

    if table.name == "web_events":
        out = []
        if "event_id" in convs:
            i = idx["event_id"]
            out.append(_KeyCheck(("event_id",), f"p_{i} IS NOT NULL", [f"p_{i}"]))
            no_id = f"p_{i} IS NULL"
        else:
            no_id = "true"
        fallback = usable(_WEB_EVENTS_FALLBACK_KEY)
        if fallback:
            out.append(
                _KeyCheck(_WEB_EVENTS_FALLBACK_KEY, f"{no_id} AND {fallback[0]}", fallback[1])
            )
        return out
    usable_key = usable(table.key)
    return [_KeyCheck(table.key, usable_key[0], usable_key[1])] if usable_key else []


def _unreadable(f: _SourceFile, exc: duckdb.Error) -> InputProblem:
    """A file DuckDB could not read: find the line with Python's csv module where possible."""
    f.readable = False
    if f.kind == "csv":
        found = _csv_structure_problem(f)
        if found:
            return InputProblem(f.display, found[0], None, f"unreadable CSV: {found[1]}")
    return InputProblem(f.display, None, None, f"unreadable file: {_first_line(exc)}")


def _csv_records(f: _SourceFile, where: list[int] | None = None) -> Iterator[tuple[int, list[str]]]:
    """(physical start line, fields) of each data record, in DuckDB's record numbering.

    ``where[0]`` is set to the start line of the record being read, so a caller that catches
    a ``csv.Error`` knows where the broken record began.
    """
    with f.path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, strict=True)
        next(reader, None)  # header
        while True:
            start = reader.line_num + 1
            if where is not None:
                where[0] = start
            try:
                record = next(reader)
            except StopIteration:
                return
            # DuckDB skips blank lines, except in a one-column file where they are NULL rows.
            if not record and f.n_fields > 1:
                continue
            yield start, record


def _line_numbers(f: _SourceFile, rns: set[int]) -> dict[int, int]:
    """Map 1-based data-record numbers to physical CSV lines (Parquet: rows are rows)."""
    if f.kind != "csv" or not rns:
        return {rn: rn for rn in rns}
    out: dict[int, int] = {}
    last = max(rns)
    try:
        for rn, (start, _record) in enumerate(_csv_records(f), start=1):
            if rn in rns:
                out[rn] = start
            if rn >= last:
                break
    except (OSError, UnicodeDecodeError, csv.Error):
        pass  # DuckDB read it, so this should not happen; fall back to record numbers
    return out


def _csv_structure_problem(f: _SourceFile) -> tuple[int, str] | None:
    """First line that breaks RFC 4180 (bad quoting, wrong field count, bad UTF-8)."""
    # Bad UTF-8 first, line by line in binary, so the line number is exact.
    try:
        with f.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return lineno, f"not UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)"
    except OSError as exc:
        return 1, str(exc)
    where = [1]
    try:
        for start, record in _csv_records(f, where):
            if len(record) != f.n_fields:
                return start, f"{len(record)} fields where the header has {f.n_fields}"
    except csv.Error as exc:
        # csv reports the error where it gave up, which for an unterminated quote is the end
        # of the file; name the line where the broken record began instead.
        return where[0], f"bad quoting ({exc}) in the record starting on this line"
    return None


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write_warehouse(warehouse: Path, plans: list[_TablePlan], stamp: datetime) -> None:
    """Replace or extend every raw table in one transaction; on any error nothing changes."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(str(warehouse))
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            con.execute(_LOADED_DDL)
            con.execute(_LOAD_LOG_DDL)
            con.execute(_QUARANTINE_DDL)
            for plan in plans:
                if plan.mode == "replace":
                    _create_table(con, plan)
                    con.execute(
                        "DELETE FROM raw._quarantine WHERE table_name = ?", [plan.table.name]
                    )
                elif plan.mode == "append":
                    _add_new_extras(con, plan)
                for f in plan.new_files:
                    _insert_file(con, plan, f, stamp)
                _remember_files(con, plan, stamp)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()


def _target(plan: _TablePlan) -> str:
    return f"raw.{_q(plan.table.name)}"


def _create_table(con: duckdb.DuckDBPyConnection, plan: _TablePlan) -> None:
    defs = [f"{_q(c.name)} {DUCKDB_TYPES[c.type]}" for c in plan.table.columns]
    defs += [f"{_q(x)} varchar" for x in plan.extras]
    defs += [f"{_q(m)} {t}" for m, t in META_COLUMNS.items()]
    con.execute(f"CREATE OR REPLACE TABLE {_target(plan)} ({', '.join(defs)})")


def _add_new_extras(con: duckdb.DuckDBPyConnection, plan: _TablePlan) -> None:
    """A new file may bring an extra column the loaded files did not have: keep it too."""
    have = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ?",
            [plan.table.name],
        ).fetchall()
    }
    for extra in plan.extras:
        if extra not in have:
            con.execute(f"ALTER TABLE {_target(plan)} ADD COLUMN {_q(extra)} varchar")


def _insert_file(
    con: duckdb.DuckDBPyConnection, plan: _TablePlan, f: _SourceFile, stamp: datetime
) -> None:
    table = plan.table
    rel, convs = _values_relation(plan, f)
    select = []
    for i, col in enumerate(table.columns):
        value = f"p_{i}" if col.name in convs else f"CAST(NULL AS {DUCKDB_TYPES[col.type]})"
        select.append(f"{value} AS {_q(col.name)}")
    select += [f"x_{j} AS {_q(x)}" for j, x in enumerate(plan.extras)]
    meta = ["CAST(? AS VARCHAR)", "CAST(? AS INTEGER)", _RN, "CAST(? AS TIMESTAMP)"]
    select += [f"{value} AS {_q(m)}" for value, m in zip(meta, META_COLUMNS, strict=True)]
    keep = f" WHERE NOT ({f.quarantine_sql})" if f.quarantined and f.quarantine_sql else ""
    # BY NAME: an appended table may have its columns in another order than this plan's.
    con.execute(
        f"INSERT INTO {_target(plan)} BY NAME SELECT {', '.join(select)} FROM ({rel}){keep}",
        [f.rel, f.index, stamp],
    )
    if f.quarantined:
        con.executemany(
            "INSERT INTO raw._quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[table.name, f.rel, *q, stamp] for q in f.quarantined],
        )


def _remember_files(con: duckdb.DuckDBPyConnection, plan: _TablePlan, stamp: datetime) -> None:
    name = plan.table.name
    con.execute("DELETE FROM raw._loaded_files WHERE table_name = ?", [name])
    if plan.files:
        con.executemany(
            "INSERT INTO raw._loaded_files VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[name, f.rel, f.index, f.size, f.mtime_ns, f.rows, stamp] for f in plan.files],
        )
    con.execute(
        "INSERT INTO raw._load_log VALUES (?, ?, ?, ?, ?)",
        [stamp, name, plan.mode, len(plan.new_files), sum(f.rows for f in plan.new_files)],
    )


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _connect(database: str, *, temp_directory: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(database) if database == ":memory:" else _connect_warehouse(database)
    # Values without an offset are UTC, and TIMESTAMPTZ -> TIMESTAMP must yield UTC.
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = {_lit(duckdb_memory_limit())}")
    # Row numbers rely on order-preserving scans; this is DuckDB's default, made explicit.
    con.execute("SET preserve_insertion_order = true")
    if temp_directory is not None:
        con.execute(f"SET temp_directory = {_lit(temp_directory)}")
    return con


def _connect_warehouse(database: str) -> duckdb.DuckDBPyConnection:
    from dagster_project.warehouse.connection import connect_when_free

    return connect_when_free(Path(database), wait_seconds=lock_wait())


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _utc_naive(ts: datetime) -> datetime:
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def _fill(template: str, v: str, p: str = "") -> str:
    """Put column names into a _Conv template (not str.format: regexes contain braces)."""
    return template.replace("{v}", v).replace("{p}", p)


def _q(ident: str) -> str:
    """Quote an SQL identifier."""
    return '"' + ident.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """Quote an SQL string literal (for table-function arguments that take no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _path_lit(path: Path) -> str:
    """A file path as a literal for read_csv/read_parquet, which take `*`, `?` and `[` as glob
    patterns: `x[1].csv` would read `x1.csv`. A one-character class `[c]` matches c itself."""
    return _lit("".join(f"[{c}]" if c in "*?[" else c for c in str(path)))


def _show(value: object) -> str:
    if value is None:
        return "(empty)"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return text


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:3]) if lines else type(exc).__name__
