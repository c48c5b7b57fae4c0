"""Every chat surface check502-bot can run, in one mapping.

Each entry names the environment variables that switch it on and validates them at start-up.
When none is configured the console (a chat in the terminal) runs, so a new user can try the bot
with one command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.core import Bot


@dataclass(frozen=True, slots=True)
class SurfaceEntry:
    name: str
    switch: tuple[str, ...]
    """The variables whose presence turns the surface on; empty: the fallback."""
    run: Callable[[Bot, Mapping[str, str]], Awaitable[None]]


async def _console(bot: Bot, env: Mapping[str, str]) -> None:
    from adapters.console.app import run_console  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_console(bot)


async def _slack(bot: Bot, env: Mapping[str, str]) -> None:
    from adapters.slack.app import run_slack  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_slack(bot, env)


async def _discord(bot: Bot, env: Mapping[str, str]) -> None:
    from adapters.discord.app import run_discord  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_discord(bot, env)


async def _telegram(bot: Bot, env: Mapping[str, str]) -> None:
    from adapters.telegram.app import run_telegram  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_telegram(bot, env)


SLACK_SWITCH = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID")

SURFACES: dict[str, SurfaceEntry] = {
    "console": SurfaceEntry("console", (), _console),
    "slack": SurfaceEntry("slack", SLACK_SWITCH, _slack),
    "discord": SurfaceEntry("discord", ("DISCORD_TOKEN",), _discord),
    "telegram": SurfaceEntry("telegram", ("TELEGRAM_BOT_TOKEN",), _telegram),
}


def configured(env: Mapping[str, str]) -> list[SurfaceEntry]:
    """The surfaces the environment turns on, or the console when it turns on none."""
    chosen = [e for e in SURFACES.values() if e.switch and any(env.get(v) for v in e.switch)]
    return chosen or [SURFACES["console"]]
