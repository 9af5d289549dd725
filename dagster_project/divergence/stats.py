"""The statistics behind divergence detection: one-sided tests that a metric moved between a
baseline and a window, computed on sums of numerators and denominators, plus false-discovery
control across all tests of a night. Test statistics come from statsmodels and scipy.

Choices, and why:

* Rates (a part over a whole, e.g. lead->SQL rate): the pooled two-proportion z-test
  (`statsmodels.stats.proportion.proportions_ztest`'s statistic, written out for speed and
  checked against it in the tests) on the window and baseline sums. Against a
  null ratio other than 1 (the "flat" shortfall check), the score test of a ratio of proportions
  (`test_proportions_2indep(compare="ratio", method="score")`).
* Counts and additive sums (leads, sessions, spend, revenue): the Poisson score test of a rate
  ratio (statsmodels `test_poisson_2indep(method="score")`, written out), with exposure = days
  covered, so months of different length and partial blocks compare fairly.
* Ratios of sums with a continuous side (CAC = spend / customers, ROAS = revenue / spend): the
  same Poisson score test on the random side with the other side as exposure ("customers per unit
  of spend"). Spend is chosen, not sampled, so conditioning on it is natural; the test still works
  when the window has zero customers (an infinite CAC), where a delta-method variance of
  spend/customers breaks down; and a delta method would need a within-window covariance that two
  or three periods cannot estimate.
* Over-dispersion: real periods vary more than binomial/Poisson sampling (campaign changes,
  trends, lumpy deals), and Poisson variance is meaningless for currency sums. Every test takes a
  dispersion factor phi estimated from the baseline periods alone (Pearson chi-square / degrees of
  freedom, the statistic of `scipy.stats.chi2_contingency` for rates and `scipy.stats.chisquare`
  for counts, written out for speed and checked against them in the tests) - the
  quasi-likelihood correction. The score statistic is divided by sqrt(phi) (never by less than
  1: a baseline cannot make us surer than sampling noise), and when phi > 1 the p-value comes
  from Student's t with the baseline's degrees of freedom, since phi itself is estimated.
  Quasi-Poisson is scale-free, so currency amounts need no count assumption. The baseline's most
  recent sixth is left out of phi (`dispersion_periods`): a change that has just slid out of
  the window sits there and would otherwise read as noise.
* Which side of a ratio is "random" (detect.py): for cost ratios whose numerator is spend
  (CAC, CPL, CPC) the count in the denominator; for other ratios (ROAS, deal size, days to SQL)
  the numerator given the denominator.
* Small counts: the normal approximation overstates a change in a handful of events, so a
  rate's p-value is never below Fisher's exact test (`scipy.stats.fisher_exact`'s one-sided
  hypergeometric tail, computed for a whole night in one `hypergeom.cdf` call), and a count's
  never below the exact conditional Poisson test (`test_poisson_2indep(method="exact-cond")`).
* Benjamini-Hochberg (`multipletests(method="fdr_bh")`), applied by detect.py over every
  divergence hypothesis of a night.

Each test returns the relative change (window value / baseline value - 1), the one-sided p-value
and the numbers used, so evidence can show them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import test_proportions_2indep

Alternative = Literal["larger", "smaller"]
RandomSide = Literal["numerator", "denominator"]


@dataclass(frozen=True)
class TestResult:
    """One one-sided test of window against baseline."""

    __test__ = False  # not a pytest class, despite the name

    method: str
    alternative: Alternative  # "larger": the window value is above the baseline value
    relative_change: float  # window value / baseline value - 1 (inf when the baseline is 0)
    p_value: float
    statistic: float  # z (or t) after the dispersion correction; > 0 means the window is larger
    dispersion: float = 1.0  # variance inflation applied (>= 1)
    df: float | None = None  # t degrees of freedom when the dispersion was estimated, else None
    numbers: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for evidence."""
        return {
            "method": self.method,
            "alternative": self.alternative,
            "relative_change": json_float(self.relative_change),
            "p_value": json_float(self.p_value),
            "statistic": json_float(self.statistic),
            "dispersion": json_float(self.dispersion),
            "df": self.df,
            **{key: json_float(value) for key, value in self.numbers.items()},
        }


def json_float(value: float) -> float | str | None:
    """Plain floats for JSON; infinities as strings, NaN as null (JSON has neither)."""
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return round(value, 6)


def relative_change(window_value: float, baseline_value: float) -> float:
    """window / baseline - 1; inf when only the baseline is zero, NaN when both are."""
    if baseline_value == 0:
        return math.nan if window_value == 0 else math.copysign(math.inf, window_value)
    return window_value / baseline_value - 1.0


def _ratio(numerator: float, denominator: float) -> float:
    """N/D; inf for a positive N over a zero D, NaN for 0/0."""
    if denominator == 0:
        return math.inf if numerator > 0 else math.nan
    return numerator / denominator


def _check_alternative(alternative: str) -> None:
    if alternative not in ("larger", "smaller"):
        raise ValueError(f"alternative must be 'larger' or 'smaller', got {alternative!r}")


def _one_sided(
    statistic: float, alternative: Alternative, dispersion: float, df: float | None
) -> tuple[float, float, float, float | None]:
    """Applies the quasi-likelihood correction to a score z: (z_adj, p, phi_used, df_used)."""
    if not math.isfinite(statistic):
        return 0.0, 1.0, 1.0, None
    phi = max(1.0, float(dispersion)) if math.isfinite(dispersion) else 1.0
    z = statistic / math.sqrt(phi)
    use_t = phi > 1.0 and df is not None and df > 0
    tail = z if alternative == "larger" else -z  # the t and normal laws are symmetric
    # scipy.special's ufuncs are the functions behind stats.t.sf / stats.norm.sf, without the
    # distribution objects' argument checking (about 50 us a call, thousands per night)
    p = float(special.stdtr(df, -tail)) if use_t else float(special.ndtr(-tail))
    return z, p, phi, (float(df) if use_t else None)


def binomial_dispersion(successes: ArrayLike, trials: ArrayLike) -> tuple[float, int]:
    """Pearson chi-square of homogeneity across baseline periods over its degrees of freedom.

    About 1 when periods differ only by binomial sampling; above 1 when the rate itself wanders.
    Returns (phi, dof); (1.0, dof) when there is nothing to estimate from.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    keep = n > 0
    x, n = x[keep], n[keep]
    dof = int(len(n) - 1)
    if dof < 1:
        return 1.0, max(dof, 0)
    table = np.column_stack([x, n - x])
    if (table.sum(axis=0) <= 0).any():  # all successes or all failures: no variation to measure
        return 1.0, dof
    # Pearson's chi-square of the k x 2 table, as scipy.stats.chi2_contingency(correction=False)
    # computes it (the tests check the two agree); written out because scipy's wrapper costs
    # 1.7 ms a call and a replayed night makes hundreds of these calls.
    expected = np.outer(n, table.sum(axis=0)) / n.sum()
    return float(((table - expected) ** 2 / expected).sum()) / dof, dof


def poisson_dispersion(counts: ArrayLike, exposures: ArrayLike) -> tuple[float, int]:
    """Pearson chi-square of the baseline periods' counts against a constant rate per unit of
    exposure, over its degrees of freedom (quasi-Poisson phi). Returns (phi, dof)."""
    y = np.asarray(counts, dtype=float)
    e = np.asarray(exposures, dtype=float)
    keep = e > 0
    y, e = y[keep], e[keep]
    dof = int(len(y) - 1)
    if dof < 1:
        return 1.0, max(dof, 0)
    total = float(y.sum())
    if total <= 0:
        return 1.0, dof
    expected = e * total / float(e.sum())
    # Pearson's chi-square as scipy.stats.chisquare computes it (checked in the tests), without
    # its per-call overhead.
    return float(((y - expected) ** 2 / expected).sum()) / dof, dof


def dispersion_periods(n_periods: int) -> slice:
    """Which baseline periods (oldest first) estimate the dispersion: all but the most recent
    sixth. Once a change is two weeks old the window slides past its start and its first weeks
    enter the baseline, next to the window; in the dispersion they made phi 10-50 and hid the
    very change they belong to (seen in the detection benchmark). Below 6 periods, all."""
    return slice(0, n_periods - n_periods // 6)


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
    _check_alternative(alternative)
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
    z, p, phi, df = _one_sided(float(raw), alternative, dispersion, dispersion_df)
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
    _check_alternative(alternative)
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
    z, p, phi, df = _one_sided(raw, alternative, dispersion, dispersion_df)
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
    _check_alternative(alternative)
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


def benjamini_hochberg(p_values: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(reject, q-values) by Benjamini-Hochberg over all the given p-values."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=float)
    reject, q, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
    return np.asarray(reject, dtype=bool), np.asarray(q, dtype=float)
