"""One divergence rule as a value: the `Rule` dataclass, the vocabulary its fields take, and
`RuleError`. Constructing a Rule checks every field that does not need the metric catalog.

A rule says: when `leading_metric` moves the good way (`leading_good`) by at least `min_effect`
while `outcome_metric` moves the bad way (`outcome_bad`: `down`, `up`, or `flat` = did not follow),
on a dimension value with enough volume, ask `owner` the `question`.

The check against the catalog is `catalog.validate_rule`; reading the rule file is `rules.py`.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from typing import Literal

Direction = Literal["up", "down"]
OutcomeBad = Literal["down", "up", "flat"]
Grain = Literal["day", "week", "month"]
Severity = Literal["warn", "error"]
OutcomeTest = Literal["fixed", "censored"]

DIMENSIONS: tuple[str, ...] = ("total", "channel", "platform", "campaign")
GRAINS: tuple[str, ...] = ("day", "week", "month")
OUTCOME_BAD: tuple[str, ...] = ("down", "up", "flat")
DIRECTIONS: tuple[str, ...] = ("up", "down")
SEVERITIES: tuple[str, ...] = ("warn", "error")
OUTCOME_TESTS: tuple[str, ...] = ("fixed", "censored")
# Outcome metrics the censored comparison can stand in for: the share of a day's new leads that
# reached SQL (lead_cohort_ages holds each lead's age at SQL), by total and channel; the horizon
# is the metric's maturity lag.
CENSORED_METRICS: frozenset[str] = frozenset({"lead_to_sql_rate", "early_lead_to_sql_rate"})
CENSORED_DIMENSIONS: tuple[str, ...] = ("total", "channel")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Catalog metric ids (metric_definitions.sql) are snake_case; a rule naming anything else is
# refused before the catalog is consulted, so no other text is carried towards the warehouse.
METRIC_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Placeholders a question template may use (filled by detect.py).
QUESTION_FIELDS: frozenset[str] = frozenset(
    {
        "dimension_value",
        "leading_label",
        "outcome_label",
        "leading_change",
        "outcome_change",
        "window_end",
    }
)


class RuleError(ValueError):
    """A rule file or rule that cannot be used; the message names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    """One divergence rule. Construction checks everything that does not need the catalog."""

    id: str
    leading_metric: str
    outcome_metric: str
    outcome_bad: OutcomeBad
    question: str
    leading_good: Direction = "up"
    dimensions: tuple[str, ...] = ("total", "channel")
    grain: Grain = "week"
    window: int = 2  # periods under test
    baseline: int = 12  # periods before the window (and before the gap)
    gap: int = 0  # periods left out between baseline and window (a change's onset week)
    min_volume_leading: float = 0.0  # window volume (count, or denominator of a ratio)
    min_volume_outcome: float = 0.0
    min_effect: float = 0.15  # practical floor on the leading metric's relative change
    min_effect_outcome: float | None = None  # the outcome's floor; None: min_effect
    severity: Severity = "warn"
    owner: str | None = None  # None: the outcome metric's catalog owner
    title: str = ""  # short human name; defaults to the id
    # An open episode is held against the baseline from before it began (divergence/hold.py):
    # it stays active while the divergence p-value there is <= hold_p (unadjusted, looser than
    # discovery), and clears after `clear_after_nights` nights in a row without that.
    hold_p: float = 0.2
    clear_after_nights: int = 3
    # While held, the leading metric needs only this share of min_effect (hysteresis: a +30%
    # spend change reads +15-20% against the old baseline on some nights, under the 20% that
    # opened it, while the outcome stays down); the outcome's test is unchanged, so an episode
    # clears when the outcome comes back (within its floor, or for `flat`, clearly following)
    # or the leading metric falls back.
    hold_leading_share: float = 0.5
    # How the outcome is judged: "fixed", its metric_series sums over mature periods;
    # "censored", a lead cohort's SQLs by age against the baseline's pace at the same ages, every
    # cohort of the window counting for what its age can say (divergence/censored.py).
    outcome_test: OutcomeTest = "fixed"

    def __post_init__(self) -> None:
        name = self.id if isinstance(self.id, str) else repr(self.id)
        if isinstance(self.dimensions, list):  # frozen: coerce the YAML list once, here
            object.__setattr__(self, "dimensions", tuple(self.dimensions))

        def fail(field_name: str, message: str) -> None:
            raise RuleError(f"rule {name!r}, field {field_name!r}: {message}")

        if not isinstance(self.id, str) or not ID_PATTERN.match(self.id):
            fail("id", "must match ^[a-z][a-z0-9_]{0,62}$ (snake_case, at most 63 characters)")
        for field_name in ("leading_metric", "outcome_metric"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not METRIC_ID_PATTERN.match(value):
                fail(
                    field_name,
                    f"{value!r} is not a metric id (snake_case, ^[a-z][a-z0-9_]*$)",
                )
        if self.leading_metric == self.outcome_metric:
            fail("outcome_metric", "must differ from leading_metric")
        if self.outcome_bad not in OUTCOME_BAD:
            fail("outcome_bad", f"{self.outcome_bad!r} is not one of {', '.join(OUTCOME_BAD)}")
        if self.leading_good not in DIRECTIONS:
            fail("leading_good", f"{self.leading_good!r} is not one of {', '.join(DIRECTIONS)}")
        if self.grain not in GRAINS:
            fail("grain", f"{self.grain!r} is not one of {', '.join(GRAINS)}")
        if self.severity not in SEVERITIES:
            fail("severity", f"{self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not isinstance(self.dimensions, tuple) or not self.dimensions:
            fail("dimensions", "must be a non-empty list")
        for dim in self.dimensions:
            if dim not in DIMENSIONS:
                fail("dimensions", f"{dim!r} is not one of {', '.join(DIMENSIONS)}")
        if len(set(self.dimensions)) != len(self.dimensions):
            fail("dimensions", "lists a dimension twice")
        for field_name in ("window", "baseline"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                fail(field_name, f"must be a positive whole number of periods, got {value!r}")
        if isinstance(self.gap, bool) or not isinstance(self.gap, int) or self.gap < 0:
            fail("gap", f"must be a whole number of periods >= 0, got {self.gap!r}")
        if self.grain == "day":
            # Whole weeks on both sides give the window and the baseline the same weekday mix, so
            # the weekly cycle cannot masquerade as a change.
            for field_name in ("window", "baseline", "gap"):
                if getattr(self, field_name) % 7:
                    fail(field_name, "must be a multiple of 7 days at day grain (whole weeks)")
        for field_name in ("min_volume_leading", "min_volume_outcome"):
            value = getattr(self, field_name)
            if not _is_number(value) or value < 0:
                fail("min_volume", f"must be a number >= 0, got {value!r}")
        for value in (self.min_effect, self.min_effect_outcome):
            if value is not None and (not _is_number(value) or not 0 < value <= 10):
                fail("min_effect", f"must be a relative change in (0, 10], got {value!r}")
        if not _is_number(self.hold_p) or not 0 < self.hold_p < 1:
            fail("hold_p", f"must be a p-value level in (0, 1), got {self.hold_p!r}")
        if not _is_number(self.hold_leading_share) or not 0 < self.hold_leading_share <= 1:
            fail(
                "hold_leading_share",
                f"must be a share of min_effect in (0, 1], got {self.hold_leading_share!r}",
            )
        value = self.clear_after_nights
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail("clear_after_nights", f"must be a whole number of nights >= 1, got {value!r}")
        if self.outcome_test not in OUTCOME_TESTS:
            fail("outcome_test", f"{self.outcome_test!r} is not one of {', '.join(OUTCOME_TESTS)}")
        if self.outcome_test == "censored" and (self.grain != "day" or self.outcome_bad != "down"):
            fail("outcome_test", "censored needs grain: day and outcome_bad: down")
        if self.owner is not None and (not isinstance(self.owner, str) or not self.owner.strip()):
            fail("owner", "must be a non-empty string or left out")
        if not isinstance(self.title, str):
            fail("title", "must be a string")
        if not isinstance(self.question, str) or not self.question.strip():
            fail("question", "must be a non-empty template")
        try:
            parsed = [
                (name, spec, conversion)
                for _, name, spec, conversion in string.Formatter().parse(self.question)
                if name is not None  # "{}" (positional) is a field too, and an unknown one
            ]
        except ValueError as exc:
            fail("question", f"is not a valid template: {exc}")
        placeholders = {name for name, _, _ in parsed}
        # A format spec or conversion ("{dimension_value:>999999999}", "{leading_label!r}") is
        # not needed by any question and could blow up or reshape text that comes from the data.
        styled = sorted(name for name, spec, conversion in parsed if spec or conversion)
        if styled:
            fail(
                "question",
                f"placeholder(s) {', '.join('{' + s + '}' for s in styled)} take no format "
                "spec or conversion; write them plainly, e.g. {dimension_value}",
            )
        unknown = sorted(placeholders - QUESTION_FIELDS)
        if unknown:
            fail(
                "question",
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                f"use {', '.join('{' + f + '}' for f in sorted(QUESTION_FIELDS))}",
            )

    @property
    def outcome_floor(self) -> float:
        """The outcome's practical floor: its own if given, else the leading metric's."""
        return self.min_effect if self.min_effect_outcome is None else self.min_effect_outcome

    @property
    def display_name(self) -> str:
        return self.title or self.id.replace("_", " ")


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
