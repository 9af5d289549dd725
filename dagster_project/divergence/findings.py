"""The one shape a divergence finding has, shared by detection, alerts and the decision queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Severity = Literal["warn", "error"]


@dataclass(frozen=True)
class Finding:
    """One rule firing on one dimension value over one test window, as of one night."""

    rule_id: str
    leading_metric: str
    outcome_metric: str
    dimension: str  # total, channel, platform, campaign
    dimension_value: str  # the channel etc.; "total" for the total
    window_start: date  # first day of the window under test
    window_end: date  # last day of the window under test
    leading_change: float  # relative change of the leading metric against its baseline
    outcome_change: float  # relative change of the outcome metric against its baseline
    severity: Severity
    explanation: str  # one plain-language sentence a marketer understands
    owner: str
    question: str  # the decision asked of the owner
    as_of: date
    evidence: dict[str, Any] = field(default_factory=dict)  # numbers behind it, JSON-able
