"""The campaign runner: a first good run, then the planned kills, each followed by its recovery
run and checks (or stacked, one recovery at the end); then, optionally, `dbt test` on the final
warehouse and a fresh build of the same landing folder to compare its marts with."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from dagster_project.faults.checks import dbt_test
from dagster_project.faults.env import sql_literal
from dagster_project.faults.harness import Harness
from dagster_project.faults.kill_points import plan_kills
from dagster_project.faults.results import Campaign
from dagster_project.faults.watch import RunProcess


def campaign(
    root: Path,
    kills: int,
    seed: int,
    *,
    targets: Sequence[str] | None = None,
    say: Callable[[str], None] = print,
    recover_each: bool = True,
    run_dbt_test: bool = True,
    compare_fresh: bool = True,
    decide_after: Sequence[bool] | None = None,
    decide_during: Sequence[bool] | None = None,
) -> Campaign:
    """A first good run, then `kills` killed runs, each followed by a recovery run and its
    checks (`recover_each`), or each killed run after the one before and one recovery at the
    end. A target the run outlives is tried again on the next run. Then, optionally, `dbt test`
    on the final warehouse and a comparison with a fresh build of the same landing folder."""
    started = time.monotonic()
    say(f"fault injection: {kills} kills, seed {seed}, in {root}")
    harness = Harness(root, seed=seed, say=say)
    harness.first_run()
    plan = list(targets) if targets else plan_kills(harness.rng, kills)
    attempt, done = 0, 0
    while done < len(plan) and attempt < 2 * len(plan):
        target = plan[done]
        attempt += 1
        after = decide_after[done] if decide_after else harness.rng.random() < 0.5
        during = decide_during[done] if decide_during else harness.rng.random() < 0.35
        recover = recover_each or done == len(plan) - 1
        result = harness.kill_once(
            attempt, target, decide_after=after, decide_during=during, recover=recover
        )
        done += result.killed
        if result.chained:
            state = "crash checks passed" if not result.problems else "FAILED"
        else:
            state = "survived" if result.survived else "FAILED"
        if not result.killed:
            state = "not killed (" + result.seen + "), trying the target again"
        at = f"{result.killed_at:.1f} s" if result.killed_at is not None else "-"
        say(
            f"run {attempt}, kill {done}/{len(plan)} [{target}] night {result.night} at {at} in "
            f"{result.step}: {state}; recovery {result.recovery_seconds:.1f} s; decisions "
            f"{result.decisions_found}/{result.decisions_entered}"
        )
        for problem in result.problems:
            say(f"    problem: {problem}")
    c = harness.campaign
    last = c.kills[-1] if c.kills else None
    for k in c.kills:
        if k.chained and last is not None:
            # recovered by the last run: it counts as survived if that recovery passed
            k.recovery_code = last.recovery_code if not last.problems else -1
    if done < len(plan):
        c.problems.append(f"only {done} of {len(plan)} kills landed in {attempt} runs")
    if run_dbt_test:
        c.dbt_test = dbt_test(harness.env, harness.warehouse, harness.night, root)
        say(f"dbt test on the final warehouse: {c.dbt_test[1]}")
        if not c.dbt_test[0]:
            c.problems.append(f"dbt test on the final warehouse failed: {c.dbt_test[1]}")
    if compare_fresh:
        c.fresh = compare_with_fresh_build(harness)
        say(f"fresh build of the same files: {c.fresh}")
        if not c.fresh.startswith("identical"):
            c.problems.append(f"the warehouse differs from a fresh build: {c.fresh}")
    c.seconds = time.monotonic() - started
    return c


# The marts compared with a fresh build (alerts and the queue are history, not a function of
# the files: a fresh build has only the last night's episodes).
COMPARED = ("metric_series", "control_daily", "meaning_weekly", "target_attainment")


def compare_with_fresh_build(harness: Harness) -> str:
    """Builds the same landing folder from scratch as of the same night and compares the marts
    row for row: a crash that lost or doubled a day would show here, not in a dbt test."""
    fresh = harness.root / "fresh" / "firewatch.duckdb"
    shutil.rmtree(fresh.parent, ignore_errors=True)
    fresh.parent.mkdir(parents=True)
    run = RunProcess(harness.env, fresh, harness.landing.raw, harness.night)
    code = run.wait()
    if code != 0:
        return f"the fresh build failed ({code}): {run.stderr_text()[-1000:]}"
    differences = []
    con = duckdb.connect()
    try:
        con.execute(f"attach {sql_literal(harness.warehouse)} as ours (read_only)")
        con.execute(f"attach {sql_literal(fresh)} as fresh (read_only)")
        for table in COMPARED:
            columns = [
                (name, kind)
                for name, kind in con.execute(
                    "select column_name, data_type from information_schema.columns where "
                    "table_catalog = 'fresh' and table_schema = 'main' and table_name = ? "
                    "order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            if not columns:
                continue
            select = ", ".join(
                f'round("{n}", 9) as "{n}"' if k in ("DOUBLE", "FLOAT") else f'"{n}"'
                for n, k in columns
            )
            for a, b in (("ours", "fresh"), ("fresh", "ours")):
                (extra,) = con.execute(
                    f"select count(*) from (select {select} from {a}.main.{table} except all "
                    f"select {select} from {b}.main.{table})"
                ).fetchone()
                if extra:
                    differences.append(f"{table}: {extra} rows only in {a}")
    finally:
        con.close()
    if differences:
        return "; ".join(differences)
    return f"identical ({', '.join(COMPARED)})"
