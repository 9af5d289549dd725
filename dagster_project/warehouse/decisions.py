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

import duckdb

from dagster_project.divergence.episodes import Alert
from dagster_project.divergence.queue import (
    LogEntry,
    QueueError,
    QueueItem,
    build_queue,
    check_action,
)
from dagster_project.warehouse.connection import table_exists

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
    snoozed_until date, severity varchar, alert_ids varchar, affected varchar
)"""
# The night the queue was last rebuilt for: every date of the queue (opened, due, overdue,
# snoozed until) is in the data's nights, so a person's snooze is judged on the same clock.
_NIGHT_DDL = """
create table if not exists firewatch_state.queue_night (night date not null)"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists firewatch_state")
    for ddl in (_ALERTS_DDL, _LOG_DDL, _QUEUE_DDL, _NIGHT_DDL):
        con.execute(ddl)
    # Queues written before one decision covered a cause's alerts: add the columns in place.
    for column in ("alert_ids", "affected"):
        con.execute(f"alter table main.decision_queue add column if not exists {column} varchar")


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
        con.execute("delete from firewatch_state.queue_night")
        con.execute("insert into firewatch_state.queue_night values (?)", [today])
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def queue_night(con: duckdb.DuckDBPyConnection) -> date | None:
    """The night the queue is as of (the last nightly run's), None before the first one."""
    if not table_exists(con, "firewatch_state", "queue_night"):
        return None
    row = con.execute("select max(night) from firewatch_state.queue_night").fetchone()
    return row[0] if row else None


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
    today = today or queue_night(con) or date.today()
    con.execute("begin transaction")
    try:
        alerts = read_alerts(con)
        log = read_log(con)
        items = {i.decision_id: i for i in build_queue(alerts, log, today)}
        if decision_id not in items:
            raise QueueError(f"unknown decision id {decision_id!r}: see `firewatch queue`")
        check_action(items[decision_id], action)
        if action == "snooze" and (snooze_until is None or snooze_until <= today):
            raise QueueError(
                f"--until must be a date after the queue's night, {today} (queue dates are "
                "in the data's nights)"
            )
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
