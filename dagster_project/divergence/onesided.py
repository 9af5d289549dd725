"""What every divergence test shares: `TestResult` (the relative change, the one-sided p-value
and the numbers used, so evidence can show them), `relative_change`, `json_float` for evidence,
and `one_sided`, the over-dispersion correction of a score statistic.

The correction (quasi-likelihood): real periods vary more than binomial/Poisson sampling, so
each test takes a dispersion factor phi estimated from the baseline periods alone
(`dispersion.py`). The score statistic is divided by sqrt(phi) (never by less than 1: a
baseline cannot make us surer than sampling noise), and when phi > 1 the p-value comes from
Student's t with the baseline's degrees of freedom, since phi itself is estimated.

The tests themselves: `proportion_tests.py` (rates), `rate_tests.py` (counts, sums, ratios of
sums); false-discovery control across a night: `fdr.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from scipy import special

Alternative = Literal["larger", "smaller"]


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


def check_alternative(alternative: str) -> None:
    if alternative not in ("larger", "smaller"):
        raise ValueError(f"alternative must be 'larger' or 'smaller', got {alternative!r}")


def one_sided(
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
