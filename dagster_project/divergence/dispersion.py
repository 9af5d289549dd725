"""Over-dispersion estimated from the baseline periods: how much more the periods vary than
binomial/Poisson sampling would (campaign changes, trends, lumpy deals; and Poisson variance is
meaningless for currency sums). phi is Pearson chi-square / degrees of freedom, the statistic of
`scipy.stats.chi2_contingency` for rates and `scipy.stats.chisquare` for counts, written out for
speed and checked against them in the tests. Quasi-Poisson is scale-free, so currency amounts
need no count assumption. The baseline's most recent sixth is left out of phi
(`dispersion_periods`): a change that has just slid out of the window sits there and would
otherwise read as noise. The tests apply phi through `onesided.one_sided`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


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
