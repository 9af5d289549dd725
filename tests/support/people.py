"""A person's queue verb, as the fault-injection harness enters it from its own process."""

from __future__ import annotations

from datetime import date, timedelta

from dagster_project.faults.decisions import Decision

UNTIL = date.today() + timedelta(days=40)  # a snooze's end, always in the future


def queue_verb(decision_id: str, action: str, actor: str, text: str = "") -> Decision:
    return Decision(
        decision_id,
        action,
        actor,
        text,
        UNTIL if action == "snooze" else None,
        when="during the run",
    )
