"""The decision queue as a state machine over an append-only log of what people did (pure).

Items come from alerts: one per cause, where a cause is the alerts that opened on the same night
for the same dimension value (one movement there, a traffic spike say, that hurts several
outcomes); the item's owner is its first alert's, the others are listed as affected. An alert that
people already answered under its own id keeps its own item. What people enter comes from the
log and is never rewritten, so the queue can be rebuilt at any time — after a re-run or a full
refresh — and still hold every decision.

    open -> acknowledged -> decided | dismissed | snoozed -> resolved
A snoozed item is open again once its date has passed; any item is resolved when its alert
clears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dagster_project.divergence.episodes import Alert, hold_state

# Service level: days from opening to the due date, per severity.
DUE_DAYS = {"error": 2, "warn": 7}

ACTIONS = ("acknowledge", "decide", "dismiss", "snooze")
# Statuses still waiting for a person: the ones that can be overdue.
WAITING = ("open", "acknowledged")
# which status each human action may start from, and where it leads
_ALLOWED = {
    "acknowledge": ({"open"}, "acknowledged"),
    "decide": ({"open", "acknowledged", "snoozed"}, "decided"),
    "dismiss": ({"open", "acknowledged", "snoozed"}, "dismissed"),
    "snooze": ({"open", "acknowledged"}, "snoozed"),
}


class QueueError(ValueError):
    """An unknown decision id or an action the item's status does not allow."""


@dataclass(frozen=True)
class LogEntry:
    entry_id: int
    decision_id: str
    action: str
    actor: str
    entered_at: datetime
    text: str = ""  # the decision, or the reason for a dismissal
    snooze_until: date | None = None


@dataclass(frozen=True)
class QueueItem:
    decision_id: str
    alert_id: str
    rule_id: str
    dimension_value: str
    owner: str
    question: str
    status: str
    opened_at: date
    due_at: date
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    snoozed_until: date | None = None
    severity: str = "warn"
    alert_ids: str = ""  # every alert this decision covers, comma-separated, its own first
    affected: str = ""  # the other outcomes hurt by the same cause, with their owners


_SEVERITY_RANK = {"warn": 0, "error": 1}


def is_overdue(status: str, due: date | None, night: date | None) -> bool:
    """Still waiting for a person after its due night (all queue dates are the data's nights)."""
    return bool(status in WAITING and night and due and due < night)


def decision_id(alert: Alert) -> str:
    return "D-" + alert.alert_id.removeprefix("A-")


def _status_after(entries: list[LogEntry], today: date) -> tuple[str, LogEntry | None]:
    # every logged entry was legal when entered, so the last one decides the status
    if not entries:
        return "open", None
    last = entries[-1]
    status = _ALLOWED[last.action][1]
    if status == "snoozed" and last.snooze_until is not None and last.snooze_until <= today:
        status = "open"
    return status, last


def check_action(item: QueueItem, action: str) -> str:
    """The status the action leads to, or QueueError naming what is allowed instead."""
    if action not in _ALLOWED:
        raise QueueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    sources, target = _ALLOWED[action]
    if item.status not in sources:
        raise QueueError(
            f"{item.decision_id} is {item.status}: cannot {action} it "
            f"(allowed from {', '.join(sorted(sources))})"
        )
    return target


def _causes(alerts: list[Alert], answered: set[str]) -> list[list[Alert]]:
    """Alerts grouped by cause (same first night, dimension and value), each group's first
    alert (lowest id: stable from night to night) first. An alert other than the first that
    people answered under its own id (before causes were grouped) keeps an item of its own."""
    groups: dict[tuple, list[Alert]] = {}
    for alert in sorted(alerts, key=lambda a: a.alert_id):
        key = (alert.first_detected_at, alert.dimension, alert.dimension_value)
        groups.setdefault(key, []).append(alert)
    causes = []
    for first, *rest in groups.values():
        causes.append([first, *(a for a in rest if decision_id(a) not in answered)])
        causes += [[a] for a in rest if decision_id(a) in answered]
    return sorted(causes, key=lambda g: (g[0].first_detected_at, g[0].alert_id))


def _affected(group: list[Alert]) -> str:
    return "; ".join(
        f"{a.outcome_metric} {a.outcome_change:+.0%} ({a.owner or 'no owner'})" for a in group[1:]
    )


def build_queue(alerts: list[Alert], log: list[LogEntry], today: date) -> list[QueueItem]:
    """One item per cause, its status folded from the log entries in order."""
    by_decision: dict[str, list[LogEntry]] = {}
    for entry in sorted(log, key=lambda e: e.entry_id):
        by_decision.setdefault(entry.decision_id, []).append(entry)
    items = []
    for group in _causes(alerts, set(by_decision)):
        alert = group[0]
        did = decision_id(alert)
        entries = by_decision.get(did, [])
        status, last = _status_after(entries, today)
        if all(a.status == "cleared" for a in group):
            status = "resolved"
        severity = max((a.severity for a in group), key=_SEVERITY_RANK.__getitem__)
        affected = _affected(group)
        decided = next((e for e in reversed(entries) if e.action in ("decide", "dismiss")), None)
        items.append(
            QueueItem(
                decision_id=did,
                alert_id=alert.alert_id,
                rule_id=alert.rule_id,
                dimension_value=alert.dimension_value,
                owner=alert.owner,
                question=alert.question + (f" Also affected: {affected}." if affected else ""),
                status=status,
                opened_at=alert.first_detected_at,
                due_at=alert.first_detected_at + timedelta(days=DUE_DAYS[severity]),
                decision=decided.text if decided and decided.action == "decide" else None,
                decided_by=decided.actor if decided else None,
                decided_at=decided.entered_at if decided else None,
                note=decided.text if decided and decided.action == "dismiss" else None,
                snoozed_until=last.snooze_until if last and last.action == "snooze" else None,
                severity=severity,
                alert_ids=",".join(a.alert_id for a in group),
                affected=affected,
            )
        )
    return items


def accepted_levels(alerts: list[Alert], log: list[LogEntry]) -> dict[tuple[str, str, str], date]:
    """Rule x dimension value -> the first day of a level people accepted: an item whose last
    decision is a dismissal (nothing to fix, this is how it is now) accepts the level of each
    of its alerts since their change began (the day after the baseline each was held
    against). The rule is then re-based there for that value (`hold.judge_night`)."""
    out: dict[tuple[str, str, str], date] = {}
    items = build_queue(alerts, log, date.max)
    by_id = {a.alert_id: a for a in alerts}
    for item in items:
        if item.status not in ("dismissed", "resolved") or item.note is None:
            continue  # `note` is set when the item's latest decision was a dismissal
        for alert_id in item.alert_ids.split(","):
            alert = by_id.get(alert_id)
            if alert is None:
                continue
            state = hold_state(alert) or {}
            end = state.get("baseline_end")
            start = date.fromisoformat(end) + timedelta(days=1) if end else alert.window_start
            out[alert.key] = max(out.get(alert.key, start), start)
    return out
