"""The night a run is as of when nobody names one, decided by one rule (`default_night`).

The rule: the last day that both required sources, ads and web, have data for; a stray web
event just after midnight does not make a near-empty next day the night. With neither source
(CRM-only data, as the Olist test set has) the last day anything happened in the CRM is used.
Days after tomorrow (UTC) never count: a mistyped future date must not move the run there.

It is applied to the landing folder before a run, to name the run's partition
(`landing_night`), and to the raw tables after every load (`store_night` writes
`raw._run_night`, which dbt's `int_run_context` reads when no as-of date is given), so the
Python and the SQL never decide the night each their own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from dagster_project.ingest.contract import FUTURE_SLACK_DAYS
from dagster_project.ingest.plan import file_kind, landing_files
from dagster_project.ingest.sql import connect, ident, path_lit

# Where each table says when something happened.
ACTIVITY_COLUMNS = (
    ("ads_daily", "date"),
    ("web_events", "event_timestamp"),
    ("crm_contacts", "created_at"),
    ("crm_lifecycle_events", "entered_at"),
    ("crm_deals", "closed_at"),
)
# Column types that cast to a date as they are (DuckDB's names in information_schema)
DATED_TYPES = frozenset({"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"})
# A day is complete when every one of these has it (each present source, that is).
REQUIRED_SOURCES = ("ads_daily", "web_events")

NIGHT_DDL = """
CREATE OR REPLACE TABLE raw._run_night (
    night DATE, ads_last_day DATE, web_last_day DATE, crm_last_day DATE, decided_at TIMESTAMP
)"""


def default_night(last_days: Mapping[str, date | None]) -> date | None:
    """The night from each table's last day of data (None: the table has none)."""
    required = [day for table in REQUIRED_SOURCES if (day := last_days.get(table))]
    if required:
        return min(required)
    return max((day for day in last_days.values() if day), default=None)


def _day(column: str) -> str:
    """A column's day whatever its type (raw tables are typed, landing files read as text)."""
    return f"TRY_CAST(left(CAST({ident(column)} AS VARCHAR), 10) AS DATE)"


def tomorrow() -> date:
    """The last day that still counts as data (a day of slack for time zones ahead of UTC)."""
    return datetime.now(UTC).date() + timedelta(days=FUTURE_SLACK_DAYS)


def landing_last_days(raw_dir: Path) -> dict[str, date | None]:
    """Each table's last day in the landing folder (unreadable files and absent optional
    columns count as no data: the load says what is wrong with them)."""
    last: dict[str, date | None] = {}
    con = connect(":memory:")
    try:
        for table, column in ACTIVITY_COLUMNS:
            files = landing_files(Path(raw_dir) / table)
            for kind in ("csv", "parquet"):
                chosen = [path_lit(p) for p in files if file_kind(p) == kind]
                if not chosen:
                    continue
                listed = f"[{', '.join(chosen)}]"
                source = (
                    f"read_csv({listed}, all_varchar = true, header = true, union_by_name = true)"
                    if kind == "csv"
                    else f"read_parquet({listed}, union_by_name = true)"
                )
                day = _parquet_latest(con, listed, column) if kind == "parquet" else None
                if day is None:
                    day = _latest(con, source, column)
                if day is not None and (last.get(table) is None or day > last[table]):
                    last[table] = day
    finally:
        con.close()
    return last


def landing_night(raw_dir: Path) -> date | None:
    """The night a run over this landing folder is for; None when nothing can be read."""
    return default_night(landing_last_days(raw_dir))


def _parquet_latest(con: duckdb.DuckDBPyConnection, listed: str, column: str) -> date | None:
    """The last day from Parquet files' own statistics (each row group's exact maximum),
    without reading a row: a large year's web events are 22 M rows. None when the statistics
    cannot say: a text column, a row group without them, or a last day after tomorrow, which
    only reading the rows can set aside."""
    try:
        complete, latest = con.execute(
            "SELECT bool_and(TRY_CAST(stats_max_value AS TIMESTAMP) IS NOT NULL "
            "AND type <> 'BYTE_ARRAY' AND max_is_exact), "
            "CAST(max(TRY_CAST(stats_max_value AS TIMESTAMP)) AS DATE) "
            f"FROM parquet_metadata({listed}) WHERE path_in_schema = ?",
            [column],
        ).fetchone()
    except duckdb.Error:
        return None
    if not complete or latest is None or latest > tomorrow():
        return None
    return latest


def _latest(
    con: duckdb.DuckDBPyConnection, source: str, column: str, data_type: str = "VARCHAR"
) -> date | None:
    # A typed column (the loader's raw tables) is cast straight to a date: the text route of
    # `_day` formats every value first, which took seconds over a large year's 22 M events.
    day = f"CAST({ident(column)} AS DATE)" if data_type in DATED_TYPES else _day(column)
    try:
        (latest,) = con.execute(
            f"SELECT max(d) FROM (SELECT {day} AS d FROM {source}) WHERE d <= ?",
            [tomorrow()],
        ).fetchone()
    except duckdb.Error:
        return None  # unreadable, or an optional column absent
    return latest


def store_night(con: duckdb.DuckDBPyConnection, stamp: datetime) -> date | None:
    """Decide the night from the raw tables as loaded and keep it in ``raw._run_night``
    (inside the load's transaction, so it always matches the raw tables)."""
    types = {
        (table, column): data_type
        for table, column, data_type in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw'"
        ).fetchall()
    }
    last = {
        table: _latest(con, f"raw.{ident(table)}", column, types[(table, column)])
        for table, column in ACTIVITY_COLUMNS
        if (table, column) in types
    }
    night = default_night(last)
    crm = [day for table, day in last.items() if table.startswith("crm_") and day]
    con.execute(NIGHT_DDL)
    con.execute(
        "INSERT INTO raw._run_night VALUES (?, ?, ?, ?, ?)",
        [night, last.get("ads_daily"), last.get("web_events"), max(crm, default=None), stamp],
    )
    return night
