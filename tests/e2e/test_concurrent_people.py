"""People answering the decision queue while a nightly run writes (issue 5, B).

A run opens the warehouse many times (the loader, the dbt build, the alerts, the BI copy), and
any other connection open at one of those moments, even a read-only one, makes that step fail
and the whole night with it. So `firewatch decide|acknowledge|dismiss|snooze|queue` wait, with
a visible message, while a run holds its run lock, and a run waits for a person's command that
is already connected. Whatever the timing: the command succeeds, its entry is in the append-only
log once (who, when), and the queue at the end shows it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.faults.checks import check_decisions, queue_rows
from dagster_project.faults.decisions import DecisionProcess, queue_statuses
from dagster_project.faults.env import campaign_env
from dagster_project.faults.harness import Harness
from dagster_project.faults.landing import build_landing
from dagster_project.faults.watch import RunProcess
from dagster_project.warehouse.decisions import read_log
from tests.support.people import UNTIL, queue_verb

# The first night with four open items (see dagster_project/faults/landing.py for the data).
FIRST = date(2025, 9, 21)
SECOND = FIRST + timedelta(days=1)

# A person's command that reads for a while (a slow `firewatch queue` or `rituals` over a big
# queue): imported first, connects when told on stdin. A reader is enough to break a run: dbt
# opens the warehouse for writing a few seconds after its step starts.
_SLOW_PERSON = """
import sys, time
from pathlib import Path
from dagster_project.warehouse.connection import open_warehouse
print("ready", flush=True)
sys.stdin.readline()
started = time.monotonic()
with open_warehouse(Path(sys.argv[1]), read_only=True, out=sys.stdout) as con:
    con.execute("select count(*) from main.decision_queue").fetchall()
    print(f"connected after {time.monotonic() - started:.1f} s", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    root = tmp_path_factory.mktemp("people")
    landing = build_landing(root / "landing", first_night=FIRST, env=campaign_env(root))
    h = Harness(root, seed=5, say=lambda _m: None, landing=landing)
    h.first_run(decisions=0)
    return h


@pytest.mark.slow
def test_queue_verbs_during_a_run_wait_then_land_and_the_run_succeeds(harness: Harness) -> None:
    h = harness
    items = sorted(d for d, (status, _) in queue_statuses(h.warehouse).items() if status == "open")
    assert len(items) >= 4, f"the first night should open four items: {items}"
    a, b, c, d = items[:4]
    h.landing.land(SECOND)
    slow = subprocess.Popen(
        [sys.executable, "-c", _SLOW_PERSON, str(h.warehouse), "12"],
        cwd=Path(__file__).resolve().parents[2],
        env=h.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert slow.stdout is not None and slow.stdout.readline().strip() == "ready"

    run = RunProcess(h.env, h.warehouse, h.landing.raw, SECOND)
    plan = {
        # dbt is starting (no DuckDB lock held for seconds): the slow reader (without the
        # wait for the run, dbt's connection then failed), one decision, and two at once
        "load-done": [
            queue_verb(a, "decide", "ana", "Cut paid search by 20 %; 'quoted' text; -- not SQL"),
            queue_verb(b, "acknowledge", "bo"),
            queue_verb(c, "dismiss", "cy", "Known seasonal effect"),
        ],
        # the alerts and the queue are being rebuilt
        "dbt-done": [queue_verb(d, "snooze", "di")],
    }
    pending: list[tuple[float, DecisionProcess]] = []
    listing = None
    while run.proc.poll() is None:
        run.poll_state()
        for mark in list(plan):
            if run.mark(mark) is None:
                continue
            verbs = plan.pop(mark)
            if mark == "load-done":
                assert slow.stdin is not None
                slow.stdin.write("go\n")
                slow.stdin.flush()
            for verb in verbs:
                pending.append((run.elapsed(), DecisionProcess(verb, h.env, h.warehouse)))
            if mark == "dbt-done":
                listing = subprocess.Popen(
                    [sys.executable, "-m", "dagster_project.cli.main", "queue", "--format", "json",
                     "--warehouse", str(h.warehouse)],
                    env=h.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                )  # fmt: skip
        time.sleep(0.005)
    code = run.wait()
    run_seconds = run.elapsed()
    slow_out = slow.communicate(timeout=600)[0]
    verbs = [(at, p.finish()) for at, p in pending]
    assert code == 0, run.stderr_text()[-3000:]
    assert not plan, f"the run ended before these phases were seen: {list(plan)}"

    # the slow command waited for the run instead of breaking it
    assert "is busy (a nightly run is writing); waiting" in slow_out, slow_out
    assert "connected after" in slow_out, slow_out
    # every verb succeeded; those started with most of the run still ahead said they waited
    for at, verb in verbs:
        assert verb.exit_code == 0, (verb, verb.output)
        assert f"{verb.decision_id} is now" in verb.output, verb.output
        if run_seconds - at > 10:
            assert verb.waited, f"{verb.actor} did not say it waited: {verb.output!r}"
            assert verb.seconds >= (run_seconds - at) - 5
    assert listing is not None
    out, err = listing.communicate(timeout=600)
    assert listing.returncode == 0, err
    assert {a, b, c, d} <= set(out.split('"')), out[:500]

    con = duckdb.connect(str(h.warehouse), read_only=True)
    try:
        assert check_decisions(con, [v for _, v in verbs]) == []
        log = read_log(con)
        queue = queue_rows(con)
        (as_of,) = con.execute("select as_of_date from intermediate.int_run_context").fetchone()
    finally:
        con.close()
    assert as_of == SECOND
    assert sorted(e.actor for e in log) == ["ana", "bo", "cy", "di"]
    assert len({e.entry_id for e in log}) == 4
    assert all(e.entered_at is not None for e in log)
    assert queue[a][:3] == ("decided", "Cut paid search by 20 %; 'quoted' text; -- not SQL", "ana")
    assert queue[b][0] == "acknowledged"
    assert queue[c][0] == "dismissed" and queue[c][3] == "Known seasonal effect"
    assert queue[d][0] == "snoozed" and queue[d][4] == UNTIL
