"""What has been delivered: the append-only `firewatch_state.notification_log` in the warehouse.

One row per delivery attempt and notifier. An event counts as delivered for a notifier once a row
with ok = true exists, and that row is written only after the server accepted the event; a
failed attempt is a row with ok = false (and the redacted error), and the event stays due. A lock
file beside the warehouse keeps two processes from both sending what neither has recorded yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from dagster_project.notify.events import NotificationEvent
from dagster_project.warehouse.connection import table_exists

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one notifying process at a time by convention
    fcntl = None  # type: ignore[assignment]

_LOG_DDL = """
create table if not exists firewatch_state.notification_log (
    event_key varchar not null, notifier varchar not null, kind varchar not null,
    decision_id varchar, sent_at timestamp not null, ok boolean not null, error varchar
)"""


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists firewatch_state")
    con.execute(_LOG_DDL)


def already_sent(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The event keys each notifier (by name) has delivered."""
    if not table_exists(con, "firewatch_state", "notification_log"):
        return {}
    rows = con.execute(
        "select distinct notifier, event_key from firewatch_state.notification_log where ok"
    ).fetchall()
    sent: dict[str, set[str]] = {}
    for notifier, key in rows:
        sent.setdefault(notifier, set()).add(key)
    return sent


def record(
    con: duckdb.DuckDBPyConnection,
    notifier: str,
    event: NotificationEvent,
    *,
    ok: bool,
    error: str | None = None,
    sent_at: datetime | None = None,
) -> None:
    """Appends one attempt. `error` must already be redacted: this table is read by people."""
    ensure_log(con)
    con.execute(
        "insert into firewatch_state.notification_log values (?, ?, ?, ?, ?, ?, ?)",
        [
            event.key,
            notifier,
            event.kind,
            event.decision_id,
            (sent_at or datetime.now(UTC)).replace(tzinfo=None),
            ok,
            None if ok else error,
        ],
    )


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".notify.lock")


@contextmanager
def delivery_lock(
    warehouse: Path,
    *,
    wait_seconds: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Held from reading what was sent until the last delivery is recorded.

    The warehouse itself is not held across network calls (a nightly run may need it), so this
    advisory lock is what makes check-send-record atomic between processes. Raises TimeoutError
    after `wait_seconds`: skipping a round is better than sending twice.
    """
    if fcntl is None:
        yield
        return
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited >= wait_seconds:
                    raise TimeoutError(
                        f"another process is sending notifications for {warehouse}"
                    ) from None
                sleep(0.2)
                waited += 0.2
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
