"""Divergence detection on hand-built metric_series frames (no database, no Dagster).

The synthetic frames mimic the warehouse: four channels plus the total, 20 weeks of day rows for
control metrics (weekday pattern, week-level shocks, negative-binomial noise) summed into week
rows, and week rows for the meaning metrics, with lead_to_sql_rate immature for cohorts younger
than 28 days and early_lead_to_sql_rate (day and week rows) for cohorts younger than 7 days.
Scenarios multiply one channel's metrics from an onset day, like `firewatch generate --scenario`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dagster_project.divergence.detect import detect, evaluate, prepare
from dagster_project.divergence.dispersion import binomial_dispersion, poisson_dispersion
from dagster_project.divergence.explain import format_change
from dagster_project.divergence.fdr import benjamini_hochberg
from dagster_project.divergence.findings import Finding
from dagster_project.divergence.index import PreparedSeries
from dagster_project.divergence.periods import period_end, previous_period
from dagster_project.divergence.proportion_tests import two_proportion_test
from dagster_project.divergence.rate_tests import rate_ratio_test, ratio_of_sums_test
from dagster_project.divergence.rule import Rule
from dagster_project.divergence.rules import load_rules
from tests.support.metric_frames import AS_OF, make_cohorts, make_series


@pytest.fixture(scope="module")
def rules(catalog: pd.DataFrame) -> list[Rule]:
    return load_rules(None, catalog)


@pytest.fixture(scope="module")
def early_rules(rules: list[Rule]) -> list[Rule]:
    """The lead-quality rules as they were before issue 13: the early (7-day) rate from
    metric_series over the last 14 mature day cohorts, a week's gap before the baseline (a
    rule file may still say so; the fixed-horizon path is the same for every other rule)."""
    return [
        dataclasses.replace(
            r,
            outcome_metric="early_lead_to_sql_rate",
            outcome_test="fixed",
            gap=7,
            min_volume_outcome=100,
        )
        if r.outcome_test == "censored"
        else r
        for r in rules
    ]


def _night(
    catalog: pd.DataFrame,
    rules: list[Rule],
    seed: int,
    scenario: str | None = None,
    channel: str = "paid_social",
    onset: date | None = None,
    magnitude: float = 0.4,
) -> PreparedSeries:
    """A synthetic metric_series with its lead_cohort_ages, prepared for the rules."""
    series = make_series(seed, scenario, channel, onset, magnitude)
    cohorts = make_cohorts(series, seed, scenario, channel, onset, magnitude)
    return prepare(series, catalog, rules, cohorts)


def _keys(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.rule_id, f.dimension, f.dimension_value) for f in findings}


# --------------------------------------------------------------------- statistics, known values


def test_two_proportion_z_matches_textbook_value() -> None:
    # 45/100 against 30/100: pooled p = 0.375, se = sqrt(.375 * .625 * (1/100 + 1/100))
    # = 0.0684653, z = 0.15 / 0.0684653 = 2.190890; one-sided p = 1 - Phi(2.190890) = 0.014230
    # (R: prop.test(c(45, 30), c(100, 100), correct = FALSE) gives X-squared = 4.8 = z^2 and a
    # two-sided p of 0.02846).
    res = two_proportion_test(45, 100, 30, 100, alternative="larger")
    assert res.statistic == pytest.approx(2.190890, abs=1e-6)
    # The z-test's one-sided p is 0.014230, but never surer than Fisher's exact test: the
    # hypergeometric upper tail P(X >= 45) with 75 successes among 200, 100 drawn, is 0.020267.
    assert res.numbers["exact_p_value"] == pytest.approx(0.020267, abs=1e-6)
    assert res.p_value == pytest.approx(0.020267, abs=1e-6)
    assert res.relative_change == pytest.approx(0.5)
    assert res.numbers["window_value"] == 0.45 and res.numbers["baseline_value"] == 0.30
    assert res.df is None and res.dispersion == 1.0
    smaller = two_proportion_test(30, 100, 45, 100, alternative="smaller")
    assert smaller.p_value == pytest.approx(0.020267, abs=1e-6)
    assert smaller.statistic == pytest.approx(-2.190890, abs=1e-6)
    assert smaller.relative_change == pytest.approx(-1 / 3)


def test_dispersion_inflates_the_variance_and_uses_student_t() -> None:
    # phi = 4 halves z; with 7 baseline degrees of freedom the p-value is t(7).sf(z / 2).
    res = two_proportion_test(
        45, 100, 30, 100, alternative="larger", dispersion=4.0, dispersion_df=7
    )
    assert res.statistic == pytest.approx(2.190890 / 2, abs=1e-6)
    # t(7) upper tail at 1.095445, by integrating the t density numerically: 0.154787
    assert res.p_value == pytest.approx(0.154787, abs=1e-6)
    # A dispersion below 1 never makes a test surer than sampling noise.
    assert two_proportion_test(
        45, 100, 30, 100, alternative="larger", dispersion=0.3, dispersion_df=7
    ).statistic == pytest.approx(2.190890, abs=1e-6)


def test_poisson_rate_score_matches_hand_value() -> None:
    # 30 events in 10 days against 15 in 10: pooled rate 2.25 a day,
    # z = (3.0 - 1.5) / sqrt(2.25 * (1/10 + 1/10)) = 2.236068, one-sided p = 0.012674.
    res = rate_ratio_test(30, 10, 15, 10, alternative="larger")
    assert res.statistic == pytest.approx(2.236068, abs=1e-6)
    assert res.p_value == pytest.approx(0.012674, abs=1e-6)
    assert res.relative_change == pytest.approx(1.0)
    # As counts, never surer than the exact conditional test: 30 or more of 45 events in the
    # half of the exposure that is the window, Binomial(45, 0.5) upper tail = 0.017848.
    counted = rate_ratio_test(30, 10, 15, 10, alternative="larger", counts=True)
    assert counted.p_value == pytest.approx(0.017848, abs=1e-6)


def test_cost_ratio_tests_the_count_against_spend() -> None:
    # CAC 1000/10 = 100 in the window against 4000/80 = 50: +100%. Customers per unit of
    # spend: 10/1000 against 80/4000, the Poisson score z of that rate ratio is
    # (0.01 - 0.02) / sqrt(0.018 * (1/1000 + 1/4000)) = -2.108185, p(CAC larger) = 0.017507.
    res = ratio_of_sums_test(1000, 10, 4000, 80, alternative="larger", random_side="denominator")
    assert res.relative_change == pytest.approx(1.0)
    assert res.statistic == pytest.approx(2.108185, abs=1e-6)
    # The score test's p is 0.017507; customers are counted, so it is never below the exact
    # conditional test: 10 or fewer of the 90 customers in the window that holds 1000 of the
    # 5000 spent, Binomial(90, 0.2) lower tail = 0.018963.
    assert res.numbers["exact_p_value"] == pytest.approx(0.018963, abs=1e-6)
    assert res.p_value == pytest.approx(0.018963, abs=1e-6)
    # No customers at all in the window (an infinite CAC) is still a valid test.
    zero = ratio_of_sums_test(1000, 0, 4000, 80, alternative="larger", random_side="denominator")
    assert math.isinf(zero.relative_change) and zero.p_value < 1e-3


def test_dispersion_estimates() -> None:
    # Identical periods: no extra variation (phi 0, used as 1).
    assert binomial_dispersion([10, 10, 10], [100, 100, 100]) == (0.0, 2)
    phi, dof = binomial_dispersion([5, 25], [100, 100])
    # 5/100 and 25/100: expected 15 and 85 in each row, chi2 = 2 * (10^2/15 + 10^2/85) = 15.686.
    assert dof == 1 and phi == pytest.approx(15.686275)
    # Counts 90, 110 on equal exposure: chi2 = (10^2 + 10^2) / 100 = 2 on 1 df.
    assert poisson_dispersion([90, 110], [7, 7]) == (pytest.approx(2.0), 1)
    # The statistics are scipy's, on uneven data.
    from scipy import stats as sps

    x, n = np.array([12, 30, 7, 22, 15]), np.array([100, 140, 90, 160, 120])
    chi2, _, dof, _ = sps.chi2_contingency(np.column_stack([x, n - x]), correction=False)
    assert binomial_dispersion(x, n) == (pytest.approx(chi2 / dof), dof)
    y, e = np.array([90.0, 130.0, 70.0, 160.0]), np.array([7.0, 7.0, 6.0, 8.0])
    stat, _ = sps.chisquare(y, e * y.sum() / e.sum())
    assert poisson_dispersion(y, e) == (pytest.approx(stat / 3), 3)


def test_written_out_poisson_tests_equal_statsmodels() -> None:
    import itertools

    from statsmodels.stats.rates import test_poisson_2indep

    from dagster_project.divergence.rate_tests import (
        poisson_exact_conditional_p,
        poisson_score_statistic,
    )

    # hand value: 30 events in 7 days against 60 in 28 at ratio 1: r_d = 7/28 = 0.25,
    # z = (30 - 60 * 0.25) / sqrt(90 * 0.25) = 15 / 4.7434 = 3.1623
    assert poisson_score_statistic(30, 7, 60, 28) == pytest.approx(3.162278, abs=1e-6)
    grid = itertools.product([0, 1, 3, 40, 500], [1, 9, 800], [7, 30.5], [28, 90], [1, 0.85])
    for y1, y2, e1, e2, r in grid:
        theirs = test_poisson_2indep(y1, e1, y2, e2, value=r, method="score", compare="ratio")
        assert poisson_score_statistic(y1, e1, y2, e2, r) == pytest.approx(
            theirs.statistic, abs=1e-12
        )
        for alternative in ("larger", "smaller"):
            exact = test_poisson_2indep(
                y1, e1, y2, e2, value=r, method="exact-cond", compare="ratio",
                alternative=alternative,
            ).pvalue  # fmt: skip
            assert poisson_exact_conditional_p(y1, e1, y2, e2, r, alternative) == pytest.approx(
                exact, abs=1e-12
            )


def test_written_out_rate_tests_equal_statsmodels_and_scipy() -> None:
    import itertools

    from scipy import stats as sps
    from statsmodels.stats.proportion import proportions_ztest

    from dagster_project.divergence.proportion_tests import (
        fisher_one_sided,
        pooled_z_statistic,
        with_fisher_floor,
    )

    # hand value (as in the textbook test above): 45/100 against 30/100 gives z = 2.190890
    assert pooled_z_statistic(45, 100, 30, 100) == pytest.approx(2.190890, abs=1e-6)
    grid = [
        (x1, n1, x2, n2)
        for x1, n1, x2, n2 in itertools.product(
            [0, 1, 3, 45, 700], [5, 100, 2600], [0, 2, 30, 900], [8, 100, 16000]
        )
        if x1 <= n1 and x2 <= n2
    ]
    tables, larger = [], []
    for x1, n1, x2, n2 in grid:
        if 0 < x1 + x2 < n1 + n2:
            theirs, _ = proportions_ztest([x1, x2], [n1, n2])
            assert pooled_z_statistic(x1, n1, x2, n2) == pytest.approx(theirs, abs=1e-12)
        for alternative in ("greater", "less"):
            tables.append((x1, n1, x2, n2))
            larger.append(alternative == "greater")
    # the batch, including tables with an empty column (x1 = x2 = 0), equals one call each
    batch = fisher_one_sided(*np.array(tables, dtype=float).T, larger)
    for (x1, n1, x2, n2), big, mine in zip(tables, larger, batch, strict=True):
        table = [[x1, n1 - x1], [x2, n2 - x2]]
        exact = sps.fisher_exact(table, alternative="greater" if big else "less").pvalue
        assert mine == pytest.approx(exact, rel=1e-12, abs=1e-300)
    # the deferred floor gives what the floor at once gives, and leaves other tests alone
    at_once = [two_proportion_test(3, 40, 7, 40, alternative="smaller")]
    later = [two_proportion_test(3, 40, 7, 40, alternative="smaller", exact=False)]
    counts = rate_ratio_test(3, 7, 9, 28, alternative="smaller", counts=True)
    assert math.isnan(later[0].numbers["exact_p_value"])
    assert with_fisher_floor([*later, counts]) == [*at_once, counts]
    assert at_once[0].p_value == at_once[0].numbers["exact_p_value"] > 0.1  # Fisher wins


def test_benjamini_hochberg_known_values() -> None:
    reject, q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005], 0.05)
    # sorted 0.005, 0.01, 0.03, 0.04 times 4/rank: 0.02, 0.02, 0.04, 0.04
    assert q.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert reject.tolist() == [True, True, True, True]
    reject, q = benjamini_hochberg([0.02, 0.5, 0.6, 0.7], 0.05)
    assert q[0] == pytest.approx(0.08) and not reject.any()


# ---------------------------------------------------------------------------- the rule engine

# Scenario -> (rule expected to fire, channel, onset, magnitude). Lead-quality scenarios start
# early enough for two mature 28-day cohorts to exist by AS_OF; the others 14 days before it.
# Magnitudes are where the rule has high power at these volumes (measured over 20 seeds while
# building: CAC from ~70 customers in 14 days needs a large move, see the module docs).
CASES = {
    # The lead-quality rules read the early (7-day) rate: its last 14 mature cohorts on AS_OF
    # are 09-08..09-21, all after a 09-07 onset, with the baseline ending a week (the gap) before.
    # The early rate holds ~14 SQLs a week on these channels, so only a large drop (80%) clears
    # Benjamini-Hochberg over the night's ~30 tests every time; docs/detection.md has the power
    # at smaller drops.
    "engagement_up_quality_down": (
        "engagement_up_lead_quality_down",
        "paid_social",
        date(2025, 9, 7),
        0.8,
    ),
    "engagement_up_cac_up": ("engagement_up_cac_up", "paid_social", date(2025, 9, 15), 0.8),
    "reach_up_sales_flat": ("reach_up_sales_flat", "paid_search", date(2025, 9, 15), 0.5),
    "clicks_up_nobody_stays": ("sessions_up_nobody_stays", "paid_search", date(2025, 9, 15), 0.5),
    "leads_up_quality_down": (
        "leads_up_lead_quality_down",
        "organic_search",
        date(2025, 9, 7),
        0.8,
    ),
    "traffic_up_returning_down": (
        "traffic_up_returning_share_down",
        "linkedin",
        date(2025, 9, 15),
        0.5,
    ),
    "spend_up_revenue_flat": ("spend_up_revenue_flat", "paid_social", date(2025, 9, 15), 0.5),
}
# Other rules an injected pattern may legitimately trigger too on that channel: more spend with
# the same revenue; and a lead-quality drop that meets a chance rise in lead volume.
ALSO = {
    "engagement_up_cac_up": {"spend_up_revenue_flat"},
    "engagement_up_quality_down": {"leads_up_lead_quality_down"},
}


@pytest.mark.parametrize("scenario", sorted(CASES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_rule_fires_on_its_pattern_on_that_channel_only(
    scenario: str, seed: int, catalog: pd.DataFrame, rules: list[Rule]
) -> None:
    rule_id, channel, onset, magnitude = CASES[scenario]
    prepared = _night(catalog, rules, seed, scenario, channel, onset, magnitude)
    findings = detect(prepared, catalog, rules, AS_OF)
    assert (rule_id, "channel", channel) in _keys(findings)
    for f in findings:
        # Never on another channel. The total may diverge too when the injected channel is big
        # enough to move it past the effect floor (it then really does).
        assert f.dimension_value in (channel, "total"), f.explanation
        assert f.rule_id in {rule_id} | ALSO.get(scenario, set()), f.explanation
    hit = next(f for f in findings if f.rule_id == rule_id)
    assert hit.leading_change >= 0.15
    assert hit.as_of == AS_OF
    json.dumps(hit.evidence)  # evidence must be JSON-able as it is


def test_finding_text_owner_and_evidence_of_a_fixed_horizon_rule(
    catalog: pd.DataFrame, early_rules: list[Rule]
) -> None:
    series = make_series(1, "engagement_up_quality_down", "paid_social", date(2025, 9, 7), 0.8)
    (f,) = [
        x
        for x in detect(series, catalog, early_rules, AS_OF)
        if x.rule_id == "engagement_up_lead_quality_down" and x.dimension == "channel"
    ]
    # The last 14 mature day cohorts: 7 days after 09-21 is AS_OF.
    assert (f.window_start, f.window_end) == (date(2025, 9, 8), date(2025, 9, 21))
    assert f.explanation.startswith("Paid social ad engagements +")
    assert "while its lead-to-SQL rate within 7 days \u2212" in f.explanation
    assert f.explanation.endswith(
        "over the 14 days to 2025-09-21 (the latest cohorts old enough to judge)"
    )
    assert f.owner == "demand_generation"  # the outcome metric's catalog owner
    assert f.question.startswith("Paid social: Ad engagements +")
    assert f.severity == "warn"
    ev = f.evidence
    assert ev["window"]["periods"] == [f"2025-09-{d:02d}" for d in range(8, 22)]
    # 84 baseline days (12 whole weeks), ending 7 days (the rule's gap) before the window.
    assert ev["baseline"] == {
        "start": "2025-06-09",
        "end": "2025-08-31",
        "periods": 84,
        "gap_periods": 7,
    }
    out = ev["outcome"]
    # The numbers are the sums of the day rows, and the change is their ratio of sums.
    rows = series[
        (series.metric_id == "early_lead_to_sql_rate")
        & (series.grain == "day")
        & (series.dimension_value == "paid_social")
    ].set_index("period_start")
    win = rows.loc[[date(2025, 9, 8) + timedelta(days=i) for i in range(14)]]
    assert out["window_successes"] == win["numerator"].sum()
    assert out["window_trials"] == win["denominator"].sum()
    base = rows.loc[[date(2025, 6, 9) + timedelta(days=i) for i in range(84)]]
    expected = (win["numerator"].sum() / win["denominator"].sum()) / (
        base["numerator"].sum() / base["denominator"].sum()
    ) - 1
    assert f.outcome_change == pytest.approx(expected)
    assert out["method"] == "two_proportion_z"
    assert out["df"] in (None, 9.0)  # dispersion over the oldest 10 of 12 baseline weeks
    assert ev["divergence_p_value"] == pytest.approx(
        max(ev["leading"]["p_value"], out["p_value"]), abs=1e-6
    )
    assert ev["divergence_q_value"] <= 0.1


def test_null_frames_raise_almost_nothing(catalog: pd.DataFrame, rules: list[Rule]) -> None:
    # Same noise, no change, 50 seeds: 7 rules on 4-5 values each, about 1,500 rule x value
    # tests. A finding needs two one-sided moves >= 15% at once and a BH-adjusted divergence
    # q <= 0.1, so the expected count is far below one; we allow 2 over all 50 nights (at most
    # one false finding per 25 nights, per all rules together).
    false = []
    for seed in range(100, 150):
        false += detect(_night(catalog, rules, seed), catalog, rules, AS_OF)
    assert len(false) <= 2, [f.explanation for f in false]


def test_a_quality_drop_is_judged_from_every_cohort_and_said_in_sqls(
    catalog: pd.DataFrame, rules: list[Rule]
) -> None:
    # Organic search leads +80% and their quality -80% from 09-07. The censored comparison needs
    # no mature cohort: the window is the last 14 days to the night itself.
    onset = date(2025, 9, 7)
    series = make_series(1, "leads_up_quality_down", "organic_search", onset, 0.8)
    cohorts = make_cohorts(series, 1, "leads_up_quality_down", "organic_search", onset, 0.8)
    report = evaluate(prepare(series, catalog, rules, cohorts), catalog, rules, AS_OF)
    (f,) = [
        x
        for x in report.findings
        if x.rule_id == "leads_up_lead_quality_down" and x.dimension_value == "organic_search"
    ]
    assert (f.window_start, f.window_end) == (date(2025, 9, 15), AS_OF)
    out = f.evidence["outcome"]
    assert out["method"] == "censored_cohorts"
    # Leads and SQLs so far of the window's cohorts, counted from the cohort rows themselves
    rows = cohorts[
        (cohorts.dimension_value == "organic_search")
        & (cohorts.cohort_date >= f.window_start)
        & (cohorts.cohort_date <= AS_OF)
    ]
    leads = rows["lead_count"].sum()
    so_far = rows.loc[rows.age_at_sql_days.notna(), "lead_count"].sum()
    assert (out["window_trials"], out["window_successes"]) == (leads, so_far)
    expected = out["window_expected"]
    assert so_far < 0.5 * expected  # an 80% drop
    pace = (so_far / expected) / (out["baseline_successes"] / out["baseline_expected"])
    assert f.outcome_change == pytest.approx(pace - 1, abs=1e-6)
    assert f.explanation.startswith("Organic search leads +")
    assert f.explanation.endswith(
        f"over the 14 days to 2025-09-28: {expected:.0f} SQLs expected by now from these "
        f"{leads:.0f} leads at the pace of the baseline's 84 days of cohorts, {so_far:.0f} so far"
    )
    # the same night without the cohorts cannot judge the rule: skipped, never guessed
    bare = evaluate(series, catalog, rules, AS_OF)
    assert bare.skipped()["leads_up_lead_quality_down"] == {"no_cohort_ages": 5}


def test_immature_cohorts_raise_no_quality_alert_on_a_fixed_horizon(
    catalog: pd.DataFrame, early_rules: list[Rule]
) -> None:
    # Quality halves for leads from 2025-09-22: those cohorts are younger than 7 days on AS_OF,
    # so neither lead-quality rule on the 7-day rate may fire, however bad their numbers look.
    rules = early_rules
    onset = date(2025, 9, 22)
    series = make_series(4, "leads_up_quality_down", "organic_search", onset, 0.5)
    young = series[
        (series.metric_id == "early_lead_to_sql_rate")
        & (series.grain == "day")
        & (series.dimension_value == "organic_search")
    ]
    assert not young[young.period_start >= onset]["is_mature"].any()
    assert young[young.period_start < onset]["is_mature"].all()
    report = evaluate(series, catalog, rules, AS_OF)
    assert not [f for f in report.findings if "lead_to_sql" in f.outcome_metric]
    ev = next(
        e
        for e in report.for_rule("leads_up_lead_quality_down")
        if e.dimension_value == "organic_search"
    )
    assert ev.window_end == date(2025, 9, 21)  # the last mature cohort, not the last day
    # Even a frame that wrongly flags young cohorts mature is held back by the calendar.
    flagged = make_series(4, "leads_up_quality_down", "organic_search", onset, 0.5, False)
    assert not [
        f for f in detect(flagged, catalog, rules, AS_OF) if "lead_to_sql" in f.outcome_metric
    ]
    # Once the cohorts have aged a week (a night 7 days later, same frame), the drop is judged.
    later = make_series(4, "leads_up_quality_down", "organic_search", date(2025, 9, 8), 0.8)
    assert ("leads_up_lead_quality_down", "channel", "organic_search") in _keys(
        detect(later, catalog, rules, AS_OF)
    )


def test_low_volume_is_skipped_and_counted(catalog: pd.DataFrame, rules: list[Rule]) -> None:
    series = make_series(1, "leads_up_quality_down", "organic_search", date(2025, 9, 7), 0.8)
    cohorts = make_cohorts(
        series, 1, "leads_up_quality_down", "organic_search", date(2025, 9, 7), 0.8
    )
    strict = [
        dataclasses.replace(r, min_volume_outcome=10_000) if r.id.startswith("leads_up") else r
        for r in rules
    ]
    report = evaluate(prepare(series, catalog, strict, cohorts), catalog, strict, AS_OF)
    assert not [f for f in report.findings if f.rule_id == "leads_up_lead_quality_down"]
    assert report.skipped()["leads_up_lead_quality_down"] == {"low_volume": 5}
    assert report.worst("leads_up_lead_quality_down") == []  # nothing tested, nothing to show
    # Volume is the denominator (leads) in the window and in the baseline at the window's
    # length: organic search has ~280 leads in 14 days.
    loose = [
        dataclasses.replace(r, min_volume_outcome=250) if r.id.startswith("leads_up") else r
        for r in rules
    ]
    report = evaluate(prepare(series, catalog, loose, cohorts), catalog, loose, AS_OF)
    assert "organic_search" not in {
        e.dimension_value
        for e in report.for_rule("leads_up_lead_quality_down")
        if e.status == "skipped"
    }
    assert ("leads_up_lead_quality_down", "channel", "organic_search") in _keys(report.findings)
    top = report.worst("leads_up_lead_quality_down", limit=2)
    assert len(top) == 2 and top[0]["dimension_value"] == "organic_search"
    assert top[0]["status"] == "finding" and top[0]["q_value"] <= 0.1


def _week_frame(start: date, sessions: list[float], engaged: list[float]) -> pd.DataFrame:
    """Week rows of sessions and engagement_rate for the total, from hand-picked numbers."""
    rows = []
    for i, (s, e) in enumerate(zip(sessions, engaged, strict=True)):
        for metric, num, den in (("sessions", s, np.nan), ("engagement_rate", e, s)):
            rows.append(
                dict(
                    metric_id=metric,
                    grain="week",
                    period_start=start + timedelta(days=7 * i),
                    dimension="total",
                    dimension_value="total",
                    numerator=num,
                    denominator=den,
                    value=num / den if den == den else num,
                    layer="x",
                    is_mature=True,
                    is_complete_period=True,
                )
            )
    return pd.DataFrame(rows)


def _sessions_rule(**overrides: Any) -> Rule:
    fields = dict(
        id="r",
        leading_metric="sessions",
        outcome_metric="engagement_rate",
        outcome_bad="down",
        question="{dimension_value}",
        dimensions=("total",),
    )
    return Rule(**{**fields, **overrides})


def test_baseline_excludes_the_window(catalog: pd.DataFrame) -> None:
    # A hand-made frame: sessions 1000 a week for 8 weeks, then 2000 for 2 weeks; engaged
    # sessions 600 a week, then 700. If the window leaked into the baseline, the baseline would
    # be 1200 a week and the change +67%; kept apart it is +100% and the rate 0.35 vs 0.60.
    frame = _week_frame(date(2025, 7, 21), [1000.0] * 8 + [2000.0] * 2, [600.0] * 8 + [700.0] * 2)
    rule = _sessions_rule(baseline=8)
    (f,) = detect(frame, catalog, [rule], date(2025, 9, 28))
    assert f.leading_change == pytest.approx(1.0)
    assert f.outcome_change == pytest.approx(0.35 / 0.60 - 1)
    assert f.evidence["baseline"] == {
        "start": "2025-07-21",
        "end": "2025-09-14",
        "periods": 8,
        "gap_periods": 0,
    }
    assert f.evidence["leading"]["baseline_sum"] == 8000.0
    assert f.evidence["leading"]["window_sum"] == 4000.0
    # An incomplete current week is not part of the window.
    assert detect(frame, catalog, [rule], date(2025, 9, 27)) == []


def test_a_change_that_slid_into_the_baseline_is_not_taken_for_noise(
    catalog: pd.DataFrame,
) -> None:
    # 12 baseline weeks alternating 990 / 1010 sessions, the last 2 of them already at the new
    # level 1300 (the change began 4 weeks ago), then the 2-week window at 1300. Over all 12
    # weeks (mean 1050) phi would be (5 x (60^2 + 40^2) + 2 x 250^2) / 1050 / 11 = 13.07, the
    # step read as noise; over the oldest 10 (mean 1000) it is 10 x 10^2 / 1000 / 9 = 0.111,
    # used as 1, so the +24% is as clear as it is.
    base = [990.0, 1010.0] * 5 + [1300.0, 1300.0]
    sessions = base + [1300.0, 1300.0]
    engaged = [s * 0.6 for s in base] + [1300.0 * 0.45] * 2
    frame = _week_frame(date(2025, 6, 30), sessions, engaged)
    (f,) = detect(frame, catalog, [_sessions_rule()], date(2025, 10, 5))
    lead = f.evidence["leading"]
    assert lead["dispersion"] == 1.0 and lead["df"] is None
    assert f.leading_change == pytest.approx(1300 / (sum(base) / 12) - 1)
    assert poisson_dispersion(base, [7] * 12)[0] == pytest.approx(151000 / 1050 / 11)
    assert poisson_dispersion(base[:10], [7] * 10)[0] == pytest.approx(1 / 9)


def test_a_metric_that_starts_inside_the_baseline_is_not_a_rise(catalog: pd.DataFrame) -> None:
    # Ads bought from week 5 on: the first weeks of the baseline hold no spend at all. Comparing
    # against them would read the launch as "spend +200%"; the value waits for a full baseline.
    weeks = [date(2025, 6, 2) + timedelta(days=7 * i) for i in range(18)]
    rows = []
    for i, w in enumerate(weeks):
        spend = 0.0 if i < 4 else 7000.0 + 100 * (i % 3)
        for metric, num in (("spend", spend), ("revenue", 20000.0 + 500 * (i % 2))):
            rows.append(
                dict(
                    metric_id=metric,
                    grain="week",
                    period_start=w,
                    dimension="total",
                    dimension_value="total",
                    numerator=num,
                    denominator=np.nan,
                    value=num,
                    layer="control",
                    is_mature=True,
                    is_complete_period=True,
                )
            )
    rule = Rule(
        id="r",
        leading_metric="spend",
        outcome_metric="revenue",
        outcome_bad="flat",
        question="q",
        dimensions=("total",),
        baseline=12,
    )
    frame = pd.DataFrame(rows)
    (ev,) = evaluate(frame, catalog, [rule], date(2025, 9, 28)).evaluations
    assert (ev.status, ev.reason) == ("skipped", "incomplete_baseline")
    # Two weeks later the baseline is all spend weeks: evaluated (and flat spend, no finding).
    (ev,) = evaluate(frame, catalog, [rule], date(2025, 10, 5)).evaluations
    assert ev.status == "no_divergence"
    assert ev.leading_change == pytest.approx(14300 / 2 / 7100 - 1)


def test_benjamini_hochberg_holds_back_a_lone_borderline_result(catalog: pd.DataFrame) -> None:
    # One rule, five channels. On "a" sessions +30% and the engaged rate -20%, each with a
    # one-sided p near 0.02. Channels whose sessions did not move (f..i) can never fire and stay
    # out of the divergence family, where "a" is alone (q = p); but its outcome must also stand
    # on its own among the five channels the rule tested, and 5 x p > 0.1 does not: a -33% drop
    # does. On b..e sessions rose 30% too but the engaged rate held: in the same night the
    # BH-adjusted q of "a" is 5 x p > 0.1, and nothing fires.
    def frame(up: list[str], quiet: list[str], engaged_a: float = 0.48) -> pd.DataFrame:
        weeks = [date(2025, 7, 21) + timedelta(days=7 * i) for i in range(10)]
        rows = []
        for ch in up + quiet:
            for i, w in enumerate(weeks):
                rise = i >= 8 and ch in up
                s = (39.0 if rise else 30.0) + (1 if i % 2 else -1)
                e = s * (engaged_a if rise and ch == "a" else 0.6)
                for metric, num, den in (("sessions", s, np.nan), ("engagement_rate", e, s)):
                    rows.append(
                        dict(
                            metric_id=metric,
                            grain="week",
                            period_start=w,
                            dimension="channel",
                            dimension_value=ch,
                            numerator=num,
                            denominator=den,
                            value=0.0,
                            layer="x",
                            is_mature=True,
                            is_complete_period=True,
                        )
                    )
        return pd.DataFrame(rows)

    rule = Rule(
        id="r",
        leading_metric="sessions",
        outcome_metric="engagement_rate",
        outcome_bad="down",
        question="q",
        dimensions=("channel",),
        baseline=8,
    )
    night = date(2025, 9, 28)
    alone = evaluate(frame(["a"], ["f", "g", "h", "i"]), catalog, [rule], night)
    ev = next(e for e in alone.evaluations if e.dimension_value == "a")
    assert 0.01 < ev.p_value < 0.1 and ev.q_value == pytest.approx(ev.p_value)
    assert alone.n_tests == 1
    out_p = [e.outcome_p for e in alone.evaluations]  # a, f, g, h, i
    assert benjamini_hochberg(out_p, 0.1)[1][0] > 0.1
    assert ev.reason == "outcome_not_significant" and alone.findings == []
    clear = evaluate(frame(["a"], ["f", "g", "h", "i"], 0.40), catalog, [rule], night)
    out_p = [e.outcome_p for e in clear.evaluations]
    assert benjamini_hochberg(out_p, 0.1)[1][0] <= 0.1
    assert [f.dimension_value for f in clear.findings] == ["a"] and clear.n_tests == 1
    quiet = next(e for e in alone.evaluations if e.dimension_value == "f")
    assert quiet.reason.startswith("leading_below_min_effect") and math.isnan(quiet.q_value)
    crowded = evaluate(frame(["a", "b", "c", "d", "e"], []), catalog, [rule], night)
    ev_a = next(e for e in crowded.evaluations if e.dimension_value == "a")
    assert ev_a.p_value == pytest.approx(ev.p_value)  # same unadjusted evidence ...
    assert ev_a.p_value < 0.1 < ev_a.q_value  # ... that no longer passes once adjusted
    assert crowded.findings == [] and crowded.n_tests == 5
    # Without the screen the quiet channels count too, and "a" is held back by them.
    unscreened = evaluate(frame(["a"], ["f", "g", "h", "i"]), catalog, [rule], night, screen=False)
    assert unscreened.findings == [] and unscreened.n_tests == 5


def test_day_grain_uses_whole_weeks(catalog: pd.DataFrame, rules: list[Rule]) -> None:
    series = make_series(1, "spend_up_revenue_flat", "paid_social", date(2025, 9, 15), 0.5)
    (f,) = [
        x for x in detect(series, catalog, rules, AS_OF) if x.rule_id == "spend_up_revenue_flat"
    ]
    assert (f.window_start, f.window_end) == (date(2025, 9, 15), AS_OF)
    assert f.evidence["baseline"] == {
        "start": "2025-06-23",
        "end": "2025-09-14",
        "periods": 84,
        "gap_periods": 0,
    }
    assert f.evidence["leading"]["window_exposure"] == 14.0
    # dispersion over the oldest 10 of the 12 baseline weeks
    assert f.evidence["outcome"]["df"] in (None, 9.0)
    assert "did not follow" in f.explanation and "14 days to 2025-09-28" in f.explanation
    # A night in mid-week: the window is the 14 days to that night, still whole weeks long.
    midweek = evaluate(series, catalog, rules, date(2025, 9, 24))
    ev = next(
        e for e in midweek.for_rule("spend_up_revenue_flat") if e.dimension_value == "paid_social"
    )
    assert (ev.window_start, ev.window_end) == (date(2025, 9, 11), date(2025, 9, 24))


def test_same_input_same_findings(catalog: pd.DataFrame, rules: list[Rule]) -> None:
    series = make_series(2, "clicks_up_nobody_stays", "paid_search", date(2025, 9, 15), 0.5)
    first = detect(series, catalog, rules, AS_OF)
    shuffled = series.sample(frac=1.0, random_state=7).reset_index(drop=True)
    second = detect(shuffled, catalog, list(reversed(rules)), AS_OF)
    assert first and first == second
    keys = [(f.rule_id, f.dimension, f.dimension_value) for f in first]
    assert keys == sorted(keys)


def test_formatting_helpers() -> None:
    assert format_change(0.414) == "+41%"
    assert format_change(-0.381) == "\u221238%"
    assert format_change(0.001) == "\u00b10%"
    assert previous_period(date(2025, 3, 1), "month") == date(2025, 2, 1)
    assert period_end(date(2024, 2, 1), "month") == date(2024, 2, 29)
    assert period_end(date(2025, 9, 22), "week") == date(2025, 9, 28)
