"""DiscordConfig.from_env: each setting validated at start-up, naming the variable, never the token."""

from __future__ import annotations

import pytest

from adapters.discord.config import DEFAULT_API_URL, PERMISSIONS, DiscordConfig, Sync
from adapters.registry import configured
from bot.errors import SettingsError

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.secret-part-of-the-token"


def test_a_token_is_enough() -> None:
    config = DiscordConfig.from_env({"DISCORD_TOKEN": f"  {TOKEN} "})
    assert config.token == TOKEN
    assert config.guild_id is None and config.sync is Sync.AUTO
    assert config.api_url == DEFAULT_API_URL
    assert TOKEN not in repr(config) and TOKEN not in str(config)


def test_guild_api_and_sync_are_read() -> None:
    config = DiscordConfig.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_GUILD_ID": "123456789012345678",
            "DISCORD_API_URL": "http://127.0.0.1:9000/api/v10/",
            "CHECK502_DISCORD_SYNC": "ALWAYS",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9000/ws",
        }
    )
    assert config.gateway_url == "ws://127.0.0.1:9000/ws"
    assert config.guild_id == 123456789012345678
    assert config.api_url == "http://127.0.0.1:9000/api/v10"
    assert config.sync is Sync.ALWAYS


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "   "}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": f"Bot {TOKEN}"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": TOKEN, "DISCORD_GUILD_ID": "my-server"}, "DISCORD_GUILD_ID"),
        ({"DISCORD_TOKEN": TOKEN, "DISCORD_API_URL": "discord.com"}, "DISCORD_API_URL"),
        ({"DISCORD_TOKEN": TOKEN, "CHECK502_DISCORD_SYNC": "sometimes"}, "CHECK502_DISCORD_SYNC"),
        ({"DISCORD_TOKEN": TOKEN, "DISCORD_GATEWAY_URL": "https://x/"}, "DISCORD_GATEWAY_URL"),
    ],
)
def test_bad_settings_name_the_variable_not_the_token(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        DiscordConfig.from_env(env)
    message = str(raised.value)
    assert named in message and "\n" not in message
    assert "secret-part" not in message


def test_the_invite_url_asks_for_exactly_the_permissions_needed() -> None:
    config = DiscordConfig.from_env({"DISCORD_TOKEN": TOKEN})
    url = config.invite_url(42)
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=42&")
    assert "scope=bot+applications.commands" in url
    assert f"permissions={config.permissions}" in url
    assert config.permissions == 1024 + 2048 + 16384 + 32768 + 65536 + (1 << 35) + (1 << 38)
    assert set(PERMISSIONS) >= {
        "Send Messages",
        "Embed Links",
        "Attach Files",
        "Create Public Threads",
    }


def test_a_discord_token_turns_the_discord_surface_on() -> None:
    assert [e.name for e in configured({"DISCORD_TOKEN": TOKEN})] == ["discord"]
    assert [e.name for e in configured({"DISCORD_TOKEN": ""})] == ["console"]
    both = {"DISCORD_TOKEN": TOKEN, "SLACK_BOT_TOKEN": "xoxb-1"}
    assert sorted(e.name for e in configured(both)) == ["discord", "slack"]
