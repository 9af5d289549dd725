"""The morning brief as one self-contained HTML page (pure: data in, a string out, no I/O).

What is waiting for whom (the open decisions by owner, due and overdue on the data's nights, each
with its chart and its numbers), how the targets stand and why the last missed one was missed
(funnel steps and system factors, drawn as inline SVG), and which metrics are reported without
ever changing a decision. The page loads nothing: styles are inline, charts are data URIs and
SVG, and a Content-Security-Policy forbids anything else, so it opens the same offline, from a
mail attachment or a file share. Every text that came from data (campaign names, owners,
questions, decisions) is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dagster_project.brief.markup import esc, image
from dagster_project.brief.targets_html import targets_section
from dagster_project.divergence.queue import WAITING, QueueItem, is_overdue

# Ritual metrics listed on the page (on day one every metric reported for 90 days is one).
RITUALS_SHOWN = 10

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
                + "".join(f"<th>{esc(c)}</th>" for c in head)
                + "</tr>"
                + "".join(
                    "<tr>"
                    + "".join(
                        f"<td{' class=num' if i else ''}>{esc(c)}</td>" for i, c in enumerate(row)
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
            out.append(f"<p>{esc(line)}</p>")
    flush()
    return '<div class="lines">' + "".join(out) + "</div>"


def _decision(item: QueueItem, night: date | None, alerts: Sequence[AlertView]) -> str:
    overdue = is_overdue(item.status, item.due_at, night)
    badges = f'<span class="badge {esc(item.severity)}">{esc(item.severity)}</span>'
    if overdue:
        badges += ' <span class="badge overdue">OVERDUE</span>'
    due = f"due {esc(item.due_at)}" if item.due_at else "no due date"
    shown = "".join(
        '<div class="alert">'
        + (image(a.chart_png, f"Chart of {a.alert_id}") if a.chart_png else "")
        + _explain_block(a.explanation)
        + "</div>"
        for a in alerts
    )
    return (
        f'<div class="decision{" overdue" if overdue else ""}">'
        f'<div class="facts">{badges} <code>{esc(item.decision_id)}</code> · {esc(item.status)} · '
        f"opened {esc(item.opened_at)} · <b>{due}</b> · {esc(item.dimension_value)} · "
        f"{esc(item.rule_id)}</div>"
        f'<div class="question">{esc(item.question)}</div>{shown}</div>'
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
            f"<h3>{esc(owner)} <span class=muted>— {len(items)} waiting"
            f"{f', {late} overdue' if late else ''}</span></h3>"
        )
        parts += [
            _decision(item, brief.night, brief.alerts.get(item.decision_id, ())) for item in items
        ]
    if rest:
        parts.append(
            f"<p class=muted>Not waiting: {esc(rest)}. <code>firewatch queue</code> lists "
            "them all.</p>"
        )
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
    parts.append(f"<p>{esc(ritual_line(brief.rituals))}</p>")
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
                f"<tr><td>{esc(brief.labels.get(str(r['metric_id']), r['metric_id']))}</td>"
                f"<td>{esc(r.get('owner'))}</td><td class=num>{esc(r.get('days_reported'))}</td>"
                f"<td class=num>{esc(r.get('alerts_raised'))}</td>"
                f"<td class=num>{esc(r.get('decisions_taken'))}</td></tr>"
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
        f"<div><b>{n}</b>{esc(one if n == 1 else many)}</div>"
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
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Morning brief</h1><p class=muted>As of {esc(night)} (queue dates are the data's "
        f"nights) · read from {esc(brief.source)} · written {esc(written)} UTC</p>"
        f'<div class="summary">{summary}</div>'
        + _decisions_section(brief)
        + targets_section(brief.attainment, brief.explanation, brief.labels)
        + _rituals_section(brief)
        + "<p class=muted>Answer a decision with <code>firewatch acknowledge|decide|dismiss|"
        "snooze ID</code>; <code>firewatch explain ID</code> prints its numbers.</p>"
        "</body></html>\n"
    )
