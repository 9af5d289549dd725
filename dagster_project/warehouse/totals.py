"""The control totals of each accepted night, `firewatch_state.night_totals`: what the night
guard (runtime/guard.py) holds tonight's totals against. Written only for a night it accepted;
dbt never manages the table, so a full refresh keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from dagster_project.warehouse.engine import Connection, as_warehouse

_DDL = """
create table if not exists firewatch_state.night_totals (
    night date not null, metric_id varchar not null, total double precision not null,
    accepted_drop boolean not null, recorded_at timestamp not null,
    primary key (night, metric_id)
)"""


def history_totals(con: Connection, as_of: date, metric_ids: Sequence[str]) -> dict[str, float]:
    """Each metric's sum over every day up to `as_of` (metric_series, day grain, in total); a
    metric without a single row is left out."""
    rows = as_warehouse(con).rows(
        "select metric_id, sum(numerator) from {marts}.metric_series where grain = 'day' "
        "and dimension = 'total' and period_start <= ? and metric_id in (select unnest(?)) "
        "group by metric_id",
        [as_of, list(metric_ids)],
    )
    return {metric_id: float(total) for metric_id, total in rows if total is not None}


def last_accepted(con: Connection, before: date) -> tuple[date, dict[str, float]] | None:
    """The latest accepted night before `before` and its totals; None when there is none (a
    re-run of a night is held against the night before it, never against itself)."""
    wh = as_warehouse(con)
    if not wh.table_exists("firewatch_state", "night_totals"):
        return None
    [(night,)] = wh.rows(
        "select max(night) from firewatch_state.night_totals where night < ?", [before]
    )
    if night is None:
        return None
    rows = wh.rows(
        "select metric_id, total from firewatch_state.night_totals where night = ?", [night]
    )
    return night, dict(rows)


def record_totals(
    con: Connection,
    night: date,
    totals: Mapping[str, float],
    *,
    accepted_drop: bool,
) -> None:
    """Replaces the night's totals (a re-run of it records its own again), in one transaction."""
    wh = as_warehouse(con)
    wh.execute("create schema if not exists firewatch_state")
    wh.execute(_DDL)
    now = datetime.now(UTC).replace(tzinfo=None)
    with wh.transaction():
        wh.execute("delete from firewatch_state.night_totals where night = ?", [night])
        for metric, total in totals.items():
            wh.execute(
                "insert into firewatch_state.night_totals values (?, ?, ?, ?, ?)",
                [night, metric, total, accepted_drop, now],
            )
