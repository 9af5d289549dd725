"""Notifications for the decision queue, pure: which events are due, the configuration read from the
environment, and the Slack payload (their delivery is in tests/integration/test_notify.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from dagster_project.notify import NotifyReport, notify_queue, notify_run_failure
from dagster_project.notify.channels import build_notifiers, slack_payload
from dagster_project.notify.config import (
    NOTIFY_TO,
    OWNER_EMAILS,
    SMTP_FROM,
    SMTP_HOST,
    SMTP_PASSWORD,
    SMTP_PORT,
    SMTP_STARTTLS,
    SMTP_USER,
    WEBHOOK_URL,
    NotifyConfigError,
    load_config,
    redact,
)
from dagster_project.notify.events import (
    MAX_MESSAGE_CHARS,
    NotificationEvent,
    queue_events,
    run_failed_event,
)
from tests.support.notify import DG, NIGHT1, OPS, PASSWORD, SENDER, TOKEN, USER, item, keys

# --- which events are due --------------------------------------------------------------------


def test_a_new_open_item_is_opened_once() -> None:
    events = queue_events([item()], set(), NIGHT1)
    assert keys(events) == ["D-000000000001:opened:warn"]
    event = events[0]
    assert (event.kind, event.owner, event.decision_id) == (
        "opened",
        "demand_generation",
        "D-000000000001",
    )
    assert event.title == "New decision for demand_generation: Keep funding paid_social?"
    assert "due 2025-09-28" in event.text and "firewatch acknowledge" in event.text
    assert queue_events([item()], {event.key}, NIGHT1) == []


def test_items_people_have_answered_are_not_announced() -> None:
    answered = [
        item("D-a", status="acknowledged"),
        item("D-b", status="decided", decision="stop", decided_by="ana"),
        item("D-c", status="dismissed"),
        item("D-d", status="resolved", due_at=NIGHT1),
        item("D-e", status="snoozed", snoozed_until=NIGHT1 + timedelta(days=3)),
    ]
    assert queue_events(answered, set(), NIGHT1 + timedelta(days=1)) == []


def test_overdue_fires_once_after_the_due_date_passes() -> None:
    due = NIGHT1 + timedelta(days=7)
    sent = {"D-000000000001:opened:warn"}
    assert queue_events([item()], sent, due) == []  # due today is not overdue yet
    events = queue_events([item()], sent, due + timedelta(days=1))
    assert keys(events) == ["D-000000000001:overdue:2025-09-28"]
    assert events[0].title == "Overdue since 2025-09-28: Keep funding paid_social?"
    sent |= set(keys(events))
    assert queue_events([item()], sent, due + timedelta(days=5)) == []
    # once per item: a due date moved by a severity change does not make it overdue again
    moved = item(severity="error", due_at=NIGHT1 + timedelta(days=2))
    later = queue_events([moved], sent | {"D-000000000001:escalated:severity-error"}, due)
    assert later == []
    # acknowledged items can be overdue too; snoozed ones were put off on purpose
    ack = item(status="acknowledged")
    assert keys(queue_events([ack], set(), due + timedelta(days=1))) == [
        "D-000000000001:overdue:2025-09-28"
    ]
    snoozed = item(status="snoozed", snoozed_until=due + timedelta(days=9))
    assert queue_events([snoozed], sent, due + timedelta(days=1)) == []


def test_escalation_when_severity_rises_above_what_the_owner_was_told() -> None:
    told = {"D-000000000001:opened:warn"}
    worse = item(severity="error", due_at=NIGHT1 + timedelta(days=2))
    events = queue_events([worse], told, NIGHT1 + timedelta(days=1))
    assert keys(events) == ["D-000000000001:escalated:severity-error"]
    assert events[0].kind == "escalated" and events[0].severity == "error"
    assert events[0].title == "Escalated to error: Keep funding paid_social?"
    # told once; a later drop and rise again is not news
    told |= set(keys(events))
    assert queue_events([worse], told, NIGHT1 + timedelta(days=1)) == []
    # acknowledged and snoozed items escalate too: the owner needs to know it got worse
    for status in ("acknowledged", "snoozed"):
        events = queue_events(
            [replace(worse, status=status)], {"D-000000000001:opened:warn"}, NIGHT1
        )
        assert keys(events) == ["D-000000000001:escalated:severity-error"]
    # opened straight at error: announced as such, nothing to escalate
    assert keys(queue_events([worse], set(), NIGHT1)) == ["D-000000000001:opened:error"]
    # decided items stay quiet whatever happens
    assert (
        queue_events([replace(worse, status="decided")], {"D-000000000001:opened:warn"}, NIGHT1)
        == []
    )


def test_escalation_when_a_snooze_ends() -> None:
    until = NIGHT1 + timedelta(days=3)
    back = item(status="open", snoozed_until=until)
    told = {"D-000000000001:opened:warn"}
    events = queue_events([back], told, until)
    assert keys(events) == ["D-000000000001:escalated:snooze-ended-2025-09-24"]
    assert events[0].title == "Snooze ended, back in the queue: Keep funding paid_social?"
    assert "It was snoozed until 2025-09-24." in events[0].lines
    # not re-announced as opened, even if the first notice never went out
    assert keys(queue_events([back], set(), until)) == [
        "D-000000000001:escalated:snooze-ended-2025-09-24"
    ]
    assert queue_events([back], told | set(keys(events)), until) == []
    # a second snooze that ends is a second escalation
    again = replace(back, snoozed_until=until + timedelta(days=5))
    assert keys(queue_events([again], told | set(keys(events)), until + timedelta(days=5))) == [
        "D-000000000001:escalated:snooze-ended-2025-09-29",
        "D-000000000001:overdue:2025-09-28",  # and it is late by now
    ]


def test_events_follow_the_queue_order_and_each_item_in_order() -> None:
    items = [item("D-a"), item("D-b", severity="error", due_at=NIGHT1 + timedelta(days=2))]
    events = queue_events(items, set(), NIGHT1 + timedelta(days=3))
    assert keys(events) == [
        "D-a:opened:warn",
        "D-b:opened:error",
        "D-b:overdue:2025-09-23",
    ]


def test_run_failed_event_has_a_stable_key_and_a_bounded_message() -> None:
    event = run_failed_event("nightly", "run-42", "  step dbt failed: boom\n")
    assert event.key == "run-42:run_failed:nightly"
    assert (event.kind, event.owner, event.decision_id, event.severity) == (
        "run_failed",
        "",
        None,
        "error",
    )
    assert event.title == "Run failed: nightly"
    assert event.lines == ("Run run-42 of job nightly failed.", "step dbt failed: boom")
    long = run_failed_event("nightly", "run-42", "x" * 5000)
    assert len(long.lines[1]) == MAX_MESSAGE_CHARS and long.lines[1].endswith("…")
    assert run_failed_event("nightly", "r", "").lines[1] == "(no error message)"


# --- configuration ---------------------------------------------------------------------------


def test_no_environment_means_no_notifiers_and_no_failure(tmp_path: Path) -> None:
    config = load_config({})
    assert not config.enabled and build_notifiers(config) == []
    missing = tmp_path / "never-created.duckdb"
    assert notify_queue(missing, NIGHT1, env={}) == NotifyReport()
    assert notify_run_failure("nightly", "r1", "boom", env={}, warehouse=missing) == NotifyReport()
    assert not missing.exists()


def test_configuration_is_read_from_the_environment() -> None:
    config = load_config(
        {
            SMTP_HOST: "mail.example.com",
            SMTP_FROM: SENDER,
            SMTP_USER: USER,
            SMTP_PASSWORD: PASSWORD,
            SMTP_STARTTLS: "1",
            NOTIFY_TO: f"{OPS}, boss@example.com",
            OWNER_EMAILS: "demand_generation=dg@example.com, finance=f@example.com,"
            "demand_generation=lead@example.com",
        }
    )
    smtp = config.smtp
    assert smtp is not None and config.webhook is None
    assert (smtp.host, smtp.port, smtp.user, smtp.starttls) == ("mail.example.com", 25, USER, True)
    assert smtp.default_to == (OPS, "boss@example.com")
    assert dict(smtp.owner_emails) == {"demand_generation": DG, "finance": ("f@example.com",)}
    assert PASSWORD not in repr(config) and PASSWORD in config.secrets
    hook = load_config({WEBHOOK_URL: f"https://hooks.slack.com/services/T01/B02/{TOKEN}"})
    assert hook.webhook is not None and TOKEN not in repr(hook)
    assert TOKEN not in repr(build_notifiers(hook))
    assert redact(
        f"see https://hooks.slack.com/services/T01/B02/{TOKEN} and {TOKEN}", hook.secrets
    ) == ("see [redacted] and [redacted]")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({WEBHOOK_URL: f"file:///etc/{TOKEN}"}, WEBHOOK_URL),
        ({SMTP_HOST: "h", SMTP_FROM: SENDER, SMTP_PORT: "smtp"}, SMTP_PORT),
        ({SMTP_HOST: "h"}, SMTP_FROM),
        ({SMTP_HOST: "h", SMTP_FROM: SENDER, SMTP_STARTTLS: "yes"}, SMTP_STARTTLS),
        ({SMTP_HOST: "h", SMTP_FROM: SENDER, OWNER_EMAILS: f"dg:{PASSWORD}"}, OWNER_EMAILS),
    ],
)
def test_a_bad_setting_names_the_variable_and_no_secret(env: dict[str, str], names: str) -> None:
    env = {**env, SMTP_PASSWORD: PASSWORD}
    with pytest.raises(NotifyConfigError) as caught:
        load_config(env)
    assert names in str(caught.value)
    assert TOKEN not in str(caught.value) and PASSWORD not in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None


# --- the Slack payload -----------------------------------------------------------------------


def test_slack_payload_escapes_and_bounds_text() -> None:
    event = NotificationEvent(
        key="k:opened:warn",
        kind="opened",
        title="Spend <@here> & more\n" + "x" * 300,
        lines=("a < b",),
        owner="o",
    )
    payload = slack_payload(event)
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) == 150 and "\n" not in header and header.startswith("Spend <@here> & more x")
    assert payload["blocks"][1]["text"]["text"] == "a &lt; b"
    assert payload["text"].startswith("Spend &lt;@here&gt; &amp; more")
