"""The notification targets' settings, read from the environment and checked at start-up.

Each target is switched on by one variable (``CHECK502_WEBHOOK_URL``,
``CHECK502_PAGERDUTY_ROUTING_KEY``, ``CHECK502_SMTP_HOST``); the others of its family are then
checked with it, and one set without its switch is an error too (a typo must not silently turn
a pager off). Every bad variable is named, one line each, before the database opens. Secrets
(the webhook secret, the routing key, the SMTP password) are never part of an error message or
a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.errors import SettingsError

__all__ = [
    "DEFAULT_PAGERDUTY_URL",
    "EU_PAGERDUTY_URL",
    "EmailConfig",
    "NotifyConfig",
    "PagerDutyConfig",
    "WebhookConfig",
]

DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com"
EU_PAGERDUTY_URL = "https://events.eu.pagerduty.com"
_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")
_Get = Callable[[str], "str | None"]
_ON = ("1", "on", "true", "yes")
_OFF = ("0", "off", "false", "no")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str = field(repr=False)
    """May carry a token in its path: never logged (only its host is)."""
    secret: bytes = field(repr=False)
    """The HMAC key: the base64-decoded bytes after ``whsec_``."""

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"


@dataclass(frozen=True, slots=True)
class PagerDutyConfig:
    routing_key: str = field(repr=False)
    url: str = DEFAULT_PAGERDUTY_URL
    """The Events API's base; events go to ``<url>/v2/enqueue``."""


@dataclass(frozen=True, slots=True)
class EmailConfig:
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    """STARTTLS required (``True``: no silent downgrade to plain text), or not used."""
    ca_bundle: str | None = None
    """Certificates to trust for the SMTP server (``CHECK502_CA_BUNDLE``); the system's if None."""


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    webhook: WebhookConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    email: EmailConfig | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never reach a log: the webhook's URL (its path may be a token) and
        secret, the routing key, the SMTP password."""
        found: list[str] = []
        if self.webhook is not None:
            parts = urlsplit(self.webhook.url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            found += [self.webhook.url, path, base64.b64encode(self.webhook.secret).decode()]
        if self.pagerduty is not None:
            found.append(self.pagerduty.routing_key)
        if self.email is not None and self.email.password is not None:
            found.append(self.email.password)
        return tuple(found)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, value in (
                ("webhook", self.webhook),
                ("pagerduty", self.pagerduty),
                ("email", self.email),
            )
            if value is not None
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, ca_bundle: str | None = None) -> NotifyConfig:
        """Parse and check every target's variables; :class:`SettingsError` lists every bad
        one, one line each."""
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        webhook = _webhook(get, problems)
        pagerduty = _pagerduty(get, problems)
        email = _email(get, problems, ca_bundle)
        if problems:
            raise SettingsError("\n".join(problems))
        return cls(webhook, pagerduty, email)


def _http_url(name: str, text: str, problems: list[str]) -> str | None:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{name} is not an http(s) URL like https://hooks.example.com/check502")
        return None
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        problems.append(f"{name} has a bad port")
        return None
    return text


def _webhook(get: _Get, problems: list[str]) -> WebhookConfig | None:
    url, secret = get("CHECK502_WEBHOOK_URL"), get("CHECK502_WEBHOOK_SECRET")
    if url is None:
        if secret is not None:
            problems.append("CHECK502_WEBHOOK_SECRET is set but CHECK502_WEBHOOK_URL is not")
        return None
    url = _http_url("CHECK502_WEBHOOK_URL", url, problems)
    key = None
    if secret is None:
        problems.append(
            "CHECK502_WEBHOOK_SECRET is needed with CHECK502_WEBHOOK_URL"
            " (whsec_ and 24 to 64 random bytes in base64)"
        )
    elif not secret.startswith("whsec_"):
        problems.append("CHECK502_WEBHOOK_SECRET must start with whsec_")
    else:
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            problems.append("CHECK502_WEBHOOK_SECRET is not base64 after whsec_")
        else:
            if not 24 <= len(key) <= 64:
                problems.append(
                    f"CHECK502_WEBHOOK_SECRET is {len(key)} bytes after whsec_;"
                    " use 24 to 64 random bytes"
                )
                key = None
    if url is None or key is None:
        return None
    return WebhookConfig(url, key)


def _pagerduty(get: _Get, problems: list[str]) -> PagerDutyConfig | None:
    key, url = get("CHECK502_PAGERDUTY_ROUTING_KEY"), get("CHECK502_PAGERDUTY_URL")
    if key is None:
        if url is not None:
            problems.append(
                "CHECK502_PAGERDUTY_URL is set but CHECK502_PAGERDUTY_ROUTING_KEY is not"
            )
        return None
    ok = True
    if not _ROUTING_KEY.fullmatch(key):
        problems.append(
            "CHECK502_PAGERDUTY_ROUTING_KEY is not an Events API v2 integration key"
            " (32 letters and digits)"
        )
        ok = False
    base = DEFAULT_PAGERDUTY_URL
    if url is not None:
        checked = _http_url("CHECK502_PAGERDUTY_URL", url, problems)
        if checked is None:
            ok = False
        else:
            base = checked.rstrip("/")
    return PagerDutyConfig(key, base) if ok else None


def _email(get: _Get, problems: list[str], ca_bundle: str | None) -> EmailConfig | None:
    host = get("CHECK502_SMTP_HOST")
    names = ("PORT", "USER", "PASSWORD", "FROM", "TO", "STARTTLS")
    if host is None:
        for name in names:
            if get(f"CHECK502_SMTP_{name}") is not None:
                problems.append(f"CHECK502_SMTP_{name} is set but CHECK502_SMTP_HOST is not")
        return None
    before = len(problems)
    port = 587
    if (text := get("CHECK502_SMTP_PORT")) is not None:
        if not text.isdigit() or not 0 < int(text) < 65536:
            problems.append("CHECK502_SMTP_PORT must be a port number (587 for STARTTLS)")
        else:
            port = int(text)
    user, password = get("CHECK502_SMTP_USER"), get("CHECK502_SMTP_PASSWORD")
    if (user is None) != (password is None):
        missing = "CHECK502_SMTP_PASSWORD" if password is None else "CHECK502_SMTP_USER"
        problems.append(f"{missing} is needed too: the SMTP user and password go together")
    sender = get("CHECK502_SMTP_FROM")
    if sender is None:
        problems.append("CHECK502_SMTP_FROM is needed with CHECK502_SMTP_HOST (alerts@example.com)")
    elif not _ADDRESS.fullmatch(sender):
        problems.append("CHECK502_SMTP_FROM is not an email address like alerts@example.com")
    to_text = get("CHECK502_SMTP_TO")
    to: tuple[str, ...] = ()
    if to_text is None:
        problems.append("CHECK502_SMTP_TO is needed with CHECK502_SMTP_HOST (a comma list)")
    else:
        to = tuple(a.strip() for a in to_text.split(",") if a.strip())
        bad = [a for a in to if not _ADDRESS.fullmatch(a)]
        if bad or not to:
            problems.append("CHECK502_SMTP_TO is not a comma list of email addresses")
    starttls = True
    if (text := get("CHECK502_SMTP_STARTTLS")) is not None:
        if text.lower() in _ON:
            starttls = True
        elif text.lower() in _OFF:
            starttls = False
        else:
            problems.append("CHECK502_SMTP_STARTTLS must be on or off")
    if len(problems) > before or sender is None:
        return None
    return EmailConfig(host, sender, to, port, user, password, starttls, ca_bundle)
