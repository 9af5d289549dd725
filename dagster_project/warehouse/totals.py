"""The control totals of each accepted night, `firewatch_state.night_totals`: what the night
guard (runtime/guard.py) holds tonight's totals against. Written only for a night it accepted;
dbt never manages the table, so a full refresh keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dagster_project.warehouse.ddl import create_table, dataclass_columns
from dagster_project.warehouse.engine import Connection, as_warehouse

TOTALS = "firewatch_state.night_totals"


@dataclass(frozen=True)
class NightTotal:
    """One metric's total over all history as of an accepted night."""

    night: date
    metric_id: str
    total: float
    accepted_drop: bool
    recorded_at: datetime


def history_totals(con: Connection, as_of: date, metric_ids: Sequence[str]) -> dict[str, float]:
    """Each metric's sum over every day up to `as_of` (metric_series, day grain, in total); a
    metric without a single row is left out."""
    if not metric_ids:
        return {}
    rows = as_warehouse(con).rows(
        "select metric_id, sum(numerator) from {marts}.metric_series where grain = 'day' "
        f"and dimension = 'total' and period_start <= ? and metric_id in "
        f"({', '.join('?' * len(metric_ids))}) group by metric_id",
        [as_of, *metric_ids],
    )
    return {metric_id: float(total) for metric_id, total in rows if total is not None}


def last_accepted(con: Connection, before: date) -> tuple[date, dict[str, float]] | None:
    """The latest accepted night before `before` and its totals; None when there is none (a
    re-run of a night is held against the night before it, never against itself)."""
    wh = as_warehouse(con)
    if not wh.table_exists("firewatch_state", "night_totals"):
        return None
    [(night,)] = wh.rows(f"select max(night) from {TOTALS} where night < ?", [before])
    if night is None:
        return None
    rows = wh.rows(f"select metric_id, total from {TOTALS} where night = ?", [night])
    return night, dict(rows)


def record_totals(
    con: Connection,
    night: date,
    totals: Mapping[str, float],
    *,
    accepted_drop: bool,
) -> None:
    """Replaces the night's totals (a re-run of it records its own again), in one transaction
    (on Spark: the table replaced whole, atomically)."""
    import pandas as pd

    wh = as_warehouse(con)
    wh.execute("create schema if not exists firewatch_state")
    columns = dataclass_columns(NightTotal)
    create_table(wh, TOTALS, columns, key=("night", "metric_id"), required=[n for n, _ in columns])
    now = datetime.now(UTC).replace(tzinfo=None)
    names = [name for name, _ in columns]
    tonight = pd.DataFrame(
        [(night, metric, float(total), accepted_drop, now) for metric, total in totals.items()],
        columns=names,
    )
    with wh.transaction():
        kept = wh.frame(f"select {', '.join(names)} from {TOTALS} where night <> ?", [night])
        frame = pd.concat([kept, tonight], ignore_index=True) if len(kept) else tonight
        wh.overwrite(TOTALS, frame)
