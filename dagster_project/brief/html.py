"""The morning brief as one self-contained HTML page (pure: data in, a string out, no I/O).

What is waiting for whom (the open decisions by owner, due and overdue on the data's nights, each
with its chart and its numbers), how the targets stand and why the last missed one was missed
(funnel steps and system factors, drawn as inline SVG), and which metrics are reported without
ever changing a decision. The page loads nothing: styles are inline, charts are data URIs and
SVG, and a Content-Security-Policy forbids anything else, so it opens the same offline, from a
mail attachment or a file share. Every text that came from data (campaign names, owners,
questions, decisions) is escaped."""

from __future__ import annotations

import base64
import html
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dagster_project.divergence.queue import QueueItem

# Statuses still waiting for a person (as `firewatch queue` counts them for OVERDUE).
WAITING = ("open", "acknowledged")

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

# Ritual metrics listed on the page (on day one every metric reported for 90 days is one).
RITUALS_SHOWN = 10

_BAD, _GOOD, _NEUTRAL, _INK = "#d35400", "#2e8b57", "#95a5a6", "#1c2833"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1c2833; margin: 0 auto; max-width: 980px; padding: 24px; line-height: 1.4; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px;
  border-bottom: 2px solid #d5d8dc; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; } .muted { color: #5d6d7e; font-size: 13px; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.summary div { background: #f4f6f7; border-radius: 6px; padding: 8px 14px; }
.summary b { font-size: 20px; display: block; }
.decision { border: 1px solid #d5d8dc; border-radius: 6px; padding: 12px 14px; margin: 10px 0;
  break-inside: avoid; }
.decision.overdue { border-left: 6px solid #b03a2e; }
.facts { font-size: 13px; color: #5d6d7e; } .facts code { color: #1c2833; }
.question { font-weight: 600; margin: 6px 0; }
.badge { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: 12px;
  font-weight: 700; color: #fff; background: #7f8c8d; }
.badge.overdue { background: #b03a2e; } .badge.error { background: #922b21; }
.badge.warn { background: #b9770e; }
.alert { margin-top: 10px; } .alert img { max-width: 100%; height: auto; display: block; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e8e8; padding: 3px 8px; text-align: left; }
th { background: #f4f6f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.lines p { margin: 2px 0; font-size: 13px; } svg { max-width: 100%; height: auto; }
svg text { font-family: inherit; font-size: 12px; fill: #1c2833; }
.callout { background: #fef9e7; border-left: 4px solid #b9770e; padding: 8px 12px; }
@media print { body { padding: 0; } h2 { break-after: avoid; } }
"""
# Nothing may load: no network, no script; images only from the page itself.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class AlertView:
    """One alert of a decision: `firewatch explain`'s text and its chart (PNG, or None)."""

    alert_id: str
    explanation: str
    chart_png: bytes | None = None


@dataclass(frozen=True)
class Brief:
    """Everything the page shows, as read from the BI copy (or the warehouse)."""

    night: date | None  # the night the data (and the queue's dates) are as of
    source: str  # where it was read, in words
    decisions: Sequence[QueueItem] = ()  # the whole queue; the page shows the waiting ones
    alerts: Mapping[str, Sequence[AlertView]] = field(default_factory=dict)  # by decision id
    attainment: Sequence[Mapping[str, Any]] = ()  # target_attainment rows, + label and unit
    explanation: Sequence[Mapping[str, Any]] = ()  # target_gap_explanation rows of one month
    rituals: Sequence[Mapping[str, Any]] = ()  # ritual_metrics rows
    labels: Mapping[str, str] = field(default_factory=dict)  # metric_id -> catalog label


def is_overdue(status: str, due: date | None, night: date | None) -> bool:
    """Still waiting for a person after its due night (the queue's rule: the data's nights)."""
    return bool(status in WAITING and night and due and due < night)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt(value: object, unit: str = "count", signed: bool = False) -> str:
    """A number as the brief prints it, in its unit (ratio as %, ms, minutes, currency)."""
    if _missing(value):
        return "—"
    v = float(value)  # type: ignore[arg-type]
    sign = "+" if signed else ""
    if unit == "ratio":
        return f"{v:{sign}.1%}"
    text = f"{v:{sign},.0f}" if abs(v) >= 100 or v == int(v) else f"{v:{sign},.1f}"
    suffix = {"milliseconds": " ms", "minutes": " min", "days": " days"}.get(unit, "")
    return text + suffix


def _pct(value: object, signed: bool = True) -> str:
    return "—" if _missing(value) else f"{float(value):{'+' if signed else ''}.0%}"  # type: ignore[arg-type]


def _png_size(png: bytes) -> tuple[int, int] | None:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return None
    return struct.unpack(">II", png[16:24])


def _image(png: bytes, alt: str) -> str:
    size = _png_size(png)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}"{dims} src="data:image/png;base64,{data}">'


# ------------------------------------------------------------------------------ decisions


def _explain_block(text: str) -> str:
    """`firewatch explain`'s text as HTML: its Markdown table as a table, the rest as lines."""
    out: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *body = table
            out.append(
                "<table><tr>"
                + "".join(f"<th>{_e(c)}</th>" for c in head)
                + "</tr>"
                + "".join(
                    "<tr>"
                    + "".join(
                        f"<td{' class=num' if i else ''}>{_e(c)}</td>" for i, c in enumerate(row)
                    )
                    + "</tr>"
                    for row in body
                )
                + "</table>"
            )
            table.clear()

    for line in text.splitlines()[1:]:  # the first line (id, rule, value) is in the facts
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{_e(line)}</p>")
    flush()
    return '<div class="lines">' + "".join(out) + "</div>"


def _decision(item: QueueItem, night: date | None, alerts: Sequence[AlertView]) -> str:
    overdue = is_overdue(item.status, item.due_at, night)
    badges = f'<span class="badge {_e(item.severity)}">{_e(item.severity)}</span>'
    if overdue:
        badges += ' <span class="badge overdue">OVERDUE</span>'
    due = f"due {_e(item.due_at)}" if item.due_at else "no due date"
    shown = "".join(
        '<div class="alert">'
        + (_image(a.chart_png, f"Chart of {a.alert_id}") if a.chart_png else "")
        + _explain_block(a.explanation)
        + "</div>"
        for a in alerts
    )
    return (
        f'<div class="decision{" overdue" if overdue else ""}">'
        f'<div class="facts">{badges} <code>{_e(item.decision_id)}</code> · {_e(item.status)} · '
        f"opened {_e(item.opened_at)} · <b>{due}</b> · {_e(item.dimension_value)} · "
        f"{_e(item.rule_id)}</div>"
        f'<div class="question">{_e(item.question)}</div>{shown}</div>'
    )


def _by_owner(decisions: Iterable[QueueItem], night: date | None) -> dict[str, list]:
    """Waiting decisions per owner: owners with the most overdue first, each owner's items
    overdue first, then by due night and severity."""
    groups: dict[str, list[QueueItem]] = {}
    for item in decisions:
        if item.status in WAITING:
            groups.setdefault(item.owner or "no owner", []).append(item)
    for items in groups.values():
        items.sort(
            key=lambda i: (
                not is_overdue(i.status, i.due_at, night),
                i.due_at or date.max,
                i.severity != "error",
                i.decision_id,
            )
        )
    late = {o: sum(is_overdue(i.status, i.due_at, night) for i in v) for o, v in groups.items()}
    return dict(sorted(groups.items(), key=lambda kv: (-late[kv[0]], kv[0])))


def _decisions_section(brief: Brief) -> str:
    groups = _by_owner(brief.decisions, brief.night)
    others: dict[str, int] = {}
    for item in brief.decisions:
        if item.status not in WAITING:
            others[item.status] = others.get(item.status, 0) + 1
    rest = ", ".join(f"{n} {status}" for status, n in sorted(others.items()))
    parts = ['<h2 id="decisions">Decisions waiting, by owner</h2>']
    if not groups:
        parts.append("<p>No decision is waiting for anyone.</p>")
    for owner, items in groups.items():
        late = sum(is_overdue(i.status, i.due_at, brief.night) for i in items)
        parts.append(
            f"<h3>{_e(owner)} <span class=muted>— {len(items)} waiting"
            f"{f', {late} overdue' if late else ''}</span></h3>"
        )
        parts += [
            _decision(item, brief.night, brief.alerts.get(item.decision_id, ())) for item in items
        ]
    if rest:
        parts.append(
            f"<p class=muted>Not waiting: {_e(rest)}. <code>firewatch queue</code> lists "
            "them all.</p>"
        )
    return "".join(parts)


# -------------------------------------------------------------------------------- targets


def _bar_rows(rows: list[tuple[str, float | None, str, str]], *, centred: bool) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour, text after the bar) per
    row. `centred`: values are signed, bars grow left or right of a zero line; else from the
    left edge with a marker at 1 (100%)."""
    label_w, bar_w, text_w, row_h = 240, 300, 390, 26
    width, height = label_w + bar_w + text_w, row_h * len(rows) + 8
    values = [abs(v) for _, v, _, _ in rows if v is not None and math.isfinite(v)]
    top = max(values, default=1.0) or 1.0
    if not centred:
        top = max(top, 1.0) * 1.1
    zero = label_w + (bar_w / 2 if centred else 0)
    scale = (bar_w / 2 if centred else bar_w) / top
    shapes = [
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" stroke="{_INK}" '
        'stroke-width="1"/>'
    ]
    if not centred:  # the target line
        x = zero + scale
        shapes.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="{_INK}" '
            'stroke-dasharray="3,3"/>'
        )
    for n, (label, value, colour, note) in enumerate(rows):
        y = 4 + n * row_h
        shapes.append(f'<text x="0" y="{y + 17}">{_e(label)}</text>')
        if value is not None and math.isfinite(value):
            length = abs(value) * scale
            x = zero - length if value < 0 else zero
            shapes.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{max(length, 1):.1f}" height="16" '
                f'fill="{colour}"/>'
            )
        shapes.append(f'<text x="{label_w + bar_w + 8}" y="{y + 17}">{_e(note)}</text>')
    return (
        f'<svg width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(shapes)}</svg>'
    )


def _month(value: object) -> str:
    return value.strftime("%B %Y") if hasattr(value, "strftime") else str(value)


def _attainment_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    bars = []
    for row in rows:
        unit = row.get("unit") or "count"
        scope = "" if row.get("dimension") == "total" else f" · {row.get('dimension_value')}"
        closed = bool(row.get("is_month_closed"))
        status = str(row.get("status") or "")
        good = status in ("met", "on_track")
        actual, target = fmt(row.get("actual_value"), unit), fmt(row.get("target_value"), unit)
        if closed:
            note = f"{actual} of {target} ({_pct(row.get('attainment'), False)}): {status}"
        else:
            note = (
                f"{actual} of {target} so far, projected {fmt(row.get('projected_value'), unit)}"
                f": {status.replace('_', ' ')}"
            )
        ratio = row.get("attainment") if closed else row.get("pacing")
        bars.append(
            (
                f"{_month(row.get('period_start'))} · {row.get('label') or row.get('metric_id')}"
                + scope,
                None if _missing(ratio) else min(float(ratio), 2.0),
                _GOOD if good else _BAD,
                note,
            )
        )
    return _bar_rows(bars, centred=False)


def _gap_sentence(first: Mapping[str, Any], label: str) -> str:
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
    if _missing(behind):
        return text + "."
    if float(behind) >= 0:
        return text + ": those months would have met the target, so the month itself got worse."
    return (
        text + f": the target asked for {fmt(-float(behind), unit)} more than those months "
        "made, so part of the gap is the target's ambition."
    )


def _explanation_chart(rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> str:
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
        parts.append(f"<h3>{_e(_month(first.get('period_start')))}: {_e(label)}</h3>")
        parts.append(f"<p>{_e(_gap_sentence(first, label))}</p>")
        pulls = [r for r in steps if not _missing(r.get("contribution"))]
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
        parts.append(f'<p class="callout">{_e(said_text[:1].upper() + said_text[1:])}.</p>')
        parts.append("<p class=muted>Funnel steps: each step's share of the change against the "
                     "comparison (they add up to it).</p>")  # fmt: skip
        parts.append(
            _bar_rows(
                [
                    (
                        FACTOR_LABELS.get(str(r["factor"]), str(r["factor"])),
                        None if _missing(r.get("contribution")) else float(r["contribution"]),
                        _BAD if (r.get("contribution") or 0) < 0 else _GOOD,
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
                _bar_rows(
                    [
                        (
                            FACTOR_LABELS.get(str(r["factor"]), str(r["factor"])),
                            None
                            if _missing(r.get("relative_change"))
                            else float(r["relative_change"]),
                            _BAD if r.get("moved_the_bad_way") else _NEUTRAL,
                            f"{_pct(r.get('relative_change'))} "
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


def _targets_section(brief: Brief) -> str:
    parts = ['<h2 id="targets">Targets</h2>']
    if brief.attainment:
        parts.append(_attainment_chart(brief.attainment))
    else:
        parts.append("<p>No targets were loaded (the landing folder's <code>targets/</code>).</p>")
    parts.append('<h2 id="why">Why the last missed all-channel target was missed</h2>')
    if brief.explanation:
        parts.append(_explanation_chart(brief.explanation, brief.labels))
    else:
        parts.append("<p>No closed month missed an all-channel target.</p>")
    return "".join(parts)


# -------------------------------------------------------------------------------- rituals


def ritual_line(rituals: Sequence[Mapping[str, Any]]) -> str:
    """What the ritual report says in one line, including on day one (no decision yet)."""
    count = sum(bool(r.get("is_ritual")) for r in rituals)
    decided = sum(int(r.get("decisions_taken") or 0) for r in rituals)
    line = f"{count} of {len(rituals)} metrics reported for 90+ days without a decision."
    if decided == 0:
        line = (
            "No decisions have been recorded yet, so no metric has changed one: a metric "
            "reported for 90+ days becomes a ritual until a decision is taken on one of its "
            "alerts. " + line
        )
    return line


def _rituals_section(brief: Brief) -> str:
    parts = ['<h2 id="rituals">Ritual metrics</h2>']
    if not brief.rituals:
        return parts[0] + "<p>No ritual report yet (it is written by the nightly run).</p>"
    parts.append(f"<p>{_e(ritual_line(brief.rituals))}</p>")
    # the longest-reported first; the whole list is `firewatch rituals`
    rituals = sorted(
        (r for r in brief.rituals if r.get("is_ritual")),
        key=lambda r: (-int(r.get("days_reported") or 0), str(r.get("metric_id"))),
    )
    if rituals:
        parts.append(
            "<table><tr><th>metric</th><th>owner</th><th>days reported</th>"
            "<th>alerts raised</th><th>decisions taken</th></tr>"
            + "".join(
                f"<tr><td>{_e(brief.labels.get(str(r['metric_id']), r['metric_id']))}</td>"
                f"<td>{_e(r.get('owner'))}</td><td class=num>{_e(r.get('days_reported'))}</td>"
                f"<td class=num>{_e(r.get('alerts_raised'))}</td>"
                f"<td class=num>{_e(r.get('decisions_taken'))}</td></tr>"
                for r in rituals[:RITUALS_SHOWN]
            )
            + "</table>"
        )
    if len(rituals) > RITUALS_SHOWN:
        parts.append(
            f"<p class=muted>… and {len(rituals) - RITUALS_SHOWN} more: "
            "<code>firewatch rituals</code> lists them all.</p>"
        )
    return "".join(parts)


# ----------------------------------------------------------------------------------- page


def render_brief(brief: Brief, generated_at: datetime) -> str:
    """The whole page. `generated_at` is printed, not read from a clock here."""
    waiting = [d for d in brief.decisions if d.status in WAITING]
    late = sum(is_overdue(d.status, d.due_at, brief.night) for d in waiting)
    missed = sum(r.get("status") == "missed" for r in brief.attainment if r.get("is_month_closed"))
    rituals = sum(bool(r.get("is_ritual")) for r in brief.rituals)
    night = f"the night of {brief.night}" if brief.night else "no night yet"
    title = f"kpi-firewatch morning brief, {night}"
    summary = "".join(
        f"<div><b>{n}</b>{_e(one if n == 1 else many)}</div>"
        for n, one, many in (
            (len(waiting), "decision waiting", "decisions waiting"),
            (late, "overdue", "overdue"),
            (len({d.owner for d in waiting}), "owner with decisions", "owners with decisions"),
            (missed, "target missed (closed month shown)", "targets missed (closed month shown)"),
            (rituals, "ritual metric", "ritual metrics"),
        )
    )
    written = generated_at.strftime("%Y-%m-%d %H:%M")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Morning brief</h1><p class=muted>As of {_e(night)} (queue dates are the data's "
        f"nights) · read from {_e(brief.source)} · written {_e(written)} UTC</p>"
        f'<div class="summary">{summary}</div>'
        + _decisions_section(brief)
        + _targets_section(brief)
        + _rituals_section(brief)
        + "<p class=muted>Answer a decision with <code>firewatch acknowledge|decide|dismiss|"
        "snooze ID</code>; <code>firewatch explain ID</code> prints its numbers.</p>"
        "</body></html>\n"
    )
