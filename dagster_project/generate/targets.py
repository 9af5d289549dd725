"""Monthly targets (set near what actually happened, so some months are missed) and the daily
EUR exchange rates."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .timeline import Timeline
from .writer import make_table

TARGET_CHANNELS = ("paid_search", "linkedin")  # channels that get their own leads target
# Targets are a little ambitious on average (+4%) and wobble by ~10%, so roughly half the months
# are missed and some by a lot.
AMBITION, WOBBLE = 0.04, 0.10


def _target(actual: np.ndarray, rng: np.random.Generator, step: float) -> np.ndarray:
    """A plan made ahead of time: between this month's outcome and the typical month."""
    plan = 0.5 * actual + 0.5 * actual.mean()
    value = plan * rng.lognormal(AMBITION, WOBBLE, len(actual))
    return np.maximum(np.round(value / step) * step, step)


def targets_table(
    tl: Timeline, months: list[int], actual: dict[str, np.ndarray], rng: np.random.Generator
) -> pa.Table:
    """Rows per window month: revenue (USD), leads and sql for all channels, leads per channel.

    `actual` maps "revenue", "leads", "sql" and "leads:<channel>" to values per month in
    `months`, already scaled to full months.
    """
    cols: dict[str, list] = {"period_start": [], "metric": [], "value": [], "channel": [],
                             "currency": []}  # fmt: skip
    series = [
        ("revenue", None, "USD", 1000.0),
        ("leads", None, None, 1.0),
        ("sql", None, None, 1.0),
    ]
    series += [("leads", ch, None, 1.0) for ch in TARGET_CHANNELS]
    for metric, channel, currency, step in series:
        key = metric if channel is None else f"{metric}:{channel}"
        values = _target(actual[key], rng, step)
        for m, v in zip(months, values, strict=True):
            cols["period_start"].append(np.datetime64(tl.month_start(m), "D"))
            cols["metric"].append(metric)
            cols["value"].append(float(v))
            cols["channel"].append(channel)
            cols["currency"].append(currency)
    order = sorted(range(len(cols["metric"])), key=lambda i: (cols["period_start"][i], i))
    return make_table(
        "targets",
        {
            "period_start": np.array([cols["period_start"][i] for i in order]),
            "metric": [cols["metric"][i] for i in order],
            "value": [cols["value"][i] for i in order],
            "channel": pa.array([cols["channel"][i] for i in order], pa.string()),
            "currency": pa.array([cols["currency"][i] for i in order], pa.string()),
        },
    )


def fx_table(tl: Timeline, eur: np.ndarray) -> pa.Table:
    """USD per EUR for every simulated day (the CRM history starts before the window)."""
    return make_table(
        "fx_rates",
        {
            "date": (tl.day_ms // 86_400_000).astype("datetime64[D]"),
            "currency": ["EUR"] * tl.n_days,
            "rate_to_reporting": eur,
        },
    )
