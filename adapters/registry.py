"""Every chat surface check502-bot can run, in one mapping.

Each entry names the environment variables that switch it on and validates them at start-up.
When none is configured the console (a chat in the terminal) runs, so a new user can try the bot
with one command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core import Bot

if TYPE_CHECKING:
    from adapters.web.server import WebServer


@dataclass(frozen=True, slots=True)
class SurfaceEntry:
    name: str
    switch: tuple[str, ...]
    """The variables whose presence turns the surface on; empty: the fallback."""
    run: Callable[[Bot, Mapping[str, str], WebServer | None], Awaitable[None]]
    needs_http: Callable[[Mapping[str, str], str], bool] = lambda env, db_path: False
    """Whether the surface, as ``env`` configures it, receives over HTTP (the web server)."""


async def _console(bot: Bot, env: Mapping[str, str], server: WebServer | None) -> None:
    from adapters.console.app import run_console  # noqa: PLC0415 - a surface loads its library only when it runs

    if server is not None:
        from adapters.web.server import always_ready  # noqa: PLC0415 - aiohttp only with the server

        server.readiness("console", always_ready)
    await run_console(bot)


async def _slack(bot: Bot, env: Mapping[str, str], server: WebServer | None) -> None:
    from adapters.slack.app import run_slack  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_slack(bot, env, server)


async def _discord(bot: Bot, env: Mapping[str, str], server: WebServer | None) -> None:
    from adapters.discord.app import run_discord  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_discord(bot, env, server)


async def _telegram(bot: Bot, env: Mapping[str, str], server: WebServer | None) -> None:
    from adapters.telegram.app import run_telegram  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_telegram(bot, env, server)


SLACK_SWITCH = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID")


def _slack_http(env: Mapping[str, str], db_path: str) -> bool:
    from adapters.slack.config import SlackConfig  # noqa: PLC0415 - the settings only, no library

    return SlackConfig.from_env(env, db_path=db_path).needs_http


def _telegram_http(env: Mapping[str, str], db_path: str) -> bool:
    from adapters.telegram.config import TelegramConfig  # noqa: PLC0415 - the settings only

    return TelegramConfig.from_env(env).needs_http


SURFACES: dict[str, SurfaceEntry] = {
    "console": SurfaceEntry("console", (), _console),
    "slack": SurfaceEntry("slack", SLACK_SWITCH, _slack, _slack_http),
    "discord": SurfaceEntry("discord", ("DISCORD_TOKEN",), _discord),
    "telegram": SurfaceEntry("telegram", ("TELEGRAM_BOT_TOKEN",), _telegram, _telegram_http),
}


def configured(env: Mapping[str, str]) -> list[SurfaceEntry]:
    """The surfaces the environment turns on, or the console when it turns on none."""
    chosen = [e for e in SURFACES.values() if e.switch and any(env.get(v) for v in e.switch)]
    return chosen or [SURFACES["console"]]
