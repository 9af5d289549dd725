"""Planning: which rule x dimension value x window is tested on a night, and each metric's sums.

For every rule and dimension value it picks the window (the last `window` periods complete and
mature for both metrics) and the baseline before it, sums each metric over both into a `Side`
(`sides.py`; rules sharing a metric share its sums), and applies the volume floors. A value that
cannot be judged gets a skip reason instead of sides; the tests themselves are `testing.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from .catalog import MetricInfo
from .index import Group, PreparedSeries
from .periods import ordinals, period_end, periods_back
from .rule import DIMENSIONS, Rule
from .sides import Side, build_censored_side, build_side

if TYPE_CHECKING:
    from .censored import CohortAges


@dataclass
class Plan:
    """A rule on a dimension value: what to test, or why it was skipped."""

    rule: Rule
    dimension: str
    dimension_value: str
    reason: str = ""
    window: tuple[date, ...] = ()
    baseline: tuple[date, ...] = ()
    leading: Side | None = None
    outcome: Side | None = None

    def window_span(self) -> tuple[date | None, date | None]:
        """The window's first day and last day; (None, None) when no window was chosen."""
        if not self.window:
            return None, None
        return self.window[0], period_end(self.window[-1], self.rule.grain)


# The night's sums by (group, window, baseline): rules sharing a metric, grain and periods share
# them (sessions lead two rules). A skip reason is memoised like a side.
SideMemo = dict[tuple[Any, ...], Side | str]


def plan_night(prepared: PreparedSeries, rules: Sequence[Rule], as_of: date) -> list[Plan]:
    """A plan for every rule on every dimension value both its metrics have, in a fixed order
    (rule id, dimension, dimension value) that the findings keep."""
    plans: list[Plan] = []
    memo: SideMemo = {}
    groups = prepared.groups
    for rule in sorted(rules, key=lambda r: r.id):
        for dim in sorted(rule.dimensions, key=DIMENSIONS.index):
            leads = groups.get((rule.leading_metric, rule.grain, dim), {})
            outs: Mapping[str, Group | None] = groups.get(
                (rule.outcome_metric, rule.grain, dim), {}
            )
            if rule.outcome_test == "censored":
                # the values with cohorts; without any (lead_cohort_ages not read), every value
                # of the leading metric, each skipped as "no_cohort_ages" rather than unseen
                with_ages = {value for d, value in prepared.cohorts if d == dim}
                outs = {value: None for value in (with_ages if prepared.cohorts else leads)}
            for value in sorted(set(leads) & set(outs)):
                plans.append(
                    plan_value(
                        rule,
                        dim,
                        value,
                        leads[value],
                        outs[value],
                        prepared.metrics,
                        prepared.proportions,
                        as_of,
                        memo,
                        cohorts=prepared.cohorts,
                    )
                )
    return plans


def plan_value(
    rule: Rule,
    dimension: str,
    value: str,
    lead_group: Group,
    out_group: Group | None,
    metrics: Mapping[str, MetricInfo],
    proportions: set[str],
    as_of: date,
    memo: SideMemo,
    anchor: date | None = None,
    cohorts: Mapping[tuple[str, str], CohortAges] | None = None,
) -> Plan:
    """One rule on one dimension value: window, sums, volume floors, each step only if the one
    before found nothing to skip for (the first reason found is the one reported). `anchor`:
    the start of the baseline's last period, fixed (an open episode's, `hold.py`), instead of
    the periods right before the window. `cohorts`: lead_cohort_ages by (dimension, value), for
    a rule whose outcome is judged from every cohort (`outcome_test: censored`)."""
    plan = Plan(rule, dimension, value)
    lead = (metrics[rule.leading_metric], lead_group)
    if rule.outcome_test == "censored":
        ages = (cohorts or {}).get((dimension, value))
        plan.reason = (
            ("no_cohort_ages" if ages is None else "")
            or _choose_periods(plan, lead, None, as_of, anchor)
            or _sum_censored(
                plan, lead, metrics[rule.outcome_metric], ages, proportions, memo, as_of
            )
            or _volume_reason(plan)
        )
        return plan
    if out_group is None:
        return replace(plan, reason="no_series")
    out = (metrics[rule.outcome_metric], out_group)
    plan.reason = (
        _choose_periods(plan, lead, out, as_of, anchor)
        or _sum_sides(plan, (lead, out), proportions, memo)
        or _volume_reason(plan)
    )
    return plan


def _choose_periods(
    plan: Plan,
    lead: tuple[MetricInfo, Group],
    out: tuple[MetricInfo, Group] | None,
    as_of: date,
    anchor: date | None = None,
) -> str:
    """Sets the plan's window (the latest periods mature for both metrics; for the leading one
    alone when `out` is None, a censored outcome that judges young cohorts too) and its
    baseline (ending with the period starting on `anchor` if given); a skip reason when there
    is no such window."""
    lead_info, lead_group = lead
    common = _eligible(lead_group, lead_info.maturity_lag_days, as_of)
    if out is not None:
        out_info, out_group = out
        common = np.intersect1d(
            common, _eligible(out_group, out_info.maturity_lag_days, as_of), assume_unique=True
        )
    if not len(common):
        return "no_mature_period"
    rule = plan.rule
    latest = date.fromordinal(int(common[-1]))
    periods = periods_back(latest, rule.grain, rule.baseline + rule.gap + rule.window)
    plan.baseline, plan.window = periods[: rule.baseline], periods[-rule.window :]
    window_ordinals = ordinals(plan.window)
    if len(np.intersect1d(window_ordinals, common, assume_unique=True)) != len(plan.window):
        return "window_not_mature"
    if anchor is not None:
        if anchor >= plan.window[0]:
            return "window_before_anchor"  # a baseline must never overlap the window
        plan.baseline = periods_back(anchor, rule.grain, rule.baseline)
    return ""


def plan_anchored(
    prepared: PreparedSeries, rule: Rule, dimension: str, value: str, as_of: date, anchor: date
) -> Plan:
    """One rule on one dimension value tonight, against the baseline ending with the period
    starting on `anchor` (an open episode's baseline from before it began)."""
    groups = prepared.groups
    lead = groups.get((rule.leading_metric, rule.grain, dimension), {}).get(value)
    out = groups.get((rule.outcome_metric, rule.grain, dimension), {}).get(value)
    if lead is None or (out is None and rule.outcome_test != "censored"):
        return Plan(rule, dimension, value, reason="no_series")
    return plan_value(
        rule,
        dimension,
        value,
        lead,
        out,
        prepared.metrics,
        prepared.proportions,
        as_of,
        {},
        anchor,
        cohorts=prepared.cohorts,
    )


def _sum_sides(
    plan: Plan,
    pairs: tuple[tuple[MetricInfo, Group], ...],
    proportions: set[str],
    memo: SideMemo,
) -> str:
    """Sets the plan's leading and outcome sides (the leading one only, given one pair); the
    first side's skip reason if one fails."""
    sides = []
    for info, group in pairs:
        key = (id(group), plan.window[0], plan.window[-1], plan.baseline[0], len(plan.baseline))
        if key not in memo:
            memo[key] = build_side(
                info, group, plan.rule.grain, plan.window, plan.baseline, proportions
            )
        side = memo[key]
        if isinstance(side, str):
            return side
        sides.append(side)
    plan.leading = sides[0]
    if len(sides) == 2:
        plan.outcome = sides[1]
    return ""


def _sum_censored(
    plan: Plan,
    lead: tuple[MetricInfo, Group],
    out_info: MetricInfo,
    ages: CohortAges | None,
    proportions: set[str],
    memo: SideMemo,
    as_of: date,
) -> str:
    """Sets the leading side from metric_series and the outcome side from the cohorts by age;
    the first skip reason if one fails."""
    reason = _sum_sides(plan, (lead,), proportions, memo)
    if reason:
        return reason
    assert ages is not None
    key = ("censored", id(ages), plan.window[0], plan.window[-1], plan.baseline[0], as_of)
    if key not in memo:
        memo[key] = build_censored_side(out_info, ages, plan.window, plan.baseline, as_of)
    side = memo[key]
    if isinstance(side, str):
        return side
    plan.outcome = side
    return ""


def _volume_reason(plan: Plan) -> str:
    """ "low_volume" below the rule's floors, "no_baseline" against a zero baseline, else ""."""
    rule, lead, out = plan.rule, plan.leading, plan.outcome
    assert lead is not None and out is not None
    for side, floor in ((lead, rule.min_volume_leading), (out, rule.min_volume_outcome)):
        if side.window_volume < floor or side.base_volume_scaled < floor:
            return "low_volume"
    for side in (lead, out):
        base_value = side.value(window=False)
        if not math.isfinite(base_value) or base_value == 0:
            return "no_baseline"  # a relative change against zero means nothing
        if not math.isfinite(side.value(window=True)):
            return "low_volume"
    return ""


def _eligible(group: Group, lag_days: int, as_of: date) -> np.ndarray:
    """Ordinals of the period starts complete and mature on `as_of` (ascending), by the
    warehouse's flags AND by the calendar (so replaying an earlier night on today's warehouse
    does not see cohorts as mature)."""
    latest_end = (as_of - timedelta(days=lag_days)).toordinal()
    return group.start_ordinals[group.usable & (group.end_ordinals <= latest_end)]
