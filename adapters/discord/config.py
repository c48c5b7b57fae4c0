"""The Discord surface's settings, read from the environment and validated at start-up.

``DISCORD_TOKEN`` turns it on. Commands are synced deliberately: to one guild when
``DISCORD_GUILD_ID`` is set (they appear at once: development), globally otherwise, and only
when they changed since the last sync (``CHECK502_DISCORD_SYNC=auto``; ``always``, ``off``).
The token is never part of an error message or a ``repr``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.errors import SettingsError

DEFAULT_API_URL = "https://discord.com/api/v10"

PERMISSIONS = {
    "View Channel": 1 << 10,
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
    "Attach Files": 1 << 15,
    "Read Message History": 1 << 16,
    "Create Public Threads": 1 << 35,
    "Send Messages in Threads": 1 << 38,
}
"""What the bot needs in an alert channel: post, embed, attach (``history``'s chart), reply,
and follow up in a thread."""


class Sync(enum.StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str = field(repr=False)
    guild_id: int | None = None
    api_url: str = DEFAULT_API_URL
    """discord.py's REST base (``Route.BASE``): a proxy, or a fake in tests."""
    sync: Sync = Sync.AUTO
    gateway_url: str | None = None
    """The gateway's WebSocket URL, when not Discord's own (a proxy, a compatible server)."""

    @property
    def permissions(self) -> int:
        return sum(PERMISSIONS.values())

    def invite_url(self, application_id: int) -> str:
        return (
            "https://discord.com/oauth2/authorize"
            f"?client_id={application_id}&scope=bot+applications.commands"
            f"&permissions={self.permissions}"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DiscordConfig:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        token = get("DISCORD_TOKEN")
        if token is None:
            raise SettingsError("set DISCORD_TOKEN (the bot token) for the Discord surface")
        if token.lower().startswith("bot ") or any(c.isspace() for c in token):
            raise SettingsError("DISCORD_TOKEN is not a bot token (give it without 'Bot ')")
        guild: int | None = None
        if (text := get("DISCORD_GUILD_ID")) is not None:
            if not text.isdigit():
                raise SettingsError(f"DISCORD_GUILD_ID={text!r} is not a server id (digits)")
            guild = int(text)
        api_url = get("DISCORD_API_URL") or DEFAULT_API_URL
        parts = urlsplit(api_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise SettingsError(f"DISCORD_API_URL={api_url!r} is not an http(s) URL")
        sync_text = (get("CHECK502_DISCORD_SYNC") or "auto").lower()
        try:
            sync = Sync(sync_text)
        except ValueError:
            raise SettingsError(
                f"CHECK502_DISCORD_SYNC={sync_text!r} is not auto, always or off"
            ) from None
        gateway = get("DISCORD_GATEWAY_URL")
        if gateway is not None:
            parts = urlsplit(gateway)
            if parts.scheme not in {"ws", "wss"} or not parts.netloc:
                raise SettingsError(f"DISCORD_GATEWAY_URL={gateway!r} is not a ws(s):// URL")
        return cls(
            token=token, guild_id=guild, api_url=api_url.rstrip("/"), sync=sync, gateway_url=gateway
        )
