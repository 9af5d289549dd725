"""`firewatch explain`: an alert's numbers as a person reads them, from its evidence (pure).

Window against baseline for both metrics (numerator, denominator, value, change), the outcome's
interval, how sure the test is in words, how many of the window's cohorts are still young, and
what would clear the alert."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# How sure, in words, from the false-discovery-adjusted q value of the divergence.
_SURE = ((0.001, "very sure"), (0.01, "sure"), (0.05, "fairly sure"), (1.0, "a signal to watch"))


def sureness(q_value: float | None) -> str:
    """Plain words for a q value (the share of such alerts expected to be false)."""
    if q_value is None or math.isnan(q_value):
        return "not rated"
    return next(words for limit, words in _SURE if q_value <= limit)


def _parts(side: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(window numerator, window denominator, baseline numerator, …) of one metric's test, in
    the metric's own terms: successes of trials, a sum over exposure (days or spend)."""
    return (
        side.get("window_successes", side.get("window_sum")),
        side.get("window_trials", side.get("window_exposure")),
        side.get("window_value"),
    )


def _baseline_parts(side: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    return (
        side.get("baseline_successes", side.get("baseline_sum")),
        side.get("baseline_trials", side.get("baseline_exposure")),
        side.get("baseline_value"),
    )


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "ratio" or (abs(value) < 1 and value != 0):
        return f"{value:.1%}" if unit != "plain" else f"{value:.3g}"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _change(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0%}"


def interval(side: Mapping[str, Any], level: float = 0.9) -> tuple[float, float] | None:
    """The outcome's relative change with a `level` interval (ratio of window to baseline, less
    one), from statsmodels, with the counts deflated by the over-dispersion the test measured
    on the baseline (a quasi-likelihood interval). None when the evidence lacks the counts."""
    dispersion = max(float(side.get("dispersion") or 1.0), 1.0)
    alpha = 1 - level
    if "window_trials" in side and "baseline_trials" in side:
        from statsmodels.stats.proportion import confint_proportions_2indep

        w, wn = side["window_successes"] / dispersion, side["window_trials"] / dispersion
        b, bn = side["baseline_successes"] / dispersion, side["baseline_trials"] / dispersion
        if min(wn, bn) <= 0 or b <= 0:
            return None
        low, high = confint_proportions_2indep(w, wn, b, bn, compare="ratio", alpha=alpha)
    elif "window_exposure" in side and "baseline_exposure" in side:
        from statsmodels.stats.rates import confint_poisson_2indep

        w, b = side["window_sum"] / dispersion, side["baseline_sum"] / dispersion
        we, be = side["window_exposure"], side["baseline_exposure"]
        if min(we, be) <= 0 or b <= 0:
            return None
        low, high = confint_poisson_2indep(w, we, b, be, method="score", compare="ratio",
                                           alpha=alpha)  # fmt: skip
    else:
        return None
    return float(low) - 1, float(high) - 1


def explain_alert(
    alert: Mapping[str, Any], evidence: Mapping[str, Any], young_cohorts: int | None = None
) -> str:
    """The text of `firewatch explain`, the check's metadata and the queue's JSON."""
    leading, outcome = evidence.get("leading", {}), evidence.get("outcome", {})
    window, baseline = evidence.get("window", {}), evidence.get("baseline", {})
    rows = [
        "| metric | window | baseline | change |",
        "|---|---|---|---|",
    ]
    for side, change in ((leading, alert.get("leading_change")),
                         (outcome, alert.get("outcome_change"))):  # fmt: skip
        wn, wd, wv = _parts(side)
        bn, bd, bv = _baseline_parts(side)
        per = (
            "a day"
            if "window_exposure" in side and side.get("method", "").startswith("poisson")
            else ""
        )
        rows.append(
            f"| {side.get('label', side.get('metric', '?'))} | "
            f"{_num(wv)}{' ' + per if per else ''} ({_num(wn)} / {_num(wd)}) | "
            f"{_num(bv)}{' ' + per if per else ''} ({_num(bn)} / {_num(bd)}) | "
            f"{_change(change)} |"
        )
    lines = [
        f"{alert.get('alert_id', '')}  {alert.get('rule_id', '')}  "
        f"{alert.get('dimension', '')} = {alert.get('dimension_value', '')}  "
        f"({alert.get('severity', '')}, {alert.get('status', '')})",
        str(alert.get("explanation", "")),
        "",
        f"Window {window.get('start')} .. {window.get('end')} against the baseline "
        f"{baseline.get('start')} .. {baseline.get('end')} ({evidence.get('grain', '')} grain):",
        "",
        *rows,
        "",
    ]
    span = interval(outcome)
    q = evidence.get("divergence_q_value")
    label = outcome.get("label", "the outcome")
    if span:
        lines.append(
            f"{label}: {_change(alert.get('outcome_change'))}, 90% interval "
            f"{span[0]:+.0%} to {span[1]:+.0%} (allowing for the baseline's own week-to-week "
            "spread)."
        )
    flat = evidence.get("outcome_bad") == "flat"
    if q is None:
        lines.append("How sure: not rated.")
    else:
        what = f" that {leading.get('label', 'the leading metric')} rose" if flat else ""
        lines.append(
            f"How sure: {sureness(q)}{what} (q = {q:.2g} among "
            f"{evidence.get('hypotheses_in_family', '?')} tests tonight, p = "
            f"{evidence.get('divergence_p_value', float('nan')):.2g})."
        )
        if flat:
            lines.append(f"{label} did not rise with it: that is the divergence.")
    if young_cohorts is not None:
        lines.append(
            f"Young cohorts: {young_cohorts} of the window's periods are still maturing "
            "(their leads can still convert; they count for what their age can say)."
        )
    floor = (evidence.get("min_effect") or {}).get("outcome")
    base_value = outcome.get("baseline_value")
    target = outcome.get("shortfall_ratio_null")
    if flat and target and base_value is not None:
        lines.append(
            f"What would clear it: {label} rising to at least {_num(base_value * target)} a day "
            f"({target - 1:+.0%}, in step with {leading.get('label', 'the leading metric')}), "
            "or a recorded decision that accepts the new level."
        )
    elif floor is not None and base_value is not None:
        bad_down = evidence.get("outcome_bad", "down") == "down"
        edge = base_value * (1 - floor if bad_down else 1 + floor)
        direction = "at least" if bad_down else "at most"
        lines.append(
            f"What would clear it: {label} back to {direction} {_num(edge)} (within "
            f"{floor:.0%} of the baseline's {_num(base_value)}), or a recorded decision that "
            "accepts the new level."
        )
    return "\n".join(lines)
