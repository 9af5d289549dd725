"""One metric's side of a test: its numerators and denominators (or days) summed over a
window and a baseline, the test method its catalog entry calls for, and the over-dispersion
measured on the baseline. Planning (`plan.py`) builds one per metric and night; testing
(`testing.py`) runs the test on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from .catalog import MetricInfo
from .dispersion import binomial_dispersion, dispersion_periods, poisson_dispersion
from .index import Group
from .periods import exposures, ordinals

if TYPE_CHECKING:
    from .censored import CensoredSums, CohortAges

DAY_BLOCK = 7  # at day grain, dispersion is measured over whole weeks


@dataclass
class Side:
    """One metric's window and baseline, summed, ready to test."""

    metric: MetricInfo
    method: str  # proportion, ratio, count, level, censored
    random_side: str | None
    window_num: float
    window_den: float
    base_num: float
    base_den: float
    window_exposure: float
    base_exposure: float
    dispersion: float
    dispersion_df: int
    window_volume: float
    base_volume_scaled: float  # baseline volume at the window's length
    censored: CensoredSums | None = None  # method "censored": the cohorts' sums by age

    def value(self, window: bool) -> float:
        """The window's (or baseline's) value: a ratio of sums, or a count per day; inf or NaN
        over a zero denominator, which planning skips rather than test."""
        num, den = (self.window_num, self.window_den) if window else (self.base_num, self.base_den)
        if self.method in ("count", "level"):
            den = self.window_exposure if window else self.base_exposure
        if den == 0:
            return math.inf if num > 0 else math.nan
        return num / den


def _positions(group: Group, wanted: np.ndarray) -> np.ndarray | None:
    """Where each period (by start ordinal) sits in the group; None if any is missing."""
    idx = np.searchsorted(group.start_ordinals, wanted)
    if (idx >= len(group.start_ordinals)).any():
        return None
    if not np.array_equal(group.start_ordinals[idx], wanted):
        return None
    return idx


def _method(info: MetricInfo, proportions: set[str]) -> tuple[str, str | None]:
    if info.denominator is None:
        return ("count" if info.is_additive else "level"), None
    if info.metric_id in proportions:
        return "proportion", None
    # A cost ratio's spend is chosen, the units it buys are random; for other ratios the
    # numerator is what varies given the denominator (revenue given deals, days given SQLs).
    return "ratio", ("denominator" if info.numerator == "spend" else "numerator")


def build_side(
    info: MetricInfo,
    group: Group,
    grain: str,
    window: tuple[date, ...],
    baseline: tuple[date, ...],
    proportions: set[str],
) -> Side | str:
    """Sums one metric over the window and baseline; a skip reason when it cannot."""
    method, random_side = _method(info, proportions)
    needs_den = method in ("proportion", "ratio")
    periods = window + baseline
    idx = _positions(group, ordinals(periods))
    if idx is None:
        return "missing_periods"
    num = group.numerator[idx]
    den = group.denominator[idx] if needs_den else None
    # (the group's flags spare the check of each side's slice when the group has no null)
    if (group.numerator_has_nan and np.isnan(num).any()) or (
        den is not None and group.denominator_has_nan and np.isnan(den).any()
    ):
        return "missing_periods"
    n_w = len(window)
    exposure, w_exp, b_exp = exposures(periods, grain if method == "count" else None, n_w)
    w_num, b_num = float(num[:n_w].sum()), float(num[n_w:].sum())
    if den is not None:
        w_den, b_den = float(den[:n_w].sum()), float(den[n_w:].sum())
    else:
        w_den, b_den = w_exp, b_exp
    dispersion = _baseline_dispersion(
        method,
        random_side,
        grain,
        num[n_w:],
        den[n_w:] if den is not None else exposure[n_w:],
    )
    if dispersion is None:
        return "incomplete_baseline"
    phi, dof = dispersion

    if needs_den:
        w_vol, b_vol = w_den, b_den
    else:
        w_vol, b_vol = w_num, b_num
    scale = w_exp / b_exp if b_exp else 0.0
    return Side(
        metric=info,
        method=method,
        random_side=random_side,
        window_num=w_num,
        window_den=w_den,
        base_num=b_num,
        base_den=b_den,
        window_exposure=w_exp,
        base_exposure=b_exp,
        dispersion=phi,
        dispersion_df=dof,
        window_volume=w_vol,
        base_volume_scaled=b_vol * scale,
    )


def _baseline_dispersion(
    method: str, random_side: str | None, grain: str, b_n: np.ndarray, b_d: np.ndarray
) -> tuple[float, int] | None:
    """Over-dispersion from the baseline alone (numerators `b_n` over denominators or days
    `b_d`), over blocks that each hold whole weeks; None when a block holds no volume."""
    block = DAY_BLOCK if grain == "day" else 1
    k = len(b_n) // block
    if k * block != len(b_n):  # only whole blocks; the oldest partial block is dropped
        b_n, b_d = b_n[len(b_n) - k * block :], b_d[len(b_d) - k * block :]
    blocks_n = b_n.reshape(k, block).sum(axis=1) if k else b_n
    blocks_d = b_d.reshape(k, block).sum(axis=1) if k else b_d
    # Every baseline week must hold some volume: a metric that was zero for part of its baseline
    # was not yet tracked or bought (a new ads account, a launch), and comparing against those
    # zeros would report its start as a rise. Such values wait until the baseline is full.
    block_volume = blocks_d if method in ("proportion", "ratio") else blocks_n
    if k == 0 or (block_volume <= 0).any():
        return None
    spread = dispersion_periods(k)  # the oldest blocks: a recent change is not noise
    if method == "proportion":
        return binomial_dispersion(blocks_n[spread], blocks_d[spread])
    if method == "ratio" and random_side == "denominator":
        return poisson_dispersion(blocks_d[spread], blocks_n[spread])
    return poisson_dispersion(blocks_n[spread], blocks_d[spread])


def build_censored_side(
    info: MetricInfo,
    ages: CohortAges,
    window: tuple[date, ...],
    baseline: tuple[date, ...],
    as_of: date,
) -> Side | str:
    """A lead-cohort outcome judged from every cohort of the window on `as_of` (day periods;
    `censored.py`): window_num / window_den are the window's SQLs so far over its leads, base_*
    the baseline's; the test reads `censored`. A skip reason when it cannot be judged."""
    from .censored import censored_sums

    sums = censored_sums(
        ages,
        as_of.toordinal(),
        (window[0].toordinal(), window[-1].toordinal()),
        (baseline[0].toordinal(), baseline[-1].toordinal()),
        info.maturity_lag_days,
    )
    if isinstance(sums, str):
        return sums
    w_days, b_days = float(len(window)), float(len(baseline))
    return Side(
        metric=info,
        method="censored",
        random_side=None,
        window_num=sums.observed,
        window_den=sums.window_leads,
        base_num=sums.base_events,
        base_den=sums.base_leads,
        window_exposure=w_days,
        base_exposure=b_days,
        dispersion=sums.dispersion,
        dispersion_df=sums.dispersion_df,
        window_volume=sums.window_leads,
        base_volume_scaled=sums.base_leads * w_days / b_days,
        censored=sums,
    )
