"""The Telegram surface's settings, read from the environment and validated at start-up.

Two ways to receive updates, chosen by whether ``TELEGRAM_WEBHOOK_URL`` is set:

* **Polling** (the default): long-polls ``getUpdates``; no public URL, nothing listens.
* **Webhook** (``TELEGRAM_WEBHOOK_URL``): the bot's one web server (:mod:`adapters.web`, which
  reads ``CHECK502_LISTEN``, ``PORT`` and ``CHECK502_TELEGRAM_PORT``) serves the webhook's path,
  and Telegram posts each update there with ``X-Telegram-Bot-Api-Secret-Token``; a request
  without the right secret gets 403.

Secrets (the bot token, the webhook secret) are never part of an error message or a ``repr``.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.errors import SettingsError

DEFAULT_API_URL = "https://api.telegram.org/bot"
"""PTB's ``base_url``: the token and ``/method`` are appended to it."""
MAX_RETRIES = 2
"""How often PTB's rate limiter retries a 429 itself before the caller sees it."""

_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
"""Telegram takes 1 to 256 of these characters; a guessable short one is refused here."""
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")


class Mode(enum.StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    """The Bot API base in PTB's form (``https://host/bot``): a self-hosted server, a fake."""
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    secret_generated: bool = False
    """No ``TELEGRAM_WEBHOOK_SECRET`` was set: this one was made for this run."""
    webhook_path: str = "/"
    max_retries: int = MAX_RETRIES

    @property
    def mode(self) -> Mode:
        return Mode.WEBHOOK if self.webhook_url else Mode.POLLING

    @property
    def needs_http(self) -> bool:
        """Telegram posts to us (the webhook); polling needs no public URL."""
        return self.mode is Mode.WEBHOOK

    @property
    def file_url(self) -> str:
        """PTB's ``base_file_url`` on the same server: ``https://host/file/bot``."""
        return self.api_url.removesuffix("/bot") + "/file/bot"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramConfig:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        token = get("TELEGRAM_BOT_TOKEN")
        if token is None:
            raise SettingsError("set TELEGRAM_BOT_TOKEN (from @BotFather) for the Telegram surface")
        if not _TOKEN.fullmatch(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not a bot token (@BotFather gives one like 123456789:AAE…)"
            )
        api_url = _api_url(get("TELEGRAM_API_URL"), token)
        webhook_url = get("TELEGRAM_WEBHOOK_URL")
        secret = get("TELEGRAM_WEBHOOK_SECRET")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise SettingsError(
                "TELEGRAM_WEBHOOK_SECRET must be 16 to 256 characters of A-Z, a-z, 0-9, _ and -"
            )
        generated = False
        path = "/"
        if webhook_url is not None:
            parts = urlsplit(webhook_url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise SettingsError(f"TELEGRAM_WEBHOOK_URL={webhook_url!r} is not an http(s) URL")
            if parts.scheme == "http" and api_url == DEFAULT_API_URL:
                raise SettingsError(
                    "TELEGRAM_WEBHOOK_URL must be https: Telegram posts only to HTTPS webhooks"
                    " (http works with a self-hosted Bot API server, TELEGRAM_API_URL)"
                )
            path = get("CHECK502_TELEGRAM_WEBHOOK_PATH") or parts.path or "/"
            if not _PATH.fullmatch(path):
                raise SettingsError(
                    f"CHECK502_TELEGRAM_WEBHOOK_PATH={path!r} is not a URL path such as /telegram"
                )
            if secret is None:
                secret, generated = secrets.token_urlsafe(32), True
        return cls(
            token=token,
            api_url=api_url,
            webhook_url=webhook_url,
            webhook_secret=secret,
            secret_generated=generated,
            webhook_path=path,
        )


def _api_url(given: str | None, token: str) -> str:
    """PTB's ``base_url`` form of ``TELEGRAM_API_URL``: ``https://host`` and ``https://host/``
    become ``https://host/bot``, the path a Bot API server (Telegram's or telegram-bot-api)
    serves ``/bot<token>/<method>`` under."""
    if given is None:
        return DEFAULT_API_URL
    if token in given or token.partition(":")[2] in given:
        raise SettingsError("TELEGRAM_API_URL must not contain the bot token: it is added per call")
    parts = urlsplit(given)
    if parts.scheme not in {"http", "https"} or not parts.netloc or "{" in given:
        raise SettingsError(
            f"TELEGRAM_API_URL={given!r} is not an http(s) URL such as https://api.telegram.org"
        )
    base = given.rstrip("/")
    return base if base.endswith("/bot") else base + "/bot"
