"""Where a run is killed and where it died: the targets (a uniformly random moment or a phase
seen from outside), the plan of a campaign's kills, one kill's delay or model, the moment it is
due, and afterwards the step the run was in, from its own Dagster event log."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster_project.faults.watch import RunProcess

# The post-dbt steps and what they do; everything else is load or dbt.
STEPS = (
    "raw_tables",
    "firewatch_dbt",
    "night_guard",
    "divergence_findings",
    "alerts",
    "divergence_checks",
    "decision_queue",
    "notifications",
    "ritual_metrics",
    "bi_copy",
)
STEP_NAMES = {
    "raw_tables": "load",
    "firewatch_dbt": "dbt",
    "night_guard": "control totals guard",
    "divergence_findings": "detection",
    "alerts": "alerts + queue",
    "divergence_checks": "checks",
    "decision_queue": "queue report",
    "notifications": "notifications",
    "ritual_metrics": "ritual metrics",
    "bi_copy": "BI copy publish",
}
# The run's writes to the warehouse after dbt, as seen from outside: the guard records the night's
# control totals (write-1), then the alerts and queue are one transaction (write-2).
ALERTS_WRITE = "write-2"
# Kill targets: a uniformly random moment, or a phase seen from outside the run.
TARGETS = (
    "random",
    "load",
    "load-write",
    "dbt",
    "alerts-detect",
    "alerts-write",
    "after-alerts",
    "publish",
)


@dataclass
class KillPlan:
    target: str
    delay: float  # seconds after the target's anchor (for `random`: after the start)
    after_built: int = 0  # dbt targets: right after the step's k-th model is built

    def describe(self) -> str:
        if self.after_built:
            return f"{self.target} (after model {self.after_built})"
        return f"{self.target} +{self.delay:.1f} s"


def plan_kills(rng: random.Random, count: int, targets: Sequence[str] | None = None) -> list[str]:
    """`count` targets: every phase in turn (each round shuffled), `random` twice per round."""
    pool = list(targets or (*TARGETS, "random"))
    out: list[str] = []
    while len(out) < count:
        round_ = pool[:]
        rng.shuffle(round_)
        out += round_
    return out[:count]


def plan_kill(
    rng: random.Random, target: str, durations: Mapping[str, float], models: Mapping[str, int]
) -> KillPlan:
    """One kill: its delay after the target's anchor (from the durations the last complete runs
    measured) and, for a dbt target whose models are known, after which model."""
    return KillPlan(target, _delay(rng, target, durations), _model(rng, target, models))


def _delay(rng: random.Random, target: str, d: Mapping[str, float]) -> float:
    if target == "random":
        # over a night's run: the last nightly one, else the first run (a full build,
        # longer) scaled down
        return rng.uniform(0.0, d.get("nightly", 0.7 * d.get("total", 40.0)))
    span = {
        "load": d.get("load", 1.0),
        # (only when the step's models are not known yet: see _model)
        "dbt": 0.8 * d.get("dbt", 20.0),
        "alerts-detect": d.get("alerts-detect", 0.3),
        "after-alerts": d.get("after-alerts", 0.5),
        # the temporary copy is seen only until it is swapped in, a second or less on an
        # idle machine: kill the moment it appears (a delay landed after the run's end)
        "publish": 0.0,
    }.get(target, 0.0)
    return rng.uniform(0.0, span)


def _model(rng: random.Random, target: str, models_of: Mapping[str, int]) -> int:
    """For a dbt target: after which of the step's models to kill (never after the last:
    the step's tests and its end come after it)."""
    models = models_of.get(target, 0)
    return rng.randint(1, models - 1) if models > 1 else 0


def kill_due(run: RunProcess, plan: KillPlan) -> bool:
    """Whether the run has reached the plan's moment."""
    if plan.after_built:
        k, _ = run.obs.built.get(plan.target, (0, 0))
        return k >= plan.after_built
    t = run.elapsed()
    anchor = {
        "random": 0.0,
        "load": run.mark("load"),
        "load-write": run.mark("load-write"),
        "dbt": run.mark("load-done"),
        "alerts-detect": run.mark("dbt-done"),
        "alerts-write": run.mark(ALERTS_WRITE),
        "after-alerts": run.mark(f"{ALERTS_WRITE}-done"),
        "publish": run.mark("publish"),
    }[plan.target]
    return anchor is not None and t >= anchor + plan.delay


def seen_at_kill(run: RunProcess) -> str:
    """What the monitor saw of the run at the kill: who held the DuckDB lock, the BI temp copy."""
    parts = []
    lock = run.obs.last_lock
    if lock:
        who = "the run" if lock[1] == run.proc.pid else f"pid {lock[1]} (dbt)"
        parts.append(f"{who} holds the {lock[0]} lock")
    if run.obs.bi_tmp_seen is not None:
        parts.append("BI temp copy present")
    return "; ".join(parts) or "no lock held"


def dagster_runs(dagster_home: str) -> set[Path]:
    """The event-log databases of the Dagster instance's runs (one file per run)."""
    runs = Path(dagster_home) / "history" / "runs"
    return {p for p in runs.glob("*.db") if p.name != "index.db"} if runs.exists() else set()


def run_step(dagster_home: str, known: set[Path]) -> str:
    """The step the run that is not in `known` was in when it stopped: a step that started and
    did not finish, or the gap after the last one that finished."""
    new = dagster_runs(dagster_home) - known
    if not new:
        return "start-up (no run recorded yet)"
    newest = max(new, key=lambda p: p.stat().st_mtime_ns)
    con = sqlite3.connect(f"file:{newest}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select dagster_event_type, step_key from event_logs where dagster_event_type in "
            "('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE', 'PIPELINE_SUCCESS') order by id"
        ).fetchall()
    finally:
        con.close()
    started, finished = [], set()
    for kind, step in rows:
        if kind == "PIPELINE_SUCCESS":
            return "after the last step (run already succeeded)"
        if kind == "STEP_START":
            started.append(step)
        else:
            finished.add(step)
    running = [s for s in started if s not in finished]
    if running:
        return STEP_NAMES.get(running[-1], running[-1])
    if not started:
        return "start-up (before the first step)"
    return f"between steps (after {STEP_NAMES.get(started[-1], started[-1])})"
