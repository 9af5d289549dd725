"""What to tell people about the decision queue, and about failed runs (pure, no I/O).

Each event has a stable key, `{subject}:{kind}:{detail}`, and is due only while the notifier has
not delivered it; so computing the events again — on a re-run of the night, in another process —
yields nothing already delivered. The kinds:

- opened: an item with status `open` the owner has not been told about (key detail: severity).
- escalated: something about an item the owner already knows got worse, either
  - its severity rose above every severity the owner was told (warn -> error; detail
    `severity-error`), while the item is still open, acknowledged or snoozed; or
  - its snooze date passed and it is open again (detail `snooze-ended-<date>`, once per snooze).
- overdue: the due date passed (`due_at < today`) while the item is open or acknowledged; once
  per item, even if the due date later moves because the severity changed.
- run_failed: a pipeline run failed (subject: the run id; detail: the job name).

Decided, dismissed and resolved items produce nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from dagster_project.divergence.queue import QueueItem

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

Kind = Literal["opened", "escalated", "overdue", "run_failed"]

_SEVERITY_RANK = {"warn": 1, "error": 2}
_ESCALATING = ("open", "acknowledged", "snoozed")
_OVERDUE = ("open", "acknowledged")
# an error text longer than this is cut: the tail of a traceback says little more in a chat
MAX_MESSAGE_CHARS = 1500


@dataclass(frozen=True)
class NotificationEvent:
    key: str
    kind: Kind
    title: str
    lines: tuple[str, ...]
    owner: str = ""  # empty: the default recipients
    decision_id: str | None = None
    severity: str = "warn"

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines))


def event_key(subject: str, kind: Kind, detail: str) -> str:
    return f"{subject}:{kind}:{detail}"


def _details(sent: Collection[str]) -> dict[tuple[str, str], set[str]]:
    """Delivered keys as {(subject, kind): {detail, ...}}."""
    found: dict[tuple[str, str], set[str]] = {}
    for key in sent:
        subject, _, rest = key.partition(":")
        kind, _, detail = rest.partition(":")
        found.setdefault((subject, kind), set()).add(detail)
    return found


def _topic(item: QueueItem) -> str:
    return item.question or f"{item.rule_id} for {item.dimension_value}"


def _about(item: QueueItem) -> str:
    return (
        f"{item.decision_id} ({item.severity}): rule {item.rule_id}, {item.dimension_value}; "
        f"owner {item.owner or 'unassigned'}, status {item.status}, due {item.due_at.isoformat()}"
    )


def _answer(item: QueueItem) -> str:
    return f"Answer with: firewatch acknowledge|decide|dismiss|snooze {item.decision_id} --by NAME"


def _event(item: QueueItem, kind: Kind, detail: str, title: str, *lines: str) -> NotificationEvent:
    return NotificationEvent(
        key=event_key(item.decision_id, kind, detail),
        kind=kind,
        title=title,
        lines=(_about(item), *lines, _answer(item)),
        owner=item.owner,
        decision_id=item.decision_id,
        severity=item.severity,
    )


def _told_rank(told: Mapping[tuple[str, str], set[str]], did: str) -> int:
    """The highest severity the owner has been told about, 0 if none."""
    severities = set(told.get((did, "opened"), set()))
    severities |= {
        d.removeprefix("severity-")
        for d in told.get((did, "escalated"), set())
        if d.startswith("severity-")
    }
    return max((_SEVERITY_RANK.get(s, 0) for s in severities), default=0)


def _item_events(
    item: QueueItem, told: Mapping[tuple[str, str], set[str]], today: date
) -> list[NotificationEvent]:
    did, events = item.decision_id, []
    reopened = item.status == "open" and item.snoozed_until is not None
    if item.status == "open" and not reopened and (did, "opened") not in told:
        events.append(
            _event(
                item,
                "opened",
                item.severity,
                f"New decision for {item.owner or 'no owner'}: {_topic(item)}",
            )
        )
    rank, told_rank = _SEVERITY_RANK.get(item.severity, 0), _told_rank(told, did)
    if item.status in _ESCALATING and 0 < told_rank < rank:
        events.append(
            _event(
                item,
                "escalated",
                f"severity-{item.severity}",
                f"Escalated to {item.severity}: {_topic(item)}",
                "The divergence got worse since the owner was first told.",
            )
        )
    if reopened:
        detail = f"snooze-ended-{item.snoozed_until.isoformat()}"
        if detail not in told.get((did, "escalated"), set()):
            events.append(
                _event(
                    item,
                    "escalated",
                    detail,
                    f"Snooze ended, back in the queue: {_topic(item)}",
                    f"It was snoozed until {item.snoozed_until.isoformat()}.",
                )
            )
    if item.status in _OVERDUE and item.due_at < today and (did, "overdue") not in told:
        events.append(
            _event(
                item,
                "overdue",
                item.due_at.isoformat(),
                f"Overdue since {item.due_at.isoformat()}: {_topic(item)}",
                f"Opened {item.opened_at.isoformat()}; still {item.status} on {today.isoformat()}.",
            )
        )
    return events


def queue_events(
    items: Iterable[QueueItem], sent: Collection[str], today: date
) -> list[NotificationEvent]:
    """The events due for one notifier that has already delivered the keys in `sent`."""
    told = _details(sent)
    # in the queue's order (oldest first), and for one item in the order things happen to it
    return [event for item in items for event in _item_events(item, told, today)]


def run_failed_event(job_name: str, run_id: str, message: str) -> NotificationEvent:
    """The event for a failed run; the message is cut to MAX_MESSAGE_CHARS."""
    text = message.strip() or "(no error message)"
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return NotificationEvent(
        key=event_key(run_id, "run_failed", job_name),
        kind="run_failed",
        title=f"Run failed: {job_name}",
        lines=(f"Run {run_id} of job {job_name} failed.", text),
        severity="error",
    )


def _plain(value: Any) -> Any:
    """A pandas cell as the Python value QueueItem holds: NaT/NaN -> None, Timestamp -> datetime."""
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


_DATE_FIELDS = ("opened_at", "due_at", "snoozed_until")


def queue_items(frame: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[QueueItem]:
    """QueueItems from decision_queue rows (state.read_queue's DataFrame, or dicts)."""
    import pandas as pd

    rows = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else frame
    names = [f.name for f in fields(QueueItem)]
    items = []
    for row in rows:
        values = {name: _plain(row.get(name)) for name in names if name in row}
        for name in _DATE_FIELDS:
            if isinstance(values.get(name), datetime):
                values[name] = values[name].date()
        values["severity"] = values.get("severity") or "warn"
        items.append(QueueItem(**values))
    return items
