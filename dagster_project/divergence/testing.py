"""Testing: the night's statistical tests (proportion_tests, rate_tests) on every planned side,
the screen and Benjamini-Hochberg over the night's divergence hypotheses, and the verdict on
one plan.

Every distinct test runs once (rules that share a metric, value and periods share its test);
the Fisher floors of all rate tests are added in one batch; only then is the false discovery
rate controlled over the whole night, before any plan is judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .catalog import MetricInfo
from .censored import censored_test
from .fdr import benjamini_hochberg
from .onesided import Alternative, TestResult
from .plan import Plan
from .proportion_tests import two_proportion_test, with_fisher_floor
from .rate_tests import rate_ratio_test, ratio_of_sums_test
from .rule import Rule
from .sides import Side

FLAT_SHARE = 0.5  # a "flat" outcome rose by less than this share of the leading metric's rise

ResultKey = tuple[Any, ...]
Results = Mapping[ResultKey, TestResult]


def directions(rule: Rule, outcome: MetricInfo) -> tuple[Alternative, Alternative]:
    """The one-sided alternatives of the leading test and of the outcome test."""
    lead_alt: Alternative = "larger" if rule.leading_good == "up" else "smaller"
    if rule.outcome_bad == "down":
        out_alt: Alternative = "smaller"
    elif rule.outcome_bad == "up":
        out_alt = "larger"
    else:  # flat: the test is whether the outcome did move the good way
        out_alt = "larger" if outcome.good_direction == "up" else "smaller"
    return lead_alt, out_alt


def _signed(change: float, direction: str) -> float:
    """A relative change signed so that positive is the way `direction` ("up"/"down") points."""
    return change if direction == "up" else -change


def result_key(plan: Plan, side: Side, alternative: str) -> ResultKey:
    """Identifies one test: rules sharing a metric, value, window and baseline share its test
    (the same leading metric under two rules is tested once, with one p-value)."""
    return (
        side.metric.metric_id,
        plan.rule.grain,
        plan.dimension,
        plan.dimension_value,
        plan.window[0],
        plan.window[-1],
        plan.baseline[0],
        plan.baseline[-1],
        alternative,
    )


def run_test(
    side: Side, alternative: Alternative, ratio_null: float = 1.0, exact: bool = True
) -> TestResult:
    """The side's test by its method; `exact=False` leaves a rate's Fisher floor to
    `with_fisher_floor`."""
    common = {
        "alternative": alternative,
        "ratio_null": ratio_null,
        "dispersion": side.dispersion,
        "dispersion_df": side.dispersion_df,
    }
    if side.censored is not None:
        return censored_test(side.censored, alternative=alternative)
    # a proportion and a ratio compare the same sums: numerator over denominator
    sums = (side.window_num, side.window_den, side.base_num, side.base_den)
    if side.method == "proportion":
        return two_proportion_test(*sums, exact=exact, **common)
    if side.method == "ratio":
        return ratio_of_sums_test(*sums, random_side=side.random_side, **common)  # type: ignore[arg-type]
    return rate_ratio_test(
        side.window_num,
        side.window_exposure,
        side.base_num,
        side.base_exposure,
        counts=side.metric.unit == "count",
        **common,
    )


def run_tests(plans: Sequence[Plan]) -> tuple[list[Plan], dict[ResultKey, TestResult]]:
    """The plans that were not skipped, and every distinct test of theirs, with Fisher floors."""
    results: dict[ResultKey, TestResult] = {}
    tested: list[Plan] = []
    for plan in plans:
        if plan.reason or plan.leading is None or plan.outcome is None:
            continue
        tested.append(plan)
        lead_alt, out_alt = directions(plan.rule, plan.outcome.metric)
        for side, alt in ((plan.leading, lead_alt), (plan.outcome, out_alt)):
            key = result_key(plan, side, alt)
            if key not in results:
                results[key] = run_test(side, alt, exact=False)
    # the Fisher floors of every rate test at once (one call instead of thousands)
    results = dict(zip(results, with_fisher_floor(list(results.values())), strict=True))
    return tested, results


def _side_results(plan: Plan, results: Results) -> tuple[TestResult, TestResult]:
    """The leading and the outcome test of a tested plan."""
    assert plan.leading is not None and plan.outcome is not None
    lead_alt, out_alt = directions(plan.rule, plan.outcome.metric)
    return (
        results[result_key(plan, plan.leading, lead_alt)],
        results[result_key(plan, plan.outcome, out_alt)],
    )


def _leading_moved(plan: Plan, results: Results) -> bool:
    """Whether the leading metric moved the good way by the rule's floor: a hypothesis that
    fails this can never become a finding, whatever its p-value, so it stays out of the
    Benjamini-Hochberg family instead of diluting it (on a night with one real divergence among
    40 quiet values, counting the quiet ones asked for p < 0.0025; the benchmark measures what
    leaving them out costs in false alerts)."""
    lead, _ = _side_results(plan, results)
    return bool(_signed(lead.relative_change, plan.rule.leading_good) >= plan.rule.min_effect)


def divergence_p(plan: Plan, results: Results) -> float:
    """p-value of "the leading metric moved the good way AND the outcome moved the bad way":
    the larger of the two one-sided p-values (an intersection-union test, valid without any
    assumption on how the two tests depend on each other). For a `flat` outcome the outcome's
    part is a non-significance condition, so only the leading test carries evidence."""
    lead, out = _side_results(plan, results)
    if plan.rule.outcome_bad == "flat":
        return lead.p_value
    return max(lead.p_value, out.p_value)


def false_discoveries(
    tested: Sequence[Plan], results: Results, fdr: float, screen: bool
) -> tuple[dict[int, float], int]:
    """Benjamini-Hochberg q-values by id(plan) (NaN for a tested plan left out by the screen)
    and the size of the family. `screen`: the family holds only the hypotheses whose leading
    metric moved enough to matter (False: every hypothesis tested)."""
    family = [plan for plan in tested if not screen or _leading_moved(plan, results)]
    p_div = [divergence_p(plan, results) for plan in family]
    _, qvals = benjamini_hochberg(p_div, fdr)
    q_of = {id(plan): math.nan for plan in tested}
    q_of.update({id(plan): float(q) for plan, q in zip(family, qvals, strict=True)})
    return q_of, len(family)


def outcome_q_values(tested: Sequence[Plan], results: Results, fdr: float) -> dict[int, float]:
    """The outcome's own q-value by id(plan): Benjamini-Hochberg over the outcome p-values of
    every dimension value a rule tested that night, whether its leading metric moved or not (a
    `flat` outcome has none: NaN). A finding needs it at fdr too, so the outcome stands on its
    own: the screen keeps the divergence family small, and within it a leading metric that
    moved by chance plus a chance dip of the outcome (p 0.09 on one of nine channels) passed."""
    by_rule: dict[str, list[Plan]] = {}
    for plan in tested:
        if plan.rule.outcome_bad != "flat":
            by_rule.setdefault(plan.rule.id, []).append(plan)
    q_of = {id(plan): math.nan for plan in tested}
    for plans in by_rule.values():
        _, qvals = benjamini_hochberg([_side_results(p, results)[1].p_value for p in plans], fdr)
        q_of.update({id(plan): float(q) for plan, q in zip(plans, qvals, strict=True)})
    return q_of


@dataclass(frozen=True)
class Verdict:
    """A tested plan judged: both tests, the divergence's p and q, and the floors it failed."""

    lead: TestResult
    out: TestResult
    p_value: float
    q_value: float
    lead_good: float  # the leading metric's relative change, positive the rule's good way
    out_good: float  # the outcome's relative change, positive its catalog's good way
    failed: tuple[str, ...]  # reasons, in a fixed order; empty for a finding
    outcome_q: float = math.nan  # the outcome's own q-value across the rule's values


def judge(
    plan: Plan,
    results: Results,
    q_div: float,
    fdr: float,
    level: float | None = None,
    q_out: float = math.nan,
) -> Verdict:
    """A finding needs the leading metric to move the good way by min_effect, the outcome to
    move the bad way by its floor (or, for `flat`, not to follow), q <= fdr, and the outcome's
    own q-value across the rule's values (`q_out`, `outcome_q_values`) <= fdr. `level`: the
    bound on `q_div` instead of fdr, and no `q_out` (holding an open episode passes its
    unadjusted p and the rule's hold_p, the leading metric needs `hold_leading_share` of its
    floor; a `flat` outcome's own test is still judged at fdr, and it holds unless the outcome
    clearly followed)."""
    rule = plan.rule
    assert plan.outcome is not None
    out_info = plan.outcome.metric
    lead, out = _side_results(plan, results)
    lead_good = _signed(lead.relative_change, rule.leading_good)
    out_good = _signed(out.relative_change, out_info.good_direction)
    if rule.outcome_bad == "flat":
        # Did not follow: rose (the good way) by less than half the leading rise, and its own
        # test for a good-way move is not significant even before adjustment (judging "it did
        # rise" unadjusted errs on the side of not alerting).
        short, unproven = out_good < FLAT_SHARE * lead_good, out.p_value > fdr
        # Holding an open episode (`level` given) asks the converse, that the outcome has not
        # clearly followed (risen by half the leading rise AND significantly): hysteresis.
        out_ok = (short or unproven) if level is not None else (short and unproven)
        out_reason = "outcome_followed"
    else:
        out_bad = _signed(out.relative_change, rule.outcome_bad)  # "up" or "down" here
        out_ok = out_bad >= rule.outcome_floor
        out_reason = "outcome_below_min_effect"
    # holding: the leading metric at the rule's share of its floor (hysteresis, rule.py)
    lead_floor = rule.min_effect if level is None else rule.min_effect * rule.hold_leading_share
    checks = (
        ("leading_below_min_effect", lead_good >= lead_floor),
        (out_reason, out_ok),
        ("not_significant", q_div <= (fdr if level is None else level)),
        # NaN (a flat outcome, or holding) is no requirement
        ("outcome_not_significant", not q_out > fdr),
    )
    return Verdict(
        lead=lead,
        out=out,
        p_value=divergence_p(plan, results),
        q_value=q_div,
        lead_good=lead_good,
        out_good=out_good,
        failed=tuple(reason for reason, ok in checks if not ok),
        outcome_q=q_out,
    )
