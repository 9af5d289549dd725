"""What a run left behind, read from outside: the BI copy as a reader sees it, the decision log
and queue against the verbs people entered, dbt's tallies in the run log, and `dbt test` on the
warehouse as it is."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from dagster_project.divergence.queue import build_queue
from dagster_project.faults.decisions import Decision
from dagster_project.faults.env import BIN, DBT_PROJECT
from dagster_project.warehouse.decisions import read_alerts, read_log

_DBT_DONE = re.compile(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)")


@dataclass(frozen=True)
class BiState:
    published_at: datetime | None
    as_of: date | None
    counts: dict[str, int]
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.published_at is None:
            return "none"
        return f"as of {self.as_of}, published {self.published_at:%H:%M:%S.%f}"


def read_bi(path: Path) -> BiState:
    """The BI copy as a reader sees it: opened read-only, every table's rows counted against
    bi_copy_info."""
    if not path.exists():
        return BiState(None, None, {}, ())
    problems: list[str] = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        info = con.execute(
            "select table_name, row_count, published_at, as_of_date from bi_copy_info"
        ).fetchall()
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        counts: dict[str, int] = {}
        for name, rows, _, _ in info:
            if name not in tables:
                problems.append(f"BI copy: bi_copy_info lists {name}, which is not there")
                continue
            (found,) = con.execute(f'select count(*) from main."{name}"').fetchone()
            counts[name] = int(found)
            if found != rows:
                problems.append(f"BI copy: {name} has {found} rows, bi_copy_info says {rows}")
        extra = tables - set(counts) - {"bi_copy_info"}
        if extra:
            problems.append(f"BI copy: tables not in bi_copy_info: {sorted(extra)}")
        stamps = {(p, a) for _, _, p, a in info}
        if len(stamps) != 1:
            problems.append(f"BI copy: bi_copy_info mixes runs: {sorted(stamps)}")
        published, as_of = next(iter(stamps)) if stamps else (None, None)
    finally:
        con.close()
    return BiState(published, as_of, counts, tuple(problems))


def bi_leftovers(warehouse: Path) -> list[str]:
    prefix = f".{warehouse.stem}_bi.duckdb."
    return sorted(n for n in os.listdir(warehouse.parent) if n.startswith(prefix))


def warehouse_counts(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
    counts = {}
    for name in tables:
        try:
            (counts[name],) = con.execute(f'select count(*) from main."{name}"').fetchone()
        except duckdb.Error:
            counts[name] = -1
    return counts


def queue_rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """decision_id -> (status, decision, decided_by, note, snoozed_until) of decision_queue."""
    return {
        row[0]: row[1:]
        for row in con.execute(
            "select decision_id, status, decision, decided_by, note, snoozed_until "
            "from main.decision_queue"
        ).fetchall()
    }


def check_decisions(
    con: duckdb.DuckDBPyConnection, decisions: Sequence[Decision], *, as_of: date | None = None
) -> list[str]:
    """Every entered verb is one row of the log (who, what, when) and the queue is the log
    folded over the alerts; nobody's entry is lost, doubled or overwritten."""
    problems = []
    log = read_log(con)
    ids = [e.entry_id for e in log]
    if len(ids) != len(set(ids)):
        problems.append(f"decision_log: duplicate entry ids {sorted(ids)}")
    entered = [d for d in decisions if d.entered]
    by_actor: dict[str, list] = {}
    for entry in log:
        by_actor.setdefault(entry.actor, []).append(entry)
    for d in entered:
        rows = by_actor.get(d.actor, [])
        match = [
            e
            for e in rows
            if e.decision_id == d.decision_id
            and e.action == d.action
            and (e.text or "") == d.text
            and e.snooze_until == d.until
            and e.entered_at is not None
        ]
        if len(match) != 1:
            problems.append(
                f"decision_log: {d.actor}'s {d.action} of {d.decision_id} ({d.when}) found "
                f"{len(match)} times: {rows}"
            )
    known = {d.actor for d in decisions}
    strangers = [e for e in log if e.actor not in known]
    if strangers:
        problems.append(f"decision_log: entries nobody entered: {strangers}")
    if len(log) != len(entered):
        problems.append(f"decision_log: {len(log)} entries, {len(entered)} entered")
    # the queue is what the log says, item by item
    queue = queue_rows(con)
    alerts = read_alerts(con)
    if as_of is None:
        as_of = con.execute("select as_of_date from intermediate.int_run_context").fetchone()[0]
    expected = {
        i.decision_id: (i.status, i.decision, i.decided_by, i.note, i.snoozed_until)
        for i in build_queue(alerts, log, as_of)
    }
    for decision_id in sorted(set(expected) | set(queue)):
        if queue.get(decision_id) != expected.get(decision_id):
            problems.append(
                f"decision_queue: {decision_id} is {queue.get(decision_id)}, the log says "
                f"{expected.get(decision_id)}"
            )
    for d in entered:
        if d.decision_id not in queue:
            problems.append(f"decision_queue: {d.decision_id} ({d.actor}) is not in the queue")
    return problems


def found_decisions(con: duckdb.DuckDBPyConnection, decisions: Sequence[Decision]) -> int:
    """How many of the entered verbs are in the log, each exactly once."""
    log = read_log(con)
    found = 0
    for d in decisions:
        if not d.entered:
            continue
        hits = [
            e
            for e in log
            if (e.actor, e.decision_id, e.action, e.text or "", e.snooze_until)
            == (d.actor, d.decision_id, d.action, d.text, d.until)
        ]
        found += len(hits) == 1
    return found


def dbt_summaries(log_path: Path) -> list[tuple[int, int, int, int]]:
    """(pass, warn, error, skip) of each dbt invocation in the run's log."""
    if not log_path.exists():
        return []
    text = log_path.read_text(encoding="utf-8", errors="replace")
    return [tuple(int(x) for x in m.groups()) for m in _DBT_DONE.finditer(text)]  # type: ignore[misc]


def dbt_test(env: dict[str, str], warehouse: Path, night: date, work: Path) -> tuple[bool, str]:
    """`dbt test` (every data test, as the nightly runs them) against the warehouse as it is,
    with its own target and log folders so nobody else's dbt state is touched."""
    target = work / "dbt_target"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    manifest_dir = DBT_PROJECT / "target"
    for name in ("partial_parse.msgpack",):
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(manifest_dir / name, target / name)
    run_env = dict(
        env,
        FIREWATCH_WAREHOUSE=str(warehouse),
        FIREWATCH_AS_OF=night.isoformat(),
        FIREWATCH_REPROCESS_FROM=night.isoformat(),
    )
    result = subprocess.run(
        [
            str(BIN / "dbt"),
            "test",
            "--exclude",
            "test_type:unit",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--log-path",
            str(work / "dbt_logs"),
        ],
        cwd=DBT_PROJECT,
        env=run_env,
        capture_output=True,
        text=True,
    )
    summary = _DBT_DONE.search(result.stdout)
    text = summary.group(0) if summary else result.stdout[-500:]
    return result.returncode == 0, text
