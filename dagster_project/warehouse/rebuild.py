"""When the incremental dbt models must be rebuilt from scratch instead of from a lookback.

The loader replaces a raw table (rather than appending new files) when a file already loaded
changed, vanished or a new one sorts before it: then rows older than any lookback may differ,
and only a full rebuild is right. The loader notes each load in `raw._load_log`; this module
notes in `firewatch_state.dbt_builds` which load each successful build of the incremental
models had seen, so a replace is followed by exactly one full rebuild, even when the run that
loaded it failed before dbt.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dagster_project.warehouse.connection import open_warehouse, table_exists

# The raw tables the incremental models read (see dbt macros/incremental.sql).
INCREMENTAL_SOURCES = ("web_events", "ads_daily")

_BUILDS_DDL = """
create table if not exists firewatch_state.dbt_builds (
    finished_at timestamp, seen_load_at timestamp, full_refresh boolean
)"""


def needs_full_rebuild(warehouse: Path) -> bool:
    if not warehouse.exists():
        return False
    with open_warehouse(warehouse, read_only=True) as con:
        if not table_exists(con, "raw", "_load_log"):
            return False
        sources = list(INCREMENTAL_SOURCES)
        (replaced,) = con.execute(
            "select max(loaded_at) from raw._load_log where mode = 'replace' "
            "and table_name in (select unnest(?))",
            [sources],
        ).fetchone()
        if replaced is None:
            return False
        if not table_exists(con, "firewatch_state", "dbt_builds"):
            return True
        (rebuilt,) = con.execute(
            "select max(seen_load_at) from firewatch_state.dbt_builds where full_refresh"
        ).fetchone()
    return rebuilt is None or replaced > rebuilt


def record_build(warehouse: Path, *, full_refresh: bool) -> None:
    """Called after dbt built the incremental models successfully."""
    with open_warehouse(warehouse) as con:
        con.execute("create schema if not exists firewatch_state")
        con.execute(_BUILDS_DDL)
        seen = None
        if table_exists(con, "raw", "_load_log"):
            (seen,) = con.execute("select max(loaded_at) from raw._load_log").fetchone()
        con.execute(
            "insert into firewatch_state.dbt_builds values (?, ?, ?)",
            [datetime.now(UTC).replace(tzinfo=None), seen, full_refresh],
        )
