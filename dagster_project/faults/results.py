"""What a campaign records: per kill (its plan, where it landed, the crashed state, the recovery
and its checks, the decisions) and for the whole campaign (every decision, the run and phase
timings, `dbt test`, the fresh build's comparison, the problems outside any one kill)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dagster_project.faults.decisions import Decision
from dagster_project.faults.kill_points import KillPlan


@dataclass
class KillResult:
    index: int
    night: date
    new_day: bool
    plan: KillPlan
    killed: bool = False
    killed_at: float | None = None  # seconds since the run started
    step: str = ""  # the run's step at the kill, from its Dagster event log
    seen: str = ""  # what the monitor saw at the kill
    crashed_problems: list[str] = field(default_factory=list)
    bi_after_kill: str = ""
    recovery_code: int | None = None
    recovery_seconds: float = 0.0
    dbt: list[tuple[int, int, int, int]] = field(default_factory=list)
    bi_after_recovery: str = ""
    problems: list[str] = field(default_factory=list)
    decisions_entered: int = 0
    decisions_found: int = 0
    decisions_here: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    chained: bool = False  # the next killed run came before a recovery (see `recover_each`)

    @property
    def survived(self) -> bool:
        return self.killed and self.recovery_code == 0 and not self.problems


@dataclass
class Campaign:
    seed: int
    kills: list[KillResult] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    first_run_seconds: float = 0.0
    phase_seconds: dict[str, list[float]] = field(default_factory=dict)
    run_seconds: list[float] = field(default_factory=list)
    dbt_test: tuple[bool, str] | None = None
    fresh: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # outside any one kill

    @property
    def survived(self) -> int:
        return sum(k.survived for k in self.kills if k.killed)

    @property
    def killed(self) -> int:
        return sum(k.killed for k in self.kills)

    @property
    def entered(self) -> int:
        return sum(d.entered for d in self.decisions)

    @property
    def ok(self) -> bool:
        return not self.problems and all(
            k.survived if k.killed else not k.problems for k in self.kills
        )
