"""Local stand-ins for the notification channels: a Slack-like webhook server and an SMTP server on
127.0.0.1, a free port, the credentials they accept, and a decision-queue item to announce."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from dagster_project.divergence.queue import QueueItem
from dagster_project.notify.events import NotificationEvent

PASSWORD = "s3cret-XYZ"
TOKEN = "XoXbTOKEN4f9a2c7e"  # the part of a Slack webhook URL that is the credential
USER = "firewatch"
SENDER = "firewatch@example.com"
DG = ("dg@example.com", "lead@example.com")
OPS = "ops@example.com"
NIGHT1 = date(2025, 9, 21)


def item(did: str = "D-000000000001", **kw: Any) -> QueueItem:
    base: dict[str, Any] = dict(
        decision_id=did,
        alert_id="A-" + did.removeprefix("D-"),
        rule_id="engagement_up_quality_down",
        dimension_value="paid_social",
        owner="demand_generation",
        question="Keep funding paid_social?",
        status="open",
        opened_at=NIGHT1,
        due_at=NIGHT1 + timedelta(days=7),
        severity="warn",
    )
    base.update(kw)
    return QueueItem(**base)


def keys(events: list[NotificationEvent]) -> list[str]:
    return [e.key for e in events]


# --- local servers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Webhook:
    """A Slack-like endpoint: records every POST; answers 500 while `fail` is positive."""

    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)  # accepted payloads
    attempts: int = 0
    fail: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T01/B02/{TOKEN}"


@contextmanager
def serve_webhook() -> Iterator[Webhook]:
    """A local Slack-like webhook server for as long as the block runs."""
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(hook.delay)
            with hook.lock:
                hook.attempts += 1
                failing = hook.fail > 0
                hook.fail -= failing
                if not failing:
                    hook.received.append(
                        {
                            "path": self.path,
                            "content_type": self.headers["Content-Type"],
                            "payload": json.loads(body),
                        }
                    )
            self.send_response(500 if failing else 200)
            self.end_headers()
            self.wfile.write(b"boom" if failing else b"ok")

        def log_message(self, *args: Any) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """What the local SMTP server accepted; answers 451 to DATA while `reject` is positive."""

    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    reject: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reject > 0:
            self.reject -= 1
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins.append((data.login, data.password))
        if data.login == USER.encode() and data.password == PASSWORD.encode():
            return AuthResult(success=True)
        # a careless server that echoes what it got: the notifier must still not show it
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 bad password {data.password!r}"
        )


def start_smtp(mailbox: Mailbox, **kwargs: Any) -> Controller:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=mailbox.port,
        authenticator=mailbox.authenticate,
        **kwargs,
    )
    controller.start()
    return controller
