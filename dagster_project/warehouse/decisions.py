"""Alerts, the decision log and the decision queue in the warehouse.

The log (schema `firewatch_state`) is written only here and only by appending: dbt never manages it,
so neither a re-run nor `dbt build --full-refresh` can touch what people entered. `alerts` and
`decision_queue` (the public tables of the contract, docs/contract.md) are rebuilt from it in one
transaction with the rest of the night's state. On Spark there are no transactions: each table is
replaced whole, one after the other, and `decision_queue`, derived from the others, is written
last (`spark.SparkWarehouse.transaction` says what a crash between two writes leaves).
"""

from __future__ import annotations

from dataclasses import asdict, astuple, fields
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
from dagster_project.warehouse.ddl import create_table, dataclass_columns
from dagster_project.warehouse.engine import Connection, as_warehouse

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd


ALERTS = "{marts}.alerts"
QUEUE = "{marts}.decision_queue"
LOG = "firewatch_state.decision_log"
# The night the queue was last rebuilt for: every date of the queue (opened, due, overdue,
# snoozed until) is in the data's nights, so a person's snooze is judged on the same clock.
NIGHT = "firewatch_state.queue_night"


def ensure_tables(con: Connection) -> None:
    wh = as_warehouse(con)
    wh.execute("create schema if not exists firewatch_state")
    create_table(wh, ALERTS, dataclass_columns(Alert), key="alert_id")
    required = ("decision_id", "action", "actor", "entered_at")
    create_table(wh, LOG, dataclass_columns(LogEntry), key="entry_id", required=required)
    create_table(wh, QUEUE, dataclass_columns(QueueItem), key="decision_id")
    create_table(wh, NIGHT, [("night", date)], required=("night",))
    # Queues written before one decision covered a cause's alerts: add the columns in place.
    for column in ("alert_ids", "affected"):
        wh.add_column(QUEUE, column, str)


def _frame(rows: list, cls: type) -> pd.DataFrame:
    import pandas as pd

    names = [f.name for f in fields(cls)]
    return pd.DataFrame([asdict(r) for r in rows], columns=names)


def read_alerts(con: Connection) -> list[Alert]:
    wh = as_warehouse(con)
    if not wh.table_exists("{marts}", "alerts"):
        return []
    names = [f.name for f in fields(Alert)]
    rows = wh.rows(f"select {', '.join(names)} from {ALERTS}")
    return [Alert(**dict(zip(names, row, strict=True))) for row in rows]


def read_log(con: Connection) -> list[LogEntry]:
    wh = as_warehouse(con)
    if not wh.table_exists("firewatch_state", "decision_log"):
        return []
    names = [f.name for f in fields(LogEntry)]
    rows = wh.rows(f"select {', '.join(names)} from {LOG} order by entry_id")
    return [LogEntry(**dict(zip(names, row, strict=True))) for row in rows]


def read_queue(con: Connection) -> pd.DataFrame:
    wh = as_warehouse(con)
    if not wh.table_exists("{marts}", "decision_queue"):
        return _frame([], QueueItem)
    return wh.frame(f"select * from {QUEUE} order by opened_at, decision_id")


def save_night(con: Connection, alerts: list[Alert], today: date) -> None:
    """Writes tonight's alerts, the night and the queue rebuilt from them and the log: all or
    nothing, or on Spark the derived queue last (a crash before it leaves last night's queue
    until the next run or action rebuilds it; the log is not written here at all)."""
    import pandas as pd

    wh = as_warehouse(con)
    ensure_tables(wh)
    with wh.transaction():
        wh.overwrite(ALERTS, _frame(alerts, Alert))
        wh.overwrite(NIGHT, pd.DataFrame({"night": [today]}))
        queue = build_queue(alerts, read_log(wh), today)
        wh.overwrite(QUEUE, _frame(queue, QueueItem))


def queue_night(con: Connection) -> date | None:
    """The night the queue is as of (the last nightly run's), None before the first one."""
    wh = as_warehouse(con)
    if not wh.table_exists("firewatch_state", "queue_night"):
        return None
    rows = wh.rows(f"select max(night) from {NIGHT}")
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
    """Appends one person's action to the log and rebuilds the queue, in one transaction (on
    Spark one after the other: a crash between them keeps the action, in a queue one step
    behind until the next run or action)."""
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
        entry = LogEntry(
            entry_id=wh.rows(f"select coalesce(max(entry_id), 0) + 1 from {LOG}")[0][0],
            decision_id=decision_id,
            action=action,
            actor=actor.strip(),
            entered_at=(now or datetime.now(UTC)).replace(tzinfo=None),
            text=text,
            snooze_until=snooze_until,
        )
        wh.insert(LOG, astuple(entry))  # the table's columns are LogEntry's fields, in order
        queue = build_queue(alerts, [*log, entry], today)
        wh.overwrite(QUEUE, _frame(queue, QueueItem))
    return next(i for i in queue if i.decision_id == decision_id)
