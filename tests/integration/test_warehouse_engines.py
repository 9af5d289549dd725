"""The warehouse interface (dagster_project/warehouse/engine.py) on DuckDB and on a real
PostgreSQL server: the same statements give the same frames, the same alerts, decision log and
queue; concurrent people on PostgreSQL are ordered by the database alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from dagster_project.divergence.episodes import merge_alerts
from dagster_project.runtime.alert_detail import read_alerts as alert_rows
from dagster_project.warehouse import decisions
from dagster_project.warehouse.decisions import (
    queue_night,
    read_alerts,
    read_log,
    read_queue,
    record_action,
    save_night,
)
from dagster_project.warehouse.engine import DuckDBWarehouse, Warehouse, connect
from dagster_project.warehouse.postgres import copy_raw_tables
from dagster_project.warehouse.run_lock import RunLockTimeout, hold_database_lock
from dagster_project.warehouse.target import PostgresConfig
from tests.support.findings import NIGHT1, NIGHT2, finding
from tests.support.postgres import PostgresServer

CHANNELS = ("paid_social", "paid_search", "email", "organic", "display", "video", "referral")


@pytest.fixture
def pg(postgres: PostgresServer) -> Warehouse:
    """The server's database, emptied of everything a previous test wrote."""
    with connect(postgres.config()) as wh:
        for schema in ("firewatch_state", "scratch", "raw"):
            wh.execute(f"drop schema if exists {schema} cascade")
        for table in ("alerts", "decision_queue", "ritual_metrics"):
            wh.execute(f"drop table if exists {{marts}}.{table}")
        yield wh


@pytest.fixture
def duck() -> DuckDBWarehouse:
    con = duckdb.connect()
    yield DuckDBWarehouse(con)
    con.close()


# Values that trip a CSV round trip or a type mapping: NULL against the empty string, quotes,
# the separator, line breaks, non-ASCII text, the shortest exact text of a double, a bigint
# beyond a double's 53 bits, timestamps to the microsecond.
_CREATE = """create table scratch.tricky (
    id bigint, label varchar, amount double precision, day date, seen_at timestamp, flag boolean
)"""
_ROWS = [
    (1, "", 0.1 + 0.2, date(2025, 1, 31), datetime(2025, 1, 31, 23, 59, 59, 123456), True),
    (2, None, None, None, None, None),
    (2**62 + 1, 'say "hi", then\nleave', -1e-300, date(2000, 2, 29), datetime(2000, 1, 1), False),
    (4, "Käse € 🔥 ,;|", 12345678.901234567, date(2025, 9, 28), datetime(2025, 9, 28, 0, 0), True),
]


def _fill(wh: Warehouse) -> None:
    wh.execute("create schema if not exists scratch")
    wh.execute(_CREATE)
    for row in _ROWS:
        wh.execute("insert into scratch.tricky values (?, ?, ?, ?, ?, ?)", list(row))


def test_a_frame_reads_back_the_same_from_both_engines(pg: Warehouse, duck: Warehouse) -> None:
    for wh in (pg, duck):
        _fill(wh)
    query = "select * from scratch.tricky where id <> ? order by id"
    from_pg, from_duck = pg.frame(query, [0]), duck.frame(query, [0])
    pd.testing.assert_frame_equal(from_pg, from_duck)
    # and the values are the ones written, not merely the same mistake twice
    labels = from_pg["label"].tolist()  # ids 1, 2, 4, 2**62 + 1
    assert labels[0] == "" and pd.isna(labels[1]) and labels[3] == 'say "hi", then\nleave'
    assert from_pg["amount"].iloc[0] == 0.1 + 0.2  # exactly: 0.30000000000000004
    assert from_pg["id"].iloc[3] == 2**62 + 1
    assert from_pg["seen_at"].iloc[0] == pd.Timestamp("2025-01-31 23:59:59.123456")
    assert pg.rows(query, [0]) == duck.rows(query, [0]) == sorted(_ROWS, key=lambda r: r[0])
    assert pg.records(query, [0]) == duck.records(query, [0])
    assert pg.records(query, [0])[1] == dict.fromkeys(["label", "amount", "day"], None) | {
        "id": 2,
        "seen_at": None,
        "flag": None,
    }


def test_a_frame_replaces_a_table_on_postgres(pg: Warehouse, duck: Warehouse) -> None:
    first = pd.DataFrame({"metric_id": ["a", "b"], "alerts": [3, 0], "share": [0.5, None]})
    second = pd.DataFrame({"metric_id": ["c"], "is_ritual": [True]})
    for wh in (pg, duck):
        wh.replace("{marts}.ritual_metrics", first)
        wh.replace("{marts}.ritual_metrics", second)  # other columns: dropped and made anew
    pd.testing.assert_frame_equal(
        pg.frame("select * from {marts}.ritual_metrics"),
        duck.frame("select * from {marts}.ritual_metrics"),
    )
    assert pg.rows("select * from {marts}.ritual_metrics") == [("c", True)]


def _decide_everything(wh: Warehouse) -> None:
    """Two nights and one action of every kind, the same on either engine."""
    findings = [finding(value) for value in CHANNELS[:4]]
    save_night(wh, merge_alerts([], findings, NIGHT1), NIGHT1)
    ids = read_queue(wh).set_index("dimension_value")["decision_id"]
    at = datetime(2025, 9, 21, 8, 30)
    record_action(wh, ids["paid_social"], "acknowledge", "ana", now=at)
    record_action(
        wh, ids["paid_social"], "decide", "ana", text="shift 20% to 'search', 50%?", now=at
    )
    record_action(wh, ids["paid_search"], "dismiss", "bo", text="seasonal, known", now=at)
    record_action(wh, ids["email"], "snooze", "cy", snooze_until=date(2025, 9, 30), now=at)
    night2 = [finding(value, as_of=NIGHT2) for value in CHANNELS[:3]]  # organic ends
    alerts = merge_alerts(read_alerts(wh), night2, NIGHT2)
    save_night(wh, alerts, NIGHT2)


def test_alerts_log_and_queue_are_the_same_on_both_engines(pg: Warehouse, duck: Warehouse) -> None:
    for wh in (pg, duck):
        _decide_everything(wh)
    assert read_alerts(pg) == read_alerts(duck)
    assert read_log(pg) == read_log(duck)
    assert queue_night(pg) == queue_night(duck) == NIGHT2
    pd.testing.assert_frame_equal(read_queue(pg), read_queue(duck))
    queue = read_queue(pg).set_index("dimension_value")
    assert queue.loc["paid_social", "status"] == "decided"
    assert queue.loc["paid_social", "decision"] == "shift 20% to 'search', 50%?"
    assert queue.loc["paid_search", "status"] == "dismissed"
    assert queue.loc["email", "status"] == "snoozed"
    assert queue.loc["organic", "status"] == "resolved"  # its divergence ended on night 2
    assert [e.action for e in read_log(pg)] == ["acknowledge", "decide", "dismiss", "snooze"]
    # what `firewatch explain` and the queue's JSON read: the same dicts from either engine
    assert alert_rows(pg, [queue.loc["email", "decision_id"]]) == alert_rows(
        duck, [queue.loc["email", "decision_id"]]
    )


def test_people_acting_at_once_on_postgres_all_get_recorded(
    pg: Warehouse, postgres: PostgresServer
) -> None:
    """Seven people answer seven items at the same moment, each on a connection of their own:
    every action is in the log once, with entry ids 1..7, and the queue shows them all. Without
    the transaction's advisory lock two of them read the same max(entry_id) and one fails."""
    findings = [finding(value) for value in CHANNELS]
    save_night(pg, merge_alerts([], findings, NIGHT1), NIGHT1)
    ids = read_queue(pg)["decision_id"].tolist()

    def acknowledge(decision_id: str) -> str:
        with connect(postgres.config()) as own:
            return record_action(own, decision_id, "acknowledge", f"person-{decision_id}").status

    for _attempt in range(3):  # three rounds, so a race that is only sometimes lost shows
        with ThreadPoolExecutor(max_workers=len(ids)) as pool:
            statuses = list(pool.map(acknowledge, ids))
        assert statuses == ["acknowledged"] * len(ids)
        pg.execute("delete from firewatch_state.decision_log")
        save_night(pg, read_alerts(pg), NIGHT1)
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        list(pool.map(acknowledge, ids))
    log = read_log(pg)
    assert sorted(e.entry_id for e in log) == list(range(1, len(ids) + 1))
    assert sorted(e.decision_id for e in log) == sorted(ids)
    assert set(read_queue(pg)["status"]) == {"acknowledged"}


def test_a_person_acting_while_the_night_writes_waits_and_keeps_both_on_postgres(
    pg: Warehouse, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly run holds its transaction (tonight's alerts written, the queue not yet) when
    a person acknowledges an item: the person waits for the night's commit, then acts on the
    new night's queue. Both are kept: tonight's alerts and night, and the action in the log and
    the queue. Without the lock the person's queue would be built from last night's alerts and
    overwrite tonight's, or be overwritten by it."""
    save_night(pg, merge_alerts([], [finding("email")], NIGHT1), NIGHT1)
    [item] = read_queue(pg)["decision_id"].tolist()
    inside, go = threading.Event(), threading.Event()
    original = decisions.read_log

    def night_pauses(wh: Warehouse) -> list:
        if threading.current_thread().name == "night":  # inside the night's transaction
            inside.set()
            assert go.wait(30)
        return original(wh)

    monkeypatch.setattr(decisions, "read_log", night_pauses)
    tonight = merge_alerts(read_alerts(pg), [finding("email"), finding("video")], NIGHT2)

    def night() -> None:
        with connect(postgres.config()) as own:
            save_night(own, tonight, NIGHT2)

    def person() -> str:
        with connect(postgres.config()) as own:
            return record_action(own, item, "acknowledge", "ana").status

    night_thread = threading.Thread(target=night, name="night")
    night_thread.start()
    assert inside.wait(30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        acting = pool.submit(person)
        with pytest.raises(TimeoutError):
            acting.result(timeout=1.0)  # waits for the night's transaction
        go.set()
        night_thread.join(30)
        assert acting.result(timeout=30) == "acknowledged"
    assert queue_night(pg) == NIGHT2
    assert sorted(a.dimension_value for a in read_alerts(pg)) == ["email", "video"]
    assert [(e.decision_id, e.action, e.actor) for e in read_log(pg)] == [
        (item, "acknowledge", "ana")
    ]
    queue = read_queue(pg).set_index("dimension_value")
    assert queue.loc["email", "status"] == "acknowledged"
    assert queue.loc["video", "status"] == "open"


def test_an_unreachable_server_is_named() -> None:
    config = PostgresConfig(host="127.0.0.1", port=1, database="nowhere")
    where = r"postgresql://firewatch@127.0.0.1:1/nowhere"
    with pytest.raises(ConnectionError, match=where), connect(config):
        pass


def test_a_second_night_on_the_same_database_waits_then_gives_up(
    postgres: PostgresServer,
) -> None:
    """Two machines' nightly runs against one database: the second waits for the first's
    advisory lock (and says so), gives up after the wait, and gets it once the first is done."""
    said: list[str] = []
    first = hold_database_lock(postgres.config(), wait=0)
    second = hold_database_lock(postgres.config(), wait=1.0, say=said.append, poll=0.2)
    refused = pytest.raises(RunLockTimeout, match="another nightly run still holds")
    with first, refused, second:
        pass
    assert said == [f"another nightly run is using {postgres.config()}; waiting (up to 1 s)…"]
    with hold_database_lock(postgres.config(), wait=0):  # released with its connection
        pass


def _raw_rows(source: duckdb.DuckDBPyConnection) -> list[tuple]:
    return source.execute("select * from raw.web_events order by _source_file, n").fetchall()


def _pg_rows(pg: Warehouse) -> list[tuple]:
    return pg.rows("select * from raw.web_events order by _source_file, n")


def test_a_night_copies_only_what_the_load_changed(pg: Warehouse, postgres: PostgresServer) -> None:
    """copy_raw_tables with the load's changes: appended files copy their rows only, an
    unchanged table is left alone, a database copy that does not hold the rows it should is
    copied whole; a view on a raw table (dbt's staging views) survives all of it."""
    source = duckdb.connect()
    source.execute("create schema raw")
    source.execute("create table raw.web_events (n bigint, _source_file varchar, note varchar)")
    source.execute(
        "insert into raw.web_events select i, 'day1.csv', 'it''s ' || i from range(1000) t(i)"
    )
    con = postgres.connect()
    pg.execute("drop schema if exists raw cascade")
    assert copy_raw_tables(source, con) == {"web_events": 1000}
    pg.execute("create schema if not exists scratch")
    pg.execute("create view scratch.events as select * from raw.web_events")
    source.execute(
        "insert into raw.web_events select i, 'day2.csv', null from range(1000, 1010) t(i)"
    )
    assert copy_raw_tables(source, con, changes={"web_events": ["day2.csv"]}) == {"web_events": 10}
    assert _pg_rows(pg) == _raw_rows(source)
    assert copy_raw_tables(source, con, changes={"web_events": []}) == {}
    pg.execute("delete from raw.web_events where n = 7")  # not what the last night copied
    assert copy_raw_tables(source, con, changes={"web_events": []}) == {"web_events": 1010}
    assert _pg_rows(pg) == _raw_rows(source)
    assert pg.rows("select count(*) from scratch.events") == [(1010,)]
    con.close()
    source.close()
