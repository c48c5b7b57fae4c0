"""Monitor alerts through the Telegram surface: post, reply, resolve; topics, 429s, dead chats.

A real local server flips between healthy and failing under a 1-second monitor; the whole core
runs, and the fake Bot API records what the surface sent, where, and as a reply to what.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from pathlib import Path

import pytest

from adapters.telegram.render import ACK, ALERT_RECHECK, DETAILS, MUTE
from bot.commands import Unmute, Watch
from bot.model import Channel, Context, WatchReply
from tests.adapters.telegram.conftest import TelegramRig, telegram_rig
from tests.bot.conftest import until
from tests.support import OkServer, build_response, ok_server
from tests.support.telegram_fake import (
    FORUM,
    GROUP,
    Scripted,
    bad_request,
    forbidden,
    server_error,
    too_many,
)

BAD = build_response(502, b"<html><body>upstream failed</body></html>", {"Server": "</code><b>"})
GOOD = build_response(200, b"ok")
GROUP_CHANNEL = Channel("telegram", "-", str(GROUP))

# PTB 22.8's own RetryAfter.__init__ reads its deprecated ``retry_after`` property, so every 429
# warns from inside PTB (Python ignores DeprecationWarning outside __main__, so production is
# quiet; pyproject turns warnings into errors). The warning is PTB's, not ours.
PTB_RETRY_AFTER_WARNING = pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be:telegram.warnings.PTBDeprecationWarning"
)


async def watch(rig: TelegramRig, url: str, channel: Channel = GROUP_CHANNEL) -> int:
    """A 1-second monitor (below the grammar's 30 s floor, as tests may); its id."""
    reply = await rig.bot.execute(Context(channel, "5001"), Watch(url, every=1, confirm=2))
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


async def alert_id(rig: TelegramRig) -> int:
    """The Telegram message id the outbox recorded for the DOWN alert, once recorded."""
    sql = "SELECT message_id FROM outbox WHERE kind = 'down' AND message_id IS NOT NULL"
    await until(lambda: rig.bot.store.row(sql) is not None)
    row = rig.bot.store.row(sql)
    assert row is not None
    return int(row["message_id"])


def outbox(rig: TelegramRig) -> dict[str, object]:
    row = rig.bot.store.row(
        "SELECT sent_at, failed_at, attempts, not_before, last_error FROM outbox"
        " WHERE kind = 'down'"
    )
    assert row is not None
    return row


async def test_an_outage_posts_replies_and_resolves_the_alert(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait("sendMessage")
            assert down.params["chat_id"] == GROUP
            assert down.reply_to is None and "message_thread_id" not in down.params
            assert down.params["parse_mode"] == "HTML"
            text = down.text
            assert f"DOWN #{mid}" in text and "502" in text and "127.0.0.1" in text
            assert "</code><b>" not in text  # the hostile Server header is not on the card
            assert down.buttons == {
                f"{DETAILS}:{mid}": "📋 Details",
                f"{ALERT_RECHECK}:{mid}": "🔄 Re-check",
                f"{MUTE}:{mid}": "🔕 Mute 1 h",
                f"{ACK}:{mid}": "✋ Acknowledge",
            }
            sent = await alert_id(rig)
            assert sent == rig.fake.sent(down)["message_id"]

            await asyncio.sleep(1.0)
            site.response = GOOD
            (edit,) = await rig.fake.wait("editMessageText")
            assert edit.params["chat_id"] == GROUP and edit.params["message_id"] == sent
            assert f"RESOLVED #{mid}" in edit.text and "Recovered" in edit.text
            assert edit.buttons == {}  # nothing left to acknowledge
            _, recovered = await rig.fake.wait("sendMessage", 2)
            assert recovered.reply_to == sent
            assert recovered.params["reply_parameters"]["allow_sending_without_reply"] is True
            assert f"RECOVERED #{mid}" in recovered.text
            assert edit.at <= recovered.at  # the idempotent edit goes first
            shown = rig.fake.message(GROUP, sent)
            assert "RESOLVED" in shown["text"] and "reply_markup" not in shown


async def test_alerts_of_a_forum_topic_stay_in_the_topic(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url, Channel("telegram", "-", f"{FORUM}/42"))
            site.response = BAD
            (down,) = await rig.fake.wait("sendMessage")
            assert down.params["chat_id"] == FORUM and down.params["message_thread_id"] == 42
            sent = await alert_id(rig)
            await asyncio.sleep(1.0)
            site.response = GOOD
            _, recovered = await rig.fake.wait("sendMessage", 2)
            assert recovered.params["message_thread_id"] == 42
            assert recovered.reply_to == sent


async def test_a_deleted_alert_still_gets_its_recovery(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            site.response = BAD
            await rig.fake.wait("sendMessage")
            sent = await alert_id(rig)
            del rig.fake.messages[(GROUP, sent)]  # someone deleted the alert
            await asyncio.sleep(1.0)
            site.response = GOOD
            (edit,) = await rig.fake.wait("editMessageText")  # "message to edit not found"
            _, recovered = await rig.fake.wait("sendMessage", 2)
            assert recovered.reply_to == sent and "RECOVERED" in recovered.text
            await until(
                lambda: (
                    rig.bot.store.row(
                        "SELECT 1 FROM outbox WHERE kind = 'recovered' AND sent_at IS NOT NULL"
                    )
                    is not None
                )
            )
            assert edit.at < recovered.at


@PTB_RETRY_AFTER_WARNING
async def test_a_429_is_retried_after_retry_after_and_posted_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["sendMessage"] = [too_many(1)]
            site.response = BAD
            first, second = await rig.fake.wait("sendMessage", 2)
            assert second.at - first.at >= 1.0  # PTB's rate limiter slept retry_after
            await alert_id(rig)
            await asyncio.sleep(1.0)
            assert len(rig.fake.of("sendMessage")) == 2  # one refused, one posted
            row = outbox(rig)
            assert row["sent_at"] is not None and row["attempts"] == 0


@PTB_RETRY_AFTER_WARNING
async def test_persistent_429s_go_back_to_the_outbox_with_retry_after(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            # The rate limiter retries twice itself; the third 429 reaches the outbox.
            rig.fake.script["sendMessage"] = [too_many(1)] * 3
            site.response = BAD
            calls = await rig.fake.wait("sendMessage", 4, timeout=15)
            assert calls[3].at - calls[2].at >= 0.9
            await alert_id(rig)
            row = outbox(rig)
            assert row["attempts"] == 1 and "rate limited" in str(row["last_error"])


@PTB_RETRY_AFTER_WARNING
async def test_a_long_retry_after_is_left_to_the_outbox_at_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["sendMessage"] = [too_many(60)]
            site.response = BAD
            (refused,) = await rig.fake.wait("sendMessage")
            await until(lambda: outbox(rig)["attempts"] == 1)
            row = outbox(rig)
            assert "retry after 60 s" in str(row["last_error"])
            assert float(row["not_before"]) - time.time() > 50  # type: ignore[arg-type]
            # Nothing else is held up meanwhile: the bot still answers at once.
            await rig.type("/check502 list", chat_id=GROUP)
            assert rig.fake.of("sendMessage")[-1].at - refused.at < 2.0
            assert len(rig.fake.of("sendMessage")) == 2


@pytest.mark.parametrize(
    "refusal",
    [
        forbidden("Forbidden: bot was blocked by the user"),
        forbidden("Forbidden: bot was kicked from the supergroup chat"),
        bad_request("Bad Request: chat not found"),
    ],
    ids=["blocked", "kicked", "chat-not-found"],
)
async def test_a_chat_the_bot_cannot_post_to_is_given_up_at_once(
    tmp_path: Path, control: OkServer, refusal: Scripted
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["sendMessage"] = [refusal]
            site.response = BAD
            await rig.fake.wait("sendMessage")
            await until(lambda: outbox(rig)["failed_at"] is not None)
            description = str(refusal.body["description"]).split(": ", 1)[1].lower()
            assert description in str(outbox(rig)["last_error"]).lower()
            await asyncio.sleep(1.5)
            assert len(rig.fake.of("sendMessage")) == 1  # no retry storm


async def test_telegram_down_loses_no_alert(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["sendMessage"] = [server_error()]
            site.response = BAD
            first, again = await rig.fake.wait("sendMessage", 2)
            assert again.params["text"] == first.params["text"]  # the same alert again
            await alert_id(rig)


async def test_html_telegram_refuses_goes_again_as_plain_text(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            rig.fake.script["sendMessage"] = [
                bad_request("Bad Request: can't parse entities: Unsupported start tag")
            ]
            site.response = BAD
            refused, plain = await rig.fake.wait("sendMessage", 2)
            assert refused.params["parse_mode"] == "HTML"
            assert "parse_mode" not in plain.params
            assert f"DOWN #{mid}" in str(plain.params["text"])
            assert "<b>" not in str(plain.params["text"]).replace("</code><b>", "")
            assert plain.buttons == refused.buttons
            await alert_id(rig)


async def test_acknowledge_on_an_alert_acks_in_place_and_recheck_replies(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            await rig.fake.wait("sendMessage")
            sent = await alert_id(rig)
            query = await rig.press(f"{ACK}:{mid}", rig.fake.message(GROUP, sent))
            assert f"Acknowledged #{mid}" in rig.answer(query).params["text"]
            incident = rig.bot.store.row("SELECT acked_by FROM incidents")
            assert incident is not None and incident["acked_by"] == "5001"
            (edit,) = rig.fake.of("editMessageText")
            assert edit.params["message_id"] == sent
            assert edit.text.endswith("✋ Acknowledged by Ana Lima")
            assert f"DOWN #{mid}" in edit.text  # the alert is kept, the note added
            assert set(edit.buttons) == {
                f"{DETAILS}:{mid}",
                f"{ALERT_RECHECK}:{mid}",
                f"{MUTE}:{mid}",
            }

            # Acknowledging again is refused in an alert, and changes nothing.
            again = await rig.press(f"{ACK}:{mid}", rig.fake.message(GROUP, sent))
            assert rig.answer(again).params["show_alert"] is True
            assert "already acknowledged" in rig.answer(again).params["text"]

            # Re-check on the alert replies to it; the alert stays the incident's record.
            started = time.monotonic()
            query = await rig.press(f"{ALERT_RECHECK}:{mid}", rig.fake.message(GROUP, sent))
            assert rig.answer(query).params["text"] == f"Re-checking #{mid}…"
            recheck = rig.fake.of("sendMessage")[-1]
            assert recheck.reply_to == sent and recheck.params["chat_id"] == GROUP
            assert f"Re-check of #{mid}" in recheck.text and "502" in recheck.text
            assert time.monotonic() - started < 5
            assert len(rig.fake.of("editMessageText")) == 1


def visible(text_html: str) -> str:
    """What a person reads of Telegram HTML: the tags dropped, the entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", "", text_html))


async def test_the_alert_is_a_compact_card_and_details_replies_with_the_diagnosis(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait("sendMessage")
            seen = visible(down.text)
            assert len(seen) <= 1200, len(seen)
            assert f"🔴 DOWN #{mid} {site.url}" in seen  # the headline
            assert "Public: HTTP/1.1 502 Bad Gateway" in seen and "127.0.0.1" in seen
            assert "→ " in seen and "Reproduce" not in seen and "curl" not in seen
            sent = await alert_id(rig)

            query = await rig.press(f"{DETAILS}:{mid}", rig.fake.message(GROUP, sent))
            assert rig.answer(query).params["text"] == f"Details of #{mid}…"
            await rig.fake.wait("sendMessage", 2)
            details = rig.fake.of("sendMessage")[-1]
            assert details.reply_to == sent and details.params["chat_id"] == GROUP
            assert f"Details of the alert of #{mid}" in details.text
            full = visible(details.text)
            assert "Reproduce" in full and "curl" in full and "127.0.0.1" in full
            assert "DOWN" in rig.fake.message(GROUP, sent)["text"]  # the alert stays


async def test_muted_the_alert_is_still_marked_resolved_and_the_reply_waits(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            await rig.fake.wait("sendMessage")
            sent = await alert_id(rig)
            query = await rig.press(f"{MUTE}:{mid}", rig.fake.message(GROUP, sent))
            assert f"Muted #{mid}" in rig.answer(query).params["text"]
            (muted,) = rig.fake.of("editMessageText")  # the button's note, in place
            assert set(muted.buttons) == {
                f"{DETAILS}:{mid}",
                f"{ALERT_RECHECK}:{mid}",
                f"{ACK}:{mid}",
            }

            site.response = GOOD
            _, resolved = await rig.fake.wait("editMessageText", 2)
            monitor = rig.bot.store.monitor(mid)
            assert monitor is not None and monitor.muted_until is not None  # still muted
            assert resolved.params["message_id"] == sent
            assert f"RESOLVED #{mid}" in resolved.text and "Recovered" in resolved.text
            assert resolved.buttons == {}
            shown = rig.fake.message(GROUP, sent)
            assert "RESOLVED" in shown["text"] and "reply_markup" not in shown
            await asyncio.sleep(1.0)
            assert len(rig.fake.of("sendMessage")) == 1  # the reply waits for the mute

            await rig.bot.execute(Context(GROUP_CHANNEL, "5001"), Unmute(mid))
            _, recovered = await rig.fake.wait("sendMessage", 2)
            assert recovered.reply_to == sent and f"RECOVERED #{mid}" in recovered.text
            assert len(rig.fake.of("editMessageText")) == 2


async def test_recheck_on_the_alert_after_a_fix_resolves_it(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            await rig.fake.wait("sendMessage")
            sent = await alert_id(rig)
            rig.bot.schedule.remove(mid)  # from here on, only the button checks it
            site.response = GOOD

            query = await rig.press(f"{ALERT_RECHECK}:{mid}", rig.fake.message(GROUP, sent))
            assert rig.answer(query).params["text"] == f"Re-checking #{mid}…"
            (resolved,) = await rig.fake.wait("editMessageText")
            assert resolved.params["message_id"] == sent and f"RESOLVED #{mid}" in resolved.text
            assert resolved.buttons == {}
            replies = (await rig.fake.wait("sendMessage", 3))[1:]
            assert all(r.reply_to == sent for r in replies)
            (recovered,) = [r for r in replies if f"RECOVERED #{mid}" in r.text]
            (result,) = [r for r in replies if f"Re-check of #{mid}" in r.text]
            assert "200" in result.text and recovered.at >= resolved.at
            incident = rig.bot.store.row("SELECT closed_at FROM incidents")
            assert incident is not None and incident["closed_at"] is not None
