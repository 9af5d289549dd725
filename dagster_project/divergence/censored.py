"""Lead quality judged from every cohort: the window's leads against what the baseline's leads
did at the same age, with censoring (issue 13).

A fixed-horizon rate (SQL within 7 or 28 days) waits until a cohort is that old and throws away
what its younger cohorts already say. Here, on a night:

* the baseline's leads (cohort days in the baseline) give the cumulative share that reached SQL
  by each age, F(a) = 1 - S(a), from the Kaplan-Meier estimate (statsmodels' `SurvfuncRight`,
  lead counts as frequency weights): a lead is observed up to its age on the night (or up to
  the horizon, the outcome metric's maturity lag), an SQL at a later age is not known yet;
* each window lead of age A (capped at the horizon) is expected to have reached SQL with
  probability F(A): a cohort one day old counts for what one day can say, never as a drop;
* observed O (the window's SQLs so far) against expected E is tested one-sided, conditionally
  on O + B (B: the baseline's own SQLs, whose expected count at its own pace is B_exp): under
  an unchanged pace O ~ Binomial(O + B, E / (E + B_exp)), so the baseline's own sampling error
  counts too. The score z is corrected by the over-dispersion measured on the baseline's 7-day
  blocks of cohorts (each block's SQLs against its expected count; `dispersion.py`), and the
  p-value is never below the exact binomial tail (a handful of SQLs).

The relative change is the window's pace against the baseline's: (O / E) / (B / B_exp) - 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.duration.survfunc import SurvfuncRight

from .dispersion import dispersion_periods, poisson_dispersion
from .onesided import Alternative, TestResult, check_alternative, one_sided
from .periods import EPOCH_ORDINAL

BLOCK_DAYS = 7  # the baseline's dispersion is measured over whole weeks of cohorts


@dataclass(frozen=True)
class CohortAges:
    """One dimension value's leads by cohort day and age at SQL (lead_cohort_ages)."""

    cohorts: np.ndarray  # date.toordinal() of each row's cohort day
    sql_age: np.ndarray  # days from creation to SQL; NaN: no SQL by the warehouse's night
    leads: np.ndarray  # leads in the row


def index_cohorts(frame: pd.DataFrame) -> dict[tuple[str, str], CohortAges]:
    """lead_cohort_ages split by (dimension, dimension value)."""
    out: dict[tuple[str, str], CohortAges] = {}
    if frame.empty:
        return out
    days = pd.to_datetime(frame["cohort_date"]).to_numpy().astype("datetime64[D]")
    ordinals = days.astype(np.int64) + EPOCH_ORDINAL
    ages = pd.to_numeric(frame["age_at_sql_days"], errors="coerce").to_numpy(dtype=float)
    leads = pd.to_numeric(frame["lead_count"]).to_numpy(dtype=float)
    keys = frame["dimension"].astype(str) + "\x1f" + frame["dimension_value"].astype(str)
    for key, rows in keys.groupby(keys, sort=False).indices.items():
        dimension, value = key.split("\x1f", 1)
        order = rows[np.argsort(ordinals[rows], kind="stable")]
        out[(dimension, value)] = CohortAges(ordinals[order], ages[order], leads[order])
    return out


@dataclass(frozen=True)
class CensoredSums:
    """A night's window and baseline of one dimension value, ready to test."""

    observed: float  # the window's leads that reached SQL by their age (capped at the horizon)
    expected: float  # what the baseline's pace by age expects of them
    window_leads: float
    base_events: float  # the baseline's leads that reached SQL by their age
    base_expected: float  # what the baseline's own pace expects of them (about base_events)
    base_leads: float
    horizon_rate: float  # the baseline's share reaching SQL by the horizon (Kaplan-Meier)
    horizon: int
    dispersion: float
    dispersion_df: int


def cumulative_share(times: np.ndarray, events: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """F(a) for a = 0 .. max(times): the Kaplan-Meier share that reached the event by age a,
    from each row's time (age at the event, or at censoring), event flag and weight."""
    top = int(times.max()) if len(times) else 0
    ages = np.arange(top + 1)
    keep = weights > 0
    if not keep.any() or not events[keep].any():
        return np.zeros(top + 1)
    fit = SurvfuncRight(times[keep], events[keep].astype(float), freq_weights=weights[keep])
    at = np.searchsorted(fit.surv_times, ages, side="right") - 1
    survival = np.where(at >= 0, fit.surv_prob[np.maximum(at, 0)], 1.0)
    return 1.0 - survival


def censored_sums(
    ages: CohortAges,
    night: int,
    window: tuple[int, int],
    baseline: tuple[int, int],
    horizon: int,
) -> CensoredSums | str:
    """Observed and expected SQLs of the window's cohorts on `night` (ordinals; window and
    baseline as first and last cohort day, inclusive), or a skip reason."""
    seen = ages.cohorts <= night
    observed_age = np.clip(night - ages.cohorts, 0, horizon).astype(float)
    # what was known on the night: an SQL at an age the cohort had not reached is not
    reached = seen & ~np.isnan(ages.sql_age) & (ages.sql_age <= observed_age)
    in_base = seen & (ages.cohorts >= baseline[0]) & (ages.cohorts <= baseline[1])
    in_window = seen & (ages.cohorts >= window[0]) & (ages.cohorts <= window[1])
    if not in_base.any() or ages.leads[in_base].sum() <= 0:
        return "no_baseline"
    time = np.where(reached, ages.sql_age, observed_age)[in_base]
    share = cumulative_share(time, reached[in_base], ages.leads[in_base])
    if share[-1] <= 0:
        return "no_baseline"  # no baseline lead reached SQL: nothing to compare a pace with
    # expected share of each row by its own age (ages past the fitted range: the last value)
    expected_row = ages.leads * share[np.minimum(observed_age, len(share) - 1).astype(int)]
    events_row = ages.leads * reached
    base_blocks, n_blocks = _blocks(ages.cohorts[in_base], baseline)
    blocks_o = np.bincount(base_blocks, weights=events_row[in_base], minlength=n_blocks)
    blocks_e = np.bincount(base_blocks, weights=expected_row[in_base], minlength=n_blocks)
    if (blocks_e <= 0).any():
        return "incomplete_baseline"
    phi, dof = poisson_dispersion(
        blocks_o[dispersion_periods(len(blocks_o))], blocks_e[dispersion_periods(len(blocks_e))]
    )
    return CensoredSums(
        observed=float(events_row[in_window].sum()),
        expected=float(expected_row[in_window].sum()),
        window_leads=float(ages.leads[in_window].sum()),
        base_events=float(events_row[in_base].sum()),
        base_expected=float(expected_row[in_base].sum()),
        base_leads=float(ages.leads[in_base].sum()),
        horizon_rate=float(share[min(horizon, len(share) - 1)]),
        horizon=horizon,
        dispersion=phi,
        dispersion_df=dof,
    )


def _blocks(cohorts: np.ndarray, baseline: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Each baseline cohort's 7-day block (0 the oldest) and the number of blocks; whole weeks
    counted back from the baseline's last day (an oldest partial week joins the block after)."""
    n_blocks = max((baseline[1] - baseline[0] + 1) // BLOCK_DAYS, 1)
    back = np.minimum((baseline[1] - cohorts) // BLOCK_DAYS, n_blocks - 1)
    return (n_blocks - 1 - back).astype(np.int64), n_blocks


def censored_test(sums: CensoredSums, *, alternative: Alternative) -> TestResult:
    """One-sided test that the window's leads reach SQL faster ("larger") or slower ("smaller")
    than the baseline's did at the same ages (module docstring)."""
    check_alternative(alternative)
    o, e, b, b_exp = sums.observed, sums.expected, sums.base_events, sums.base_expected
    numbers = {
        "window_successes": o,
        "window_expected": e,
        "window_trials": sums.window_leads,
        "baseline_successes": b,
        "baseline_expected": b_exp,
        "baseline_trials": sums.base_leads,
        "horizon_rate": sums.horizon_rate,
        "horizon_days": float(sums.horizon),
    }
    if e <= 0 or b_exp <= 0 or b <= 0:
        return TestResult("censored_cohorts", alternative, math.nan, 1.0, 0.0, numbers=numbers)
    change = (o / e) / (b / b_exp) - 1.0
    n, share = o + b, e / (e + b_exp)
    raw = (o - n * share) / math.sqrt(n * share * (1.0 - share))
    z, p, phi, df = one_sided(raw, alternative, sums.dispersion, sums.dispersion_df)
    # never surer than the exact binomial tail (3 SQLs where 8 were expected)
    if alternative == "smaller":
        exact = float(sps.binom.cdf(round(o), round(n), share))
    else:
        exact = float(sps.binom.sf(round(o) - 1, round(n), share))
    numbers["exact_p_value"] = exact
    return TestResult("censored_cohorts", alternative, change, max(p, exact), z, phi, df, numbers)
