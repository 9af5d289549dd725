"""A short fault-injection campaign (issue 5, A): `firewatch run` killed with SIGKILL in four
phases of a night, crash after crash, then a recovery run.

The harness is dagster_project.faults; `make reliability` runs the long campaign (24 kills, a
recovery run after each one, `dbt test` and a comparison with a fresh build at the end) and
writes docs/reliability.md. Here, to stay short, the kills are stacked: the run killed while
the loader writes is followed by one killed while dbt builds the marts, one killed while the
alerts and the queue are written and one killed while the BI copy is published, each on a new
night; then one recovery run. Decisions are entered after the first run, after a kill and
while a killed run writes. After each kill nothing of the run is left running or locked, the
BI copy is the last good run's (whole), and every decision is in the log; after the recovery
the run exited 0, its dbt build had no error or skip, the BI copy is this run's with every
table's rows as in the warehouse, no temporary copy is left and the queue is the log folded
over the alerts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dagster_project.faults.campaign import campaign
from dagster_project.faults.checks import found_decisions

SEED = 20251020
TARGETS = ["load-write", "dbt", "alerts-write", "publish"]
# The steps after dbt that write the warehouse (faults/kill_points.py STEP_NAMES).
WRITES_AFTER_DBT = {"control totals guard", "alerts + queue", "notifications", "ritual metrics"}


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
    assert steps["dbt"] == "dbt", report
    # Aimed at the alerts and queue transaction, the second write the run makes after dbt. The
    # monitor samples the DuckDB lock every few milliseconds; on a loaded machine it can miss the
    # guard's short write before it and kill at the next write instead (seen once, in a CI run
    # beside the Spark tests: in ritual metrics). Either way the kill must land while the run
    # itself holds the warehouse's write lock in a step after dbt, which is what the crash
    # checks need; the report names the step.
    (alerts_kill,) = [k for k in killed if k.plan.target == "alerts-write"]
    assert "the run holds the write lock" in alerts_kill.seen, report
    assert steps["alerts-write"] in WRITES_AFTER_DBT, report
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
