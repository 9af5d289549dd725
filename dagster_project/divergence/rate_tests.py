"""One-sided tests of a count, an additive sum or a ratio of sums between a baseline and a
window, all by the Poisson score test of a rate ratio (statsmodels
`test_poisson_2indep(method="score")`, written out).

* Counts and additive sums (leads, sessions, spend, revenue): exposure = days covered, so months
  of different length and partial blocks compare fairly. A count's p-value is never below the
  exact conditional Poisson test's (`test_poisson_2indep(method="exact-cond")`).
* Ratios of sums with a continuous side (CAC = spend / customers, ROAS = revenue / spend): the
  same test on the random side with the other side as exposure ("customers per unit of spend").
  Spend is chosen, not sampled, so conditioning on it is natural; the test still works when the
  window has zero customers (an infinite CAC), where a delta-method variance of spend/customers
  breaks down; and a delta method would need a within-window covariance that two or three
  periods cannot estimate.
* Which side of a ratio is "random" (detect.py): for cost ratios whose numerator is spend
  (CAC, CPL, CPC) the count in the denominator; for other ratios (ROAS, deal size, days to SQL)
  the numerator given the denominator.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import special

from .onesided import Alternative, TestResult, check_alternative, one_sided, relative_change

RandomSide = Literal["numerator", "denominator"]


def _ratio(numerator: float, denominator: float) -> float:
    """N/D; inf for a positive N over a zero D, NaN for 0/0."""
    if denominator == 0:
        return math.inf if numerator > 0 else math.nan
    return numerator / denominator


def poisson_score_statistic(
    y1: float, exposure1: float, y2: float, exposure2: float, ratio_null: float = 1.0
) -> float:
    """statsmodels' `test_poisson_2indep(method="score", compare="ratio")` statistic (W2A),
    written out: that call costs about 80 us, and a night over thousands of series makes tens
    of thousands of them. tests/test_detection.py checks both agree."""
    r_d = ratio_null * exposure1 / exposure2
    return (y1 - y2 * r_d) / math.sqrt((y1 + y2) * r_d)


def poisson_exact_conditional_p(
    y1: float,
    exposure1: float,
    y2: float,
    exposure2: float,
    ratio_null: float,
    alternative: Alternative,
) -> float:
    """statsmodels' `test_poisson_2indep(method="exact-cond")` one-sided p-value, written out:
    given y1 + y2 events, y1 is binomial with p = r_d / (1 + r_d) under the null, and the
    binomial tails are scipy.special's bdtrc / bdtr."""
    r_d = ratio_null * exposure1 / exposure2
    # counts arrive as floats from the warehouse; scipy wants integral k and n
    k, n = round(y1), round(y1 + y2)
    p = r_d / (1 + r_d)
    if alternative == "larger":
        return 1.0 if k <= 0 else float(special.bdtrc(k - 1, n, p))
    return float(special.bdtr(k, n, p))


def rate_ratio_test(
    y_window: float,
    exposure_window: float,
    y_baseline: float,
    exposure_baseline: float,
    *,
    alternative: Alternative,
    ratio_null: float = 1.0,
    dispersion: float = 1.0,
    dispersion_df: float | None = None,
    counts: bool = False,
) -> TestResult:
    """One-sided Poisson score test that the window's rate y/exposure is larger (or smaller)
    than `ratio_null` times the baseline's. Works for counts and (with dispersion) for sums.
    `counts`: y are event counts, so the p-value is never below the exact conditional test's
    (a sum of money has no exact Poisson law)."""
    check_alternative(alternative)
    if exposure_window <= 0 or exposure_baseline <= 0:
        raise ValueError("rate_ratio_test needs positive exposure on both sides")
    r_w, r_b = y_window / exposure_window, y_baseline / exposure_baseline
    change = relative_change(r_w, r_b)
    numbers = {
        "window_sum": float(y_window),
        "window_exposure": float(exposure_window),
        "baseline_sum": float(y_baseline),
        "baseline_exposure": float(exposure_baseline),
        "window_value": r_w,
        "baseline_value": r_b,
        "ratio_null": float(ratio_null),
    }
    if y_window + y_baseline <= 0 or y_window < 0 or y_baseline < 0:
        raw = math.nan
    else:
        raw = poisson_score_statistic(
            y_window, exposure_window, y_baseline, exposure_baseline, ratio_null
        )
    z, p, phi, df = one_sided(raw, alternative, dispersion, dispersion_df)
    if counts and math.isfinite(raw):
        exact = poisson_exact_conditional_p(
            y_window, exposure_window, y_baseline, exposure_baseline, ratio_null, alternative
        )
        numbers["exact_p_value"] = float(exact)
        p = max(p, float(exact))
    return TestResult("poisson_rate_score", alternative, change, p, z, phi, df, numbers)


def ratio_of_sums_test(
    numerator_window: float,
    denominator_window: float,
    numerator_baseline: float,
    denominator_baseline: float,
    *,
    alternative: Alternative,
    random_side: RandomSide,
    ratio_null: float = 1.0,
    dispersion: float = 1.0,
    dispersion_df: float | None = None,
) -> TestResult:
    """One-sided test that the ratio of sums N/D is larger (or smaller) in the window than
    `ratio_null` times the baseline's, by a Poisson score test on `random_side` with the other
    side as exposure. For CAC (spend / customers) random_side="denominator": CAC up is
    customers per unit of spend down. `dispersion` must be estimated on the same orientation
    (random side over fixed side per baseline period)."""
    check_alternative(alternative)
    if random_side == "numerator":
        inner = rate_ratio_test(
            numerator_window,
            denominator_window,
            numerator_baseline,
            denominator_baseline,
            alternative=alternative,
            ratio_null=ratio_null,
            dispersion=dispersion,
            dispersion_df=dispersion_df,
        )
        statistic = inner.statistic
    elif random_side == "denominator":
        flipped: Alternative = "smaller" if alternative == "larger" else "larger"
        inner = rate_ratio_test(
            denominator_window,
            numerator_window,
            denominator_baseline,
            numerator_baseline,
            alternative=flipped,
            ratio_null=1.0 / ratio_null,
            dispersion=dispersion,
            dispersion_df=dispersion_df,
            counts=True,  # the units a cost buys (customers, leads, clicks) are counted
        )
        statistic = -inner.statistic  # positive again means "the ratio N/D is larger"
    else:
        raise ValueError(f"random_side must be 'numerator' or 'denominator', got {random_side!r}")
    value_w = _ratio(numerator_window, denominator_window)
    value_b = _ratio(numerator_baseline, denominator_baseline)
    numbers = {
        "window_numerator": float(numerator_window),
        "window_denominator": float(denominator_window),
        "baseline_numerator": float(numerator_baseline),
        "baseline_denominator": float(denominator_baseline),
        "window_value": value_w,
        "baseline_value": value_b,
        "ratio_null": float(ratio_null),
    }
    if "exact_p_value" in inner.numbers:
        numbers["exact_p_value"] = inner.numbers["exact_p_value"]
    return TestResult(
        f"ratio_of_sums_poisson_score_on_{random_side}",
        alternative,
        relative_change(value_w, value_b) if math.isfinite(value_b) else math.nan,
        inner.p_value,
        statistic,
        inner.dispersion,
        inner.df,
        numbers,
    )
