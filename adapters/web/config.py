"""The web server's settings: whether it runs, and where it listens.

It runs when a configured surface receives over HTTP (Slack in HTTP or OAuth mode, Telegram
with a webhook), when ``CHECK502_WEB=on``, or when ``PORT`` is set (a platform that routes HTTP
to the process); ``CHECK502_WEB=off`` keeps it off, and is an error when a surface needs it.
The console-only default (no tokens, no ``PORT``) listens on nothing.

One server, one port: ``PORT``, else ``CHECK502_TELEGRAM_PORT`` (its older name for the
Telegram webhook), else 8443 for a Telegram webhook (one of the four ports Telegram posts to),
else 3000. When both ``PORT`` and ``CHECK502_TELEGRAM_PORT`` are set and differ, the same server
listens on both (every path on each), so a webhook set up for a port of its own keeps working.
This module imports nothing heavy: it is read before the database opens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.errors import SettingsError

DEFAULT_PORT = 3000
TELEGRAM_PORT = 8443
"""The default port when a Telegram webhook is configured: Telegram posts to 443, 80, 88 or 8443."""
_ON = frozenset({"on", "true", "yes", "1"})
_OFF = frozenset({"off", "false", "no", "0"})


@dataclass(frozen=True, slots=True)
class WebConfig:
    enabled: bool = False
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    extra_ports: tuple[int, ...] = ()
    """Ports listened on beside ``port`` (``CHECK502_TELEGRAM_PORT`` when it differs)."""

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, *self.extra_ports)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, needed_by: Sequence[str] = ()) -> WebConfig:
        """Read ``CHECK502_WEB``, ``CHECK502_LISTEN``, ``PORT``, ``CHECK502_TELEGRAM_PORT``.

        ``needed_by`` names the configured surfaces that receive over HTTP. Raises
        :class:`SettingsError` naming the first bad variable.
        """

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        switch = get("CHECK502_WEB")
        if switch is not None and switch.lower() not in _ON | _OFF:
            raise SettingsError(f"CHECK502_WEB={switch!r} is not on or off")
        port = _port("PORT", get("PORT"))
        if switch is not None and switch.lower() in _OFF:
            if needed_by:
                names = " and ".join(needed_by)
                raise SettingsError(
                    f"CHECK502_WEB=off, but {names} receive{'s' if len(needed_by) == 1 else ''}"
                    " over HTTP: unset CHECK502_WEB (or switch to Socket Mode / polling)"
                )
            return cls(enabled=False)
        telegram = "telegram" in needed_by
        telegram_port = _port("CHECK502_TELEGRAM_PORT", get("CHECK502_TELEGRAM_PORT"))
        extra: tuple[int, ...] = ()
        if port is None:
            port = telegram_port if telegram and telegram_port is not None else None
        elif telegram and telegram_port is not None and telegram_port != port:
            extra = (telegram_port,)
        enabled = bool(needed_by) or port is not None or (switch or "").lower() in _ON
        if port is None:
            port = TELEGRAM_PORT if telegram else DEFAULT_PORT
        return cls(
            enabled=enabled,
            host=get("CHECK502_LISTEN") or "0.0.0.0",
            port=port,
            extra_ports=extra,
        )


def _port(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        port = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name}={port} is not a port number")
    return port
