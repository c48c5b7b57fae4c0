"""The Slack surface's settings, read from the environment and validated at start-up.

Three ways to run, chosen by which variables are set:

* **Socket Mode** (``SLACK_APP_TOKEN`` + ``SLACK_BOT_TOKEN``): a WebSocket to Slack, no public URL.
* **HTTP, one workspace** (``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``): ``/slack/events``
  on the bot's one web server (:mod:`adapters.web`, ``$PORT``).
* **HTTP, any workspace via OAuth** (``SLACK_CLIENT_ID`` + ``SLACK_CLIENT_SECRET`` +
  ``SLACK_SIGNING_SECRET``): ``/slack/install`` and ``/slack/oauth_redirect`` as well; bot
  tokens are kept in slack-sdk's SQLite installation store.

Secrets are never part of an error message or a ``repr``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import SettingsError

SCOPES = ("commands", "chat:write", "chat:write.public", "files:write")
"""The bot scopes: ``files:write`` posts ``history`` charts (``files_upload_v2``)."""
DEFAULT_API_URL = "https://slack.com/api/"


class Mode(enum.StrEnum):
    SOCKET = "socket"
    HTTP = "http"
    OAUTH = "oauth"


@dataclass(frozen=True, slots=True)
class SlackConfig:
    mode: Mode
    api_url: str = DEFAULT_API_URL
    """slack-sdk's ``base_url``: ``https://slack-gov.com/api/`` on GovSlack, a fake in tests."""
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    install_db: str = "slack-installations.db"
    command: str = "/check502"

    @property
    def needs_http(self) -> bool:
        """Slack posts to us (HTTP and OAuth modes); Socket Mode needs no public URL."""
        return self.mode is not Mode.SOCKET

    @property
    def authorization_url(self) -> str:
        """Slack's OAuth page on the API's own host (``slack-gov.com`` for GovSlack)."""
        parts = urlsplit(self.api_url)
        return f"{parts.scheme}://{parts.netloc}/oauth/v2/authorize"

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, db_path: str = "check502.db") -> SlackConfig:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        bot_token, app_token = get("SLACK_BOT_TOKEN"), get("SLACK_APP_TOKEN")
        secret, client_id = get("SLACK_SIGNING_SECRET"), get("SLACK_CLIENT_ID")
        client_secret = get("SLACK_CLIENT_SECRET")
        if bot_token is not None and not bot_token.startswith("xoxb-"):
            raise SettingsError("SLACK_BOT_TOKEN is not a bot token (it starts with xoxb-)")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN is not an app-level token (it starts with xapp-)")
        if client_id is not None:
            if app_token is not None:
                raise SettingsError(
                    "SLACK_CLIENT_ID (OAuth) needs HTTP mode: unset SLACK_APP_TOKEN"
                )
            if client_secret is None:
                raise SettingsError("SLACK_CLIENT_SECRET is needed with SLACK_CLIENT_ID")
            mode = Mode.OAUTH
        elif app_token is not None:
            if bot_token is None:
                raise SettingsError("SLACK_BOT_TOKEN is needed with SLACK_APP_TOKEN")
            mode = Mode.SOCKET
        elif bot_token is not None:
            mode = Mode.HTTP
        else:
            raise SettingsError("set SLACK_BOT_TOKEN (or SLACK_CLIENT_ID) for the Slack surface")
        if mode is not Mode.SOCKET and secret is None:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is needed to verify Slack's requests in HTTP mode"
                " (or set SLACK_APP_TOKEN for Socket Mode)"
            )
        api_url = get("SLACK_API_URL") or DEFAULT_API_URL
        parts = urlsplit(api_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise SettingsError(f"SLACK_API_URL={api_url!r} is not an http(s) URL")
        install_db = get("CHECK502_SLACK_INSTALL_DB") or str(
            Path(db_path).with_name("slack-installations.db")
        )
        command = get("CHECK502_SLACK_COMMAND") or "/check502"
        if not command.startswith("/") or " " in command:
            raise SettingsError(f"CHECK502_SLACK_COMMAND={command!r} is not a /command")
        return cls(
            mode=mode,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            bot_token=bot_token,
            signing_secret=secret or "",
            app_token=app_token,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=get("SLACK_REDIRECT_URI"),
            install_db=install_db,
            command=command,
        )
