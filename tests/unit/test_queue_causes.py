"""One decision per cause: alerts of one night on one dimension value share one queue item."""

from __future__ import annotations

from datetime import datetime, timedelta

from dagster_project.divergence.episodes import merge_alerts
from dagster_project.divergence.queue import LogEntry, build_queue, decision_id
from tests.support.findings import NIGHT1, NIGHT2, finding


def _spike(value: str = "paid_search", as_of=NIGHT1) -> list:
    """One traffic spike on a channel hurting three outcomes, as the demo shows it."""
    return [
        finding(value, as_of, rule_id="sessions_up_nobody_stays", outcome_metric="engagement_rate",
                outcome_change=-0.22, owner="web_analytics", question="Fix landing pages?"),
        finding(value, as_of, rule_id="traffic_up_returning_share_down",
                outcome_metric="returning_visitor_share", outcome_change=-0.26, owner="content",
                question="Is new traffic crowding out?", severity="error"),
        finding(value, as_of, rule_id="spend_up_revenue_flat", outcome_metric="revenue",
                outcome_change=-0.17, owner="revenue_operations", question="Keep the budget?"),
    ]  # fmt: skip


def test_one_spike_on_one_channel_is_one_item_listing_the_other_effects() -> None:
    alerts = merge_alerts([], [*_spike(), finding("linkedin")], NIGHT1)
    queue = build_queue(alerts, [], NIGHT1)
    assert len(queue) == 2  # paid_search's three alerts as one, linkedin's own
    (spike,) = [i for i in queue if i.dimension_value == "paid_search"]
    members = sorted(a.alert_id for a in alerts if a.dimension_value == "paid_search")
    assert spike.alert_ids == ",".join(members)  # the lowest id first: stable night to night
    first = next(a for a in alerts if a.alert_id == members[0])
    assert (spike.decision_id, spike.owner) == (decision_id(first), first.owner)
    # the highest severity of the three sets the due night: error, 2 days
    assert (spike.severity, spike.due_at) == ("error", NIGHT1 + timedelta(days=2))
    others = [a for a in alerts if a.alert_id in members[1:]]
    for alert in others:
        assert f"{alert.outcome_metric} {alert.outcome_change:+.0%} ({alert.owner})" in (
            spike.affected
        )
    assert spike.question.startswith(first.question + " Also affected: ")


def test_alerts_of_another_night_are_another_cause() -> None:
    alerts = merge_alerts([], _spike()[:1], NIGHT1)
    alerts = merge_alerts(alerts, _spike(as_of=NIGHT2), NIGHT2)
    queue = build_queue(alerts, [], NIGHT2)
    # the first rule's episode goes on from NIGHT1; the two others opened on NIGHT2
    assert sorted(len(i.alert_ids.split(",")) for i in queue) == [1, 2]


def test_an_alert_answered_under_its_own_id_keeps_its_item() -> None:
    alerts = merge_alerts([], _spike(), NIGHT1)
    ids = sorted(a.alert_id for a in alerts)
    legacy = "D-" + ids[2].removeprefix("A-")  # answered before causes were grouped
    log = [LogEntry(1, legacy, "decide", "ana", datetime(2025, 9, 21, 9), "keep it")]
    queue = {i.decision_id: i for i in build_queue(alerts, log, NIGHT1)}
    assert set(queue) == {"D-" + ids[0].removeprefix("A-"), legacy}
    assert queue[legacy].decision == "keep it" and queue[legacy].alert_ids == ids[2]
    assert queue["D-" + ids[0].removeprefix("A-")].alert_ids == ",".join(ids[:2])


def test_a_cause_is_resolved_only_when_all_its_alerts_have_cleared() -> None:
    alerts = merge_alerts([], _spike(), NIGHT1)
    still = [f for f in _spike(as_of=NIGHT2) if f.rule_id == "spend_up_revenue_flat"]
    alerts = merge_alerts(alerts, still, NIGHT2)
    (item,) = build_queue(alerts, [], NIGHT2)
    assert item.status == "open"
    (item,) = build_queue(merge_alerts(alerts, [], NIGHT2 + timedelta(days=1)), [], NIGHT2)
    assert item.status == "resolved"
