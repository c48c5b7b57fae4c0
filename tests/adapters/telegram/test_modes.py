"""The Telegram surface's two ways to receive updates, each through PTB's own code end to end.

* Webhook: our endpoint on the bot's web server (127.0.0.1) with a secret token; ``setWebhook``
  to the fake.
* Polling: the real ``run_telegram`` long-polling the fake's ``getUpdates``.
* ``check502-bot`` itself, as a process, configured for Telegram by its environment.

Everything binds 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters.telegram.app import ALLOWED_UPDATES, TelegramApp, run_telegram
from adapters.telegram.config import TelegramConfig
from bot.core import Bot
from tests.bot.conftest import fast_settings
from tests.support import OkServer
from tests.support.entrypoint import bot_env, spawn
from tests.support.telegram_fake import GROUP, TOKEN, FakeTelegram
from tests.support.web import web_server

SECRET = "webhook-secret_0123456789-abcdef"


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, control: OkServer) -> AsyncIterator[Bot]:
    bot = Bot(fast_settings(tmp_path, control.url))
    try:
        yield bot
    finally:
        await bot.stop()
        bot.close()


# ---------------------------------------------------------------------------------- webhook


async def test_the_webhook_refuses_a_wrong_secret_and_handles_the_right_one(
    tmp_path: Path, control: OkServer
) -> None:
    async with (
        FakeTelegram() as fake,
        running_bot(tmp_path, control) as bot,
        contextlib.AsyncExitStack() as stack,
    ):
        config = TelegramConfig(
            token=TOKEN,
            api_url=fake.api_url,
            webhook_url="https://bot.example.com/telegram",
            webhook_secret=SECRET,
            webhook_path="/telegram",
        )
        telegram = TelegramApp(bot, config)
        bot.attach(telegram.surface)
        await telegram.start()
        await bot.start()
        try:
            server = await stack.enter_async_context(web_server(bot))
            await telegram.serve(server)
            (hook,) = await fake.wait("setWebhook")
            assert hook.params["url"] == "https://bot.example.com/telegram"
            assert hook.params["secret_token"] == SECRET
            assert hook.params["allowed_updates"] == list(ALLOWED_UPDATES)
            url = f"{server.url}/telegram"
            update = fake.typed("/check502 list", chat_id=GROUP)
            async with httpx.AsyncClient(timeout=5) as http:
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret-at-all"}):
                    r = await http.post(url, json=update, headers=headers)
                    assert r.status_code == 403, headers
                await asyncio.sleep(0.3)
                assert fake.of("sendMessage") == []  # nothing was handled
                r = await http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                assert r.status_code == 200
            (reply,) = await fake.wait("sendMessage")
            assert reply.params["chat_id"] == GROUP
            assert "No monitors in this chat" in reply.text
        finally:
            await telegram.stop()


# ---------------------------------------------------------------------------------- polling


async def test_run_telegram_polls_answers_and_stops_when_cancelled(
    tmp_path: Path, control: OkServer
) -> None:
    async with FakeTelegram() as fake, running_bot(tmp_path, control) as bot:
        # The server's root URL: "/bot" is added, the form self-hosted servers are given in.
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": fake.url}
        task = asyncio.create_task(run_telegram(bot, env))
        try:
            await fake.wait("getUpdates")
            typed = fake.typed("/check502 list", chat_id=GROUP)
            fake.push(typed)
            (reply,) = await fake.wait("sendMessage")
            assert reply.reply_to == typed["message"]["message_id"]
            assert "No monitors in this chat" in reply.text
            methods = [c.method for c in fake.calls]
            assert methods[0] == "getMe"
            assert methods.index("deleteWebhook") < methods.index("getUpdates")  # polling wins
            assert "setMyCommands" in methods
            assert all(c.token == TOKEN for c in fake.calls)
            assert "telegram" in bot.surfaces  # alerts go out through it
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)
        # Stopping told Telegram the update was handled, so a restart does not see it again.
        last = fake.of("getUpdates")[-1]
        assert last.params["offset"] == typed["update_id"] + 1


# ------------------------------------------------------------------------ check502-bot itself


@pytest.mark.parametrize("log_level", ["WARNING", "DEBUG"])
async def test_check502_bot_polls_telegram_and_stops_on_sigterm(
    tmp_path: Path, log_level: str
) -> None:
    async with FakeTelegram() as fake:
        env = bot_env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=fake.api_url,
            CHECK502_LOG_LEVEL=log_level,
        )
        proc = await spawn(env)
        try:
            (me,) = await fake.wait("getMe")
            assert me.token == TOKEN
            await fake.wait("setMyCommands")
            await fake.wait("getUpdates")
            typed = fake.typed("/help", chat_id=GROUP)
            fake.push(typed)
            (reply,) = await fake.wait("sendMessage")
            assert reply.reply_to == typed["message"]["message_id"]
            assert "/check502 watch <url>" in reply.text

            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 5.0)
            assert proc.returncode == 0, err.decode()
            output = out.decode() + err.decode()
            assert "Telegram: @check502_bot is polling for updates" in output
            if log_level == "DEBUG":  # the libraries logged their requests...
                assert "getMe" in output and "sendMessage" in output
                assert "bot<redacted>/getMe" in output  # httpx's URL, the token taken out
            assert TOKEN not in output  # ...but never the token
            assert TOKEN.partition(":")[2] not in output
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"TELEGRAM_BOT_TOKEN": "not-a-bot-token-at-all-0123456789"}, "TELEGRAM_BOT_TOKEN"),
        (
            {"TELEGRAM_BOT_TOKEN": "987654321:AAErefused-by-the-fake-0123456789"},
            "TELEGRAM_BOT_TOKEN",
        ),
        (
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/tg",
                "TELEGRAM_WEBHOOK_SECRET": "short:secret",
            },
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"),
    ],
    ids=["malformed-token", "token-refused", "bad-webhook-secret", "bad-api-url"],
)
async def test_check502_bot_refuses_bad_telegram_settings_in_one_line(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    async with FakeTelegram() as fake:
        env = bot_env(tmp_path, TELEGRAM_API_URL=fake.api_url)
        env.update(settings)
        proc = await spawn(env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 8.0)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 2, err.decode()
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("check502-bot: ")
    assert named in lines[0]
    for name, value in settings.items():
        if name != "TELEGRAM_API_URL":
            assert value not in out.decode() + err.decode()


async def test_check502_bot_names_the_api_url_it_cannot_reach(tmp_path: Path) -> None:
    from tests.support import closed_port

    with closed_port() as dead:
        env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=dead.url)
        proc = await spawn(env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 8.0)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 2, err.decode()
    (line,) = err.decode().splitlines()
    assert "TELEGRAM_API_URL" in line and "cannot be reached" in line
    assert TOKEN not in out.decode() + err.decode()
