"""The control totals of each accepted night, `firewatch_state.night_totals`: what the night
guard (runtime/guard.py) holds tonight's totals against. Written only for a night it accepted;
dbt never manages the table, so a full refresh keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import duckdb

from dagster_project.warehouse.connection import table_exists

_DDL = """
create table if not exists firewatch_state.night_totals (
    night date not null, metric_id varchar not null, total double not null,
    accepted_drop boolean not null, recorded_at timestamp not null,
    primary key (night, metric_id)
)"""


def history_totals(
    con: duckdb.DuckDBPyConnection, as_of: date, metric_ids: Sequence[str]
) -> dict[str, float]:
    """Each metric's sum over every day up to `as_of` (metric_series, day grain, in total); a
    metric without a single row is left out."""
    rows = con.execute(
        "select metric_id, sum(numerator) from main.metric_series where grain = 'day' "
        "and dimension = 'total' and period_start <= ? and metric_id in (select unnest(?)) "
        "group by metric_id",
        [as_of, list(metric_ids)],
    ).fetchall()
    return {metric_id: float(total) for metric_id, total in rows if total is not None}


def last_accepted(
    con: duckdb.DuckDBPyConnection, before: date
) -> tuple[date, dict[str, float]] | None:
    """The latest accepted night before `before` and its totals; None when there is none (a
    re-run of a night is held against the night before it, never against itself)."""
    if not table_exists(con, "firewatch_state", "night_totals"):
        return None
    (night,) = con.execute(
        "select max(night) from firewatch_state.night_totals where night < ?", [before]
    ).fetchone()
    if night is None:
        return None
    rows = con.execute(
        "select metric_id, total from firewatch_state.night_totals where night = ?", [night]
    ).fetchall()
    return night, dict(rows)


def record_totals(
    con: duckdb.DuckDBPyConnection,
    night: date,
    totals: Mapping[str, float],
    *,
    accepted_drop: bool,
) -> None:
    """Replaces the night's totals (a re-run of it records its own again), in one transaction."""
    con.execute("create schema if not exists firewatch_state")
    con.execute(_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        con.execute("delete from firewatch_state.night_totals where night = ?", [night])
        rows = [(night, metric, total, accepted_drop, now) for metric, total in totals.items()]
        if rows:
            con.executemany("insert into firewatch_state.night_totals values (?, ?, ?, ?, ?)", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
