"""The night guard: before alerts, the queue, notifications and the BI copy change, tonight's
control totals over all history (spend, sessions, leads) are held against the last accepted
night's. A total that falls to zero, vanishes, or falls by more than FIREWATCH_MAX_DROP stops
the night until a person accepts it: a deleted export or a restatement gone wrong must not
change every number silently.

`falls` is the comparison, pure; `guard_night` reads the totals and records an accepted
night's (warehouse/totals.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from dagster_project.warehouse.connection import run_as_of
from dagster_project.warehouse.engine import connect
from dagster_project.warehouse.target import Location
from dagster_project.warehouse.totals import history_totals, last_accepted, record_totals

# The control layer's own volume totals: each comes from one required landing table (ads,
# web, CRM), so together they notice any of them shrinking.
CONTROL_TOTALS = ("spend", "sessions", "leads")


def _number(value: float) -> str:
    text = f"{value:,.2f}"  # cents for money, none for counts (and for 490.00000000000006)
    return text.removesuffix(".00")


@dataclass(frozen=True)
class Fall:
    """One total that fell too far: `now` None when tonight has no rows for it at all."""

    metric_id: str
    before: float
    now: float | None

    @property
    def share(self) -> float:
        """How much of `before` is gone (1.0: all of it)."""
        return 1.0 if not self.now else 1.0 - self.now / self.before

    def __str__(self) -> str:
        now = "no rows" if self.now is None else _number(self.now)
        return f"{self.metric_id}: {_number(self.before)} → {now} (-{self.share:.0%})"


def falls(before: Mapping[str, float], now: Mapping[str, float], max_drop: float) -> list[Fall]:
    """The totals of `before` (the last accepted night) that `now` lost: gone, zero, or more
    than `max_drop` (a share) lower. A total that was not there or was zero before cannot
    fall; nothing before (a first night) passes; growth always passes."""
    found = []
    for metric_id, was in before.items():
        if was is None or was <= 0:
            continue
        is_now = now.get(metric_id)
        if is_now is None or is_now <= 0 or is_now < was * (1.0 - max_drop):
            found.append(Fall(metric_id, was, is_now))
    return found


@dataclass(frozen=True)
class Verdict:
    as_of: date
    now: dict[str, float]
    previous_night: date | None
    before: dict[str, float]
    falls: list[Fall]

    def lines(self, max_drop: float) -> list[str]:
        """What fell, before → now, and against which night."""
        return [str(fall) for fall in self.falls] + [
            f"(all history to {self.as_of} against {self.previous_night}; the limit is a "
            f"{max_drop:.0%} fall, FIREWATCH_MAX_DROP)"
        ]


def guard_night(warehouse: Location, max_drop: float, *, accept: bool) -> Verdict:
    """Tonight's totals (as of the night dbt built) against the last accepted night before it.
    The night's totals are recorded when nothing fell, or when `accept` says a person accepts
    the fall; otherwise nothing is written."""
    with connect(warehouse) as con:
        as_of = run_as_of(con)
        totals = history_totals(con, as_of, CONTROL_TOTALS)
        now = {metric_id: totals[metric_id] for metric_id in CONTROL_TOTALS if metric_id in totals}
        previous_night, before = last_accepted(con, as_of) or (None, {})
        before = {m: before[m] for m in CONTROL_TOTALS if m in before}
        verdict = Verdict(as_of, now, previous_night, before, falls(before, now, max_drop))
        if accept or not verdict.falls:
            record_totals(con, as_of, now, accepted_drop=bool(verdict.falls))
    return verdict
