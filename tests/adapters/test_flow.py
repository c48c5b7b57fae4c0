"""The shared command flow (:mod:`adapters.flow`), driven through real surfaces.

The console app reads a piped session in-process; Telegram is the real PTB Application against
the fake Bot API. Each test pins one step of parse → acknowledge → handle → render safely →
answer, so dropping or reordering a step fails one of them:

* a usage error is answered (privately where the platform can) and nothing runs;
* a command that probes shows "Checking <url>…" before its result, and the result replaces it;
* a rendering failure is the one OUR_FAULT sentence where the result would be, the placeholder
  replaced (or, on Slack, deleted and the sentence told privately), the traceback only in the
  log.

Slack runs the flow split in two (Bolt's ack and lazy listeners): the command parsed in the ack
reaches the lazy listener in Bolt's context.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from telegram import Update

from adapters.cli.render import Style
from adapters.console.app import run_console
from adapters.console.render import render_reply
from adapters.slack.app import EVENTS_PATH, SlackApp, serve_http
from adapters.slack.config import Mode, SlackConfig
from adapters.slack.render import Message as SlackMessage
from adapters.slack.render import reply_message
from adapters.telegram.app import TelegramApp
from adapters.telegram.config import TelegramConfig
from adapters.telegram.render import Message, reply_messages
from bot.commands import USAGE
from bot.core import OUR_FAULT, Bot
from bot.model import DiagnosisReply, Reply
from tests.bot.conftest import fast_settings
from tests.support import OkServer, ok_server
from tests.support.slack_fake import SECRET, FakeSlack, command_form, signed
from tests.support.telegram_fake import TOKEN, FakeTelegram, forbidden


@pytest.fixture
def server() -> Iterator[OkServer]:
    with ok_server() as running:
        yield running


@pytest.fixture
def control() -> Iterator[OkServer]:
    """The bot's control target: answering, so the bot's own network counts as healthy."""
    with ok_server(body=b"control") as running:
        yield running


class _RenderBug(Exception):
    """What a renderer with a bug raises, for diagnoses only."""


def _console_render_with_a_bug(reply: Reply, style: Style) -> str:
    if isinstance(reply, DiagnosisReply):
        raise _RenderBug("a rendering bug")
    return render_reply(reply, style)


def _telegram_render_with_a_bug(reply: Reply, *, rerun: bool = False) -> list[Message]:
    if isinstance(reply, DiagnosisReply):
        raise _RenderBug("a rendering bug")
    return reply_messages(reply, rerun=rerun)


def _slack_render_with_a_bug(reply: Reply, *, rerun: str | None = None) -> SlackMessage:
    if isinstance(reply, DiagnosisReply):
        raise _RenderBug("a rendering bug")
    return reply_message(reply, rerun=rerun)


async def _console(tmp_path: Path, control_url: str, session: str, **kw: object) -> str:
    """The real console app over a piped ``session``; everything it printed."""
    bot = Bot(fast_settings(tmp_path, control_url))
    out = io.StringIO()
    await run_console(bot, io.StringIO(session), out, **kw)  # type: ignore[arg-type]
    return out.getvalue()


# ------------------------------------------------------------------------------------ console


async def test_console_a_check_is_acknowledged_then_answered(
    tmp_path: Path, control: OkServer, server: OkServer
) -> None:
    out = await _console(tmp_path, control.url, f"/check502 {server.url}\n")
    checking = out.index(f"Checking {server.url}…")
    assert checking < out.index("✓ healthy")
    assert len(server.requests) == 1  # handled, once


async def test_console_a_usage_error_is_answered_and_nothing_runs(
    tmp_path: Path, control: OkServer, server: OkServer
) -> None:
    out = await _console(tmp_path, control.url, f"/check502 watch {server.url} every=1q\n")
    (line,) = [row for row in out.splitlines() if row.startswith("✗ ")]
    assert '"1q" is not a duration' in line
    assert USAGE["watch"] in out
    assert "Checking" not in out  # refused before the acknowledgement
    assert len(server.requests) == 0


async def test_console_a_rendering_failure_is_our_fault_not_a_traceback(
    tmp_path: Path, control: OkServer, server: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "check502.flow")
    session = f"/check502 {server.url}\nlist\n"
    out = await _console(tmp_path, control.url, session, render=_console_render_with_a_bug)
    assert out.index(f"Checking {server.url}…") < out.index(f"✗ {OUR_FAULT}")
    assert "Traceback" not in out and "rendering bug" not in out
    assert "No monitors in this channel" in out  # the console goes on with the next command
    (record,) = [r for r in caplog.records if r.name == "check502.flow"]
    assert "DiagnosisReply for console" in record.getMessage()
    assert record.exc_info is not None  # the traceback is in the log


# ----------------------------------------------------------------------------------- telegram


async def _telegram(
    tmp_path: Path, control_url: str, text: str, *, refuse_first_send: bool = False, **kw: object
) -> tuple[FakeTelegram, dict[str, object]]:
    """``text`` typed in a private chat with the real PTB Application; the fake and the
    message typed."""
    async with FakeTelegram() as fake:
        if refuse_first_send:
            fake.script["sendMessage"] = [forbidden()]
        bot = Bot(fast_settings(tmp_path, control_url))
        telegram = TelegramApp(bot, TelegramConfig(token=TOKEN, api_url=fake.api_url), **kw)  # type: ignore[arg-type]
        bot.attach(telegram.surface)
        await telegram.start()
        await bot.start()
        try:
            update = fake.typed(text)
            app = telegram.application
            await app.process_update(Update.de_json(update, app.bot))
            return fake, dict(update["message"])
        finally:
            await telegram.stop()
            await bot.stop()
            bot.close()


async def test_telegram_a_check_edits_its_placeholder_with_the_result(
    tmp_path: Path, control: OkServer, server: OkServer
) -> None:
    fake, typed = await _telegram(tmp_path, control.url, f"/check502 {server.url}")
    (placeholder,) = fake.of("sendMessage")
    assert placeholder.text == f"⏳ Checking {server.url}…"
    assert placeholder.reply_to == typed["message_id"]
    (result,) = fake.of("editMessageText")
    assert result.params["message_id"] == fake.sent(placeholder)["message_id"]
    assert "healthy" in str(result.params["text"]).lower()
    assert len(server.requests) == 1


async def test_telegram_a_check_whose_placeholder_is_refused_is_not_run(
    tmp_path: Path, control: OkServer, server: OkServer
) -> None:
    """The bot cannot post in this chat: a check would go unseen, so it does not run."""
    fake, _ = await _telegram(
        tmp_path, control.url, f"/check502 {server.url}", refuse_first_send=True
    )
    assert len(fake.of("sendMessage")) == 1  # the refused placeholder, nothing after it
    assert fake.of("editMessageText") == []
    assert len(server.requests) == 0


async def test_telegram_a_usage_error_is_a_reply_and_nothing_runs(
    tmp_path: Path, control: OkServer, server: OkServer
) -> None:
    fake, typed = await _telegram(tmp_path, control.url, "/check502 mute 3 soon")
    (reply,) = fake.of("sendMessage")
    assert reply.reply_to == typed["message_id"]
    assert '"soon" is not a duration' in str(reply.text)
    assert fake.of("editMessageText") == []


async def test_telegram_a_rendering_failure_replaces_the_placeholder_with_our_fault(
    tmp_path: Path, control: OkServer, server: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "check502.flow")
    fake, _ = await _telegram(
        tmp_path, control.url, f"/check502 {server.url}", render=_telegram_render_with_a_bug
    )
    (placeholder,) = fake.of("sendMessage")
    (result,) = fake.of("editMessageText")  # "Checking…" does not stay for good
    assert result.params["message_id"] == fake.sent(placeholder)["message_id"]
    assert OUR_FAULT in str(result.params["text"])
    assert "rendering bug" not in str(result.params["text"])
    assert any("DiagnosisReply for telegram" in r.getMessage() for r in caplog.records)


# -------------------------------------------------------------------------------------- slack


async def test_slack_a_rendering_failure_deletes_the_ack_and_says_our_fault_privately(
    tmp_path: Path, control: OkServer, server: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "check502.flow")
    async with FakeSlack() as fake:
        config = SlackConfig(
            mode=Mode.HTTP, api_url=fake.api_url, bot_token="xoxb-test", signing_secret=SECRET
        )
        bot = Bot(fast_settings(tmp_path, control.url))
        slack = SlackApp(bot, config, render=_slack_render_with_a_bug)
        bot.attach(slack.surface)
        await bot.start()
        runner: web.AppRunner = await serve_http(slack, "127.0.0.1", 0)
        host, port = runner.addresses[0][:2]
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response_url = fake.response_url("1")
                body, headers = signed(command_form(server.url, response_url))
                ack = await http.post(
                    f"http://{host}:{port}{EVENTS_PATH}", content=body, headers=headers
                )
                acked = time.monotonic()
                # The ack listener parsed it: "Checking <url>…" in the channel, at once.
                assert ack.json() == {
                    "response_type": "in_channel",
                    "text": f"Checking {server.url}…",
                }
                # The lazy listener ran that command (the check happened) and the answer
                # replaced the ack: deleted, and the sentence told privately.
                delete, private = await fake.wait(response_url.removeprefix(fake.url), 2)
        finally:
            await runner.cleanup()
            await bot.stop()
            bot.close()
    assert len(server.requests) == 1
    assert delete.at > acked and delete.body.get("delete_original") is True
    assert private.body["response_type"] == "ephemeral"
    assert OUR_FAULT in private.body["text"] and "rendering bug" not in private.body["text"]
    assert any("DiagnosisReply for slack" in r.getMessage() for r in caplog.records)
