"""Where notifications go: a JSON webhook (Slack-compatible) and SMTP e-mail, behind one protocol.

A notifier's `send` returns only once the server has accepted the event and raises DeliveryError
otherwise; the error's message has the notifier's secrets redacted and carries no chained
exception (the original ones can hold the webhook URL), so it is safe to log and to store.
"""

from __future__ import annotations

import contextlib
import email.policy
import http.client
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import urlsplit

from dagster_project.notify.config import (
    NOTIFY_TO,
    OWNER_EMAILS,
    NotifyConfig,
    SmtpConfig,
    redact,
)
from dagster_project.notify.events import NotificationEvent

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
# Slack's limits for a header block and a section's text
_HEADER_CHARS, _SECTION_CHARS = 150, 3000
_SUBJECT_CHARS = 200
# Python folds some long subjects by moving the whole value to a continuation line, which
# readers show with a leading space; RFC 5322 allows 998 characters, so do not fold at all
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


class DeliveryError(Exception):
    """The server did not accept an event; the message is redacted and safe to log."""


class Notifier(Protocol):
    name: str

    def send(self, event: NotificationEvent) -> None:
        """Delivers `event`, or raises DeliveryError; returns only once the server accepted it."""
        ...


def _one_line(text: str) -> str:
    # titles become e-mail subjects and Slack headers, neither of which may hold a line break
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    # Slack reads <...> as links and mentions; escaping keeps rule text literal
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _describe(error: BaseException) -> str:
    """`Type: message`, with an SMTP reply as `code text` rather than a tuple of bytes."""
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return f"{type(error).__name__}: {error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}"


def slack_payload(event: NotificationEvent) -> dict[str, Any]:
    """The Slack incoming-webhook body: `text` is the fallback, `blocks` the formatted message."""
    title = _one_line(event.title)
    owner = event.owner or "default recipients"
    return {
        "text": _mrkdwn(f"{title}\n" + "\n".join(event.lines)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(title, _HEADER_CHARS)}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(_mrkdwn("\n".join(event.lines)), _SECTION_CHARS),
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _mrkdwn(f"{event.kind} · {event.severity} · for {owner}"),
                    },
                    {"type": "mrkdwn", "text": _mrkdwn(f"event {event.key}")},
                ],
            },
        ],
    }


class WebhookNotifier:
    """POSTs slack_payload(event) as JSON; any 2xx answer counts as accepted."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        timeout: float = DEFAULT_TIMEOUT,
        secrets: Iterable[str] = (),
    ) -> None:
        self.name = name
        self._url = url
        self._host = urlsplit(url).hostname or "?"
        self._timeout = timeout
        self._secrets = (url, *secrets)

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r}, host={self._host!r})"

    def _post(self, body: bytes) -> str | None:
        """None when accepted, else what went wrong (possibly holding the URL: redact it)."""
        request = urllib.request.Request(
            self._url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "firewatch"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                response.read(4096)
                status = response.status
        except urllib.error.HTTPError as error:
            error.close()
            return f"HTTP {error.code} {error.reason}"
        except urllib.error.URLError as error:
            return _describe(error.reason) if isinstance(error.reason, Exception) else str(error)
        except (OSError, ValueError, http.client.HTTPException) as error:
            return _describe(error)
        return None if 200 <= status < 300 else f"HTTP {status}"

    def send(self, event: NotificationEvent) -> None:
        failure = self._post(json.dumps(slack_payload(event)).encode("utf-8"))
        if failure is not None:
            # raised here, outside any handler, so no exception holding the URL is chained
            raise DeliveryError(redact(f"webhook to {self._host}: {failure}", self._secrets))


class SmtpNotifier:
    """Sends one e-mail per event to its owner's addresses, else to the default recipients."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        name: str = "email",
        timeout: float = DEFAULT_TIMEOUT,
        secrets: Iterable[str] = (),
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self._config = config
        self._timeout = timeout
        self._secrets = (*([config.password] if config.password else []), *secrets)
        self._tls_context = tls_context

    def __repr__(self) -> str:
        return f"SmtpNotifier(name={self.name!r}, host={self._config.host!r})"

    def recipients(self, event: NotificationEvent) -> tuple[str, ...]:
        return self._config.owner_emails.get(event.owner) or self._config.default_to

    def message(self, event: NotificationEvent, to: Iterable[str]) -> EmailMessage:
        message = EmailMessage(policy=_MAIL_POLICY)
        message["Subject"] = _cut(f"[firewatch] {_one_line(event.title)}", _SUBJECT_CHARS)
        message["From"] = self._config.sender
        message["To"] = ", ".join(to)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self._config.sender.rpartition("@")[2])
        # lets mail filters (and people) spot the same event, should a crash ever resend it
        message["X-Firewatch-Event"] = event.key
        message.set_content(event.text + "\n")
        return message

    def _deliver(self, message: EmailMessage, to: list[str]) -> dict[str, Any]:
        config = self._config
        smtp = smtplib.SMTP(config.host, config.port, timeout=self._timeout)
        try:
            if config.starttls:
                # never falls back to plain text: a server without STARTTLS fails the delivery
                smtp.starttls(context=self._tls_context or ssl.create_default_context())
            if config.user:
                smtp.login(config.user, config.password or "")
            return smtp.send_message(message, from_addr=config.sender, to_addrs=to)
        finally:
            # the server has the message once send_message returned; a failed QUIT changes nothing
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()

    def send(self, event: NotificationEvent) -> None:
        to = list(self.recipients(event))
        if not to:
            raise DeliveryError(
                f"no e-mail address for owner {event.owner!r}: set {OWNER_EMAILS} or {NOTIFY_TO}"
            )
        try:
            refused = self._deliver(self.message(event, to), to)
            failure = None
        except (smtplib.SMTPException, OSError, ValueError) as error:
            failure = _describe(error)
        if failure is not None:
            host = f"{self._config.host}:{self._config.port}"
            raise DeliveryError(redact(f"e-mail via {host}: {failure}", self._secrets))
        if refused:
            # the server accepted the other addresses, so a retry would send them a second copy
            logger.warning("%s: the server refused %s", event.key, ", ".join(sorted(refused)))


def build_notifiers(config: NotifyConfig, *, timeout: float = DEFAULT_TIMEOUT) -> list[Notifier]:
    """The notifiers the configuration turns on, webhook first."""
    notifiers: list[Notifier] = []
    if config.webhook is not None:
        notifiers.append(
            WebhookNotifier(config.webhook.url, timeout=timeout, secrets=config.secrets)
        )
    if config.smtp is not None:
        notifiers.append(SmtpNotifier(config.smtp, timeout=timeout, secrets=config.secrets))
    return notifiers
