"""Indexing: metric_series factorised once into one `Group` per metric, grain, dimension and
dimension value (numpy arrays by period start), plus which ratio metrics are proportions.
Night-independent: planning (`plan.py`) judges maturity and completeness per night, so a
backtest or the benchmark indexes a frame once and replays many nights on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .catalog import MetricInfo
from .periods import EPOCH_ORDINAL, period_ends
from .rule import Rule

if TYPE_CHECKING:
    from .censored import CohortAges

_KEY_COLUMNS = ("metric_id", "grain", "dimension", "dimension_value")

GroupKey = tuple[str, str, str]  # (metric_id, grain, dimension)


@dataclass
class Group:
    """One metric at one grain on one dimension value, by period start (oldest first)."""

    start_ordinals: np.ndarray  # date.toordinal() of each start, ascending
    numerator: np.ndarray
    denominator: np.ndarray
    numerator_has_nan: bool
    denominator_has_nan: bool
    usable: np.ndarray  # is_complete_period and is_mature, as the warehouse flags them
    end_ordinals: np.ndarray  # each period's last day as date.toordinal(), for the calendar


@dataclass(frozen=True)
class PreparedSeries:
    """metric_series indexed once for a rule set, so replaying many nights (backtest, bench)
    does not regroup the same frame every night. Night-independent: maturity and completeness
    are still judged per night by the calendar."""

    metrics: Mapping[str, MetricInfo]
    groups: dict[GroupKey, dict[str, Group]]
    proportions: set[str]
    keys: frozenset[tuple[str, str]]
    # lead_cohort_ages by (dimension, value), for rules with outcome_test "censored"
    cohorts: Mapping[tuple[str, str], CohortAges] = field(default_factory=dict)


def needed(rules: Sequence[Rule]) -> set[tuple[str, str]]:
    """(metric, grain) pairs the rules read from metric_series (a censored outcome is read
    from lead_cohort_ages)."""
    return {(r.leading_metric, r.grain) for r in rules} | {
        (r.outcome_metric, r.grain) for r in rules if r.outcome_test != "censored"
    }


def _bool_array(frame: pd.DataFrame, name: str, rows: slice | np.ndarray) -> np.ndarray:
    """A flag column at the given row positions; a missing column or a null reads True."""
    if name not in frame.columns:
        return np.ones(len(frame), dtype=bool)[rows]
    column = frame[name]
    if column.dtype == bool:  # no nulls: no conversion of the whole column
        return column.to_numpy()[rows]
    return column.iloc[rows].astype("boolean").fillna(True).to_numpy(dtype=bool)


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats (unparsable values and a missing column read NaN)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


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


def index_series(
    series: pd.DataFrame, keys: Iterable[tuple[str, str]], metrics: Mapping[str, MetricInfo]
) -> tuple[dict[GroupKey, dict[str, Group]], set[str]]:
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

    num_all, den_all = _numbers(series, "numerator"), _numbers(series, "denominator")
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
    ends = period_ends(d, codes[1][order], uniques[1])
    start_ordinals = d.astype(np.int64) + EPOCH_ORDINAL
    bounds = np.flatnonzero(np.diff(g)) + 1
    firsts = np.r_[0, bounds]
    num_nan = np.logical_or.reduceat(np.isnan(num[order]), firsts)
    den_nan = np.logical_or.reduceat(np.isnan(den[order]), firsts)
    out: dict[GroupKey, dict[str, Group]] = {}
    for n, (lo, hi) in enumerate(zip(firsts, np.r_[bounds, len(g)], strict=True)):
        metric_id, grain, dim, value = (
            u[c[order[lo]]] for u, c in zip(uniques, codes, strict=True)
        )
        if (metric_id, grain) not in wanted:
            continue
        idx = order[lo:hi]
        out.setdefault((metric_id, grain, dim), {})[value] = Group(
            start_ordinals=start_ordinals[lo:hi],
            numerator=num[idx],
            denominator=den[idx],
            numerator_has_nan=bool(num_nan[n]),
            denominator_has_nan=bool(den_nan[n]),
            usable=usable[idx],
            end_ordinals=ends[lo:hi],
        )
    return out, proportions
