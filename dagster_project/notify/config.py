"""Which notifiers to use, read from environment variables only, and how to hide their secrets.

Credentials (the webhook URL, which carries its token, and the SMTP password) are read here and
nowhere else; `NotifyConfig.secrets` lists every form of them that could surface in an error, so
whatever is logged or stored can be passed through `redact` first. Nothing set means no
notifiers: notifications are opt-in and their absence never fails a run.

    FIREWATCH_WEBHOOK_URL     JSON webhook (Slack incoming-webhook compatible), http(s) only
    FIREWATCH_SMTP_HOST       SMTP server; e-mail is on when this is set
    FIREWATCH_SMTP_PORT       default 25
    FIREWATCH_SMTP_USER       log in only when set
    FIREWATCH_SMTP_PASSWORD
    FIREWATCH_SMTP_FROM       sender address (required with a host)
    FIREWATCH_SMTP_STARTTLS   1 to upgrade the connection with STARTTLS, 0 (default) not to
    FIREWATCH_NOTIFY_TO       default recipients, comma-separated (owners without an address,
                              and failed runs)
    FIREWATCH_OWNER_EMAILS    owner=address pairs, comma-separated; repeat an owner for more
                              than one address, e.g. "demand_generation=dg@x.com,finance=f@x.com"
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

WEBHOOK_URL = "FIREWATCH_WEBHOOK_URL"
SMTP_HOST = "FIREWATCH_SMTP_HOST"
SMTP_PORT = "FIREWATCH_SMTP_PORT"
SMTP_USER = "FIREWATCH_SMTP_USER"
SMTP_PASSWORD = "FIREWATCH_SMTP_PASSWORD"
SMTP_FROM = "FIREWATCH_SMTP_FROM"
SMTP_STARTTLS = "FIREWATCH_SMTP_STARTTLS"
NOTIFY_TO = "FIREWATCH_NOTIFY_TO"
OWNER_EMAILS = "FIREWATCH_OWNER_EMAILS"

REDACTED = "[redacted]"
# path segments and query values shorter than this are words like "services", not tokens
_MIN_SECRET_PART = 8


class NotifyConfigError(ValueError):
    """An environment variable that is set but unusable; the message never holds a secret."""


@dataclass(frozen=True)
class WebhookConfig:
    url: str = field(repr=False)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str | None
    password: str | None = field(repr=False)
    starttls: bool
    default_to: tuple[str, ...]
    owner_emails: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class NotifyConfig:
    webhook: WebhookConfig | None = None
    smtp: SmtpConfig | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def enabled(self) -> bool:
        return self.webhook is not None or self.smtp is not None


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, longest first so a URL goes before its parts."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _url_secrets(url: str) -> list[str]:
    # Slack-style webhooks carry their token in the path; others put it in the query or userinfo
    parts = urlsplit(url)
    found = [url, parts.path, parts.query, parts.password or ""]
    if parts.query:
        found.append(f"{parts.path}?{parts.query}")
    for piece in parts.path.split("/") + parts.query.replace("&", "=").split("="):
        if len(piece) >= _MIN_SECRET_PART:
            found.append(piece)
    return [s for s in found if s and s != "/"]


def _password_secrets(user: str | None, password: str) -> list[str]:
    # smtplib sends AUTH PLAIN / LOGIN as base64; a server echoing it back must not leak it either
    found = [password, base64.b64encode(password.encode()).decode()]
    if user:
        found.append(base64.b64encode(f"\0{user}\0{password}".encode()).decode())
    return found


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.split(",") if a.strip())


def _owner_emails(text: str) -> dict[str, tuple[str, ...]]:
    owners: dict[str, tuple[str, ...]] = {}
    for pair in _addresses(text):
        owner, sep, address = pair.partition("=")
        if not sep or not owner.strip() or "@" not in address:
            raise NotifyConfigError(
                f"{OWNER_EMAILS}: expected owner=address pairs separated by commas, got {pair!r}"
            )
        owners[owner.strip()] = owners.get(owner.strip(), ()) + (address.strip(),)
    return owners


def _flag(name: str, text: str) -> bool:
    if text.strip() in ("", "0"):
        return False
    if text.strip() == "1":
        return True
    raise NotifyConfigError(f"{name} must be 0 or 1, got {text!r}")


def _webhook(url: str) -> WebhookConfig:
    # urllib would also open file:// and ftp:// URLs; only a web server may receive the payload
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyConfigError(f"{WEBHOOK_URL} must be an http(s) URL with a host")
    return WebhookConfig(url=url)


def _smtp(env: Mapping[str, str], host: str) -> SmtpConfig:
    port_text = env.get(SMTP_PORT, "").strip() or "25"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise NotifyConfigError(f"{SMTP_PORT} must be a port number, got {port_text!r}")
    sender = env.get(SMTP_FROM, "").strip()
    if "@" not in sender:
        raise NotifyConfigError(f"{SMTP_FROM} must be the sender's address when {SMTP_HOST} is set")
    return SmtpConfig(
        host=host,
        port=int(port_text),
        sender=sender,
        user=env.get(SMTP_USER, "").strip() or None,
        password=env.get(SMTP_PASSWORD) or None,
        starttls=_flag(SMTP_STARTTLS, env.get(SMTP_STARTTLS, "")),
        default_to=_addresses(env.get(NOTIFY_TO, "")),
        owner_emails=_owner_emails(env.get(OWNER_EMAILS, "")),
    )


def load_config(env: Mapping[str, str] | None = None) -> NotifyConfig:
    """The notifiers `env` (default: the process environment) asks for; none when nothing is set.

    Raises NotifyConfigError, with the secrets already redacted, for a value that is set wrong.
    """
    env = os.environ if env is None else env
    secrets: list[str] = []
    url = env.get(WEBHOOK_URL, "").strip()
    if url:
        secrets += _url_secrets(url)
    password = env.get(SMTP_PASSWORD) or ""
    if password:
        secrets += _password_secrets(env.get(SMTP_USER, "").strip() or None, password)
    try:
        webhook = _webhook(url) if url else None
        host = env.get(SMTP_HOST, "").strip()
        smtp = _smtp(env, host) if host else None
    except NotifyConfigError as error:
        message = redact(str(error), secrets)
    else:
        return NotifyConfig(webhook=webhook, smtp=smtp, secrets=tuple(secrets))
    # raised outside the handler so the original exception is not attached as its context
    raise NotifyConfigError(message)
