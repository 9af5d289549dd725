"""Divergence detection: for every rule and dimension value, test whether the leading metric
moved the good way while the outcome moved the bad way (or did not follow), over a window of
recent periods against a baseline of the periods right before it. Pure functions over pandas
frames shaped like `metric_series` and `metric_catalog`; no Dagster, no database.

How one rule is judged on one dimension value (say paid_social), as of a night:

1. Window. The last `window` periods that are complete (period end <= as_of and
   is_complete_period) and mature (is_mature and period end + maturity lag <= as_of) for BOTH
   metrics. Leading and outcome share this window, so a lagging outcome is compared on mature
   cohorts and the leading metric on the same calendar periods (cohorts at equal age; immature
   cohorts never raise a quality alert). The baseline is the `baseline` periods before the
   window (and before `gap` periods left out, default none); it never overlaps the window.
2. Sums, not averaged ratios: numerators and denominators are summed over the window and over
   the baseline; a rate is sum(numerator) / sum(denominator). Counts compare per day covered.
3. Weekly pattern: a week period holds every weekday once; at day grain window and baseline are
   whole weeks (checked at load), so both sides hold the same weekday mix, and the baseline's
   dispersion is measured over 7-day blocks, not days, leaving out the most recent sixth of
   them (where a change that the window has slid past sits).
4. Volume: the window's volume (a count, or a ratio's denominator) and the baseline's, scaled to
   the window's length, must reach the rule's min_volume for each metric, and every baseline week
   must hold some volume (else the metric was not tracked or bought yet, and its start would read
   as a rise); else skipped, and counted in DetectionReport.skipped().
5. Tests (proportion_tests.py, rate_tests.py): one-sided, in the rule's direction, with
   over-dispersion estimated from the baseline. All tests of the night are run first.
6. False discoveries. The hypothesis behind a finding is "the leading metric moved the good way
   AND the outcome moved the bad way"; its p-value is the larger of the two one-sided p-values
   (an intersection-union test, valid however the two depend on each other). Benjamini-Hochberg
   runs over these p-values for every rule x dimension value tested that night whose leading
   metric moved the good way by at least min_effect (the others can never become findings, and
   counting them would only dilute the correction), before any decision.
7. Decision: a finding needs the BH q-value <= fdr, the leading metric's relative change the
   good way >= min_effect, and for outcome `down`/`up` the outcome's relative change the bad way
   >= its own floor (min_effect's `outcome`, default the same). For outcome `flat` the exact
   rule is: the outcome's relative change the good way is below FLAT_SHARE (half) of the leading
   metric's good-way change (spend +40% should bring at least +20% revenue) AND the outcome's
   own one-sided test for moving the good way is not significant at fdr, unadjusted (unadjusted
   errs toward "it did rise", so toward not alerting). A flat outcome adds no p-value to the
   divergence (flatness is the absence of evidence), so its q-value is the leading test's; the
   p-value that the outcome fell short of half the leading rise is kept in the evidence for the
   reader.

Stages, one module each, imported one way (each only from those above it):

* `periods.py`: the calendar of day, week and month periods.
* `index.py`: metric_series factorised once into per-dimension-value groups (`prepare`).
* `sides.py`: one metric's window and baseline sums, test method and dispersion (steps 2-3).
* `plan.py`: steps 1-4, the window, baseline, sums and volume floors of each rule x value.
* `testing.py`: steps 5-7, the tests, the screen, Benjamini-Hochberg and the verdict.
* `explain.py`: a finding's sentence, question and evidence JSON.
* `report.py`: the shapes returned, `Evaluation` and `DetectionReport`.

This module wires them: `prepare`, `evaluate` and `detect` are the entry points. Above it,
`hold.py` (`judge_night`, what the nightly run and the backtest call) adds the open episodes
that still diverge against the baseline from before they began, so an alert stays open while
its divergence lasts instead of being judged afresh each night.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

import pandas as pd

from .catalog import MetricInfo, catalog_index, validate_rule
from .censored import index_cohorts
from .explain import finding
from .findings import Finding
from .index import PreparedSeries, index_series, needed
from .periods import as_date
from .plan import Plan, plan_night
from .report import DetectionReport, Evaluation
from .rule import Rule
from .testing import Results, false_discoveries, judge, outcome_q_values, run_tests


def prepare(
    series: pd.DataFrame,
    catalog: pd.DataFrame | Mapping[str, MetricInfo],
    rules: Sequence[Rule],
    cohorts: pd.DataFrame | None = None,
) -> PreparedSeries:
    """Validates the rules against the catalog and indexes the series rows they need, and
    `cohorts` (lead_cohort_ages) for the rules whose outcome is judged from every cohort."""
    metrics = catalog if isinstance(catalog, Mapping) else catalog_index(catalog)
    for rule in rules:
        validate_rule(rule, metrics)
    keys = needed(rules)
    groups, proportions = index_series(series, keys, metrics)
    by_value = index_cohorts(cohorts) if cohorts is not None else {}
    return PreparedSeries(metrics, groups, proportions, frozenset(keys), by_value)


def evaluate(
    series: pd.DataFrame | PreparedSeries,
    catalog: pd.DataFrame | Mapping[str, MetricInfo],
    rules: Sequence[Rule],
    as_of: date,
    *,
    fdr: float = 0.1,
    screen: bool = True,
) -> DetectionReport:
    """Runs every rule on every dimension value; returns findings and every evaluation.
    `series` is metric_series as a frame, or `prepare()`d once for many nights. `screen`: the
    Benjamini-Hochberg family holds only the hypotheses whose leading metric moved enough to
    matter (False: every hypothesis tested)."""
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1), got {fdr}")
    as_of = as_date(as_of)
    if isinstance(series, PreparedSeries):
        prepared = series
        if not needed(rules) <= prepared.keys:
            raise ValueError("the prepared series was built for other rules; prepare() again")
    else:
        prepared = prepare(series, catalog, rules)

    plans = plan_night(prepared, rules, as_of)
    # Every test of the night runs before any decision: the false discovery rate is controlled
    # over all of the night's divergence hypotheses at once.
    tested, results = run_tests(plans)
    q_of, n_family = false_discoveries(tested, results, fdr, screen)
    q_out = outcome_q_values(tested, results, fdr)
    evaluations = [
        _decide(plan, results, q_of.get(id(plan)), as_of, fdr, n_family, q_out.get(id(plan)))
        for plan in plans
    ]
    findings = [ev.finding for ev in evaluations if ev.finding is not None]
    return DetectionReport(as_of, fdr, findings, evaluations, n_family)


def detect(
    series: pd.DataFrame | PreparedSeries,
    catalog: pd.DataFrame | Mapping[str, MetricInfo],
    rules: Sequence[Rule],
    as_of: date,
    *,
    fdr: float = 0.1,
    screen: bool = True,
) -> list[Finding]:
    """The night's findings, in a fixed order (rule id, dimension, dimension value)."""
    return evaluate(series, catalog, rules, as_of, fdr=fdr, screen=screen).findings


def _decide(
    plan: Plan,
    results: Results,
    q_div: float | None,
    as_of: date,
    fdr: float,
    n_tests: int,
    q_out: float | None = None,
) -> Evaluation:
    """One plan's evaluation: skipped, judged without a divergence, or a finding with its
    evidence. `q_div` is None for a plan that was never tested."""
    window_start, window_end = plan.window_span()
    base = {
        "rule_id": plan.rule.id,
        "dimension": plan.dimension,
        "dimension_value": plan.dimension_value,
        "window_start": window_start,
        "window_end": window_end,
    }
    if plan.reason or plan.leading is None or plan.outcome is None or q_div is None:
        return Evaluation(**base, status="skipped", reason=plan.reason)
    verdict = judge(plan, results, q_div, fdr, q_out=math.nan if q_out is None else q_out)
    evaluation = Evaluation(
        **base,
        status="no_divergence" if verdict.failed else "finding",
        reason=",".join(verdict.failed),
        leading_change=verdict.lead.relative_change,
        outcome_change=verdict.out.relative_change,
        p_value=verdict.p_value,
        q_value=q_div,
        leading_p=verdict.lead.p_value,
        outcome_p=verdict.out.p_value,
        leading_volume=plan.leading.window_volume,
        outcome_volume=plan.outcome.window_volume,
    )
    if verdict.failed:
        return evaluation
    # The evidence is built for findings only: thousands of quiet values a night need none.
    return replace(evaluation, finding=finding(plan, verdict, as_of, fdr, n_tests))
