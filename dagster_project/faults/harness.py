"""The harness: one warehouse, one landing folder and one Dagster home under a folder; good runs
(optionally with a verb entered while they run), killed runs and their recoveries, night after
night, with the decisions people enter between and during them."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from dagster_project.faults.checks import BiState, read_bi
from dagster_project.faults.decisions import (
    Decision,
    DecisionProcess,
    choose_decision,
    queue_statuses,
)
from dagster_project.faults.env import campaign_env
from dagster_project.faults.kill_points import (
    ALERTS_WRITE,
    dagster_runs,
    kill_due,
    plan_kill,
    run_step,
    seen_at_kill,
)
from dagster_project.faults.landing import Landing, build_landing
from dagster_project.faults.recovery import check_crashed, check_recovered
from dagster_project.faults.results import Campaign, KillResult
from dagster_project.faults.watch import Observation, RunProcess


def _phases(obs: Observation, total: float) -> dict[str, float]:
    """Seconds per phase of a completed run, from its progress lines."""
    m = obs.marks
    points = [
        ("start-up", 0.0),
        ("load", m.get("load")),
        ("dbt", m.get("load-done")),
        ("checks, alerts, queue, publish", m.get("dbt-done")),
        ("end", total),
    ]
    known = [(n, t) for n, t in points if t is not None]
    return {known[i][0]: known[i + 1][1] - known[i][1] for i in range(len(known) - 1)}


class Harness:
    """One warehouse, one landing folder, one Dagster home; everything under `root`."""

    def __init__(
        self,
        root: Path,
        *,
        seed: int,
        say: Callable[[str], None] = print,
        landing: Landing | None = None,
    ) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.say = say
        self.env = campaign_env(root)
        self.landing = landing or build_landing(root / "landing", env=self.env)
        self.warehouse = root / "warehouse" / "firewatch.duckdb"
        self.warehouse.parent.mkdir(parents=True, exist_ok=True)
        self.bi = self.warehouse.with_name("firewatch_bi.duckdb")
        self.campaign = Campaign(seed)
        self.night = self.landing.first_night
        self.last_bi: BiState = BiState(None, None, {})
        self.durations: dict[str, float] = {}
        self.models: dict[str, int] = {}  # dbt step -> models it builds (from the last run)
        self._counter = 0

    # -- running ------------------------------------------------------------------------

    def start_run(self, night: date) -> RunProcess:
        return RunProcess(self.env, self.warehouse, self.landing.raw, night)

    def good_run(self, night: date, *, during: Decision | None = None) -> tuple[int, RunProcess]:
        """A run without a kill (optionally with a verb entered while it runs)."""
        run = self.start_run(night)
        pending = None
        start_at = self.rng.uniform(1.0, max(2.0, self.durations.get("total", 30) * 0.9))
        while run.proc.poll() is None:
            run.poll_state()
            if during is not None and pending is None and run.elapsed() >= start_at:
                during.started_at = run.elapsed()
                pending = DecisionProcess(during, self.env, self.warehouse)
            time.sleep(0.005)
        code = run.wait()
        if during is not None:
            if pending is None:  # the run ended first: enter it now, nothing overlapping
                pending = DecisionProcess(during, self.env, self.warehouse)
            self._finish(pending)
        total = run.elapsed()
        self.campaign.run_seconds.append(total)
        if code == 0:
            for name, seconds in _phases(run.obs, total).items():
                self.campaign.phase_seconds.setdefault(name, []).append(seconds)
            self._learn(run.obs, total)
        return code, run

    def _learn(self, obs: Observation, total: float) -> None:
        m = obs.marks
        self.models.update({step: total_ for step, (_, total_) in obs.built.items()})
        if "total" in self.durations:
            self.durations["nightly"] = total
        self.durations["total"] = total
        for name, start, end in (
            ("load", "load", "load-done"),
            ("dbt", "load-done", "dbt-done"),
            ("alerts-detect", "dbt-done", ALERTS_WRITE),
            ("after-alerts", f"{ALERTS_WRITE}-done", "publish"),
            ("publish", "publish", "summary"),
        ):
            if start in m and (end is None or end in m):
                self.durations[name] = (m[end] if end else total) - m[start]

    def _finish(self, pending: DecisionProcess) -> Decision:
        d = pending.finish()
        self.campaign.decisions.append(d)
        status = "entered" if d.entered else ("refused" if d.refused else "FAILED")
        wait = ", waited" if d.waited else ""
        self.say(f"    {d.action} {d.decision_id} by {d.actor} ({d.when}): {status}{wait}")
        return d

    def decide_now(self, when: str) -> Decision | None:
        statuses = queue_statuses(self.warehouse)
        d = choose_decision(self.rng, statuses, self._next(), when)
        if d is None:
            return None
        return self._finish(DecisionProcess(d, self.env, self.warehouse))

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    # -- the campaign -------------------------------------------------------------------

    def first_run(self, decisions: int = 2) -> None:
        started = time.monotonic()
        code, run = self.good_run(self.night)
        self.campaign.first_run_seconds = time.monotonic() - started
        if code != 0:
            raise SystemExit(f"the first run failed ({code}):\n{run.stderr_text()[-3000:]}")
        self.last_bi = read_bi(self.bi)
        self.say(f"first run as of {self.night}: {self.campaign.first_run_seconds:.1f} s")
        for _ in range(decisions):
            self.decide_now("after the first run")

    def kill_once(
        self,
        index: int,
        target: str,
        *,
        decide_after: bool,
        decide_during: bool,
        recover: bool = True,
    ) -> KillResult:
        """One killed run and, with `recover`, the recovery run of its night and its checks;
        without, the next killed run comes first (crashes stacked on crashes)."""
        rng = self.rng
        nights = [n for n in self.landing.nights() if n > self.night]
        new_day = bool(nights) and (rng.random() < 0.85 or index == 1)
        night = nights[0] if new_day else self.night
        if new_day:
            self.landing.land(night)
        plan = plan_kill(rng, target, self.durations, self.models)
        result = KillResult(index, night, new_day, plan)
        self.campaign.kills.append(result)
        before = len(self.campaign.decisions)
        during = None
        if decide_during:
            during = choose_decision(
                rng, queue_statuses(self.warehouse), self._next(), f"during killed run {index}"
            )
        known_runs = dagster_runs(self.env["DAGSTER_HOME"])
        run = self.start_run(night)
        pending: DecisionProcess | None = None
        during_at = rng.uniform(0.5, max(1.0, self.durations.get("total", 30) * 0.8))
        while run.proc.poll() is None:
            run.poll_state()
            if during is not None and pending is None and run.elapsed() >= during_at:
                during.started_at = run.elapsed()
                pending = DecisionProcess(during, self.env, self.warehouse)
            if kill_due(run, plan):
                seen = seen_at_kill(run)
                result.killed_at = run.kill()
                result.killed = True
                result.seen = seen
                break
            time.sleep(0.002)
        if not result.killed:
            run.wait()
            result.seen = f"the run ended (exit {run.proc.returncode}) before its target"
        if pending is not None:
            self._finish(pending)
        elif during is not None:
            # the kill (or the end) came before the verb's moment: enter it now, against the
            # crashed warehouse
            during.when = f"after {'kill' if result.killed else 'run'} {index} (planned during)"
            self._finish(DecisionProcess(during, self.env, self.warehouse))
        result.step = run_step(self.env["DAGSTER_HOME"], known_runs)
        if not result.killed:
            # it completed: check it as a recovery run, and try the target again next time
            result.recovery_code = run.proc.returncode
            result.recovery_seconds = run.elapsed()
            if result.recovery_code != 0:
                result.problems.append(f"run exit {result.recovery_code}: {run.stderr_text()}")
        else:
            self.last_bi = check_crashed(
                result, run, self.warehouse, self.bi, self.last_bi, self.campaign.decisions
            )
            if decide_after:
                self.decide_now(f"after kill {index}")
        if result.killed and not recover:
            result.chained = True
            self.night = night
            self._note_decisions(result, before)
            return result
        if result.killed:
            # the recovery: the same night, no kill, sometimes a verb entered while it runs
            during = None
            if rng.random() < 0.3:
                during = choose_decision(
                    rng, queue_statuses(self.warehouse), self._next(), f"during recovery {index}"
                )
            started = time.monotonic()
            code, rec = self.good_run(night, during=during)
            result.recovery_code = code
            result.recovery_seconds = time.monotonic() - started
            if code != 0:
                result.problems.append(
                    f"recovery run exit {code}: {rec.stderr_text()[-1500:]}"
                    f"{''.join(rec.stdout)[-500:]}"
                )
        self.night = night
        self.last_bi = check_recovered(
            result, self.warehouse, self.bi, self.last_bi, self.campaign.decisions
        )
        self._note_decisions(result, before)
        return result

    def _note_decisions(self, result: KillResult, before: int) -> None:
        result.decisions_here = [
            f"{d.action} {d.decision_id} ({d.when}): "
            + ("entered" if d.entered else "refused" if d.refused else f"FAILED {d.exit_code}")
            + (", waited" if d.waited else "")
            for d in self.campaign.decisions[before:]
        ]
