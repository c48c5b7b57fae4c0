"""Every chat surface check502-bot can run, in one mapping.

Each entry names the environment variables that switch it on, parses its configuration
(``config``) and runs it with that parsed configuration (``run``). The entry point parses every
configured surface's configuration with :func:`configure` before the database opens and before
any surface starts, so one bad variable stops everything with one line. When none is
configured the console (a chat in the terminal) runs, so a new user can try the bot with one
command.

A surface loads its platform library only when it runs; its ``config`` module is plain Python.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.core import Bot
from bot.settings import Settings

if TYPE_CHECKING:
    from adapters.discord.config import DiscordConfig
    from adapters.slack.config import SlackConfig
    from adapters.telegram.config import TelegramConfig

C = TypeVar("C")
"""A surface's parsed configuration."""


@dataclass(frozen=True, slots=True)
class SurfaceEntry(Generic[C]):
    name: str
    switch: tuple[str, ...]
    """The variables whose presence turns the surface on; empty: the fallback."""
    config: Callable[[Mapping[str, str], Settings], C]
    """Parse and check the surface's variables; :class:`bot.errors.SettingsError` names the
    first bad one. Nothing is opened or connected."""
    run: Callable[[Bot, C], Awaitable[None]]
    """Run the surface with its parsed configuration until cancelled."""


@dataclass(frozen=True, slots=True)
class Configured(Generic[C]):
    """A surface to run, and its configuration, parsed and checked."""

    entry: SurfaceEntry[C]
    config: C

    @property
    def name(self) -> str:
        return self.entry.name

    async def run(self, bot: Bot) -> None:
        await self.entry.run(bot, self.config)


def _no_config(env: Mapping[str, str], settings: Settings) -> None:
    return None


async def _console(bot: Bot, config: None) -> None:
    from adapters.console.app import run_console  # noqa: PLC0415 - a surface loads its library only when it runs

    await run_console(bot)


def _slack_config(env: Mapping[str, str], settings: Settings) -> SlackConfig:
    from adapters.slack.config import SlackConfig  # noqa: PLC0415 - plain, but only when configured

    return SlackConfig.from_env(env, db_path=settings.db_path)


async def _slack(bot: Bot, config: SlackConfig) -> None:
    from adapters.slack.app import serve_slack  # noqa: PLC0415 - a surface loads its library only when it runs

    await serve_slack(bot, config)


def _discord_config(env: Mapping[str, str], settings: Settings) -> DiscordConfig:
    from adapters.discord.config import DiscordConfig  # noqa: PLC0415 - plain, but only when configured

    return DiscordConfig.from_env(env)


async def _discord(bot: Bot, config: DiscordConfig) -> None:
    from adapters.discord.app import serve_discord  # noqa: PLC0415 - a surface loads its library only when it runs

    await serve_discord(bot, config)


def _telegram_config(env: Mapping[str, str], settings: Settings) -> TelegramConfig:
    from adapters.telegram.config import TelegramConfig  # noqa: PLC0415 - plain, but only when configured

    return TelegramConfig.from_env(env)


async def _telegram(bot: Bot, config: TelegramConfig) -> None:
    from adapters.telegram.app import serve_telegram  # noqa: PLC0415 - a surface loads its library only when it runs

    await serve_telegram(bot, config)


SLACK_SWITCH = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID")

SURFACES: dict[str, SurfaceEntry[Any]] = {
    "console": SurfaceEntry("console", (), _no_config, _console),
    "slack": SurfaceEntry("slack", SLACK_SWITCH, _slack_config, _slack),
    "discord": SurfaceEntry("discord", ("DISCORD_TOKEN",), _discord_config, _discord),
    "telegram": SurfaceEntry("telegram", ("TELEGRAM_BOT_TOKEN",), _telegram_config, _telegram),
}


def configured(env: Mapping[str, str]) -> list[SurfaceEntry[Any]]:
    """The surfaces the environment turns on, or the console when it turns on none."""
    chosen = [e for e in SURFACES.values() if e.switch and any(env.get(v) for v in e.switch)]
    return chosen or [SURFACES["console"]]


def configure(env: Mapping[str, str], settings: Settings) -> list[Configured[Any]]:
    """Every surface the environment turns on, with its configuration parsed and checked.

    Raises :class:`bot.errors.SettingsError` naming the first bad variable, before anything is
    opened: the entry point calls this before the database and before any surface.
    """
    return [Configured(entry, entry.config(env, settings)) for entry in configured(env)]
