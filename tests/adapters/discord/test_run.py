"""The Discord surface as it runs: ``run_discord`` in-process, and ``check502-bot`` as a process.

Both talk to the fake Discord only: its REST API (``DISCORD_API_URL``) and its gateway. discord.py
2.7 does not ask ``GET /gateway/bot`` where the gateway is: it connects to its constant
``DiscordWebSocket.DEFAULT_GATEWAY`` (wss://gateway.discord.gg/), which ``DISCORD_GATEWAY_URL``
sets. Everything binds 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket

from adapters.discord.app import run_discord
from bot.commands import Watch
from bot.core import Bot
from bot.errors import SettingsError
from bot.model import Context, WatchReply
from tests.adapters.discord.conftest import DISCORD_CHANNEL
from tests.bot.conftest import fast_settings, until
from tests.support import OkServer, free_port, ok_server
from tests.support.discord_fake import (
    APP_ID,
    CHANNEL,
    EPHEMERAL,
    GUILD,
    TOKEN,
    FakeDiscord,
    command_interaction,
    error,
)
from tests.support.entrypoint import bot_env, kill, spawn

PENDING = "SELECT * FROM outbox WHERE kind = 'down'"


async def _queued_alert(tmp_path: Path, control: OkServer, url: str) -> None:
    """A DOWN alert left in the outbox by a bot that ran with no Discord surface."""
    bot = Bot(fast_settings(tmp_path, control.url))
    await bot.start()
    try:
        watched = await bot.execute(Context(DISCORD_CHANNEL, "1"), Watch(url, every=1, confirm=2))
        assert isinstance(watched, WatchReply)
        await until(lambda: bot.store.row(PENDING) is not None)
    finally:
        await bot.stop()
        bot.close()


def _pending(tmp_path: Path, control: OkServer) -> Bot:
    bot = Bot(fast_settings(tmp_path, control.url))
    bot.store.execute("UPDATE outbox SET not_before = 0")  # held while no surface ran
    return bot


async def test_a_refused_token_stops_the_surface_and_loses_no_queued_alert(
    tmp_path: Path, control: OkServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored after
    with ok_server(502, b"upstream failed") as site:
        await _queued_alert(tmp_path, control, site.url)
    async with FakeDiscord() as fake:
        bot = _pending(tmp_path, control)
        env = {"DISCORD_TOKEN": "not-the-token", "DISCORD_API_URL": fake.api_url}
        try:
            with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
                await asyncio.wait_for(run_discord(bot, env), 10)
            await asyncio.sleep(0.5)
            row = bot.store.row(PENDING)
            assert row is not None
            assert row["failed_at"] is None and row["sent_at"] is None, dict(row)  # still to send
            assert row["attempts"] == 0, dict(row)
            assert fake.of("POST /channels/*/messages") == []  # not tried with a bad token
            (me,) = fake.of("GET /users/@me")
            assert me.headers["Authorization"] == "Bot not-the-token"
        finally:
            await bot.stop()
            bot.close()


async def test_queued_alerts_go_out_once_logged_in(
    tmp_path: Path, control: OkServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    with ok_server(502, b"upstream failed") as site:
        await _queued_alert(tmp_path, control, site.url)
        async with FakeDiscord() as fake:
            # run_discord sets the gateway from DISCORD_GATEWAY_URL; restored after the test.
            monkeypatch.setattr(
                DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY
            )
            bot = _pending(tmp_path, control)
            env = {
                "DISCORD_TOKEN": TOKEN,
                "DISCORD_API_URL": fake.api_url,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
            }
            task = asyncio.create_task(run_discord(bot, env))
            try:
                (post,) = await fake.wait(f"POST /channels/{CHANNEL}/messages")
                (sync,) = fake.of(f"PUT /applications/{APP_ID}/commands")
                assert post.at > sync.at  # after login and setup_hook, not racing them
                await asyncio.wait_for(fake.ready.wait(), 10)
                assert fake.identified[0]["token"] == TOKEN
                assert fake.identified[0]["intents"] == discord.Intents.default().value
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(task, 10)
                await bot.stop()
                bot.close()


async def test_a_server_the_bot_is_not_in_is_a_settings_error(
    tmp_path: Path, control: OkServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    async with FakeDiscord() as fake:
        route = f"PUT /applications/{APP_ID}/guilds/{GUILD}/commands"
        fake.script[route] = [error(403, 50001, "Missing Access")]
        bot = Bot(fast_settings(tmp_path, control.url))
        env = {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_URL": fake.api_url,
            "DISCORD_GUILD_ID": str(GUILD),
        }
        try:
            with pytest.raises(SettingsError, match=f"DISCORD_GUILD_ID={GUILD}"):
                await asyncio.wait_for(run_discord(bot, env), 10)
            assert len(fake.of(route)) == 1
            assert bot.store.get_meta(f"discord.synced.{APP_ID}.{GUILD}") is None  # retried
        finally:
            await bot.stop()
            bot.close()


# ------------------------------------------------------------------------ check502-bot itself


@pytest.mark.parametrize("log_level", ["WARNING", "DEBUG"])
async def test_check502_bot_logs_in_answers_over_the_gateway_and_stops_on_sigterm(
    tmp_path: Path, log_level: str
) -> None:
    async with FakeDiscord() as fake:
        env = bot_env(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_URL=fake.api_url,
            DISCORD_GATEWAY_URL=fake.gateway_url,
            CHECK502_LOG_LEVEL=log_level,
        )
        proc = await spawn(env)
        try:
            (me,) = await fake.wait("GET /users/@me")
            assert me.headers["Authorization"] == f"Bot {TOKEN}"
            await fake.wait(f"PUT /applications/{APP_ID}/commands")  # global: no guild set
            await asyncio.wait_for(fake.ready.wait(), 10)  # HELLO, IDENTIFY, READY
            assert fake.identified[0]["token"] == TOKEN

            help_ = command_interaction("help")
            started = time.monotonic()
            await fake.dispatch("INTERACTION_CREATE", help_)
            (answer,) = await fake.wait(
                f"POST /interactions/{help_['id']}/{help_['token']}/callback"
            )
            assert answer.at - started < 3.0
            assert answer.body["type"] == 4
            assert answer.body["data"]["flags"] & EPHEMERAL
            assert "watch" in answer.body["data"]["embeds"][0]["description"]

            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 5.0)
            assert proc.returncode == 0, err.decode()
            output = out.decode() + err.decode()
            if log_level == "DEBUG":  # discord.py logged its requests and events...
                assert "/users/@me" in output and "INTERACTION_CREATE" in output
            assert TOKEN not in output  # ...never the token
            assert TOKEN.split(".")[-1] not in output
        finally:
            await kill(proc)


async def test_check502_bot_refuses_a_bad_token_in_one_line(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        bad = "MTIz.bad-token.never-printed-anywhere"
        env = bot_env(tmp_path, DISCORD_TOKEN=bad, DISCORD_API_URL=fake.api_url)
        proc = await spawn(env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 8.0)
        finally:
            await kill(proc)
        assert proc.returncode == 2
        lines = err.decode().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("check502-bot: ")
        assert "DISCORD_TOKEN" in lines[0]
        assert bad not in out.decode() + err.decode()
        assert len(fake.of("GET /users/@me")) == 1


async def test_check502_bot_names_the_api_url_it_cannot_reach(tmp_path: Path) -> None:
    token = "MTIz.unreachable.never-printed"
    dead = f"http://127.0.0.1:{free_port()}/api/v10"  # nothing listens there
    proc = await spawn(bot_env(tmp_path, DISCORD_TOKEN=token, DISCORD_API_URL=dead))
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 15.0)
    finally:
        await kill(proc)
    assert proc.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert "DISCORD_API_URL" in lines[0] and "cannot reach Discord" in lines[0]
    assert token not in out.decode() + err.decode()
