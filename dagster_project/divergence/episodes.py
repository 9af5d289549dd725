"""Alert episodes: tonight's findings merged into the alerts already known (pure, no I/O).

One episode per rule and dimension value while a divergence goes on: a finding that continues an
active episode updates it (last_detected_at, changes, evidence) instead of opening a new one; an
active episode with no finding tonight is cleared once `clear_after_nights` nights have passed
since its last finding (the count is in its evidence's hold state, `hold.py`; an episode without
one, recorded before holding existed or built from bare `detect` findings, clears on its first
night without a finding). The id is derived from the rule, the dimension value and the night the
episode began, so re-running a night gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from dagster_project.divergence.findings import Finding, Severity


@dataclass(frozen=True)
class Alert:
    alert_id: str
    rule_id: str
    leading_metric: str
    outcome_metric: str
    dimension: str
    dimension_value: str
    window_start: date
    window_end: date
    leading_change: float
    outcome_change: float
    severity: Severity
    explanation: str
    evidence: str  # JSON text
    first_detected_at: date
    last_detected_at: date
    status: str  # active | cleared
    cleared_at: date | None = None
    owner: str = ""
    question: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule_id, self.dimension, self.dimension_value)


def hold_state(alert: Alert) -> dict[str, Any] | None:
    """The episode's hold state (`hold.py`) from its evidence JSON; None if it has none."""
    try:
        state = json.loads(alert.evidence or "{}").get("hold")
    except (ValueError, AttributeError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("baseline_end"), str):
        return None
    return state


def _clear_after(alert: Alert) -> int:
    """Nights without a finding after which the episode clears (1 without a hold state)."""
    state = hold_state(alert)
    nights = state.get("clear_after_nights") if state else None
    return nights if isinstance(nights, int) and nights >= 1 else 1


def alert_id(rule_id: str, dimension: str, dimension_value: str, first_detected: date) -> str:
    text = "|".join((rule_id, dimension, dimension_value, first_detected.isoformat()))
    return "A-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _from_finding(finding: Finding, first_detected: date, previous: Alert | None) -> Alert:
    return Alert(
        alert_id=previous.alert_id
        if previous
        else alert_id(finding.rule_id, finding.dimension, finding.dimension_value, first_detected),
        rule_id=finding.rule_id,
        leading_metric=finding.leading_metric,
        outcome_metric=finding.outcome_metric,
        dimension=finding.dimension,
        dimension_value=finding.dimension_value,
        window_start=finding.window_start,
        window_end=finding.window_end,
        leading_change=finding.leading_change,
        outcome_change=finding.outcome_change,
        severity=finding.severity,
        explanation=finding.explanation,
        evidence=json.dumps(finding.evidence, sort_keys=True, default=str),
        first_detected_at=first_detected,
        last_detected_at=finding.as_of,
        status="active",
        owner=finding.owner,
        question=finding.question,
    )


def merge_alerts(previous: list[Alert], findings: list[Finding], as_of: date) -> list[Alert]:
    """All alerts after tonight: earlier episodes kept, active ones continued or cleared.

    Episodes first detected after `as_of` are dropped: replaying an earlier night must not see
    what was only found later. An episode that an earlier run of this same night cleared is
    active again going in: re-running a night with late data that finds it continues it (same
    id, same queue item) instead of opening a second episode on the same day.
    """
    kept = [a for a in previous if a.first_detected_at <= as_of]
    active = {a.key: a for a in kept if a.status == "active"}
    for i, a in enumerate(kept):
        if a.status == "cleared" and a.cleared_at == as_of and a.key not in active:
            kept[i] = active[a.key] = replace(a, status="active", cleared_at=None)
    found = {(f.rule_id, f.dimension, f.dimension_value): f for f in findings}
    merged: dict[str, Alert] = {a.alert_id: a for a in kept}
    for key, alert in active.items():
        if key in found:
            continue
        nights = _clear_after(alert)
        if nights == 1 or (as_of - alert.last_detected_at).days >= nights:
            merged[alert.alert_id] = replace(alert, status="cleared", cleared_at=as_of)
        else:  # held open: fewer than clear_after_nights nights since its last finding
            merged[alert.alert_id] = alert
    for key, finding in found.items():
        ongoing = active.get(key)
        first = ongoing.first_detected_at if ongoing else as_of
        alert = _from_finding(finding, first, ongoing)
        merged[alert.alert_id] = alert
    return sorted(merged.values(), key=lambda a: (a.first_detected_at, a.alert_id))
