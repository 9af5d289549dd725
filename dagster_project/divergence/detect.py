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
5. Tests (stats.py): one-sided, in the rule's direction, with over-dispersion estimated from the
   baseline. All tests of the night are run first.
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
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .findings import Finding
from .rules import DIMENSIONS, MetricInfo, Rule, catalog_index, validate_rule
from .stats import (
    Alternative,
    TestResult,
    benjamini_hochberg,
    binomial_dispersion,
    dispersion_periods,
    json_float,
    poisson_dispersion,
    rate_ratio_test,
    ratio_of_sums_test,
    two_proportion_test,
    with_fisher_floor,
)

FLAT_SHARE = 0.5  # a "flat" outcome rose by less than this share of the leading metric's rise
DAY_BLOCK = 7  # at day grain, dispersion is measured over whole weeks
_NICE_NAMES = {"linkedin": "LinkedIn", "email": "E-mail", "total": "All channels"}
_PERIOD_WORD = {"day": "day", "week": "week", "month": "month"}


# --------------------------------------------------------------------------------- calendar


def period_end(start: date, grain: str) -> date:
    """Last day of the period starting on `start`."""
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    if grain == "month":
        following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return following - timedelta(days=1)
    raise ValueError(f"unknown grain {grain!r}")


def previous_period(start: date, grain: str) -> date:
    """Start of the period before the one starting on `start`."""
    if grain == "day":
        return start - timedelta(days=1)
    if grain == "week":
        return start - timedelta(days=7)
    if grain == "month":
        return (start - timedelta(days=1)).replace(day=1)
    raise ValueError(f"unknown grain {grain!r}")


@functools.lru_cache(maxsize=256)
def _periods_back(end_start: date, grain: str, count: int) -> tuple[date, ...]:
    """`count` consecutive period starts ending with `end_start`, oldest first. Cached: every
    dimension value of a rule usually shares the night's window, and thousands of values
    asked for the same hundred days one by one."""
    out = [end_start]
    for _ in range(count - 1):
        out.append(previous_period(out[-1], grain))
    return tuple(out[::-1])


@functools.lru_cache(maxsize=256)
def _ordinals(periods: tuple[date, ...]) -> np.ndarray:
    """date.toordinal() of each period start (read-only: shared through the cache)."""
    out = np.array([p.toordinal() for p in periods], dtype=np.int64)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=256)
def _exposures(
    periods: tuple[date, ...], grain: str | None, n_window: int
) -> tuple[np.ndarray, float, float]:
    """Days in each period (all ones for grain None), and their sums over the first n_window
    periods and the rest (the array is read-only: shared through the cache)."""
    if grain is None:
        out = np.ones(len(periods))
    else:
        out = np.array([(period_end(p, grain) - p).days + 1 for p in periods], dtype=float)
    out.flags.writeable = False
    return out, float(out[:n_window].sum()), float(out[n_window:].sum())


# ------------------------------------------------------------------------------ data shapes


@dataclass(frozen=True)
class Evaluation:
    """One rule on one dimension value: a finding, no divergence, or skipped (with why)."""

    rule_id: str
    dimension: str
    dimension_value: str
    status: str  # "finding", "no_divergence" or "skipped"
    reason: str  # why skipped or why nothing fired; "" for a finding
    window_start: date | None = None
    window_end: date | None = None
    leading_change: float = math.nan
    outcome_change: float = math.nan
    p_value: float = math.nan  # of the divergence: max of the two one-sided p-values
    q_value: float = math.nan  # the same after Benjamini-Hochberg over the night
    leading_p: float = math.nan  # the one-sided p-values of each side
    outcome_p: float = math.nan
    leading_volume: float = math.nan  # each side's volume in the window
    outcome_volume: float = math.nan
    finding: Finding | None = None  # with the evidence: both tests' numbers

    def as_row(self) -> dict[str, Any]:
        """A flat, JSON-able row for tables of the worst dimension values."""
        return {
            "rule_id": self.rule_id,
            "dimension": self.dimension,
            "dimension_value": self.dimension_value,
            "status": self.status,
            "reason": self.reason,
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "leading_change": json_float(self.leading_change),
            "outcome_change": json_float(self.outcome_change),
            "leading_p": json_float(self.leading_p),
            "outcome_p": json_float(self.outcome_p),
            "q_value": json_float(self.q_value),
            "leading_volume": json_float(self.leading_volume),
            "outcome_volume": json_float(self.outcome_volume),
        }


@dataclass(frozen=True)
class DetectionReport:
    """Everything one night's detection produced: findings, every evaluation, test count."""

    as_of: date
    fdr: float
    findings: list[Finding]
    evaluations: list[Evaluation]
    n_tests: int  # divergence hypotheses in the Benjamini-Hochberg family (screened)

    def skipped(self) -> dict[str, dict[str, int]]:
        """Skipped dimension values per rule and reason, e.g. {"r": {"low_volume": 3}}."""
        out: dict[str, dict[str, int]] = {}
        for ev in self.evaluations:
            if ev.status == "skipped":
                by_reason = out.setdefault(ev.rule_id, {})
                by_reason[ev.reason] = by_reason.get(ev.reason, 0) + 1
        return out

    def for_rule(self, rule_id: str) -> list[Evaluation]:
        return [ev for ev in self.evaluations if ev.rule_id == rule_id]

    def worst(self, rule_id: str, limit: int = 10) -> list[dict[str, Any]]:
        """A capped table of the rule's most suspicious dimension values: findings first, then
        by q-value, then by dimension value (stable), as JSON-able rows."""
        tested = [ev for ev in self.for_rule(rule_id) if ev.status != "skipped"]
        tested.sort(
            key=lambda ev: (
                ev.status != "finding",
                ev.q_value if math.isfinite(ev.q_value) else math.inf,  # NaN: not in the family
                ev.dimension_value,
            )
        )
        return [ev.as_row() for ev in tested[:limit]]


@dataclass
class _Group:
    """One metric at one grain on one dimension value, by period start (oldest first)."""

    start_ordinals: np.ndarray  # date.toordinal() of each start, ascending
    numerator: np.ndarray
    denominator: np.ndarray
    numerator_has_nan: bool
    denominator_has_nan: bool
    usable: np.ndarray  # is_complete_period and is_mature, as the warehouse flags them
    end_ordinals: np.ndarray  # each period's last day as date.toordinal(), for the calendar


@dataclass
class _Side:
    """One metric's window and baseline, summed, ready to test."""

    metric: MetricInfo
    method: str  # proportion, ratio, count, level
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

    def value(self, window: bool) -> float:
        num, den = (self.window_num, self.window_den) if window else (self.base_num, self.base_den)
        if self.method in ("count", "level"):
            den = self.window_exposure if window else self.base_exposure
        if den == 0:
            return math.inf if num > 0 else math.nan
        return num / den

    def test(
        self, alternative: Alternative, ratio_null: float = 1.0, exact: bool = True
    ) -> TestResult:
        """The side's test; `exact=False` leaves a rate's Fisher floor to `with_fisher_floor`."""
        common = {
            "alternative": alternative,
            "ratio_null": ratio_null,
            "dispersion": self.dispersion,
            "dispersion_df": self.dispersion_df,
        }
        if self.method == "proportion":
            return two_proportion_test(
                self.window_num,
                self.window_den,
                self.base_num,
                self.base_den,
                exact=exact,
                **common,
            )
        if self.method == "ratio":
            return ratio_of_sums_test(
                self.window_num,
                self.window_den,
                self.base_num,
                self.base_den,
                random_side=self.random_side,  # type: ignore[arg-type]
                **common,
            )
        return rate_ratio_test(
            self.window_num,
            self.window_exposure,
            self.base_num,
            self.base_exposure,
            counts=self.metric.unit == "count",
            **common,
        )


@dataclass
class _Plan:
    """A rule on a dimension value: what to test, or why it was skipped."""

    rule: Rule
    dimension: str
    dimension_value: str
    reason: str = ""
    window: tuple[date, ...] = ()
    baseline: tuple[date, ...] = ()
    leading: _Side | None = None
    outcome: _Side | None = None


# ---------------------------------------------------------------------------------- helpers


def _as_date(value: Any) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value if type(value) is date else date(value.year, value.month, value.day)
    return pd.Timestamp(value).date()


def _bool_array(frame: pd.DataFrame, name: str, rows: slice | np.ndarray) -> np.ndarray:
    """A flag column at the given row positions; a missing column or a null reads True."""
    if name not in frame.columns:
        return np.ones(len(frame), dtype=bool)[rows]
    column = frame[name]
    if column.dtype == bool:  # no nulls: no conversion of the whole column
        return column.to_numpy()[rows]
    return column.iloc[rows].astype("boolean").fillna(True).to_numpy(dtype=bool)


def _proportion_metrics(
    metric_ids: Sequence[str],
    metric_codes: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
    metrics: Mapping[str, MetricInfo],
) -> set[str]:
    """Ratio metrics that behave as a part of a whole (numerator never above denominator, on
    every row of the metric): they get the binomial test; other ratios (ROAS, flow ratios that
    can exceed 1) do not. `metric_codes` index `metric_ids`, row by row with num and den."""
    ok = ~(np.isnan(num) | np.isnan(den))
    above = ok & (num > den + 1e-9)
    n = len(metric_ids)
    has_rows = np.bincount(metric_codes[ok], minlength=n) > 0
    has_above = np.bincount(metric_codes[above], minlength=n) > 0
    out: set[str] = set()
    for code, metric_id in enumerate(metric_ids):
        info = metrics.get(metric_id)
        if info is None or info.denominator is None or info.unit != "ratio":
            continue
        if has_rows[code] and not has_above[code]:
            out.add(metric_id)
    return out


_KEY_COLUMNS = ("metric_id", "grain", "dimension", "dimension_value")


def _index_series(
    series: pd.DataFrame, keys: Iterable[tuple[str, str]], metrics: Mapping[str, MetricInfo]
) -> tuple[dict[tuple[str, str, str], dict[str, _Group]], set[str]]:
    """Groups the needed (metric, grain) rows by dimension and value, ordered by period; and
    which of the needed ratio metrics are proportions (`_proportion_metrics`).

    Vectorised (the key columns factorised once on the whole frame, then numpy arrays filtered
    and sorted by one integer key), because a night over thousands of series must take seconds:
    per-row Python here cost more than all the tests together, and filtering the frame itself
    copied every column.
    """
    wanted = set(keys)
    codes: list[np.ndarray] = []
    uniques: list[list[str]] = []
    for column in _KEY_COLUMNS:
        code, unique = pd.factorize(series[column], use_na_sentinel=False)
        codes.append(np.asarray(code, dtype=np.int64))
        uniques.append([str(u) for u in unique])
    needed_metric = np.array([u in {m for m, _ in wanted} for u in uniques[0]], dtype=bool)
    needed_grain = np.array([u in {g for _, g in wanted} for u in uniques[1]], dtype=bool)
    of_metric = needed_metric[codes[0]]
    take = of_metric & needed_grain[codes[1]]

    def numbers(column: str) -> np.ndarray:
        if column not in series.columns:
            return np.full(len(series), np.nan)
        return pd.to_numeric(series[column], errors="coerce").to_numpy(dtype=float)

    num_all, den_all = numbers("numerator"), numbers("denominator")
    proportions = _proportion_metrics(
        uniques[0], codes[0][of_metric], num_all[of_metric], den_all[of_metric], metrics
    )
    if not take.any():
        return {}, proportions
    # every row needed (a frame of the rules' metrics only): views, not copies of millions
    rows: slice | np.ndarray = slice(None) if take.all() else np.flatnonzero(take)
    num, den = num_all[rows], den_all[rows]
    starts = pd.to_datetime(series["period_start"].iloc[rows]).to_numpy().astype("datetime64[D]")
    usable = _bool_array(series, "is_mature", rows) & _bool_array(
        series, "is_complete_period", rows
    )
    codes = [c[rows] for c in codes]
    # one integer per (metric, grain, dimension, value): the factor codes in mixed radix
    group_codes = np.zeros(len(num), dtype=np.int64)
    for code, unique in zip(codes, uniques, strict=True):
        group_codes = group_codes * len(unique) + code
    # by group, then period, then position (a stable sort of one integer key): on a duplicated
    # period the last row wins (a restated value), so keep a row only when the next one is not
    # the same group and period
    days = starts.astype(np.int64)
    key = group_codes * (int(days.max() - days.min()) + 1) + (days - days.min())
    order = np.argsort(key, kind="stable")
    k = key[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = k[1:] != k[:-1]
    order = order[last]
    g, d = group_codes[order], starts[order]
    ends = _period_ends(d, codes[1][order], uniques[1])
    start_ordinals = d.astype(np.int64) + _EPOCH_ORDINAL
    bounds = np.flatnonzero(np.diff(g)) + 1
    firsts = np.r_[0, bounds]
    num_nan = np.logical_or.reduceat(np.isnan(num[order]), firsts)
    den_nan = np.logical_or.reduceat(np.isnan(den[order]), firsts)
    out: dict[tuple[str, str, str], dict[str, _Group]] = {}
    for n, (lo, hi) in enumerate(zip(firsts, np.r_[bounds, len(g)], strict=True)):
        metric_id, grain, dim, value = (
            u[c[order[lo]]] for u, c in zip(uniques, codes, strict=True)
        )
        if (metric_id, grain) not in wanted:
            continue
        idx = order[lo:hi]
        out.setdefault((metric_id, grain, dim), {})[value] = _Group(
            start_ordinals=start_ordinals[lo:hi],
            numerator=num[idx],
            denominator=den[idx],
            numerator_has_nan=bool(num_nan[n]),
            denominator_has_nan=bool(den_nan[n]),
            usable=usable[idx],
            end_ordinals=ends[lo:hi],
        )
    return out, proportions


# date.toordinal() of 1970-01-01, to turn numpy day numbers into ordinals
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _period_ends(starts: np.ndarray, grain_codes: np.ndarray, grains: Sequence[str]) -> np.ndarray:
    """period_end(start, grain).toordinal() for arrays of datetime64[D] starts and of codes
    into `grains` (codes, not names: comparing millions of strings cost a fifth of a second)."""
    unknown = {grains[c] for c in np.unique(grain_codes)} - {"day", "week", "month"}
    if unknown:
        raise ValueError(f"unknown grain {sorted(unknown)[0]!r}")
    code_of = {name: code for code, name in enumerate(grains)}
    ends = starts.astype("datetime64[D]").copy()
    week = grain_codes == code_of.get("week", -1)
    month = grain_codes == code_of.get("month", -1)
    ends[week] += 6
    ends[month] = (starts[month].astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    return ends.astype(np.int64) + _EPOCH_ORDINAL


def _eligible(group: _Group, lag_days: int, as_of: date) -> np.ndarray:
    """Ordinals of the period starts complete and mature on `as_of` (ascending), by the
    warehouse's flags AND by the calendar (so replaying an earlier night on today's warehouse
    does not see cohorts as mature)."""
    latest_end = (as_of - timedelta(days=lag_days)).toordinal()
    return group.start_ordinals[group.usable & (group.end_ordinals <= latest_end)]


def _positions(group: _Group, ordinals: np.ndarray) -> np.ndarray | None:
    """Where each period (by start ordinal) sits in the group; None if any is missing."""
    idx = np.searchsorted(group.start_ordinals, ordinals)
    if (idx >= len(group.start_ordinals)).any():
        return None
    if not np.array_equal(group.start_ordinals[idx], ordinals):
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


def _build_side(
    info: MetricInfo,
    group: _Group,
    grain: str,
    window: tuple[date, ...],
    baseline: tuple[date, ...],
    proportions: set[str],
) -> _Side | str:
    """Sums one metric over the window and baseline; a skip reason when it cannot."""
    method, random_side = _method(info, proportions)
    needs_den = method in ("proportion", "ratio")
    periods = window + baseline
    idx = _positions(group, _ordinals(periods))
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
    exposure, w_exp, b_exp = _exposures(periods, grain if method == "count" else None, n_w)
    w_num, b_num = float(num[:n_w].sum()), float(num[n_w:].sum())
    if den is not None:
        w_den, b_den = float(den[:n_w].sum()), float(den[n_w:].sum())
    else:
        w_den, b_den = w_exp, b_exp

    # Dispersion from the baseline alone, over blocks that each hold whole weeks.
    block = DAY_BLOCK if grain == "day" else 1
    b_n = num[n_w:]
    b_d = den[n_w:] if den is not None else exposure[n_w:]
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
        return "incomplete_baseline"
    spread = dispersion_periods(k)  # the oldest blocks: a recent change is not noise
    if method == "proportion":
        phi, dof = binomial_dispersion(blocks_n[spread], blocks_d[spread])
    elif method == "ratio" and random_side == "denominator":
        phi, dof = poisson_dispersion(blocks_d[spread], blocks_n[spread])
    else:
        phi, dof = poisson_dispersion(blocks_n[spread], blocks_d[spread])

    if method in ("proportion", "ratio"):
        w_vol, b_vol = w_den, b_den
    else:
        w_vol, b_vol = w_num, b_num
    scale = w_exp / b_exp if b_exp else 0.0
    return _Side(
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


def _plan(
    rule: Rule,
    dimension: str,
    value: str,
    lead_group: _Group,
    out_group: _Group,
    metrics: Mapping[str, MetricInfo],
    proportions: set[str],
    as_of: date,
    memo: dict[tuple[Any, ...], _Side | str] | None = None,
) -> _Plan:
    plan = _Plan(rule, dimension, value)
    lead_info, out_info = metrics[rule.leading_metric], metrics[rule.outcome_metric]
    common = np.intersect1d(
        _eligible(lead_group, lead_info.maturity_lag_days, as_of),
        _eligible(out_group, out_info.maturity_lag_days, as_of),
        assume_unique=True,
    )
    if not len(common):
        plan.reason = "no_mature_period"
        return plan
    latest = date.fromordinal(int(common[-1]))
    periods = _periods_back(latest, rule.grain, rule.baseline + rule.gap + rule.window)
    plan.baseline, plan.window = periods[: rule.baseline], periods[-rule.window :]
    window_ordinals = _ordinals(plan.window)
    if len(np.intersect1d(window_ordinals, common, assume_unique=True)) != len(plan.window):
        plan.reason = "window_not_mature"
        return plan
    sides = []
    for info, group in ((lead_info, lead_group), (out_info, out_group)):
        # rules sharing a metric, grain and periods share its sums (sessions lead two rules)
        key = (id(group), plan.window[0], plan.window[-1], plan.baseline[0], len(plan.baseline))
        if memo is not None and key in memo:
            side = memo[key]
        else:
            side = _build_side(info, group, rule.grain, plan.window, plan.baseline, proportions)
            if memo is not None:
                memo[key] = side
        if isinstance(side, str):
            plan.reason = side
            return plan
        sides.append(side)
    plan.leading, plan.outcome = sides
    for side, floor in (
        (plan.leading, rule.min_volume_leading),
        (plan.outcome, rule.min_volume_outcome),
    ):
        if side.window_volume < floor or side.base_volume_scaled < floor:
            plan.reason = "low_volume"
            return plan
    for side in sides:
        base_value = side.value(window=False)
        if not math.isfinite(base_value) or base_value == 0:
            plan.reason = "no_baseline"  # a relative change against zero means nothing
            return plan
        if not math.isfinite(side.value(window=True)):
            plan.reason = "low_volume"
            return plan
    return plan


# ------------------------------------------------------------------------------ formatting


def human_value(dimension: str, value: str) -> str:
    """'paid_social' -> 'Paid social'; the total reads 'All channels'."""
    if dimension == "total":
        return _NICE_NAMES["total"]
    name = _NICE_NAMES.get(value) or value.replace("_", " ").strip().capitalize()
    return f"Campaign {value}" if dimension == "campaign" else name


def _lower_first(label: str) -> str:
    """Lower-case a label's first letter unless it starts an acronym ('CAC', 'SQL')."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def format_change(change: float) -> str:
    """+41% / −38% (a real minus sign), as marketers read it."""
    if not math.isfinite(change):
        return "n/a"
    pct = round(change * 100)
    if pct == 0:
        return "±0%"
    return f"+{pct}%" if pct > 0 else f"\u2212{abs(pct)}%"


def _span(rule: Rule, n_periods: int) -> str:
    word = _PERIOD_WORD[rule.grain]
    return f"{n_periods} {word}{'s' if n_periods != 1 else ''}"


def _explanation(
    rule: Rule,
    dimension: str,
    value: str,
    lead: MetricInfo,
    out: MetricInfo,
    lead_change: float,
    out_change: float,
    window_end: date,
) -> str:
    lead_txt = f"{_lower_first(lead.label)} {format_change(lead_change)}"
    if rule.outcome_bad == "flat":
        out_txt = f"{_lower_first(out.label)} did not follow ({format_change(out_change)})"
    else:
        out_txt = f"{_lower_first(out.label)} {format_change(out_change)}"
    span = f"over the {_span(rule, rule.window)} to {window_end.isoformat()}"
    if max(lead.maturity_lag_days, out.maturity_lag_days) > 0:
        # Say why the window ends weeks ago: younger cohorts are not final yet.
        span += " (the latest cohorts old enough to judge)"
    if dimension == "total":
        return (
            f"{lead.label} {format_change(lead_change)} across all channels while {out_txt} {span}"
        )
    return f"{human_value(dimension, value)} {lead_txt} while its {out_txt} {span}"


# ---------------------------------------------------------------------------------- detect


def _test_key(plan: _Plan, side: _Side, alternative: str) -> tuple[Any, ...]:
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


def _directions(rule: Rule, outcome: MetricInfo) -> tuple[Alternative, Alternative]:
    lead_alt: Alternative = "larger" if rule.leading_good == "up" else "smaller"
    if rule.outcome_bad == "down":
        out_alt: Alternative = "smaller"
    elif rule.outcome_bad == "up":
        out_alt = "larger"
    else:  # flat: the test is whether the outcome did move the good way
        out_alt = "larger" if outcome.good_direction == "up" else "smaller"
    return lead_alt, out_alt


@dataclass(frozen=True)
class PreparedSeries:
    """metric_series indexed once for a rule set, so replaying many nights (backtest, bench)
    does not regroup the same frame every night. Night-independent: maturity and completeness
    are still judged per night by the calendar."""

    metrics: Mapping[str, MetricInfo]
    groups: dict[tuple[str, str, str], dict[str, _Group]]
    proportions: set[str]
    keys: frozenset[tuple[str, str]]


def _needed(rules: Sequence[Rule]) -> set[tuple[str, str]]:
    """(metric, grain) pairs the rules read."""
    return {(r.leading_metric, r.grain) for r in rules} | {
        (r.outcome_metric, r.grain) for r in rules
    }


def prepare(
    series: pd.DataFrame,
    catalog: pd.DataFrame | Mapping[str, MetricInfo],
    rules: Sequence[Rule],
) -> PreparedSeries:
    """Validates the rules against the catalog and indexes the series rows they need."""
    metrics = catalog if isinstance(catalog, Mapping) else catalog_index(catalog)
    for rule in rules:
        validate_rule(rule, metrics)
    needed = _needed(rules)
    groups, proportions = _index_series(series, needed, metrics)
    return PreparedSeries(metrics, groups, proportions, frozenset(needed))


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
    as_of = _as_date(as_of)
    if isinstance(series, PreparedSeries):
        prepared = series
        if not _needed(rules) <= prepared.keys:
            raise ValueError("the prepared series was built for other rules; prepare() again")
    else:
        prepared = prepare(series, catalog, rules)
    metrics, groups, proportions = prepared.metrics, prepared.groups, prepared.proportions

    plans: list[_Plan] = []
    memo: dict[tuple[Any, ...], _Side | str] = {}  # the night's sums, shared across rules
    for rule in sorted(rules, key=lambda r: r.id):
        for dim in sorted(rule.dimensions, key=DIMENSIONS.index):
            leads = groups.get((rule.leading_metric, rule.grain, dim), {})
            outs = groups.get((rule.outcome_metric, rule.grain, dim), {})
            for value in sorted(set(leads) & set(outs)):
                plans.append(
                    _plan(
                        rule,
                        dim,
                        value,
                        leads[value],
                        outs[value],
                        metrics,
                        proportions,
                        as_of,
                        memo,
                    )
                )

    # Run every test of the night (each distinct test once), then control the false discovery
    # rate over every divergence hypothesis of the night before deciding.
    results: dict[tuple[Any, ...], TestResult] = {}
    tested: list[_Plan] = []
    for plan in plans:
        if plan.reason or plan.leading is None or plan.outcome is None:
            continue
        tested.append(plan)
        lead_alt, out_alt = _directions(plan.rule, plan.outcome.metric)
        for side, alt in ((plan.leading, lead_alt), (plan.outcome, out_alt)):
            key = _test_key(plan, side, alt)
            if key not in results:
                results[key] = side.test(alt, exact=False)
    # the Fisher floors of every rate test at once (one call instead of thousands)
    results = dict(zip(results, with_fisher_floor(list(results.values())), strict=True))
    family = [plan for plan in tested if not screen or _leading_moved(plan, results)]
    p_div = [_divergence_p(plan, results) for plan in family]
    _, qvals = benjamini_hochberg(p_div, fdr)
    q_of = {id(plan): math.nan for plan in tested}
    q_of.update({id(plan): float(q) for plan, q in zip(family, qvals, strict=True)})

    evaluations = [
        _decide(plan, results, q_of.get(id(plan)), metrics, as_of, fdr, len(family))
        for plan in plans
    ]
    findings = [ev.finding for ev in evaluations if ev.finding is not None]
    return DetectionReport(as_of, fdr, findings, evaluations, len(family))


def _leading_moved(plan: _Plan, results: Mapping[tuple[Any, ...], TestResult]) -> bool:
    """Whether the leading metric moved the good way by the rule's floor: a hypothesis that
    fails this can never become a finding, whatever its p-value, so it stays out of the
    Benjamini-Hochberg family instead of diluting it (on a night with one real divergence among
    40 quiet values, counting the quiet ones asked for p < 0.0025; the benchmark measures what
    leaving them out costs in false alerts)."""
    assert plan.leading is not None and plan.outcome is not None
    lead_alt, _ = _directions(plan.rule, plan.outcome.metric)
    change = results[_test_key(plan, plan.leading, lead_alt)].relative_change
    good = change if plan.rule.leading_good == "up" else -change
    return bool(good >= plan.rule.min_effect)


def _divergence_p(plan: _Plan, results: Mapping[tuple[Any, ...], TestResult]) -> float:
    """p-value of "the leading metric moved the good way AND the outcome moved the bad way":
    the larger of the two one-sided p-values (an intersection-union test, valid without any
    assumption on how the two tests depend on each other). For a `flat` outcome the outcome's
    part is a non-significance condition, so only the leading test carries evidence."""
    assert plan.leading is not None and plan.outcome is not None
    lead_alt, out_alt = _directions(plan.rule, plan.outcome.metric)
    p_lead = results[_test_key(plan, plan.leading, lead_alt)].p_value
    if plan.rule.outcome_bad == "flat":
        return p_lead
    return max(p_lead, results[_test_key(plan, plan.outcome, out_alt)].p_value)


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


def _side_evidence(side: _Side, result: TestResult) -> dict[str, Any]:
    return {
        "metric": side.metric.metric_id,
        "label": side.metric.label,
        **result.as_dict(),
        "window_volume": json_float(side.window_volume),
        "baseline_volume_at_window_length": json_float(side.base_volume_scaled),
    }


def _decide(
    plan: _Plan,
    results: Mapping[tuple[Any, ...], TestResult],
    q_div: float | None,
    metrics: Mapping[str, MetricInfo],
    as_of: date,
    fdr: float,
    n_tests: int,
) -> Evaluation:
    rule = plan.rule
    base = {
        "rule_id": rule.id,
        "dimension": plan.dimension,
        "dimension_value": plan.dimension_value,
    }
    if plan.reason or plan.leading is None or plan.outcome is None or q_div is None:
        window_start = plan.window[0] if plan.window else None
        window_end = period_end(plan.window[-1], rule.grain) if plan.window else None
        return Evaluation(
            **base,
            status="skipped",
            reason=plan.reason,
            window_start=window_start,
            window_end=window_end,
        )
    lead_info, out_info = plan.leading.metric, plan.outcome.metric
    lead_alt, out_alt = _directions(rule, out_info)
    lead_res = results[_test_key(plan, plan.leading, lead_alt)]
    out_res = results[_test_key(plan, plan.outcome, out_alt)]
    lead_change, out_change = lead_res.relative_change, out_res.relative_change
    window_start, window_end = plan.window[0], period_end(plan.window[-1], rule.grain)
    p_div = _divergence_p(plan, results)

    lead_good = lead_change if rule.leading_good == "up" else -lead_change
    lead_ok = lead_good >= rule.min_effect
    if rule.outcome_bad == "flat":
        # Did not follow: rose (the good way) by less than half the leading rise, and its own
        # test for a good-way move is not significant even before adjustment (judging "it did
        # rise" unadjusted errs on the side of not alerting).
        out_good = out_change if out_info.good_direction == "up" else -out_change
        out_ok = out_good < FLAT_SHARE * lead_good and out_res.p_value > fdr
        out_reason = "outcome_followed"
    else:
        out_bad = -out_change if rule.outcome_bad == "down" else out_change
        out_ok = out_bad >= rule.outcome_floor
        out_reason = "outcome_below_min_effect"
    significant = q_div <= fdr

    failed = [
        reason
        for reason, ok in (
            ("leading_below_min_effect", lead_ok),
            (out_reason, out_ok),
            ("not_significant", significant),
        )
        if not ok
    ]
    evaluation = Evaluation(
        **base,
        status="no_divergence" if failed else "finding",
        reason=",".join(failed),
        window_start=window_start,
        window_end=window_end,
        leading_change=lead_change,
        outcome_change=out_change,
        p_value=p_div,
        q_value=q_div,
        leading_p=lead_res.p_value,
        outcome_p=out_res.p_value,
        leading_volume=plan.leading.window_volume,
        outcome_volume=plan.outcome.window_volume,
    )
    if failed:
        return evaluation

    # The evidence is built for findings only: thousands of quiet values a night need none.
    lead_ev = _side_evidence(plan.leading, lead_res)
    out_ev = _side_evidence(plan.outcome, out_res)
    if rule.outcome_bad == "flat":
        out_ev["flat_rule"] = (
            f"good-way change {json_float(out_good)} < {FLAT_SHARE} x leading good-way change "
            f"{json_float(lead_good)} and good-way p {json_float(out_res.p_value)} > {fdr}"
        )
        # How surely the outcome fell short of half the leading rise (for the reader).
        target = 1.0 + FLAT_SHARE * lead_good
        if out_info.good_direction != "up":
            target = 1.0 / target
        short_alt: Alternative = "smaller" if out_info.good_direction == "up" else "larger"
        shortfall = plan.outcome.test(short_alt, ratio_null=target)
        out_ev["shortfall_ratio_null"] = round(target, 6)
        out_ev["shortfall_p_value"] = json_float(shortfall.p_value)

    fill = {
        "dimension_value": human_value(plan.dimension, plan.dimension_value),
        "leading_label": lead_info.label,
        "outcome_label": out_info.label,
        "leading_change": format_change(lead_change),
        "outcome_change": format_change(out_change),
        "window_end": window_end.isoformat(),
    }
    evidence = {
        "rule_id": rule.id,
        "grain": rule.grain,
        "dimension": plan.dimension,
        "dimension_value": plan.dimension_value,
        "as_of": as_of.isoformat(),
        "window": {
            "start": window_start.isoformat(),
            "end": window_end.isoformat(),
            "periods": [p.isoformat() for p in plan.window],
        },
        "baseline": {
            "start": plan.baseline[0].isoformat(),
            "end": period_end(plan.baseline[-1], rule.grain).isoformat(),
            "periods": len(plan.baseline),
            "gap_periods": rule.gap,
        },
        "leading": lead_ev,
        "outcome": out_ev,
        "divergence_p_value": json_float(p_div),
        "divergence_q_value": json_float(q_div),
        "min_effect": {"leading": rule.min_effect, "outcome": rule.outcome_floor},
        "outcome_bad": rule.outcome_bad,
        "fdr": fdr,
        "hypotheses_in_family": n_tests,
    }
    finding = Finding(
        rule_id=rule.id,
        leading_metric=rule.leading_metric,
        outcome_metric=rule.outcome_metric,
        dimension=plan.dimension,
        dimension_value=plan.dimension_value,
        window_start=window_start,
        window_end=window_end,
        leading_change=float(lead_change),
        outcome_change=float(out_change),
        severity=rule.severity,
        explanation=_explanation(
            rule,
            plan.dimension,
            plan.dimension_value,
            lead_info,
            out_info,
            lead_change,
            out_change,
            window_end,
        ),
        owner=rule.owner or out_info.owner,
        question=rule.question.format(**fill),
        as_of=as_of,
        evidence=evidence,
    )
    return replace(evaluation, finding=finding)
