"""A short fault-injection campaign (issue 5, A): `firewatch run` killed with SIGKILL in four
phases of a night, crash after crash, then a recovery run.

The harness is bench/reliability.py; `make reliability` runs the long campaign (24 kills, a
recovery run after each one, `dbt test` and a comparison with a fresh build at the end) and
writes docs/reliability.md. Here, to stay short, the kills are stacked: the run killed while
the loader writes is followed by one killed while dbt builds the marts, one killed while the
alerts and the queue are written and one killed while the BI copy is published, each on a new
night; then one recovery run. Decisions are entered after the first run, after a kill and
while a killed run writes. After each kill nothing of the run is left running or locked, the
BI copy is the last good run's (whole), and every decision is in the log; after the recovery
the run exited 0, both dbt builds had no error or skip, the BI copy is this run's with every
table's rows as in the warehouse, no temporary copy is left and the queue is the log folded
over the alerts.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bench.reliability import (
    Decision,
    campaign,
    check_decisions,
    found_decisions,
    lock_holder,
    read_bi,
    run_lock_free,
)
from dagster_project.divergence.episodes import merge_alerts
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import record_action, save_night
from dagster_project.warehouse.publish import publish_bi_copy
from tests.test_queue import NIGHT1, finding

SEED = 20251020
TARGETS = ["load-write", "dbt-marts", "alerts-write", "publish"]


@pytest.mark.slow
def test_killed_nights_recover_and_keep_every_decision(tmp_path: Path) -> None:
    lines: list[str] = []
    c = campaign(
        tmp_path,
        len(TARGETS),
        SEED,
        targets=TARGETS,
        say=lines.append,
        recover_each=False,
        run_dbt_test=False,
        compare_fresh=False,
        decide_after=[False, True, False, False],
        decide_during=[False, False, True, False],
    )
    report = "\n".join(lines)
    killed = [k for k in c.kills if k.killed]
    assert [k.plan.target for k in killed] == TARGETS, report
    problems = [p for k in c.kills for p in k.problems] + c.problems
    assert problems == [], report
    assert c.survived == len(TARGETS), report
    # the kills landed in the phases they aimed at (from the run's own Dagster event log)
    steps = {k.plan.target: k.step for k in killed}
    assert steps["load-write"] == "load", report
    assert steps["dbt-marts"] == "dbt (marts)", report
    assert steps["alerts-write"] == "alerts + queue", report
    assert steps["publish"] == "BI copy publish", report
    # decisions were entered, and every one of them is still there, once
    entered = [d for d in c.decisions if d.entered]
    assert len(entered) >= 3, report
    assert not [d for d in c.decisions if not d.entered and not d.refused], report
    con = duckdb.connect(str(tmp_path / "warehouse" / "firewatch.duckdb"), read_only=True)
    try:
        assert found_decisions(con, c.decisions) == len(entered)
    finally:
        con.close()
    # the BI copy never showed anything but a whole run
    assert all(k.bi_after_kill.startswith(("previous run", "this run")) for k in killed), report


def test_the_checks_catch_a_lost_or_doubled_decision_a_stale_queue_and_a_torn_copy(
    tmp_path: Path,
) -> None:
    """The harness's checks bite: each fault they look for, made by hand, is reported."""
    warehouse, bi = tmp_path / "w.duckdb", tmp_path / "bi" / "w_bi.duckdb"
    alerts = merge_alerts([], [finding(v) for v in ("paid_social", "linkedin")], NIGHT1)
    with open_warehouse(warehouse) as con:
        save_night(con, alerts, NIGHT1)
        rows = con.execute("select decision_id from main.decision_queue").fetchall()
        x, y = sorted(r[0] for r in rows)
        record_action(con, x, "decide", "ana", text="keep", today=NIGHT1)
        record_action(con, y, "acknowledge", "bo", today=NIGHT1)
    entered = [
        Decision(x, "decide", "ana", "keep", exit_code=0),
        Decision(y, "acknowledge", "bo", exit_code=0),
    ]

    def problems(decisions: list[Decision]) -> list[str]:
        with open_warehouse(warehouse, read_only=True) as con:
            return check_decisions(con, decisions, as_of=NIGHT1)

    assert problems(entered) == []
    # a decision the CLI said it entered but the log lacks
    lost = problems([*entered, Decision(y, "dismiss", "cy", "noise", exit_code=0)])
    assert any("cy's dismiss" in p and "found 0 times" in p for p in lost), lost
    # a refused verb is not expected in the log
    assert problems([*entered, Decision(x, "dismiss", "di", "x", exit_code=1)]) == []
    with open_warehouse(warehouse) as con:
        # the queue no longer what the log says
        con.execute("update main.decision_queue set status = 'open' where decision_id = ?", [x])
    assert any(p.startswith(f"decision_queue: {x}") for p in problems(entered))
    with open_warehouse(warehouse) as con:
        con.execute("update main.decision_queue set status = 'decided' where decision_id = ?", [x])
        # the same entry twice
        con.execute(
            "insert into firewatch_state.decision_log select entry_id + 10, decision_id, action, "
            "actor, entered_at, text, snooze_until from firewatch_state.decision_log "
            "where actor = 'bo'"
        )
    doubled = problems(entered)
    assert any("bo's acknowledge" in p and "found 2 times" in p for p in doubled), doubled

    # the BI copy: whole, then torn (a table shorter than bi_copy_info says)
    publish_bi_copy(warehouse, bi)
    assert read_bi(bi).problems == ()
    torn = tmp_path / "torn.duckdb"
    shutil.copyfile(bi, torn)
    torn.chmod(0o644)
    con = duckdb.connect(str(torn))
    con.execute("delete from main.alerts where dimension_value = 'linkedin'")
    con.close()
    assert any("alerts has 1 rows, bi_copy_info says 2" in p for p in read_bi(torn).problems)

    # a run lock still held and a DuckDB lock still held are seen from outside
    lock = warehouse.with_name(warehouse.name + ".run.lock")
    lock.touch()
    assert run_lock_free(warehouse)
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert not run_lock_free(warehouse)
    finally:
        os.close(fd)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.readline()", str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    assert lock_holder(warehouse) == ("write", holder.pid)
    holder.communicate("done\n", timeout=30)
    assert lock_holder(warehouse) is None
