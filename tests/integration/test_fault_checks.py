"""The fault-injection harness's checks bite (issue 5, A): a lost or doubled decision, a stale
queue, a torn BI copy and locks still held, each made by hand on a small warehouse, are reported.
(The campaign itself is tests/e2e/test_fault_injection.py.)"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from dagster_project.divergence.episodes import merge_alerts
from dagster_project.faults.checks import check_decisions, read_bi
from dagster_project.faults.decisions import Decision
from dagster_project.faults.watch import lock_holder, run_lock_free
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import record_action, save_night
from dagster_project.warehouse.publish import publish_bi_copy
from tests.support.findings import NIGHT1, finding


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
