"""Explaining: a judged divergence turned into a `Finding` with its plain-language sentence,
the rule's question filled in for the owner, and the evidence JSON (both tests' numbers, the
window and baseline, and for a `flat` outcome the arithmetic of "did not follow").

Built for findings only: the thousands of quiet dimension values of a night need none of it.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from .catalog import MetricInfo
from .censored import CensoredSums
from .findings import Finding
from .onesided import Alternative, TestResult, json_float
from .periods import period_end
from .plan import Plan
from .rule import Rule
from .sides import Side
from .testing import FLAT_SHARE, Verdict, run_test

_NICE_NAMES = {"linkedin": "LinkedIn", "email": "E-mail", "total": "All channels"}
_PERIOD_WORD = {"day": "day", "week": "week", "month": "month"}


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
    censored: CensoredSums | None = None,
) -> str:
    lead_txt = f"{_lower_first(lead.label)} {format_change(lead_change)}"
    if rule.outcome_bad == "flat":
        out_txt = f"{_lower_first(out.label)} did not follow ({format_change(out_change)})"
    else:
        out_txt = f"{_lower_first(out.label)} {format_change(out_change)}"
    span = f"over the {_span(rule, rule.window)} to {window_end.isoformat()}"
    if censored is not None:
        # The numbers behind the change, in the words a reader checks them by.
        span += (
            f": {censored.expected:.0f} SQLs expected by now from these "
            f"{censored.window_leads:.0f} leads at the pace of the baseline's "
            f"{_span(rule, rule.baseline)} of cohorts, "
            f"{censored.observed:.0f} so far"
        )
    elif max(lead.maturity_lag_days, out.maturity_lag_days) > 0:
        # Say why the window ends weeks ago: younger cohorts are not final yet.
        span += " (the latest cohorts old enough to judge)"
    if dimension == "total":
        return (
            f"{lead.label} {format_change(lead_change)} across all channels while {out_txt} {span}"
        )
    return f"{human_value(dimension, value)} {lead_txt} while its {out_txt} {span}"


def _side_evidence(side: Side, result: TestResult) -> dict[str, Any]:
    return {
        "metric": side.metric.metric_id,
        "label": side.metric.label,
        **result.as_dict(),
        "window_volume": json_float(side.window_volume),
        "baseline_volume_at_window_length": json_float(side.base_volume_scaled),
    }


def _flat_evidence(outcome: Side, verdict: Verdict, fdr: float) -> dict[str, Any]:
    """The "did not follow" rule as it was applied, and how surely the outcome fell short of
    half the leading rise (a p-value for the reader: flatness adds none to the divergence)."""
    good_up = outcome.metric.good_direction == "up"
    target = 1.0 + FLAT_SHARE * verdict.lead_good
    if not good_up:
        target = 1.0 / target
    short_alt: Alternative = "smaller" if good_up else "larger"
    shortfall = run_test(outcome, short_alt, ratio_null=target)
    return {
        "flat_rule": (
            f"good-way change {json_float(verdict.out_good)} < {FLAT_SHARE} x leading good-way "
            f"change {json_float(verdict.lead_good)} and good-way p "
            f"{json_float(verdict.out.p_value)} > {fdr}"
        ),
        "shortfall_ratio_null": round(target, 6),
        "shortfall_p_value": json_float(shortfall.p_value),
    }


def _evidence(
    plan: Plan, verdict: Verdict, as_of: date, fdr: float, n_tests: int
) -> dict[str, Any]:
    rule = plan.rule
    assert plan.leading is not None and plan.outcome is not None
    window_start, window_end = plan.window_span()
    assert window_start is not None and window_end is not None
    out_ev = _side_evidence(plan.outcome, verdict.out)
    if rule.outcome_bad == "flat":
        out_ev.update(_flat_evidence(plan.outcome, verdict, fdr))
    return {
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
        "leading": _side_evidence(plan.leading, verdict.lead),
        "outcome": out_ev,
        "divergence_p_value": json_float(verdict.p_value),
        "divergence_q_value": json_float(verdict.q_value),
        "outcome_q_value": json_float(verdict.outcome_q),
        "min_effect": {"leading": rule.min_effect, "outcome": rule.outcome_floor},
        "outcome_bad": rule.outcome_bad,
        "fdr": fdr,
        "hypotheses_in_family": n_tests,
    }


def finding(plan: Plan, verdict: Verdict, as_of: date, fdr: float, n_tests: int) -> Finding:
    """The Finding of a plan whose verdict failed nothing."""
    rule = plan.rule
    assert plan.leading is not None and plan.outcome is not None
    lead_info, out_info = plan.leading.metric, plan.outcome.metric
    lead_change, out_change = verdict.lead.relative_change, verdict.out.relative_change
    window_start, window_end = plan.window_span()
    assert window_start is not None and window_end is not None
    fill = {
        "dimension_value": human_value(plan.dimension, plan.dimension_value),
        "leading_label": lead_info.label,
        "outcome_label": out_info.label,
        "leading_change": format_change(lead_change),
        "outcome_change": format_change(out_change),
        "window_end": window_end.isoformat(),
    }
    return Finding(
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
            plan.outcome.censored,
        ),
        owner=rule.owner or out_info.owner,
        question=rule.question.format(**fill),
        as_of=as_of,
        evidence=_evidence(plan, verdict, as_of, fdr, n_tests),
    )
