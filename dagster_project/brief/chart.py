"""An alert's chart: its leading and outcome metric over the last months for one dimension
value, the baseline and the window shaded, the episode's first night marked (matplotlib, PNG)."""

from __future__ import annotations

import io
import textwrap
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ChartSpec:
    title: str
    leading_label: str
    outcome_label: str
    baseline: tuple[date, date]
    window: tuple[date, date]
    first_detected: date
    leading_is_ratio: bool = False
    outcome_is_ratio: bool = False


# Charts drawn in this process, by their inputs: a night draws each alert's chart for its
# divergence check and again for the morning brief (about 0.4 s each).
_DRAWN: OrderedDict[tuple, bytes] = OrderedDict()
_KEEP_DRAWN = 32


def _points(series: pd.Series) -> tuple:
    return tuple(zip(series.index.tolist(), series.tolist(), strict=True))


def alert_chart(leading: pd.Series, outcome: pd.Series, spec: ChartSpec) -> bytes:
    """PNG bytes of two stacked panels sharing the time axis. `leading` and `outcome` are values
    indexed by period start (one value per period, e.g. weekly ratios of sums). The same
    inputs give the same bytes, drawn once per process."""
    key = (_points(leading), _points(outcome), spec)
    drawn = _DRAWN.get(key)
    if drawn is None:
        drawn = _draw(leading, outcome, spec)
        _DRAWN[key] = drawn
        while len(_DRAWN) > _KEEP_DRAWN:
            _DRAWN.popitem(last=False)
    return drawn


def load_matplotlib() -> None:
    """Imports matplotlib as `_draw` uses it (about 0.4 s, once per process): the nightly run
    calls it while dbt builds, so the first chart does not wait for it."""
    import matplotlib

    matplotlib.use("Agg")  # no screen, no browser: the same image in CI, the UI and the brief
    import matplotlib.dates  # noqa: F401
    import matplotlib.pyplot  # noqa: F401


def _draw(leading: pd.Series, outcome: pd.Series, spec: ChartSpec) -> bytes:
    load_matplotlib()
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    fig, axes = plt.subplots(2, 1, figsize=(7.2, 4.4), dpi=100, sharex=True)
    panels = (
        (axes[0], leading, spec.leading_label, spec.leading_is_ratio, "#1f6fb4"),
        (axes[1], outcome, spec.outcome_label, spec.outcome_is_ratio, "#c0392b"),
    )
    for ax, series, label, is_ratio, colour in panels:
        ax.axvspan(*spec.baseline, color="#d5d8dc", alpha=0.6, lw=0, label="baseline")
        ax.axvspan(*spec.window, color="#f5b041", alpha=0.35, lw=0, label="window")
        ax.axvline(spec.first_detected, color="#6c3483", lw=1.2, ls="--", label="alert opened")
        ax.plot(series.index, series.values, color=colour, lw=1.8, marker="o", ms=2.5)
        ax.set_ylabel(label, fontsize=9)
        ax.grid(axis="y", color="#eeeeee")
        ax.spines[["top", "right"]].set_visible(False)
        ax.yaxis.set_major_formatter(
            PercentFormatter(1.0, decimals=0)
            if is_ratio
            else FuncFormatter(lambda v, _: f"{v:,.0f}")
        )
        ax.tick_params(labelsize=8)
    axes[0].set_title(textwrap.fill(spec.title, 95), fontsize=9, loc="left")
    axes[0].legend(loc="upper left", fontsize=7, frameon=False, ncol=3)
    axes[1].xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
