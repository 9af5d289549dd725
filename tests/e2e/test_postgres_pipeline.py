"""The whole nightly job on PostgreSQL (`firewatch run --target postgres`) gives what it gives on
DuckDB: the same landing folder, the same marts, alerts and queue; people answer the queue there
with the same commands, and a second night keeps what they entered (docs/engines.md).

The landing is generated with two planted changes, so the night has alerts
(tests/support/planted.py, whose DuckDB night this module copies, since people answer the queue
there too). The PostgreSQL run keeps its DuckDB staging file (the checked load) apart from the
DuckDB warehouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.support.engines import MARTS, differences, series_and_counts
from tests.support.pipeline import run_pipeline
from tests.support.planted import RUN_ENV, planted, run_environment
from tests.support.postgres import PostgresServer


@dataclass
class Runs:
    raw: Path
    duck: Path  # the DuckDB warehouse
    stage: Path  # the PostgreSQL run's staging file
    server: PostgresServer

    def env(self) -> dict[str, str]:
        return {**self.server.dbt_env(), "FIREWATCH_TARGET": "postgres"}

    def firewatch(self, *args: str, postgres: bool) -> subprocess.CompletedProcess:
        where = ["--target", "postgres"] if postgres else ["--warehouse", str(self.duck)]
        env = {**os.environ, **(self.env() if postgres else {})}
        for name in RUN_ENV if not postgres else ():
            env.pop(name, None)
        return subprocess.run(
            [str(Path(sys.executable).parent / "firewatch"), *args, *where],
            env=env,
            capture_output=True,
            text=True,
        )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Runs:
    shared = planted(tmp_path_factory)
    root = tmp_path_factory.mktemp("postgres_pipeline")
    # apart: each run writes its morning brief beside its file
    duck, stage = root / "duck" / "duck.duckdb", root / "pg" / "stage.duckdb"
    duck.parent.mkdir()
    shutil.copy(shared / "duck" / "duck.duckdb", duck)
    found = Runs(shared / "raw", duck, stage, postgres)
    with run_environment(found.env()):
        assert run_pipeline(found.raw, found.stage) == 0
    return found


@pytest.fixture
def both(runs: Runs) -> Iterator[tuple[duckdb.DuckDBPyConnection, object]]:
    duck = duckdb.connect(str(runs.duck), read_only=True)
    pg = runs.server.connect()
    yield duck, pg
    pg.close()
    duck.close()


def test_metric_series_is_the_same_after_a_postgres_night(both: tuple) -> None:
    duck, _ = both
    rows, counts = series_and_counts(duck)
    assert rows > 50_000
    assert differences(*both, "metric_series", exact_rows=counts) == []


@pytest.mark.parametrize("mart", ["control_daily", "meaning_weekly", "quarantine"])
def test_marts_are_the_same_after_a_postgres_night(both: tuple, mart: str) -> None:
    assert mart in MARTS
    assert differences(*both, mart) == []


def test_alerts_and_queue_are_the_same_on_postgres(both: tuple) -> None:
    duck, _ = both
    active = duck.execute(
        "select rule_id, dimension_value from alerts where status = 'active'"
    ).fetchall()
    # the planted paid-search change is found (so the comparison below compares something)
    assert ("sessions_up_nobody_stays", "paid_search") in active
    assert differences(*both, "alerts", key=("alert_id",)) == []
    assert differences(*both, "decision_queue", key=("decision_id",)) == []
    assert differences(*both, "ritual_metrics", key=("metric_id",)) == []


def test_the_morning_brief_is_written_from_postgres(runs: Runs, both: tuple) -> None:
    duck, _ = both
    brief = (runs.stage.parent / "brief.html").read_text(encoding="utf-8")
    assert f"read from the database {runs.server.config()}" in brief
    waiting = duck.execute(
        "select decision_id from decision_queue where status in ('open', 'acknowledged')"
    ).fetchall()
    assert waiting and all(decision_id in brief for (decision_id,) in waiting)


def test_backtest_and_rituals_read_postgres_as_they_read_duckdb(runs: Runs) -> None:
    """`firewatch backtest` replays the nights from the database and writes `backtest_alerts`
    there; `firewatch rituals` reads it live: both as on DuckDB."""
    for postgres in (True, False):
        replayed = runs.firewatch(
            "backtest", "--from", "2025-09-01", "--to", "2025-09-28", postgres=postgres
        )
        assert replayed.returncode == 0, replayed.stderr
        assert "episode(s) written to backtest_alerts" in replayed.stdout
    duck = duckdb.connect(str(runs.duck), read_only=True)
    pg = runs.server.connect()
    try:
        replay = duck.execute(
            "select first_detected_at from backtest_alerts "
            "where rule_id = 'sessions_up_nobody_stays' and dimension_value = 'paid_search'"
        ).fetchall()
        # the planted change (onset Sunday 2025-08-24) is found on the first night whose two
        # complete weeks (the rule's window) both lie after it: Sunday 2025-09-07
        assert replay == [(date(2025, 9, 7),)]
        assert differences(duck, pg, "backtest_alerts", key=("alert_id",)) == []
    finally:
        pg.close()
        duck.close()
    reports = [runs.firewatch("rituals", "--format", "json", postgres=p) for p in (True, False)]
    assert all(r.returncode == 0 for r in reports), [r.stderr for r in reports]
    on_pg, on_duck = (json.loads(r.stdout) for r in reports)
    assert len(on_duck) > 20 and on_pg == on_duck


def test_people_answer_the_queue_on_postgres_and_a_second_night_keeps_it(runs: Runs) -> None:
    shown = runs.firewatch("queue", "--format", "json", postgres=True)
    assert shown.returncode == 0, shown.stderr
    queue = {item["rule_id"]: item for item in json.loads(shown.stdout)}
    decision = queue["sessions_up_nobody_stays"]["decision_id"]
    for postgres in (True, False):
        done = runs.firewatch(
            "decide", decision, "--by", "ana", "--decision", "fix the landing page",
            postgres=postgres,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"{decision} is now decided" in done.stdout

    def listed(postgres: bool) -> list[dict]:
        result = runs.firewatch("queue", "--format", "json", postgres=postgres)
        assert result.returncode == 0, result.stderr
        items = json.loads(result.stdout)
        for item in items:  # the moment each engine recorded it, to the microsecond
            item.pop("decided_at")
        return items

    assert listed(True) == listed(False)
    explained = runs.firewatch("explain", decision, postgres=True)
    assert explained.returncode == 0 and "Sessions" in explained.stdout, explained.stderr

    # the next night (the same files: nothing new to copy) builds on PostgreSQL again and
    # keeps the decision; the raw tables stay where the staging views read them, unwritten
    # (the transaction that wrote a row is its xmin)
    written = "select max(xmin::text::bigint) from raw.web_events"
    with runs.server.connect() as pg, pg.cursor() as cursor:
        cursor.execute(written)
        before = cursor.fetchone()
    with run_environment(runs.env()):
        assert run_pipeline(runs.raw, runs.stage) == 0
    after = {item["decision_id"]: item for item in listed(True)}
    assert after[decision]["status"] == "decided"
    assert after[decision]["decision"] == "fix the landing page"
    with runs.server.connect() as pg, pg.cursor() as cursor:
        cursor.execute("select count(*) from firewatch_state.decision_log")
        assert cursor.fetchone() == (1,)
        cursor.execute("select count(*) from staging.stg_web__events")
        assert cursor.fetchone()[0] > 100_000
        cursor.execute(written)
        assert cursor.fetchone() == before
