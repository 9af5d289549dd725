"""Notifications for the decision queue delivered through a real HTTP server and a real SMTP server
on 127.0.0.1 and recorded in a warehouse file: each event once, secrets never shown (which events
are due, and the configuration, are in tests/unit/test_notify_events.py)."""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.divergence.queue import QueueItem
from dagster_project.notify import NotifyReport, notify_queue, notify_run_failure
from dagster_project.notify.channels import (
    DeliveryError,
    SmtpNotifier,
    WebhookNotifier,
    build_notifiers,
)
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
    SmtpConfig,
    load_config,
)
from dagster_project.notify.events import queue_items, run_failed_event
from dagster_project.notify.store import already_sent
from dagster_project.warehouse.connection import open_warehouse
from dagster_project.warehouse.decisions import ensure_tables, read_queue
from tests.support.notify import (
    DG,
    NIGHT1,
    OPS,
    PASSWORD,
    SENDER,
    TOKEN,
    USER,
    Mailbox,
    Webhook,
    free_port,
    item,
    serve_webhook,
    start_smtp,
)


def test_queue_items_read_back_the_decision_queue_table(tmp_path: Path) -> None:
    items = [
        item("D-a"),
        item("D-b", status="snoozed", snoozed_until=NIGHT1 + timedelta(days=4), severity="error"),
    ]
    warehouse = tmp_path / "wh.duckdb"
    publish(warehouse, items)
    with open_warehouse(warehouse, read_only=True) as con:
        frame = read_queue(con)
    assert queue_items(frame) == items
    assert queue_items([asdict(i) for i in items]) == items


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with serve_webhook() as hook:
        yield hook


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port())
    controller = start_smtp(mailbox, auth_require_tls=False)
    yield mailbox
    controller.stop()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours proxy variables; the servers here are local
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def env_for(webhook: Webhook | None, mailbox: Mailbox | None) -> dict[str, str]:
    env: dict[str, str] = {}
    if webhook is not None:
        env[WEBHOOK_URL] = webhook.url
    if mailbox is not None:
        env |= {
            SMTP_HOST: "127.0.0.1",
            SMTP_PORT: str(mailbox.port),
            SMTP_USER: USER,
            SMTP_PASSWORD: PASSWORD,
            SMTP_FROM: SENDER,
            NOTIFY_TO: OPS,
            OWNER_EMAILS: ",".join(f"demand_generation={a}" for a in DG),
        }
    return env


def publish(warehouse: Path, items: list[QueueItem]) -> None:
    """Replaces main.decision_queue the way a night's rebuild does."""
    with open_warehouse(warehouse) as con:
        ensure_tables(con)
        con.execute("delete from main.decision_queue")
        frame = pd.DataFrame([asdict(i) for i in items])
        con.register("_items", frame)
        con.execute("insert into main.decision_queue by name select * from _items")
        con.unregister("_items")


def log_rows(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select event_key, notifier, kind, decision_id, ok, error "
            "from firewatch_state.notification_log order by sent_at, notifier"
        ).fetchall()
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "firewatch.duckdb"
    publish(path, [item()])
    return path


# --- delivery --------------------------------------------------------------------------------


def test_each_notifier_delivers_an_opened_item_exactly_once(
    warehouse: Path, webhook: Webhook, smtp: Mailbox
) -> None:
    env = env_for(webhook, smtp)
    report = notify_queue(warehouse, NIGHT1, env=env)
    assert report == NotifyReport(notifiers=("webhook", "email"), due=2, delivered=2)

    assert len(webhook.received) == 1
    request = webhook.received[0]
    assert request["path"] == f"/services/T01/B02/{TOKEN}"
    assert request["content_type"] == "application/json; charset=utf-8"
    payload = request["payload"]
    assert payload["text"].startswith(
        "New decision for demand_generation: Keep funding paid_social?\n"
    )
    header, section, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "New decision for demand_generation: Keep funding paid_social?",
        },
    }
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert (
        "D-000000000001 (warn): rule engagement_up_quality_down, paid_social"
        in (section["text"]["text"])
    )
    assert [e["text"] for e in context["elements"]] == [
        "opened · warn · for demand_generation",
        "event D-000000000001:opened:warn",
    ]

    assert smtp.logins == [(USER.encode(), PASSWORD.encode())]
    assert len(smtp.messages) == 1
    mail_from, rcpt_tos, message = smtp.messages[0]
    assert (mail_from, rcpt_tos) == (SENDER, list(DG))
    assert message["Subject"] == (
        "[firewatch] New decision for demand_generation: Keep funding paid_social?"
    )
    assert message["From"] == SENDER and message["To"] == ", ".join(DG)
    assert message["X-Firewatch-Event"] == "D-000000000001:opened:warn"
    assert "Answer with: firewatch acknowledge|decide|dismiss|snooze D-000000000001" in (
        message.get_content()
    )

    assert set(log_rows(warehouse)) == {
        ("D-000000000001:opened:warn", "webhook", "opened", "D-000000000001", True, None),
        ("D-000000000001:opened:warn", "email", "opened", "D-000000000001", True, None),
    }

    # the same night again, as a re-run or another process would: nothing new
    again = notify_queue(warehouse, NIGHT1, env=env)
    assert again == NotifyReport(notifiers=("webhook", "email"), due=0, delivered=0)
    assert len(webhook.received) == 1 and len(smtp.messages) == 1
    assert webhook.attempts == 1


def test_overdue_fires_once_after_the_due_date(
    warehouse: Path, webhook: Webhook, smtp: Mailbox
) -> None:
    env = env_for(webhook, smtp)
    notify_queue(warehouse, NIGHT1, env=env)
    assert notify_queue(warehouse, date(2025, 9, 28), env=env).delivered == 0  # due that day
    report = notify_queue(warehouse, date(2025, 9, 29), env=env)
    assert report.delivered == 2
    assert webhook.received[-1]["payload"]["blocks"][0]["text"]["text"] == (
        "Overdue since 2025-09-28: Keep funding paid_social?"
    )
    assert smtp.messages[-1][2]["Subject"] == (
        "[firewatch] Overdue since 2025-09-28: Keep funding paid_social?"
    )
    assert smtp.messages[-1][2]["X-Firewatch-Event"] == "D-000000000001:overdue:2025-09-28"
    for later in (date(2025, 9, 29), date(2025, 9, 30), date(2025, 10, 5)):
        assert notify_queue(warehouse, later, env=env).delivered == 0
    assert len(webhook.received) == 2 and len(smtp.messages) == 2


def test_escalation_is_delivered_when_the_severity_rises(
    warehouse: Path, webhook: Webhook, smtp: Mailbox
) -> None:
    env = env_for(webhook, smtp)
    notify_queue(warehouse, NIGHT1, env=env)
    publish(warehouse, [item(severity="error", due_at=NIGHT1 + timedelta(days=2))])
    report = notify_queue(warehouse, NIGHT1 + timedelta(days=1), env=env)
    assert report.delivered == 2
    payload = webhook.received[-1]["payload"]
    assert payload["blocks"][0]["text"]["text"] == "Escalated to error: Keep funding paid_social?"
    assert (
        payload["blocks"][2]["elements"][0]["text"] == "escalated · error · for demand_generation"
    )
    assert smtp.messages[-1][2]["X-Firewatch-Event"] == "D-000000000001:escalated:severity-error"
    assert notify_queue(warehouse, NIGHT1 + timedelta(days=1), env=env).delivered == 0


def test_a_failed_run_notifies_the_default_recipients_once(
    warehouse: Path, webhook: Webhook, smtp: Mailbox
) -> None:
    env = env_for(webhook, smtp)
    report = notify_run_failure(
        "nightly", "run-7", "step dbt failed: disk full", env=env, warehouse=warehouse
    )
    assert report == NotifyReport(notifiers=("webhook", "email"), due=2, delivered=2)
    payload = webhook.received[0]["payload"]
    assert payload["blocks"][0]["text"]["text"] == "Run failed: nightly"
    assert "step dbt failed: disk full" in payload["blocks"][1]["text"]["text"]
    assert (
        payload["blocks"][2]["elements"][0]["text"] == "run_failed · error · for default recipients"
    )
    mail_from, rcpt_tos, message = smtp.messages[0]
    assert rcpt_tos == [OPS] and message["Subject"] == "[firewatch] Run failed: nightly"
    assert "Run run-7 of job nightly failed." in message.get_content()
    assert ("run-7:run_failed:nightly", "webhook", "run_failed", None, True, None) in log_rows(
        warehouse
    )
    # the sensor evaluated twice, or the hook ran again: recorded, so not sent again
    again = notify_run_failure("nightly", "run-7", "step dbt failed", env=env, warehouse=warehouse)
    assert again.due == 0 and len(webhook.received) == 1 and len(smtp.messages) == 1
    # a failure before any warehouse exists still tells people
    missing = warehouse.parent / "none.duckdb"
    assert (
        notify_run_failure("nightly", "run-8", "no raw files", env=env, warehouse=missing).delivered
        == 2
    )
    assert not missing.exists()


def test_a_failed_delivery_is_recorded_and_retried_until_it_goes_through_once(
    warehouse: Path, webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dagster_project")
    mailbox = Mailbox(port=free_port())  # no server on this port yet: connection refused
    env = env_for(webhook, mailbox)
    webhook.fail = 1

    first = notify_queue(warehouse, NIGHT1, env=env)
    assert (first.due, first.delivered, first.failed) == (2, 0, 2)
    assert webhook.attempts == 1 and webhook.received == []
    rows = log_rows(warehouse)
    assert {(r[1], r[4]) for r in rows} == {("webhook", False), ("email", False)}
    errors = {r[1]: r[5] for r in rows}
    assert errors["webhook"] == "webhook to 127.0.0.1: HTTP 500 Internal Server Error"
    assert errors["email"].startswith(
        f"e-mail via 127.0.0.1:{mailbox.port}: ConnectionRefusedError"
    )
    assert "could not deliver D-000000000001:opened:warn" in caplog.text
    with open_warehouse(warehouse, read_only=True) as con:
        assert already_sent(con) == {}

    controller = start_smtp(mailbox, auth_require_tls=False)
    mailbox.reject = 1  # up, but says "try again later" once
    try:
        second = notify_queue(warehouse, NIGHT1, env=env)
        assert (second.due, second.delivered, second.failed) == (2, 1, 1)
        assert "451 4.3.0 try again later" in second.errors[0]
        third = notify_queue(warehouse, NIGHT1, env=env)
        assert (third.due, third.delivered, third.failed) == (1, 1, 0)
        fourth = notify_queue(warehouse, NIGHT1, env=env)
        assert fourth.due == 0
    finally:
        controller.stop()
    assert len(webhook.received) == 1 and webhook.attempts == 2
    assert len(mailbox.messages) == 1 and mailbox.messages[0][1] == list(DG)
    with open_warehouse(warehouse, read_only=True) as con:
        assert already_sent(con) == {
            "webhook": {"D-000000000001:opened:warn"},
            "email": {"D-000000000001:opened:warn"},
        }
    assert [r[4] for r in log_rows(warehouse)].count(True) == 2


def test_an_owner_without_an_address_is_a_recorded_failure(tmp_path: Path, smtp: Mailbox) -> None:
    warehouse = tmp_path / "wh.duckdb"
    publish(warehouse, [item(owner="finance")])
    env = {**env_for(None, smtp), NOTIFY_TO: ""}
    report = notify_queue(warehouse, NIGHT1, env=env)
    assert (report.delivered, report.failed) == (0, 1)
    assert report.errors == (
        "email D-000000000001:opened:warn: no e-mail address for owner 'finance': "
        f"set {OWNER_EMAILS} or {NOTIFY_TO}",
    )
    assert smtp.messages == []
    # the default recipient is used once it is set
    assert notify_queue(warehouse, NIGHT1, env={**env, NOTIFY_TO: OPS}).delivered == 1
    assert smtp.messages[0][1] == [OPS]


def test_concurrent_calls_for_the_same_night_send_once(
    warehouse: Path, webhook: Webhook, smtp: Mailbox
) -> None:
    env = env_for(webhook, smtp)
    webhook.delay = 0.3  # a slow server widens the window between sending and recording
    reports: list[NotifyReport] = []
    threads = [
        threading.Thread(target=lambda: reports.append(notify_queue(warehouse, NIGHT1, env=env)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.delivered for r in reports) == 2 and not any(r.errors for r in reports)
    assert len(webhook.received) == 1 and len(smtp.messages) == 1


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_never_reach_the_log_table_errors_or_logs(
    warehouse: Path, smtp: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dagster_project")
    # a space makes http.client reject the URL with an error that quotes it
    bad_url = f"http://127.0.0.1:{free_port()}/services/T01/B02/{TOKEN} x"
    env = {**env_for(None, smtp), WEBHOOK_URL: bad_url, SMTP_PASSWORD: PASSWORD + "-wrong"}
    secrets = (TOKEN, PASSWORD, bad_url)

    report = notify_queue(warehouse, NIGHT1, env=env)
    assert (report.delivered, report.failed) == (0, 2)
    webhook_error, email_error = report.errors
    assert "InvalidURL" in webhook_error and "[redacted]" in webhook_error
    # the server echoed the wrong password in its 535 reply
    assert "SMTPAuthenticationError" in email_error and "[redacted]" in email_error
    failed = notify_run_failure(
        "nightly", "run-9", f"crashed posting to {bad_url}", env=env, warehouse=warehouse
    )
    assert failed.failed == 2

    with open_warehouse(warehouse, read_only=True) as con:
        cells = [
            str(v)
            for row in con.execute("select * from firewatch_state.notification_log").fetchall()
            for v in row
        ]
    shown = [
        *cells,
        *report.errors,
        *failed.errors,
        repr(report),
        repr(load_config(env)),
        repr(build_notifiers(load_config(env))),
        *(r.getMessage() for r in caplog.records),
    ]
    for secret in secrets:
        assert not [text for text in shown if secret in text], secret
    assert smtp.messages == []


def test_notifier_errors_are_redacted_and_unchained(smtp: Mailbox) -> None:
    notifier = WebhookNotifier(f"http://127.0.0.1:{free_port()}/hook/{TOKEN}", timeout=2)
    with pytest.raises(DeliveryError) as caught:
        notifier.send(run_failed_event("nightly", "r", "boom"))
    assert TOKEN not in str(caught.value) and "ConnectionRefusedError" in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert TOKEN not in repr(notifier)


# --- STARTTLS --------------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_config(port: int) -> SmtpConfig:
    config = load_config({**env_for(None, Mailbox(port=port)), SMTP_STARTTLS: "1"})
    assert config.smtp is not None
    return config.smtp


def test_starttls_upgrades_before_logging_in(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    mailbox = Mailbox(port=free_port())
    controller = start_smtp(mailbox, tls_context=server_context, require_starttls=True)
    try:
        notifier = SmtpNotifier(
            tls_config(mailbox.port), tls_context=ssl.create_default_context(cafile=str(cert))
        )
        notifier.send(run_failed_event("nightly", "r1", "boom"))
    finally:
        controller.stop()
    assert mailbox.logins == [(USER.encode(), PASSWORD.encode())]
    assert [m[1] for m in mailbox.messages] == [[OPS]]


def test_starttls_never_falls_back_to_plain_text(smtp: Mailbox) -> None:
    notifier = SmtpNotifier(tls_config(smtp.port))
    with pytest.raises(DeliveryError, match="STARTTLS extension not supported"):
        notifier.send(run_failed_event("nightly", "r1", "boom"))
    assert smtp.logins == [] and smtp.messages == []
