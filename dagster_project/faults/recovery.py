"""The checks after a kill and after the recovery run. After a kill: nothing of the run left
running or locked, the BI copy whole and one run's, every decision in the log. After the
recovery: exit 0 with the dbt build free of errors and skips, a BI copy of this run (each
table's rows as in the warehouse), no temporary copy left, every decision in the log exactly
once and folded into the queue. Problems are added to the kill's result."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from dagster_project.faults.checks import (
    BiState,
    bi_leftovers,
    check_decisions,
    dbt_summaries,
    found_decisions,
    read_bi,
    warehouse_counts,
)
from dagster_project.faults.decisions import Decision
from dagster_project.faults.results import KillResult
from dagster_project.faults.watch import RunProcess, group_alive, lock_holder, run_lock_free


def check_crashed(
    result: KillResult,
    run: RunProcess,
    warehouse: Path,
    bi_path: Path,
    last_bi: BiState,
    decisions: Sequence[Decision],
) -> BiState:
    """The crashed state: nothing left running or locked, the BI copy whole and the last
    good run's (or, if the kill came after the swap, this run's), every decision there.
    Returns the last good run's BI copy from now on (`last_bi`, or this run's)."""
    problems = result.crashed_problems
    left = group_alive(run.proc.pid)
    if left:
        problems.append(f"processes of the killed run still running: {left}")
    holder = lock_holder(warehouse)
    if holder:
        problems.append(f"the warehouse is still locked after the kill: {holder}")
    if not run_lock_free(warehouse):
        problems.append("the run lock is still held after the kill (stale lock)")
    bi = read_bi(bi_path)
    problems += bi.problems
    if bi.published_at == last_bi.published_at:
        result.bi_after_kill = f"previous run ({bi.describe()})"
    elif bi.as_of == result.night:
        result.bi_after_kill = f"this run, complete ({bi.describe()})"
        last_bi = bi
    else:
        result.bi_after_kill = f"UNEXPECTED ({bi.describe()})"
        problems.append(f"BI copy after the kill is neither run: {bi.describe()}")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as error:
        problems.append(f"the crashed warehouse does not open: {error}")
        return last_bi
    try:
        found = found_decisions(con, decisions)
    finally:
        con.close()
    entered = sum(d.entered for d in decisions)
    if found != entered:
        problems.append(f"after the kill {found} of {entered} decisions are in the log")
    result.problems += [f"after the kill: {p}" for p in problems]
    return last_bi


def check_recovered(
    result: KillResult,
    warehouse: Path,
    bi_path: Path,
    last_bi: BiState,
    decisions: Sequence[Decision],
) -> BiState:
    """The state after the recovery run (or after a run the kill missed), against the BI copy
    the last good run published. Returns the BI copy as it is now."""
    problems = result.problems
    result.dbt = dbt_summaries(warehouse.with_suffix(".run.log"))
    if result.recovery_code == 0:
        if len(result.dbt) != 1:
            problems.append(f"expected one dbt build in the run log, found {result.dbt}")
        for _passed, _warn, errors, skipped in result.dbt:
            if errors or skipped:
                problems.append(f"dbt build: {errors} errors, {skipped} skipped")
    bi = read_bi(bi_path)
    problems += list(bi.problems)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        as_of = con.execute("select as_of_date from intermediate.int_run_context").fetchone()[0]
        ours = warehouse_counts(con, sorted(bi.counts))
        public = {
            n
            for (n,) in con.execute(
                "select table_name from information_schema.tables where table_schema = "
                "'main' and table_type = 'BASE TABLE'"
            ).fetchall()
        } - {"backtest_alerts", "bi_copy_info"}
        problems += check_decisions(con, decisions)
        result.decisions_found = found_decisions(con, decisions)
    finally:
        con.close()
    result.decisions_entered = sum(d.entered for d in decisions)
    if as_of != result.night:
        problems.append(f"the warehouse is as of {as_of}, the run was for {result.night}")
    if result.recovery_code == 0:
        if bi.as_of != result.night or bi.published_at == last_bi.published_at:
            problems.append(f"BI copy after the recovery is not this run's: {bi.describe()}")
        if set(bi.counts) != public:
            problems.append(f"BI copy tables {sorted(bi.counts)} != warehouse's {sorted(public)}")
        differ = {n: (c, ours.get(n)) for n, c in bi.counts.items() if ours.get(n) != c}
        if differ:
            problems.append(f"BI copy rows differ from the warehouse: {differ}")
    result.bi_after_recovery = (
        f"this run, {len(bi.counts)} tables as in the warehouse ({bi.describe()})"
        if not any(p.startswith("BI copy") for p in problems)
        else f"WRONG ({bi.describe()})"
    )
    result.leftovers = bi_leftovers(warehouse)
    if result.leftovers:
        problems.append(f"temporary BI copies left beside the BI copy: {result.leftovers}")
    return bi
