"""Holding episodes open: one night's findings for the nightly run and the backtest alike,
tonight's discoveries plus the open episodes that still diverge (pure, no I/O).

Judged afresh each night, an episode would clear while its divergence goes on: the rolling
baseline slides into the new level (and its spread estimate grows with it), so the alert
appears, vanishes, reappears and goes quiet. So an open episode is judged against the baseline
from *before it began*, the periods before the window of the night it was first detected,
kept in the episode's evidence JSON under "hold" (`baseline_end`; no new column in `alerts`).

Hysteresis: hard to open, easier to keep.

* Open: a finding of `detect` (Benjamini-Hochberg q <= fdr over the night, effect floors).
* Hold: tonight's window against that fixed baseline shows the same divergence (the rule's
  directions, the outcome at its floor and the leading metric at `hold_leading_share` of its
  (recorded in the state), a `flat` outcome still not following at fdr) with
  the divergence p-value <= the rule's `hold_p` (default 0.2), unadjusted: one hypothesis per
  open episode, asked only because it already passed the adjusted test once. A night's
  discovery on the same rule and value holds it too (and keeps its anchor). A lead-cohort
  (censored) rule's window here is every cohort since the baseline ended, up to twice its
  window (`hold_window`): its 14 days of young cohorts hold too few SQLs to keep an episode.
* Clear: `merge_alerts` clears an episode once `clear_after_nights` (default 3) nights have
  passed since it last held, i.e. after that many failed nights in a row.

Why 0.2: under no change, the hold's p-value is roughly uniform once the window has slid past
the chance swing that opened the episode, so a false episode survives a night with chance
<= 0.2 and the effect floors cut that further; three failed nights in a row then close it
within days. Under a real, persisting change the window keeps the full effect against the
pre-change baseline, far below 0.2, however large the rolling baseline's spread has grown.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from .catalog import MetricInfo
from .detect import evaluate
from .episodes import Alert, hold_state
from .explain import finding
from .findings import Finding
from .index import PreparedSeries
from .plan import plan_anchored
from .rule import DIMENSIONS, Rule
from .testing import divergence_p, judge, run_tests

HOLD = "hold"  # the evidence key of an episode's hold state


def last_period_start(end: date, grain: str) -> date:
    """Start of the period that ends on `end`."""
    if grain == "day":
        return end
    if grain == "week":
        return end - timedelta(days=6)
    return end.replace(day=1)


def _state(rule: Rule, baseline_end: str, basis: str, p_value: float | None) -> dict[str, Any]:
    return {
        "baseline_end": baseline_end,
        "basis": basis,  # "discovery" (tonight's detect) or "hold" (the fixed baseline)
        "hold_p": rule.hold_p,
        "hold_leading_share": rule.hold_leading_share,  # why a held lift under min_effect passed
        "clear_after_nights": rule.clear_after_nights,
        "p_value": p_value,
    }


def _with_state(found: Finding, state: dict[str, Any]) -> Finding:
    return replace(found, evidence={**found.evidence, HOLD: state})


def hold_window(rule: Rule, baseline_end: date, as_of: date) -> int:
    """Days an open episode of a censored (lead-cohort) rule is judged on: every cohort since
    its baseline ended, at most twice the rule's window, in whole weeks. A 14-day window of
    young cohorts holds a few SQLs, and its p-value crossed hold_p by chance for three nights
    in a row while a 40% drop went on; four weeks of cohorts against the fixed baseline keep
    the evidence, and a drop that ends clears within about four weeks. Other rules: their
    window."""
    if rule.outcome_test != "censored":
        return rule.window
    since = 7 * ((as_of - baseline_end).days // 7)
    return max(rule.window, min(2 * rule.window, since))


def _held(
    prepared: PreparedSeries, rule: Rule, alert: Alert, baseline_end: date, as_of: date, fdr: float
) -> Finding | None:
    """The episode judged tonight against its fixed baseline: a finding if it holds."""
    anchor = last_period_start(baseline_end, rule.grain)
    rule = replace(rule, window=hold_window(rule, baseline_end, as_of))
    plan = plan_anchored(prepared, rule, alert.dimension, alert.dimension_value, as_of, anchor)
    if plan.reason or plan.leading is None or plan.outcome is None:
        return None
    _, results = run_tests([plan])
    p_div = divergence_p(plan, results)
    verdict = judge(plan, results, p_div, fdr, level=rule.hold_p)
    if verdict.failed or not math.isfinite(p_div):
        return None
    held = finding(plan, verdict, as_of, fdr, 1)
    evidence = {**held.evidence, "divergence_q_value": None, "hypotheses_in_family": 0}
    evidence[HOLD] = _state(rule, baseline_end.isoformat(), "hold", p_div)
    since = alert.first_detected_at.isoformat()
    explanation = (
        f"{held.explanation}, against the baseline before the alert began on {since} "
        f"(still diverging, p = {p_div:.2g})"
    )
    return replace(held, explanation=explanation, evidence=evidence)


def open_episodes(previous: Sequence[Alert], as_of: date) -> dict[tuple[str, str, str], Alert]:
    """The episodes open going into `as_of`, as `merge_alerts` sees them: active ones, and
    ones an earlier run of this same night cleared; none first detected after `as_of`."""
    kept = [a for a in previous if a.first_detected_at <= as_of]
    active = {a.key: a for a in kept if a.status == "active"}
    for a in kept:
        if a.status == "cleared" and a.cleared_at == as_of and a.key not in active:
            active[a.key] = a
    return active


def judge_night(
    series: PreparedSeries,
    catalog: Mapping[str, MetricInfo],
    rules: Sequence[Rule],
    as_of: date,
    previous: Sequence[Alert] = (),
    *,
    fdr: float = 0.1,
    screen: bool = True,
    hold: bool = True,
    accepted: Mapping[tuple[str, str, str], date] | None = None,
) -> list[Finding]:
    """The night's findings: `detect`'s, each carrying its episode's hold state, and the open
    episodes (from `previous`, the alerts so far) that hold against their baseline from before
    they began. `hold=False`: `detect`'s findings alone (each night judged afresh). Same
    inputs, same findings, in a fixed order (rule id, dimension, dimension value).

    `accepted`: rule x dimension value -> the first day of a level people accepted (a
    dismissed queue item, `queue.accepted_levels`): the rule is re-based there for that value.
    Its open episode is no longer held (it clears after `clear_after_nights`), and it finds
    nothing again until its baseline starts on or after that day: the accepted level is the
    norm it is judged against."""
    found = evaluate(series, catalog, rules, as_of, fdr=fdr, screen=screen).findings
    accepted = accepted or {}
    found = [f for f in found if _after_accepted(f, accepted)]
    if not hold:
        return found
    open_now = open_episodes(previous, as_of)
    rule_of = {rule.id: rule for rule in rules}
    out: dict[tuple[str, str, str], Finding] = {}
    for f in found:
        key = (f.rule_id, f.dimension, f.dimension_value)
        rule = rule_of[f.rule_id]
        carried = hold_state(open_now[key]) if key in open_now else None
        baseline_end = carried["baseline_end"] if carried else f.evidence["baseline"]["end"]
        out[key] = _with_state(f, _state(rule, baseline_end, "discovery", None))
    for key, alert in open_now.items():
        rule = rule_of.get(alert.rule_id)
        if key in out or key in accepted or rule is None or alert.dimension not in rule.dimensions:
            continue
        state = hold_state(alert)
        baseline_end = state["baseline_end"] if state else _evidence_baseline_end(alert)
        if baseline_end is None:
            continue
        held = _held(series, rule, alert, date.fromisoformat(baseline_end), as_of, fdr)
        if held is not None:
            out[key] = held
    return [out[key] for key in sorted(out, key=lambda k: (k[0], DIMENSIONS.index(k[1]), k[2]))]


def _after_accepted(found: Finding, accepted: Mapping[tuple[str, str, str], date]) -> bool:
    """A finding is kept unless people accepted its value's level and its baseline starts
    before that level began."""
    since = accepted.get((found.rule_id, found.dimension, found.dimension_value))
    return since is None or date.fromisoformat(found.evidence["baseline"]["start"]) >= since


def _evidence_baseline_end(alert: Alert) -> str | None:
    """An episode recorded before holding existed: the baseline of its last finding."""
    try:
        end = json.loads(alert.evidence or "{}").get("baseline", {}).get("end")
    except (ValueError, AttributeError):
        return None
    return end if isinstance(end, str) else None
