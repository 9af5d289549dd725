"""People answering the decision queue at the same moment (issue 5, B): three verbs from three
processes, released together by a holder of the warehouse, each land with their own log entry.
(The same verbs during a nightly run are in tests/e2e/test_concurrent_people.py.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dagster_project.divergence.episodes import merge_alerts
from dagster_project.faults.checks import check_decisions
from dagster_project.faults.decisions import DecisionProcess
from dagster_project.faults.env import campaign_env
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import read_log, save_night
from tests.support.findings import NIGHT1, finding
from tests.support.people import queue_verb


def test_two_people_at_the_same_moment_both_land(tmp_path: Path) -> None:
    """Three verbs from three processes released at once by a holder of the warehouse: each
    one lands with its own entry id, none overwrites another."""
    path, ready = tmp_path / "w.duckdb", tmp_path / "ready"
    # (a person's command waits for DuckDB's lock too, not only for a run's run lock)
    alerts = merge_alerts([], [finding(v) for v in ("paid_social", "linkedin", "seo")], NIGHT1)
    with open_warehouse(path) as con:
        save_night(con, alerts, NIGHT1)
        ids = [r[0] for r in con.execute("select decision_id from main.decision_queue").fetchall()]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, pathlib, sys; con = duckdb.connect(sys.argv[1]); "
            "pathlib.Path(sys.argv[2]).touch(); sys.stdin.readline(); con.close()",
            str(path),
            str(ready),
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    while not ready.exists():
        time.sleep(0.02)
    env = campaign_env(tmp_path / "env")
    verbs = [
        queue_verb(ids[0], "decide", "ana", "keep"),
        queue_verb(ids[1], "dismiss", "bo", "noise"),
        queue_verb(ids[2], "acknowledge", "cy"),
    ]
    running = [DecisionProcess(v, env, path) for v in verbs]
    deadline = time.monotonic() + 120
    while not all(p.waiting() for p in running) and time.monotonic() < deadline:
        assert not any(p.done() for p in running), [p.output() for p in running]
        time.sleep(0.05)
    # all three wait on the same lock: released together, they race for it
    holder.communicate("release\n", timeout=30)
    done = [p.finish() for p in running]
    for verb in done:
        assert verb.exit_code == 0, verb.output
        assert verb.waited, verb.output
    with open_warehouse(path, read_only=True) as con:
        log = read_log(con)
        statuses = dict(
            con.execute("select decision_id, status from main.decision_queue").fetchall()
        )
        problems = check_decisions(con, done, as_of=NIGHT1)
    assert sorted(e.entry_id for e in log) == [1, 2, 3]
    assert sorted((e.actor, e.action, e.text) for e in log) == [
        ("ana", "decide", "keep"),
        ("bo", "dismiss", "noise"),
        ("cy", "acknowledge", ""),
    ]
    assert statuses == {ids[0]: "decided", ids[1]: "dismissed", ids[2]: "acknowledged"}
    assert problems == []
