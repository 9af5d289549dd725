"""One-sided tests of a rate (a part over a whole, e.g. lead->SQL rate) between a baseline and
a window, on the summed successes and trials of each side.

* The pooled two-proportion z-test (`statsmodels.stats.proportion.proportions_ztest`'s
  statistic, written out for speed and checked against it in the tests). Against a null ratio
  other than 1 (the "flat" shortfall check), the score test of a ratio of proportions
  (`test_proportions_2indep(compare="ratio", method="score")`).
* Small counts: the normal approximation overstates a change in a handful of events, so a
  rate's p-value is never below Fisher's exact test (`scipy.stats.fisher_exact`'s one-sided
  hypergeometric tail, computed for a whole night in one `hypergeom.cdf` call).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps
from statsmodels.stats.proportion import test_proportions_2indep

from .onesided import Alternative, TestResult, check_alternative, one_sided, relative_change


def two_proportion_test(
    x_window: float,
    n_window: float,
    x_baseline: float,
    n_baseline: float,
    *,
    alternative: Alternative,
    ratio_null: float = 1.0,
    dispersion: float = 1.0,
    dispersion_df: float | None = None,
    exact: bool = True,
) -> TestResult:
    """One-sided test that the window's proportion x/n is larger (or smaller) than
    `ratio_null` times the baseline's, from the summed counts of each side. `exact=False` leaves
    the Fisher floor pending for `with_fisher_floor` to fill in with the night's other tests."""
    check_alternative(alternative)
    if n_window <= 0 or n_baseline <= 0:
        raise ValueError("two_proportion_test needs positive trials on both sides")
    p_w, p_b = x_window / n_window, x_baseline / n_baseline
    change = relative_change(p_w, p_b)
    numbers = {
        "window_successes": float(x_window),
        "window_trials": float(n_window),
        "baseline_successes": float(x_baseline),
        "baseline_trials": float(n_baseline),
        "window_value": p_w,
        "baseline_value": p_b,
        "ratio_null": float(ratio_null),
    }
    pooled_all = x_window + x_baseline
    if ratio_null == 1.0:
        method = "two_proportion_z"
        if pooled_all <= 0 or pooled_all >= n_window + n_baseline:
            raw = math.nan  # every trial succeeded (or none did): no evidence either way
        else:
            raw = pooled_z_statistic(x_window, n_window, x_baseline, n_baseline)
    else:
        method = "proportion_ratio_score"
        if pooled_all <= 0 or x_baseline <= 0:
            raw = math.nan
        else:
            res = test_proportions_2indep(
                x_window,
                n_window,
                x_baseline,
                n_baseline,
                value=ratio_null,
                compare="ratio",
                method="score",
                alternative="two-sided",
            )
            raw = float(res.statistic)
    z, p, phi, df = one_sided(float(raw), alternative, dispersion, dispersion_df)
    result = TestResult(method, alternative, change, p, z, phi, df, numbers)
    if ratio_null == 1.0 and math.isfinite(raw):
        # Few successes: the normal approximation overstates a drop (3 SQLs where 7 were
        # expected read p = 0.03; Fisher's exact test says 0.12). Never surer than exact.
        numbers["exact_p_value"] = math.nan  # to be floored, now or in a batch
        if exact:
            (result,) = with_fisher_floor([result])
    return result


def pooled_z_statistic(x1: float, n1: float, x2: float, n2: float) -> float:
    """statsmodels' `proportions_ztest([x1, x2], [n1, n2])` statistic (pooled variance), written
    out: that call costs about 0.2 ms, and a night over thousands of series makes thousands.
    tests/test_detection.py checks both agree."""
    pooled = (x1 + x2) / (n1 + n2)
    return (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))


def fisher_one_sided(
    x_window: ArrayLike,
    n_window: ArrayLike,
    x_baseline: ArrayLike,
    n_baseline: ArrayLike,
    larger: ArrayLike,
) -> np.ndarray:
    """One-sided p-values of Fisher's exact test for many 2x2 tables [[x_w, n_w - x_w], [x_b,
    n_b - x_b]] at once, as `scipy.stats.fisher_exact(alternative="greater" where `larger`, else
    "less")` computes each (the same hypergeometric tails, counts truncated to integers, 1.0 for
    a table with an empty row or column), in one call of `scipy.stats.hypergeom.cdf`: one call
    per table cost about 0.3 ms. tests/test_detection.py checks both agree."""
    c00 = np.asarray(x_window, dtype=np.int64)
    c01 = np.asarray(n_window, dtype=np.int64) - c00
    c10 = np.asarray(x_baseline, dtype=np.int64)
    c11 = np.asarray(n_baseline, dtype=np.int64) - c10
    greater = np.asarray(larger, dtype=bool)
    rows, total = c00 + c01, c00 + c01 + c10 + c11
    # "greater" is the "less" formula on the table's second column
    k = np.where(greater, c01, c00)
    drawn = np.where(greater, c01 + c11, c00 + c10)
    empty = (np.minimum(c00 + c10, c01 + c11) == 0) | (np.minimum(rows, c10 + c11) == 0)
    p = np.ones(len(k))
    ok = ~empty
    if ok.any():
        p[ok] = sps.hypergeom.cdf(k[ok], total[ok], rows[ok], drawn[ok])
    return p


def with_fisher_floor(results: Sequence[TestResult]) -> list[TestResult]:
    """The results with each pending Fisher floor filled in (a two-proportion result made with
    `exact=False`, its `exact_p_value` still NaN): the p-value is never below the exact test's.
    One batch for all of a night's tests."""
    pending = [
        i
        for i, r in enumerate(results)
        if r.method == "two_proportion_z" and math.isnan(r.numbers.get("exact_p_value", 0.0))
    ]
    out = list(results)
    if not pending:
        return out
    n = [results[i].numbers for i in pending]
    exact = fisher_one_sided(
        [x["window_successes"] for x in n],
        [x["window_trials"] for x in n],
        [x["baseline_successes"] for x in n],
        [x["baseline_trials"] for x in n],
        [results[i].alternative == "larger" for i in pending],
    )
    for i, p_exact in zip(pending, exact, strict=True):
        r = results[i]
        numbers = {**r.numbers, "exact_p_value": float(p_exact)}
        out[i] = replace(r, p_value=max(r.p_value, float(p_exact)), numbers=numbers)
    return out
