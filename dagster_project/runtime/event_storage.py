"""Dagster's SQLite event log, keeping one engine per database file instead of one per write.

A nightly run stores about 760 Dagster events (planned, materialised, check results), each
through two to six connections (the run's own database and the cross-run index).
`SqliteEventLogStorage` builds a new SQLAlchemy engine for every connection and throws it away,
so each write pays the engine's set-up and compiles its SQL again (SQLAlchemy's compiled cache
lives on the engine). This subclass keeps the engines of the most recent databases, so a run
pays that once per database; everything else (schema, sharding, watching, the UI's queries)
is Dagster's own. Each use is still one transaction, and a pooled connection holds no lock
between uses, so the webserver and a run process share the files as before.

Chosen in `dagster.yaml` (`event_log_storage`); docs/performance_analysis.md has the figures.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._config.config_schema import UserConfigSchema
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

# A run touches its own database and the index; the webserver reads a few runs at a time.
KEEP_ENGINES = 8
# Dagster hands a storage its batches (the planned events of a run's start) only when this is
# set; without it every event is its own transaction.
BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
BATCH_SIZE = 1000


class _Batch:
    """The connections of one batch, each in its transaction until the batch ends."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._connections: dict[str, Connection] = {}

    def connection(self, shard: str, engine_for: Any) -> Connection:
        conn = self._connections.get(shard)
        if conn is None:
            conn = self._stack.enter_context(engine_for(shard).connect())
            self._stack.enter_context(conn.begin())
            self._connections[shard] = conn
        return conn


def _sync_at_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    """Dagster's run databases are in WAL mode, where SQLite's default syncs the disk at every
    commit: one fsync per event. NORMAL syncs at checkpoints only (SQLite's advice for WAL). A
    crashed process loses nothing; a power cut or an operating-system crash may lose the last
    events of a run's history, never the warehouse or the decision log, which are not kept here."""
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class KeptEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with an engine kept per database file (the last few)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        # the open connection per database while this thread stores a batch (store_event_batch)
        self._batch = threading.local()
        # Dagster reads this at every event: set here, it holds for every process that opens
        # this storage (a CLI run, a run worker, the daemon), whoever started it; a value set
        # outside is kept.
        os.environ.setdefault(BATCH_SIZE_ENV, str(BATCH_SIZE))
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> KeptEngineSqliteEventLogStorage:
        # Without a base_dir: where Dagster's default storage keeps the run event logs, so an
        # instance that switches to this class keeps its history.
        base_dir = config_value.get("base_dir") or os.path.join(
            os.environ["DAGSTER_HOME"], "history", "runs", ""
        )
        return cls(base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _sync_at_checkpoints)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > KEEP_ENGINES:
            _, old = self._engines.popitem(last=False)
            old.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batch: _Batch | None = getattr(self._batch, "open", None)
        if batch is not None:
            yield batch.connection(shard, self._engine)
            return
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Dagster's default stores a batch event by event, one transaction each (Dagster
        batches the planned events of a run's start, about 240 on a nightly, when
        DAGSTER_EVENT_BATCH_SIZE is set). Here the batch is one transaction per database: all of
        it is written, or none (Dagster then stores the events one by one)."""
        with self._db_lock, ExitStack() as stack:
            self._batch.open = _Batch(stack)
            try:
                for entry in events:
                    self.store_event(entry)
            finally:
                self._batch.open = None

    def wipe(self) -> None:
        # the run databases' files are deleted: the engines holding them open go first
        self._dispose_engines()
        super().wipe()

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
