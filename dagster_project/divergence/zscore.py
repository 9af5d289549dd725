"""The peer baseline the detection benchmark compares against: an Elementary-style z-score
anomaly test (a training window of the previous 14 points, sensitivity 3) applied to one metric
per rule. Pure functions over metric_series-shaped frames; no Dagster, no database.

Elementary watches one column at a time, so it cannot say "A rose while B fell". The fairest
reading of a divergence rule in its terms: an anomaly of the outcome metric the bad way (lead
quality down, CAC up, engaged rate down) on the same dimension value. A `flat` outcome is the
absence of a move, which no anomaly test sees; for those rules the leading metric's anomaly the
good way (spend or reach up) is what Elementary would raise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .catalog import MetricInfo
from .periods import period_end
from .rule import Rule

TRAINING_POINTS = 14
SENSITIVITY = 3.0


def zscore_flags(values: Sequence[float], training: int = TRAINING_POINTS) -> np.ndarray:
    """z of each point against the `training` points before it (sample standard deviation);
    NaN while there is not a full training window or the window does not vary."""
    x = np.asarray(values, dtype=float)
    out = np.full(len(x), np.nan)
    for i in range(training, len(x)):
        window = x[i - training : i]
        if not (np.isfinite(window).all() and np.isfinite(x[i])):
            continue
        std = float(window.std(ddof=1))
        if std > 0:
            out[i] = (x[i] - float(window.mean())) / std
    return out


@dataclass(frozen=True)
class _Watch:
    rule: Rule
    metric_id: str
    sign: float  # +1: an anomaly upward is the alert, -1: downward


def _watch(rule: Rule, metrics: dict[str, MetricInfo]) -> _Watch:
    if rule.outcome_bad == "flat":
        return _Watch(rule, rule.leading_metric, 1.0 if rule.leading_good == "up" else -1.0)
    return _Watch(rule, rule.outcome_metric, 1.0 if rule.outcome_bad == "up" else -1.0)


def latest_period_end(night: date, grain: str) -> date:
    """The end of the latest period complete on `night`: the night itself at day grain, the
    last Sunday on or before it at week grain (weeks run Monday to Sunday)."""
    if grain == "week":
        return night - timedelta(days=(night.weekday() + 1) % 7)
    return night


def zscore_nights(
    series: pd.DataFrame,
    metrics: dict[str, MetricInfo],
    rules: Iterable[Rule],
    nights: Sequence[date],
    sensitivity: float = SENSITIVITY,
) -> dict[date, list[tuple[str, str, str]]]:
    """Per night, the (rule_id, dimension, value) whose watched metric's latest complete period
    (the night itself at day grain, the last week ended by it at week grain) lies `sensitivity`
    standard deviations beyond its previous 14 periods, the alerting way. Day and week grains
    only, as Elementary's time buckets."""
    fired: dict[date, list[tuple[str, str, str]]] = {night: [] for night in nights}
    starts = pd.to_datetime(series["period_start"]).dt.date
    for rule in sorted(rules, key=lambda r: r.id):
        watch = _watch(rule, metrics)
        if rule.grain not in ("day", "week"):
            continue
        rows = series[
            (series["metric_id"] == watch.metric_id)
            & (series["grain"] == rule.grain)
            & (series["dimension"].isin(rule.dimensions))
        ].assign(start=starts)
        for (dimension, value), group in rows.groupby(["dimension", "dimension_value"], sort=True):
            group = group.sort_values("start")
            z = zscore_flags(group["value"].astype(float).to_numpy())
            by_end = {
                period_end(s, rule.grain): float(zv)
                for s, zv in zip(group["start"], z, strict=True)
            }
            for night in nights:
                zv = by_end.get(latest_period_end(night, rule.grain), np.nan)
                if np.isfinite(zv) and watch.sign * zv >= sensitivity:
                    fired[night].append((rule.id, str(dimension), str(value)))
    return fired


def episodes(fired: dict[date, list[tuple[str, str, str]]]) -> list[tuple[tuple, date, date]]:
    """Runs of consecutive nights on which the same (rule, dimension, value) fired, as the
    nightly alert episodes are kept: (key, first night, last night)."""
    open_: dict[tuple, tuple[date, date]] = {}
    out: list[tuple[tuple, date, date]] = []
    for night in sorted(fired):
        tonight = set(fired[night])
        for key in list(open_):
            if key not in tonight:
                out.append((key, *open_.pop(key)))
        for key in tonight:
            first = open_[key][0] if key in open_ else night
            open_[key] = (first, night)
    out += [(key, first, last) for key, (first, last) in open_.items()]
    return sorted(out, key=lambda e: (e[1], e[0]))
