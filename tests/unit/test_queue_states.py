"""Alert episodes and the decision queue's state machine, in memory (the CLI verbs people answer
the queue with are in tests/integration/test_queue.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from dagster_project.divergence.episodes import merge_alerts
from dagster_project.divergence.queue import LogEntry, QueueError, build_queue, check_action
from tests.support.findings import NIGHT1, NIGHT2, NIGHT3, finding


def test_an_ongoing_divergence_keeps_its_episode_then_clears() -> None:
    first = merge_alerts([], [finding(as_of=NIGHT1)], NIGHT1)
    assert len(first) == 1 and first[0].status == "active"
    second = merge_alerts(first, [finding(as_of=NIGHT2, outcome_change=-0.4)], NIGHT2)
    assert [a.alert_id for a in second] == [first[0].alert_id]
    assert second[0].first_detected_at == NIGHT1 and second[0].last_detected_at == NIGHT2
    assert second[0].outcome_change == -0.4
    third = merge_alerts(second, [], NIGHT3)
    assert third[0].status == "cleared" and third[0].cleared_at == NIGHT3
    # a new divergence later is a new episode with a new id
    fourth = merge_alerts(third, [finding(as_of=date(2025, 10, 1))], date(2025, 10, 1))
    assert len(fourth) == 2 and fourth[1].alert_id != fourth[0].alert_id


def test_rerunning_a_night_gives_identical_alerts() -> None:
    once = merge_alerts([], [finding(), finding("linkedin")], NIGHT1)
    twice = merge_alerts(once, [finding(), finding("linkedin")], NIGHT1)
    assert once == twice


def test_queue_state_machine() -> None:
    alerts = merge_alerts([], [finding()], NIGHT1)
    item = build_queue(alerts, [], NIGHT1)[0]
    assert (item.status, item.opened_at, item.due_at) == ("open", NIGHT1, date(2025, 9, 28))
    did = item.decision_id
    log = [LogEntry(1, did, "snooze", "ana", datetime(2025, 9, 21, 9), snooze_until=NIGHT3)]
    assert build_queue(alerts, log, NIGHT2)[0].status == "snoozed"
    assert build_queue(alerts, log, NIGHT3)[0].status == "open"  # the snooze ran out
    log.append(LogEntry(2, did, "decide", "ana", datetime(2025, 9, 23, 9), text="cut budget"))
    decided = build_queue(alerts, log, NIGHT3)[0]
    assert (decided.status, decided.decision, decided.decided_by) == (
        "decided",
        "cut budget",
        "ana",
    )
    with pytest.raises(QueueError, match="is decided: cannot acknowledge"):
        check_action(decided, "acknowledge")
    cleared = merge_alerts(alerts, [], NIGHT3)
    resolved = build_queue(cleared, log, NIGHT3)[0]
    assert (resolved.status, resolved.decision) == ("resolved", "cut budget")
