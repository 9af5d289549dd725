"""What one night's detection returns: an `Evaluation` of every rule on every dimension value
(a finding, no divergence, or skipped, with why) and the night's `DetectionReport` over them,
with the summaries the nightly run and the benchmark read (skips per reason, the worst values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from .findings import Finding
from .onesided import json_float


@dataclass(frozen=True)
class Evaluation:
    """One rule on one dimension value: a finding, no divergence, or skipped (with why)."""

    rule_id: str
    dimension: str
    dimension_value: str
    status: str  # "finding", "no_divergence" or "skipped"
    reason: str  # why skipped or why nothing fired; "" for a finding
    window_start: date | None = None
    window_end: date | None = None
    leading_change: float = math.nan
    outcome_change: float = math.nan
    p_value: float = math.nan  # of the divergence: max of the two one-sided p-values
    q_value: float = math.nan  # the same after Benjamini-Hochberg over the night
    leading_p: float = math.nan  # the one-sided p-values of each side
    outcome_p: float = math.nan
    leading_volume: float = math.nan  # each side's volume in the window
    outcome_volume: float = math.nan
    finding: Finding | None = None  # with the evidence: both tests' numbers

    def as_row(self) -> dict[str, Any]:
        """A flat, JSON-able row for tables of the worst dimension values."""
        return {
            "rule_id": self.rule_id,
            "dimension": self.dimension,
            "dimension_value": self.dimension_value,
            "status": self.status,
            "reason": self.reason,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "leading_change": json_float(self.leading_change),
            "outcome_change": json_float(self.outcome_change),
            "leading_p": json_float(self.leading_p),
            "outcome_p": json_float(self.outcome_p),
            "q_value": json_float(self.q_value),
            "leading_volume": json_float(self.leading_volume),
            "outcome_volume": json_float(self.outcome_volume),
        }


@dataclass(frozen=True)
class DetectionReport:
    """Everything one night's detection produced: findings, every evaluation, test count."""

    as_of: date
    fdr: float
    findings: list[Finding]
    evaluations: list[Evaluation]
    n_tests: int  # divergence hypotheses in the Benjamini-Hochberg family (screened)

    def skipped(self) -> dict[str, dict[str, int]]:
        """Skipped dimension values per rule and reason, e.g. {"r": {"low_volume": 3}}."""
        out: dict[str, dict[str, int]] = {}
        for ev in self.evaluations:
            if ev.status == "skipped":
                by_reason = out.setdefault(ev.rule_id, {})
                by_reason[ev.reason] = by_reason.get(ev.reason, 0) + 1
        return out

    def for_rule(self, rule_id: str) -> list[Evaluation]:
        return [ev for ev in self.evaluations if ev.rule_id == rule_id]

    def worst(self, rule_id: str, limit: int = 10) -> list[dict[str, Any]]:
        """A capped table of the rule's most suspicious dimension values: findings first, then
        by q-value, then by dimension value (stable), as JSON-able rows."""
        tested = [ev for ev in self.for_rule(rule_id) if ev.status != "skipped"]
        tested.sort(
            key=lambda ev: (
                ev.status != "finding",
                ev.q_value if math.isfinite(ev.q_value) else math.inf,  # NaN: not in the family
                ev.dimension_value,
            )
        )
        return [ev.as_row() for ev in tested[:limit]]
