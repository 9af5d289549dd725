"""The calendar of metric periods: where a day, week or month period ends, the period before
one, runs of consecutive periods and how many days each covers. Indexing uses the vectorised
`period_ends` on every row, planning the cached runs for a night's window and baseline, and
the z-score baseline (`zscore.py`) `period_end`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

# date.toordinal() of 1970-01-01, to turn numpy day numbers into ordinals
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def as_date(value: Any) -> date:
    """A plain date from a date, a datetime, a pandas Timestamp or an ISO string."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value if type(value) is date else date(value.year, value.month, value.day)
    return pd.Timestamp(value).date()


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
def periods_back(end_start: date, grain: str, count: int) -> tuple[date, ...]:
    """`count` consecutive period starts ending with `end_start`, oldest first. Cached: every
    dimension value of a rule usually shares the night's window, and thousands of values
    asked for the same hundred days one by one."""
    out = [end_start]
    for _ in range(count - 1):
        out.append(previous_period(out[-1], grain))
    return tuple(out[::-1])


@functools.lru_cache(maxsize=256)
def ordinals(periods: tuple[date, ...]) -> np.ndarray:
    """date.toordinal() of each period start (read-only: shared through the cache)."""
    out = np.array([p.toordinal() for p in periods], dtype=np.int64)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=256)
def exposures(
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


def period_ends(starts: np.ndarray, grain_codes: np.ndarray, grains: Sequence[str]) -> np.ndarray:
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
    return ends.astype(np.int64) + EPOCH_ORDINAL
