"""Alerts, the decision log and the decision queue in the warehouse.

The log (schema `firewatch_state`) is written only here and only by appending: dbt never manages it,
so neither a re-run nor `dbt build --full-refresh` can touch what people entered. `alerts` and
`decision_queue` (the public tables of the contract, docs/contract.md) are rebuilt from it in one
transaction with the rest of the night's state.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from dagster_project.divergence.episodes import Alert
from dagster_project.divergence.queue import (
    LogEntry,
    QueueError,
    QueueItem,
    build_queue,
    check_action,
)
from dagster_project.warehouse.engine import Connection, as_warehouse

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

    from dagster_project.warehouse.engine import Warehouse

_ALERTS_DDL = """
create table if not exists {marts}.alerts (
    alert_id varchar primary key, rule_id varchar, leading_metric varchar,
    outcome_metric varchar, dimension varchar, dimension_value varchar, window_start date,
    window_end date, leading_change double precision, outcome_change double precision,
    severity varchar,
    explanation varchar, evidence varchar, first_detected_at date, last_detected_at date,
    status varchar, cleared_at date, owner varchar, question varchar
)"""
_LOG_DDL = """
create table if not exists firewatch_state.decision_log (
    entry_id bigint primary key, decision_id varchar not null, action varchar not null,
    actor varchar not null, entered_at timestamp not null, text varchar, snooze_until date
)"""
_QUEUE_DDL = """
create table if not exists {marts}.decision_queue (
    decision_id varchar primary key, alert_id varchar, rule_id varchar, dimension_value varchar,
    owner varchar, question varchar, status varchar, opened_at date, due_at date,
    decision varchar, decided_by varchar, decided_at timestamp, note varchar,
    snoozed_until date, severity varchar, alert_ids varchar, affected varchar
)"""
# The night the queue was last rebuilt for: every date of the queue (opened, due, overdue,
# snoozed until) is in the data's nights, so a person's snooze is judged on the same clock.
_NIGHT_DDL = """
create table if not exists firewatch_state.queue_night (night date not null)"""


def ensure_tables(con: Connection) -> None:
    wh = as_warehouse(con)
    wh.execute("create schema if not exists firewatch_state")
    for ddl in (_ALERTS_DDL, _LOG_DDL, _QUEUE_DDL, _NIGHT_DDL):
        wh.execute(ddl)
    # Queues written before one decision covered a cause's alerts: add the columns in place.
    for column in ("alert_ids", "affected"):
        wh.execute(f"alter table {{marts}}.decision_queue add column if not exists {column} text")


def _frame(rows: list, cls: type) -> pd.DataFrame:
    import pandas as pd

    names = [f.name for f in fields(cls)]
    return pd.DataFrame([asdict(r) for r in rows], columns=names)


def read_alerts(con: Connection) -> list[Alert]:
    wh = as_warehouse(con)
    if not wh.table_exists("{marts}", "alerts"):
        return []
    names = [f.name for f in fields(Alert)]
    rows = wh.rows(f"select {', '.join(names)} from {{marts}}.alerts")
    return [Alert(**dict(zip(names, row, strict=True))) for row in rows]


def read_log(con: Connection) -> list[LogEntry]:
    wh = as_warehouse(con)
    if not wh.table_exists("firewatch_state", "decision_log"):
        return []
    names = [f.name for f in fields(LogEntry)]
    rows = wh.rows(f"select {', '.join(names)} from firewatch_state.decision_log order by entry_id")
    return [LogEntry(**dict(zip(names, row, strict=True))) for row in rows]


def read_queue(con: Connection) -> pd.DataFrame:
    wh = as_warehouse(con)
    if not wh.table_exists("{marts}", "decision_queue"):
        return _frame([], QueueItem)
    return wh.frame("select * from {marts}.decision_queue order by opened_at, decision_id")


def _replace(wh: Warehouse, table: str, frame: pd.DataFrame) -> None:
    wh.execute(f"delete from {table}")
    wh.append(table, frame)


def save_night(con: Connection, alerts: list[Alert], today: date) -> None:
    """Writes tonight's alerts and the queue rebuilt from them and the log, all or nothing."""
    wh = as_warehouse(con)
    ensure_tables(wh)
    with wh.transaction():
        _replace(wh, "{marts}.alerts", _frame(alerts, Alert))
        queue = build_queue(alerts, read_log(wh), today)
        _replace(wh, "{marts}.decision_queue", _frame(queue, QueueItem))
        wh.execute("delete from firewatch_state.queue_night")
        wh.execute("insert into firewatch_state.queue_night values (?)", [today])


def queue_night(con: Connection) -> date | None:
    """The night the queue is as of (the last nightly run's), None before the first one."""
    wh = as_warehouse(con)
    if not wh.table_exists("firewatch_state", "queue_night"):
        return None
    rows = wh.rows("select max(night) from firewatch_state.queue_night")
    return rows[0][0] if rows else None


# Actions whose text is the record itself, with the CLI flag that carries it.
TEXT_FLAGS = {"decide": "--decision", "dismiss": "--reason"}


def record_action(
    con: Connection,
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
    wh = as_warehouse(con)
    ensure_tables(wh)
    with wh.transaction():
        # (the night and the alerts read inside the transaction: on PostgreSQL a nightly run
        # may commit a new night between two people's actions)
        today = today or queue_night(wh) or date.today()
        alerts = read_alerts(wh)
        log = read_log(wh)
        items = {i.decision_id: i for i in build_queue(alerts, log, today)}
        if decision_id not in items:
            raise QueueError(f"unknown decision id {decision_id!r}: see `firewatch queue`")
        check_action(items[decision_id], action)
        if action == "snooze" and (snooze_until is None or snooze_until <= today):
            raise QueueError(
                f"--until must be a date after the queue's night, {today} (queue dates are "
                "in the data's nights)"
            )
        entry_id = wh.rows(
            "select coalesce(max(entry_id), 0) + 1 from firewatch_state.decision_log"
        )[0][0]
        entered_at = (now or datetime.now(UTC)).replace(tzinfo=None)
        wh.execute(
            "insert into firewatch_state.decision_log values (?, ?, ?, ?, ?, ?, ?)",
            [entry_id, decision_id, action, actor.strip(), entered_at, text, snooze_until],
        )
        queue = build_queue(alerts, read_log(wh), today)
        _replace(wh, "{marts}.decision_queue", _frame(queue, QueueItem))
    return next(i for i in queue if i.decision_id == decision_id)
