"""The CLI verbs people answer the decision queue with, against a warehouse file (episodes and the
queue's state machine in memory are in tests/unit/test_queue_states.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli.main import main
from dagster_project.divergence.episodes import merge_alerts
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import read_alerts, read_log, save_night
from tests.support.findings import NIGHT1, NIGHT2, finding
from tests.support.warehouse import another_process_holding


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        save_night(con, merge_alerts([], [finding(), finding("linkedin")], NIGHT1), NIGHT1)
    return path


def _ids(path: Path) -> list[str]:
    with open_warehouse(path, read_only=True) as con:
        return [
            r[0]
            for r in con.execute(
                "select decision_id from main.decision_queue order by dimension_value"
            ).fetchall()
        ]


def test_cli_verbs_and_their_errors(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    linkedin, social = _ids(warehouse)
    w = ["--warehouse", str(warehouse)]
    assert main(["queue", *w]) == 0
    assert social in capsys.readouterr().out
    assert main(["acknowledge", social, "--by", "ana", *w]) == 0
    assert "is now acknowledged" in capsys.readouterr().out
    assert (
        main(["decide", social, "--decision", "Pause the lookalike audience", "--by", "ana", *w])
        == 0
    )
    assert main(["dismiss", linkedin, "--reason", "known seasonal dip", "--by", "bo", *w]) == 0
    capsys.readouterr()
    # illegal transition and unknown id: clear message, non-zero exit
    assert main(["snooze", social, "--until", "2099-01-01", "--by", "ana", *w]) == 1
    assert "is decided: cannot snooze" in capsys.readouterr().err
    assert main(["decide", "D-nope", "--decision", "x", "--by", "ana", *w]) == 1
    assert "unknown decision id 'D-nope'" in capsys.readouterr().err
    assert main(["acknowledge", social, "--by", "  ", *w]) == 1
    capsys.readouterr()
    assert main(["queue", "--status", "decided", "--format", "json", *w]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["decision_id"], r["decision"], r["decided_by"]) for r in rows] == [
        (social, "Pause the lookalike audience", "ana")
    ]
    with pytest.raises(SystemExit):
        main(["snooze", social, "--until", "tomorrow", "--by", "ana", *w])


def test_snooze_needs_a_future_date(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, social = _ids(warehouse)
    assert (
        main(
            [
                "snooze",
                social,
                "--until",
                "2000-01-01",
                "--by",
                "ana",
                "--warehouse",
                str(warehouse),
            ]
        )
        == 1
    )
    # the queue's dates are the data's nights: the bar is the night the queue is as of
    assert "--until must be a date after the queue's night" in capsys.readouterr().err


def test_decisions_survive_reruns_and_dbt_full_refresh(warehouse: Path) -> None:
    _, social = _ids(warehouse)
    assert (
        main(["decide", social, "--decision", "keep", "--by", "ana", "--warehouse", str(warehouse)])
        == 0
    )
    with open_warehouse(warehouse) as con:
        alerts = read_alerts(con)
        save_night(con, merge_alerts(alerts, [finding(), finding("linkedin")], NIGHT1), NIGHT1)
        save_night(con, merge_alerts(read_alerts(con), [], NIGHT2), NIGHT2)
        # even if someone drops the public tables, the log rebuilds the queue
        con.execute("drop table main.decision_queue")
        save_night(con, read_alerts(con), NIGHT2)
        log = read_log(con)
        row = con.execute(
            "select status, decision, decided_by from main.decision_queue where decision_id = ?",
            [social],
        ).fetchall()
    assert [(e.action, e.text) for e in log] == [("decide", "keep")]
    assert row == [("resolved", "keep", "ana")]


def test_a_busy_warehouse_is_waited_for(tmp_path: Path) -> None:
    """Another process holds the write lock for two seconds: the verb waits and says so."""
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    out = io.StringIO()
    started = time.monotonic()
    with another_process_holding(path, seconds=2), open_warehouse(path, out=out) as con:
        assert con.execute("select 1").fetchall() == [(1,)]
        assert time.monotonic() - started >= 1.5
    # no nightly run holds it: DuckDB's lock names the process that does
    assert "is busy (another process has it open: python" in out.getvalue(), out.getvalue()


def test_a_decision_or_dismissal_without_words_is_refused(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    linkedin, social = _ids(warehouse)
    w = ["--warehouse", str(warehouse)]
    assert main(["decide", social, "--decision", "", "--by", "ana", *w]) == 1
    assert "--decision must say something (it is empty)" in capsys.readouterr().err
    assert main(["dismiss", linkedin, "--reason", " \n\t ", "--by", "bo", *w]) == 1
    assert "--reason must say something (it is empty)" in capsys.readouterr().err
    # acknowledging needs no words
    assert main(["acknowledge", social, "--by", "ana", *w]) == 0
    with open_warehouse(warehouse, read_only=True) as con:
        assert [(e.action, e.actor) for e in read_log(con)] == [("acknowledge", "ana")]


def test_a_run_that_outlasts_the_wait_ends_the_verb_with_a_message_not_a_traceback(
    warehouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A nightly run holds the run lock past FIREWATCH_QUEUE_WAIT: exit 75 (try again later),
    the message says how long it waited, and nothing reaches the log."""

    _, social = _ids(warehouse)
    w = ["--warehouse", str(warehouse)]
    monkeypatch.setenv("FIREWATCH_QUEUE_WAIT", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, pathlib; from dagster_project.warehouse.run_lock import hold_run_lock\n"
         "with hold_run_lock(pathlib.Path(sys.argv[1])):\n"
         "    print('held', flush=True); sys.stdin.readline()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(["decide", social, "--decision", "keep", "--by", "ana", *w]) == 75
        err = capsys.readouterr().err
        assert "is busy (a nightly run is writing); waiting up to 1 s" in err
        assert "still holds" in err and "after 1 s" in err and "nothing was recorded" in err
        assert "Traceback" not in err
        assert main(["queue", *w]) == 75
        assert "the queue was not read" in capsys.readouterr().err
    finally:
        holder.communicate("done\n", timeout=30)
    with open_warehouse(warehouse, read_only=True) as con:
        assert read_log(con) == []
    # the run is over: the same command lands
    assert main(["decide", social, "--decision", "keep", "--by", "ana", *w]) == 0
    monkeypatch.setenv("FIREWATCH_QUEUE_WAIT", "soon")
    assert main(["queue", *w]) == 1
    assert "FIREWATCH_QUEUE_WAIT='soon' is not a number of seconds >= 0" in capsys.readouterr().err


def test_the_queue_runs_on_the_datas_nights(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Due, overdue and snooze are judged against the night the queue is as of (NIGHT1 is in
    2025, long before today's wall clock): a snooze two nights ahead holds, and an item still
    open after its due night is OVERDUE."""
    linkedin, social = _ids(warehouse)
    w = ["--warehouse", str(warehouse)]
    until = "2025-09-23"  # NIGHT1 + 2: in the data's future, in the wall clock's past
    assert main(["snooze", social, "--until", until, "--by", "ana", *w]) == 0
    assert "is now snoozed" in capsys.readouterr().out
    assert main(["queue", "--format", "json", *w]) == 0
    rows = {r["decision_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[social]["status"] == "snoozed" and rows[social]["queue_night"] == "2025-09-21"
    assert rows[linkedin]["overdue"] is False  # due 2025-09-28 (warn: 7 nights)
    # eight nights later, with both episodes going on: the snooze has run out, both overdue
    night = NIGHT1 + timedelta(days=8)
    with open_warehouse(warehouse) as con:
        ongoing = [finding(as_of=night), finding("linkedin", as_of=night)]
        save_night(con, merge_alerts(read_alerts(con), ongoing, night), night)
    assert main(["queue", *w]) == 0
    table = capsys.readouterr().out
    assert "Decision queue as of the night of 2025-09-29" in table
    assert table.count("due 2025-09-28 OVERDUE") == 2
    assert "Keep funding linkedin?" in table  # the whole question, under its item
