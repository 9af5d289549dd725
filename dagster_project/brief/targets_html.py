"""The brief's targets (pure): attainment of the running and last closed month as bars against
100%, and why the last missed all-channel target was missed (funnel steps and system factors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster_project.brief.markup import BAD, GOOD, NEUTRAL, bar_rows, esc, fmt, missing, pct

# The funnel identity's steps and the system factors, in the words of the brief.
FACTOR_LABELS = {
    "sessions": "Sessions",
    "lead_rate": "Lead rate (leads / sessions)",
    "sql_rate": "SQL rate (SQLs / leads)",
    "win_rate": "Win rate (customers / SQLs)",
    "deal_size": "Deal size (revenue / customer)",
    "page_load_p75": "Site speed (page load, p75)",
    "content_regularity": "Social regularity (days with a post)",
    "first_response_minutes": "Response time (first answer)",
}


def month_name(value: object) -> str:
    return value.strftime("%B %Y") if hasattr(value, "strftime") else str(value)


def attainment_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    bars = []
    for row in rows:
        unit = row.get("unit") or "count"
        scope = "" if row.get("dimension") == "total" else f" · {row.get('dimension_value')}"
        closed = bool(row.get("is_month_closed"))
        status = str(row.get("status") or "")
        good = status in ("met", "on_track")
        actual, target = fmt(row.get("actual_value"), unit), fmt(row.get("target_value"), unit)
        if closed:
            note = f"{actual} of {target} ({pct(row.get('attainment'), False)}): {status}"
        else:
            note = (
                f"{actual} of {target} so far, projected {fmt(row.get('projected_value'), unit)}"
                f": {status.replace('_', ' ')}"
            )
        ratio = row.get("attainment") if closed else row.get("pacing")
        bars.append(
            (
                f"{month_name(row.get('period_start'))} · "
                f"{row.get('label') or row.get('metric_id')}{scope}",
                None if missing(ratio) else min(float(ratio), 2.0),
                GOOD if good else BAD,
                note,
            )
        )
    return bar_rows(bars, centred=False)


def gap_sentence(first: Mapping[str, Any], label: str) -> str:
    unit = "currency" if first.get("metric_id") == "revenue" else "count"
    actual, target = first.get("actual_value"), first.get("target_value")
    change, behind = first.get("change_vs_comparison"), first.get("comparison_gap_to_target")
    months = first.get("comparison_months")
    comparison = fmt(first.get("comparison_value"), unit)
    text = (
        f"{label}: {fmt(actual, unit)} against a target of {fmt(target, unit)} "
        f"({fmt(first.get('target_gap'), unit, signed=True)}). Against the comparison "
        f"({'the month' if months == 1 else f'the {months} months'} before, {comparison} a "
        f"month) it changed {fmt(change, unit, signed=True)}"
    )
    if missing(behind):
        return text + "."
    if float(behind) >= 0:
        return text + ": those months would have met the target, so the month itself got worse."
    return (
        text + f": the target asked for {fmt(-float(behind), unit)} more than those months "
        "made, so part of the gap is the target's ambition."
    )


def explanation_chart(rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> str:
    parts: list[str] = []
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (str(r.get("metric_id")), r.get("factor_order") or 0)):
        by_metric.setdefault(str(row.get("metric_id")), []).append(row)
    for metric, metric_rows in by_metric.items():
        first = metric_rows[0]
        label = labels.get(metric, metric)
        unit = "currency" if metric == "revenue" else "count"
        steps = [r for r in metric_rows if r.get("kind") == "funnel_step"]
        system = [r for r in metric_rows if r.get("kind") == "system_factor"]
        parts.append(f"<h3>{esc(month_name(first.get('period_start')))}: {esc(label)}</h3>")
        parts.append(f"<p>{esc(gap_sentence(first, label))}</p>")
        pulls = [r for r in steps if not missing(r.get("contribution"))]
        worst = min(pulls, key=lambda r: float(r["contribution"]), default=None)
        bad = [FACTOR_LABELS.get(str(r["factor"]), str(r["factor"])) for r in system
               if r.get("moved_the_bad_way")]  # fmt: skip
        said = []
        if worst is not None and float(worst["contribution"]) < 0:
            said.append(
                f"the funnel step that pulled it down most: "
                f"{FACTOR_LABELS.get(str(worst['factor']), worst['factor'])} "
                f"({fmt(worst['contribution'], unit, signed=True)})"
            )
        said.append("system factors that moved the bad way: " + (", ".join(bad) if bad else "none"))
        said_text = "; ".join(said)
        parts.append(f'<p class="callout">{esc(said_text[:1].upper() + said_text[1:])}.</p>')
        parts.append("<p class=muted>Funnel steps: each step's share of the change against the "
                     "comparison (they add up to it).</p>")  # fmt: skip
        parts.append(
            bar_rows(
                [
                    (
                        FACTOR_LABELS.get(str(r["factor"]), str(r["factor"])),
                        None if missing(r.get("contribution")) else float(r["contribution"]),
                        BAD if (r.get("contribution") or 0) < 0 else GOOD,
                        f"{fmt(r.get('contribution'), unit, signed=True)} "
                        f"({fmt(r.get('value_then'), r.get('unit') or 'count')} → "
                        f"{fmt(r.get('value_now'), r.get('unit') or 'count')})",
                    )
                    for r in steps
                ],
                centred=True,
            )
        )
        if system:
            parts.append("<p class=muted>System factors: change against the comparison.</p>")
            parts.append(
                bar_rows(
                    [
                        (
                            FACTOR_LABELS.get(str(r["factor"]), str(r["factor"])),
                            None
                            if missing(r.get("relative_change"))
                            else float(r["relative_change"]),
                            BAD if r.get("moved_the_bad_way") else NEUTRAL,
                            f"{pct(r.get('relative_change'))} "
                            f"({fmt(r.get('value_then'), r.get('unit') or 'count')} → "
                            f"{fmt(r.get('value_now'), r.get('unit') or 'count')})"
                            + (", the bad way" if r.get("moved_the_bad_way") else ""),
                        )
                        for r in system
                    ],
                    centred=True,
                )
            )
    return "".join(parts)


def targets_section(
    attainment: Sequence[Mapping[str, Any]],
    explanation: Sequence[Mapping[str, Any]],
    labels: Mapping[str, str],
) -> str:
    """Target attainment, then why the last missed all-channel target was missed."""
    parts = ['<h2 id="targets">Targets</h2>']
    if attainment:
        parts.append(attainment_chart(attainment))
    else:
        parts.append("<p>No targets were loaded (the landing folder's <code>targets/</code>).</p>")
    parts.append('<h2 id="why">Why the last missed all-channel target was missed</h2>')
    if explanation:
        parts.append(explanation_chart(explanation, labels))
    else:
        parts.append("<p>No closed month missed an all-channel target.</p>")
    return "".join(parts)
