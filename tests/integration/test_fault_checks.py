"""The fault-injection harness's checks bite (issue 5, A): a lost or doubled decision, a stale
queue, a torn BI copy and locks still held, each made by hand on a small warehouse, are reported.
(The campaign itself is tests/e2e/test_fault_injection.py.)"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from dagster_project.divergence.episodes import merge_alerts
from dagster_project.faults.checks import check_decisions, read_bi
from dagster_project.faults.decisions import Decision
from dagster_project.faults.watch import group_alive, lock_holder, run_lock_free
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


# the main thread leaves (pthread_exit; ctypes lets go of the GIL) while another thread keeps the
# DuckDB connection (DuckDB's own threads would keep the process up: the thread ends it with
# os._exit): what a SIGKILLed DuckDB process looks like while its workers still tear down
_LEADER_GONE = """
import ctypes, duckdb, os, sys, threading
con = duckdb.connect(sys.argv[1])
threading.Thread(target=lambda: (sys.stdin.readline(), os._exit(0))).start()
print('held', flush=True)
ctypes.CDLL(None).pthread_exit(None)
"""


def test_a_process_whose_leader_thread_is_a_zombie_still_counts_while_it_holds_the_lock(
    tmp_path: Path,
) -> None:
    """After a kill the crash check looks for what of the run is left: a process whose main
    thread has exited shows as a zombie in /proc/<pid>/stat while its other threads still hold
    the warehouse's lock, and must count as running (the fault campaign once reported the
    lock held by a process it had not counted)."""
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _LEADER_GONE, str(warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    stat = Path(f"/proc/{holder.pid}/stat")
    deadline = time.monotonic() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"  # the leader has exited
    assert lock_holder(warehouse) == ("write", holder.pid)
    assert group_alive(holder.pid) == [holder.pid]
    holder.communicate("done\n", timeout=30)
    assert group_alive(holder.pid) == []
    assert lock_holder(warehouse) is None
