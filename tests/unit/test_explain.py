"""`firewatch explain`'s text from an alert's evidence: the numbers, the interval, the words."""

from __future__ import annotations

import math

import pytest

from dagster_project.brief.explain import explain_alert, interval, sureness

# The demo's paid-search alert: sessions 2,664 in 14 days against 11,366 in 84; engaged
# sessions 1,236 of 2,664 against 6,799 of 11,366.
LEADING = {
    "label": "Sessions",
    "method": "poisson_rate_score",
    "window_sum": 2664.0,
    "window_exposure": 14.0,
    "window_value": 190.285714,
    "baseline_sum": 11366.0,
    "baseline_exposure": 84.0,
    "baseline_value": 135.309524,
    "dispersion": 2.68,
}
OUTCOME = {"label": "Engaged-session rate", "method": "two_proportion_z",
           "window_successes": 1236.0, "window_trials": 2664.0, "window_value": 0.463964,
           "baseline_successes": 6799.0, "baseline_trials": 11366.0, "baseline_value": 0.598188,
           "dispersion": 4.0}  # fmt: skip
EVIDENCE = {
    "grain": "week",
    "window": {"start": "2025-09-15", "end": "2025-09-28"},
    "baseline": {"start": "2025-06-23", "end": "2025-09-14"},
    "leading": LEADING,
    "outcome": OUTCOME,
    "divergence_q_value": 0.00015,
    "divergence_p_value": 8.8e-05,
    "hypotheses_in_family": 5,
    "min_effect": {"leading": 0.15, "outcome": 0.1},
    "outcome_bad": "down",
}
ALERT = {"alert_id": "A-1", "rule_id": "sessions_up_nobody_stays", "dimension": "channel",
         "dimension_value": "paid_search", "severity": "warn", "status": "active",
         "explanation": "Paid search sessions +41% while …", "leading_change": 0.406299,
         "outcome_change": -0.224384}  # fmt: skip


def test_the_table_shows_both_metrics_window_against_baseline() -> None:
    text = explain_alert(ALERT, EVIDENCE, young_cohorts=0)
    assert "| Sessions | 190 a day (2,664 / 14.0) | 135 a day (11,366 / 84.0) | +41% |" in text
    assert "| Engaged-session rate | 46.4% (1,236 / 2,664) | 59.8% (6,799 / 11,366) | -22% |" in (
        text
    )
    assert "How sure: very sure (q = 0.00015 among 5 tests tonight" in text
    assert "Young cohorts: 0 of the window's periods" in text
    # 0.598188 x (1 - 0.10) = 0.538369: back within the 10% floor clears it
    assert "back to at least 53.8% (within 10% of the baseline's 59.8%)" in text


def test_the_interval_holds_the_change_and_widens_with_the_dispersion() -> None:
    low, high = interval(OUTCOME)
    ratio = (1236 / 2664) / (6799 / 11366)
    assert low < ratio - 1 < high
    # By hand (Katz): var(log RR) = 1/w - 1/wn + 1/b - 1/bn, with the counts divided by the
    # dispersion (4); the 90% half-width is 1.645 standard errors on the log scale.
    d = 4.0
    se = math.sqrt(d * (1 / 1236 - 1 / 2664 + 1 / 6799 - 1 / 11366))
    assert math.log(1 + high) - math.log(1 + low) == pytest.approx(2 * 1.645 * se, rel=0.03)
    plain = interval({**OUTCOME, "dispersion": 1.0})
    width = math.log(1 + high) - math.log(1 + low)
    plain_width = math.log(1 + plain[1]) - math.log(1 + plain[0])
    assert width / plain_width == pytest.approx(2.0, rel=0.03)  # sqrt(4)


def test_a_flat_rule_says_what_rise_would_clear_it() -> None:
    outcome = {"label": "Won revenue", "window_sum": 27775.37, "window_exposure": 14.0,
               "window_value": 1983.955, "baseline_sum": 199678.18, "baseline_exposure": 84.0,
               "baseline_value": 2377.121248, "shortfall_ratio_null": 1.178438,
               "dispersion": 3671.0}  # fmt: skip
    evidence = {**EVIDENCE, "outcome": outcome, "outcome_bad": "flat",
                "leading": {**LEADING, "label": "Ad spend"}}  # fmt: skip
    text = explain_alert({**ALERT, "outcome_change": -0.165}, evidence)
    # 2377.12 x 1.178438 = 2801.28 a day: half the spend's +35.7% rise
    assert "Won revenue rising to at least 2,801 a day (+18%, in step with Ad spend)" in text
    assert "very sure that Ad spend rose" in text


def test_sureness_in_words() -> None:
    assert [sureness(q) for q in (0.0005, 0.005, 0.03, 0.2, None)] == [
        "very sure", "sure", "fairly sure", "a signal to watch", "not rated"
    ]  # fmt: skip
