"""``check502-bot``'s start-up: every configured surface's settings are parsed before anything
opens, connects or listens, and one bad variable stops everything with one line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.registry import configure
from bot.errors import SettingsError
from bot.settings import Settings
from tests.support import OkServer, ok_server
from tests.support.entrypoint import bot_env, kill, spawn

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1234-5678-botsecretvalue", "SLACK_APP_TOKEN": "xapp-1-A1-x"}
TELEGRAM_TOKEN = "123456789:AAEexampleexampleexampleexampleexam"


@pytest.fixture
def platform() -> Iterator[OkServer]:
    """Stands in for a platform's API: any connection to it is counted."""
    with ok_server(body=b"{}") as server:
        yield server


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"DISCORD_TOKEN": "x", "DISCORD_API_URL": "ftp://discord.test"}, "DISCORD_API_URL"),
    ],
    ids=["telegram", "discord"],
)
async def test_one_bad_surface_stops_everything_before_the_database_or_slack(
    tmp_path: Path, platform: OkServer, bad: dict[str, str], named: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = bot_env(home, SLACK_API_URL=f"{platform.url}api/", **SLACK, **bad)
    proc = await spawn(env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30.0)
    finally:
        await kill(proc)
    assert proc.returncode == 2, (out, err)
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("check502-bot: ") and named in lines[0]
    assert "Traceback" not in out.decode()
    assert list(home.iterdir()) == []  # no database, no lock file
    assert len(platform.requests) == 0  # Slack, configured right, was never called


def test_configure_parses_each_surface_once_with_the_core_settings(tmp_path: Path) -> None:
    settings = Settings(db_path=str(tmp_path / "x.db"))
    env = {**SLACK, "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_URL": "https://t.test/"}
    slack, telegram = configure(env, settings)
    assert (slack.name, telegram.name) == ("slack", "telegram")
    # Beside the core's database (CHECK502_DB), as the surface's own parsing would put it.
    assert slack.config.install_db == str(tmp_path / "slack-installations.db")
    assert telegram.config.secret_generated and telegram.config.webhook_secret
    (console,) = configure({}, settings)
    assert console.name == "console" and console.config is None
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        configure({**SLACK, "TELEGRAM_BOT_TOKEN": "nope"}, settings)
