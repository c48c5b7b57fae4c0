"""Commands and buttons in private chats, groups and forum topics, through the real Application.

Real origins on 127.0.0.1 answer the checks; the fake Bot API parses every HTML text as
Telegram does and keeps the messages, so a button is pressed on exactly what the bot sent.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from adapters.telegram.render import ALERT_RECHECK, MUTE, RECHECK, RERUN, length
from bot.commands import Watch
from bot.model import Channel
from tests.adapters.telegram.conftest import TelegramRig, telegram_rig
from tests.support import OkServer, ok_server
from tests.support.telegram_fake import FORUM, GROUP, OTHER_USER, PRIVATE, parse_html

TAG = re.compile(r"</?([a-zA-Z-]+)")


def assert_telegram_html(html: str) -> str:
    """``html`` is within the limit and parses as Telegram's HTML; what it shows."""
    assert length(html) <= 4096
    assert {t.lower() for t in TAG.findall(html)} <= {"b", "i", "code", "pre", "a"}
    return parse_html(html)[0]


def everything_sent(rig: TelegramRig) -> list[str]:
    calls = rig.fake.of("sendMessage") + rig.fake.of("editMessageText")
    for call in calls:
        assert call.params.get("parse_mode") == "HTML", "a message fell back to plain text"
    return [assert_telegram_html(str(c.params["text"])) for c in calls]


# --------------------------------------------------------------------------------- escaping


async def test_hostile_urls_and_headers_are_shown_literally(
    tmp_path: Path, control: OkServer
) -> None:
    hostile = {"Server": "</code><b>evil & co</b>", "Via": "1.1 <pre>"}
    with ok_server(status=502, body=b"<html>upstream</html>", headers=hostile) as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            url = f"{site.url}a_b/c?x=1&y=<z>"
            await rig.type(f"/check502 {url}")
            (checking,) = rig.fake.of("sendMessage")
            (result,) = rig.fake.of("editMessageText")  # one edit: Telegram took the HTML
            assert "&lt;z&gt;" in str(checking.params["text"])
            assert assert_telegram_html(str(checking.params["text"])) == f"⏳ Checking {url}…"
            text = assert_telegram_html(str(result.params["text"]))
            assert url in text
            assert "</code><b>evil & co" in text  # the header, as text (cut to the table cell)
            assert "<pre>" in text
            assert "502" in text


async def test_a_usage_error_is_a_short_reply_and_nothing_else(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        typed = await rig.type("/check502 wacth https://example.com/", chat_id=GROUP)
        (reply,) = rig.fake.of("sendMessage")
        assert reply.reply_to == typed["message_id"]
        assert reply.params["chat_id"] == GROUP
        assert reply.text.startswith("✗ ") and "watch" in reply.text
        assert "Checking" not in reply.text
        assert length(str(reply.params["text"])) < 400
        assert rig.fake.of("editMessageText") == []


async def test_a_refused_target_turns_the_checking_message_into_the_error(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        await rig.type("/check502 http://10.0.0.1/")  # a private address: refused
        (checking,) = rig.fake.of("sendMessage")
        (edit,) = rig.fake.of("editMessageText")
        assert edit.params["message_id"] == rig.fake.sent(checking)["message_id"]
        assert edit.text.startswith("✗ ")
        assert "private" in edit.text.lower() or "refus" in edit.text.lower()
        assert "reply_markup" not in edit.params


# ----------------------------------------------------------------------- groups, help, menu


async def test_groups_answer_their_bot_only(tmp_path: Path, control: OkServer) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        await rig.type("/check502@OtherBot list", chat_id=GROUP)
        assert rig.fake.of("sendMessage") == []  # another bot's command
        typed = await rig.type("/check502@check502_bot list", chat_id=GROUP)
        (reply,) = rig.fake.of("sendMessage")
        assert reply.reply_to == typed["message_id"]
        assert "No monitors in this chat" in reply.text


async def test_start_and_help_answer_and_the_menu_was_published(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        (menu,) = rig.fake.of("setMyCommands")
        names = [c["command"] for c in menu.params["commands"]]
        assert names == ["check502", "help", "start"]
        assert all(len(c["description"]) <= 256 for c in menu.params["commands"])
        for command in ("/start", "/help", "/help@check502_bot", "/check502 help"):
            await rig.type(command, chat_id=GROUP)
        helps = rig.fake.of("sendMessage")
        assert len(helps) == 4
        for call in helps:
            assert "&lt;url&gt;" in str(call.params["text"])
            assert "/check502 watch <url>" in call.text
        await rig.type("/help watch")
        watch = rig.fake.of("sendMessage")[-1]
        assert "every=" in watch.text and "Example:" in watch.text


async def test_a_command_in_a_forum_topic_belongs_to_that_topic(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await rig.type(f"/check502 watch {site.url}", chat_id=FORUM, thread_id=42)
            (checking,) = rig.fake.of("sendMessage")
            assert checking.params["message_thread_id"] == 42
            topic = Channel("telegram", "-", f"{FORUM}/42")
            (monitor,) = rig.bot.store.monitors_in(topic)
            assert monitor.url == site.url
            assert rig.bot.store.monitors_in(Channel("telegram", "-", str(FORUM))) == ()
            # A reply chain in an ordinary group has a thread id too, but is no topic.
            await rig.type(f"/check502 watch {site.url}", chat_id=GROUP, thread_id=7)
            assert len(rig.bot.store.monitors_in(Channel("telegram", "-", str(GROUP)))) == 1


# ------------------------------------------------------------------------------ long texts


async def test_explain_of_a_long_line_stays_within_the_limit(
    tmp_path: Path, control: OkServer
) -> None:
    line = "connect() failed (111: Connection refused) <&> while connecting to upstream " * 52
    async with telegram_rig(tmp_path, control.url) as rig:
        await rig.type(f"/check502 explain {line[:4000]}")
        (text,) = everything_sent(rig)
        assert "Origin down" in text and "matched connect() failed" in text


async def test_a_hundred_monitors_are_split_over_several_messages(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        channel = Channel("telegram", "-", str(GROUP))
        for i in range(100):
            url = f"https://service-{i}.example.com/" + "a&b<c>/" * 12
            rig.bot.store.add_monitor(channel, Watch(url), created_by="5001", now=time.time())
        typed = await rig.type("/check502 list", chat_id=GROUP)
        texts = everything_sent(rig)
        assert 2 <= len(texts) <= 10
        assert rig.fake.of("sendMessage")[0].reply_to == typed["message_id"]
        shown = "\n".join(texts)
        ids = [int(n) for n in re.findall(r"^#(\d+) ", shown, re.MULTILINE)]
        assert ids == list(range(1, 101))  # all of them, in order, none twice
        assert "a&b<c>/" in shown


async def test_history_of_a_monitor_fits(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            _, monitor = await rig.typed_watch(site.url)
            for _ in range(3):
                await rig.bot.recheck(_context(PRIVATE), monitor.id)
            await rig.type(f"/check502 history {monitor.id}")
            everything_sent(rig)
            # A history this short is the caption of its chart (tests/adapters/telegram/test_charts).
            (photo,) = rig.fake.of("sendPhoto")
            text = photo.text
            assert f"#{monitor.id}" in text and "Uptime 24 h" in text and "Last checks" in text


# ---------------------------------------------------------------------------------- buttons


async def test_mute_button_is_answered_and_mutes_in_place(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            shown, monitor = await rig.typed_watch(site.url)
            assert f"Watching #{monitor.id}" in shown["text"]
            buttons = {b["callback_data"] for b in shown["reply_markup"]["inline_keyboard"][0]}
            assert buttons == {f"{RECHECK}:{monitor.id}", f"{MUTE}:{monitor.id}"}
            assert all(len(b.encode()) <= 64 for b in buttons)

            query = await rig.press(f"{MUTE}:{monitor.id}", shown)
            answer = rig.answer(query)
            assert f"Muted #{monitor.id}" in answer.params["text"]
            assert not answer.params.get("show_alert")
            muted = rig.bot.store.monitor(monitor.id)
            assert muted is not None and muted.muted_until is not None
            (edit,) = rig.fake.of("editMessageText")[-1:]
            assert edit.params["message_id"] == shown["message_id"]
            text = assert_telegram_html(str(edit.params["text"]))
            assert f"Watching #{monitor.id}" in text  # the message kept, the note added
            assert text.endswith("🔕 Muted for 1 h by Ana Lima")
            assert '<a href="tg://user?id=5001">Ana Lima</a>' in str(edit.params["text"])
            assert set(edit.buttons) == {f"{RECHECK}:{monitor.id}"}


async def test_recheck_button_edits_the_result_in_place(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            shown, monitor = await rig.typed_watch(site.url)
            before = len(site.requests)
            edits = len(rig.fake.of("editMessageText"))
            query = await rig.press(f"{RECHECK}:{monitor.id}", shown)
            assert rig.answer(query).params["text"] == f"Re-checking #{monitor.id}…"
            assert len(site.requests) > before
            edit = rig.fake.of("editMessageText")[edits]
            assert edit.params["message_id"] == shown["message_id"]
            text = assert_telegram_html(str(edit.params["text"]))
            assert f"Re-check of #{monitor.id}" in text and "200 OK" in text
            assert set(edit.buttons) == {f"{RECHECK}:{monitor.id}", f"{MUTE}:{monitor.id}"}


async def test_a_button_for_another_chats_monitor_is_refused_in_an_alert(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            shown, monitor = await rig.typed_watch(site.url)
            elsewhere = {**shown, "chat": rig.fake.chat(GROUP)}
            edits, sends = len(rig.fake.of("editMessageText")), len(rig.fake.of("sendMessage"))
            for action in (MUTE, RECHECK, ALERT_RECHECK, "ack"):
                query = await rig.press(f"{action}:{monitor.id}", elsewhere, user=OTHER_USER)
                answer = rig.answer(query)
                assert answer.params["show_alert"] is True
                assert f"no monitor #{monitor.id}" in answer.params["text"]
            still = rig.bot.store.monitor(monitor.id)
            assert still is not None and still.muted_until is None
            assert len(rig.fake.of("editMessageText")) == edits
            assert len(rig.fake.of("sendMessage")) == sends


async def test_an_unknown_button_is_still_answered(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            shown, _ = await rig.typed_watch(site.url)
            for data in ("bogus", "mute:", "mute:x", "recheck:99999999999", "rerun:1"):
                query = await rig.press(data, shown)
                answer = rig.answer(query)  # exactly one answer per press
                assert answer.params["show_alert"] is True
                assert "no longer works" in answer.params["text"]


async def test_run_again_repeats_the_command_it_answered(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await rig.type(f"/check502 {site.url}")
            (checking,) = rig.fake.of("sendMessage")
            shown = rig.fake.sent(checking)
            assert shown["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == RERUN
            before = len(site.requests)
            query = await rig.press(RERUN, shown)
            assert rig.answer(query).params["text"] == "Running it again…"
            assert len(site.requests) > before
            again = rig.fake.of("editMessageText")[-1]
            assert again.params["message_id"] == shown["message_id"]
            assert "200 OK" in assert_telegram_html(str(again.params["text"]))
            assert RERUN in again.buttons


def _context(chat_id: int) -> object:
    from bot.model import Context

    return Context(Channel("telegram", "-", str(chat_id)), "5001")
