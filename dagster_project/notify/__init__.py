"""Tells owners when a decision-queue item opens, escalates or is overdue, and people when a run
fails: through the notifiers the environment configures (see notify.config), each event once.

The flow per call: under a lock file, read the queue and the delivered keys (a short read-only
warehouse connection), send what each notifier has not delivered (no connection held), and
append each attempt to firewatch_state.notification_log right after it (a short write). A
failed delivery is logged, recorded as failed and due again on the next call; nothing here
raises into the pipeline, and every error text passes through the redaction of the credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from dagster_project.notify.channels import DeliveryError, Notifier, build_notifiers
from dagster_project.notify.config import NotifyConfigError, load_config, redact
from dagster_project.notify.events import (
    NotificationEvent,
    queue_events,
    queue_items,
    run_failed_event,
)
from dagster_project.notify.store import already_sent, delivery_lock, record
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import read_queue
from dagster_project.warehouse.engine import connect
from dagster_project.warehouse.target import Location

__all__ = ["NotifyReport", "notify_queue", "notify_run_failure"]

logger = logging.getLogger(__name__)

# a failed run's hook should not sit for the warehouse's full ten-minute lock wait
_FAILURE_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class NotifyReport:
    """Counts of one call; `errors` are redacted, so the report may go into Dagster metadata."""

    notifiers: tuple[str, ...] = ()
    due: int = 0  # (notifier, event) pairs not yet delivered when the call began
    delivered: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Setup:
    notifiers: tuple[Notifier, ...]
    secrets: tuple[str, ...]
    errors: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.notifiers)

    def report(self, error: str) -> NotifyReport:
        logger.warning("notifications skipped: %s", error)
        return NotifyReport(notifiers=self.names, errors=(*self.errors, error))


def _setup(env: Mapping[str, str] | None, notifiers: Sequence[Notifier] | None) -> _Setup:
    try:
        config = load_config(env)
    except NotifyConfigError as error:
        # already redacted by load_config
        logger.warning("notification settings ignored: %s", error)
        return _Setup(notifiers=tuple(notifiers or ()), secrets=(), errors=(str(error),))
    chosen = build_notifiers(config) if notifiers is None else notifiers
    return _Setup(notifiers=tuple(chosen), secrets=config.secrets)


def _attempt(notifier: Notifier, event: NotificationEvent, secrets: Sequence[str]) -> str | None:
    """None when the server accepted the event, else the redacted reason."""
    try:
        notifier.send(event)
    except DeliveryError as error:
        failure = str(error)
    except Exception as error:  # a custom notifier's bug must not stop the others either
        failure = f"{type(error).__name__}: {error}"
    else:
        return None
    return redact(failure, secrets)


def _send(
    setup: _Setup,
    plan: list[tuple[Notifier, NotificationEvent]],
    store: Path | None,
    *,
    wait_seconds: float = 600.0,
) -> NotifyReport:
    delivered, failed, errors = 0, 0, list(setup.errors)
    for notifier, event in plan:
        failure = _attempt(notifier, event, setup.secrets)
        if failure is None:
            delivered += 1
            logger.info("%s delivered %s", notifier.name, event.key)
        else:
            failed += 1
            errors.append(f"{notifier.name} {event.key}: {failure}")
            logger.warning("%s could not deliver %s: %s", notifier.name, event.key, failure)
        if store is None:
            continue
        try:
            with open_warehouse(store, wait_seconds=wait_seconds) as con:
                record(con, notifier.name, event, ok=failure is None, error=failure)
        except (duckdb.Error, OSError) as error:
            # unrecorded deliveries would be sent again next time: stop before there are more
            message = redact(f"could not record deliveries: {error}", setup.secrets)
            logger.error("%s", message)
            errors.append(message)
            break
    return NotifyReport(
        notifiers=setup.names,
        due=len(plan),
        delivered=delivered,
        failed=failed,
        errors=tuple(errors),
    )


def notify_queue(
    warehouse: Path,
    today: date,
    *,
    env: Mapping[str, str] | None = None,
    notifiers: Sequence[Notifier] | None = None,
    queue_from: Location | None = None,
) -> NotifyReport:
    """Sends the queue's due events (notify.events) through every notifier, each key once.

    `env` defaults to the process environment; `notifiers`, when given, replaces the ones it
    configures. The deliveries are recorded in the DuckDB `warehouse`; the queue is read there
    too, or from `queue_from` (the PostgreSQL database, whose DuckDB staging file keeps the
    record). Never raises for delivery, configuration or warehouse trouble: see the report.
    """
    setup = _setup(env, notifiers)
    if not setup.notifiers:
        return NotifyReport(errors=setup.errors)
    try:
        with delivery_lock(warehouse):
            with connect(queue_from or warehouse, read_only=True) as wh:
                items = queue_items(read_queue(wh))
            with open_warehouse(warehouse, read_only=True) as con:
                sent = already_sent(con)
            plan = [
                (notifier, event)
                for notifier in setup.notifiers
                for event in queue_events(items, sent.get(notifier.name, set()), today)
            ]
            return _send(setup, plan, warehouse)
    except Exception as error:  # before any send (_send catches its own): the pipeline goes on
        return setup.report(redact(f"{type(error).__name__}: {error}", setup.secrets))


def notify_run_failure(
    job_name: str,
    run_id: str,
    message: str,
    *,
    env: Mapping[str, str] | None = None,
    warehouse: Path | None = None,
    notifiers: Sequence[Notifier] | None = None,
) -> NotifyReport:
    """Tells the default recipients (and the webhook) that a run failed, once per run id.

    With an existing `warehouse` the delivery is recorded there and not repeated; without one,
    or when it cannot be read, the failure is sent anyway: better twice than not at all.
    """
    setup = _setup(env, notifiers)
    if not setup.notifiers:
        return NotifyReport(errors=setup.errors)
    event = run_failed_event(job_name, run_id, redact(message, setup.secrets))
    plan = [(notifier, event) for notifier in setup.notifiers]
    if warehouse is None or not warehouse.exists():
        return _send(setup, plan, None)
    try:
        with delivery_lock(warehouse, wait_seconds=_FAILURE_WAIT_SECONDS):
            with open_warehouse(
                warehouse, read_only=True, wait_seconds=_FAILURE_WAIT_SECONDS
            ) as con:
                sent = already_sent(con)
            due = [(n, e) for n, e in plan if e.key not in sent.get(n.name, set())]
            return _send(setup, due, warehouse, wait_seconds=_FAILURE_WAIT_SECONDS)
    except (duckdb.Error, OSError, TimeoutError) as error:
        logger.warning(
            "run failure sent without the delivery record: %s",
            redact(f"{type(error).__name__}: {error}", setup.secrets),
        )
        return _send(setup, plan, None)
