"""Monitor alerts through the Discord surface: post, thread, resolve; 429s, lost access, buttons.

A real local server flips between healthy and failing under a 1-second monitor; the whole core
runs, and the fake Discord records what discord.py sent, to which channel or thread, with
which nonce, and what it did when a thread could not be started.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bot.commands import Unmute, Watch
from bot.model import Context, WatchReply
from tests.adapters.discord.conftest import (
    DISCORD_CHANNEL,
    DiscordRig,
    assert_within_limits,
    discord_rig,
    embed_text,
)
from tests.bot.conftest import until
from tests.support import OkServer, build_response, ok_server
from tests.support.discord_fake import (
    CHANNEL,
    GUILD,
    USER,
    Scripted,
    buttons,
    command_interaction,
    error,
    ratelimited,
)

BAD = build_response(502, b"<html><body>upstream failed</body></html>", {"Server": "@everyone"})
GOOD = build_response(200, b"ok")
SEND = f"POST /channels/{CHANNEL}/messages"
UPDATE_MESSAGE = 7
DEFERRED_UPDATE = 6


async def watch(rig: DiscordRig, url: str) -> int:
    """A 1-second monitor (below the grammar's 30 s floor, as tests may); its id."""
    reply = await rig.bot.execute(
        Context(DISCORD_CHANNEL, str(USER)), Watch(url, every=1, confirm=2)
    )
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def outbox(rig: DiscordRig, kind: str) -> dict[str, Any] | None:
    return rig.bot.store.row(f"SELECT * FROM outbox WHERE kind = '{kind}'")


async def sent(rig: DiscordRig, kind: str) -> dict[str, Any]:
    """The outbox row of ``kind`` once it is marked sent."""
    sql = f"SELECT * FROM outbox WHERE kind = '{kind}' AND sent_at IS NOT NULL"
    await until(lambda: rig.bot.store.row(sql) is not None)
    row = rig.bot.store.row(sql)
    assert row is not None
    return row


async def test_an_outage_posts_resolves_the_alert_and_follows_up_in_a_new_thread(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait(SEND)
            assert_within_limits(down.body["embeds"])
            (embed,) = down.body["embeds"]
            assert embed["title"] == f"🔴 DOWN #{mid} {site.url}"
            assert "502" in embed_text(embed) and "127.0.0.1" in embed_text(embed)
            assert down.body["allowed_mentions"] == {"parse": []}  # "@everyone" pings no one
            assert buttons(down.body) == [
                f"check502:details:{mid}:a",
                f"check502:recheck:{mid}:a",
                f"check502:mute:{mid}:a",
                f"check502:ack:{mid}:a",
            ]
            row = await sent(rig, "down")
            assert down.body["nonce"] == f"check502:{row['id']}"  # Discord dedupes a resend
            assert down.body["enforce_nonce"] is True
            alert_id = int(row["message_id"])
            assert rig.fake.messages[alert_id]["channel_id"] == str(CHANNEL)

            await asyncio.sleep(1.0)
            site.response = GOOD
            (edit,) = await rig.fake.wait(f"PATCH /channels/{CHANNEL}/messages/{alert_id}")
            assert_within_limits(edit.body["embeds"])
            resolved = edit.body["embeds"][0]
            assert resolved["title"].startswith(f"✅ RESOLVED #{mid} · was ")
            assert "Recovered" in resolved["description"]
            assert edit.body["components"] == []  # nothing left to click
            # The follow-up: no thread yet (404), so one is started on the alert, then posted.
            in_thread = f"POST /channels/{alert_id}/messages"
            first, second = await rig.fake.wait(in_thread, 2)
            (start,) = rig.fake.of(f"POST /channels/{CHANNEL}/messages/{alert_id}/threads")
            assert edit.at <= first.at < start.at < second.at  # the idempotent edit first
            assert start.body["name"] == f"#{mid} {site.url}"
            assert start.body["auto_archive_duration"] == 1440
            (recovered,) = second.body["embeds"]
            assert recovered["title"].startswith(f"✅ RECOVERED #{mid} after ")
            assert buttons(second.body) == []
            row = await sent(rig, "recovered")
            assert row["thread_id"] == str(alert_id)
            assert rig.fake.messages[int(row["message_id"])]["channel_id"] == str(alert_id)
            assert len(rig.fake.of(SEND)) == 1  # nothing went to the channel itself


@pytest.mark.parametrize(
    ("where", "refusal"),
    [
        ("start", error(403, 50001, "Missing Access")),  # no Create Public Threads
        ("start", error(400, 50024, "Cannot execute action on this channel type")),
        ("send", error(403, 50001, "Missing Access")),  # no Send Messages in Threads
    ],
    ids=["thread-forbidden", "threads-not-allowed-here", "thread-send-forbidden"],
)
async def test_without_a_thread_the_follow_up_is_a_reply_to_the_alert(
    tmp_path: Path, control: OkServer, where: str, refusal: Scripted
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            alert_id = int((await sent(rig, "down"))["message_id"])
            if where == "start":
                rig.fake.script[f"POST /channels/{CHANNEL}/messages/{alert_id}/threads"] = [refusal]
            else:
                rig.fake.script[f"POST /channels/{alert_id}/messages"] = [refusal]
            await asyncio.sleep(1.0)
            site.response = GOOD
            _, reply = await rig.fake.wait(SEND, 2)
            assert reply.body["message_reference"] == {
                "type": 0,  # a reply, not a forward
                "message_id": alert_id,
                "channel_id": CHANNEL,
                "fail_if_not_exists": False,
            }
            assert reply.body["embeds"][0]["title"].startswith(f"✅ RECOVERED #{mid}")
            row = await sent(rig, "recovered")
            assert row["thread_id"] is None
            assert rig.fake.messages[int(row["message_id"])]["type"] == 19  # a reply
            assert len(rig.fake.of(f"POST /channels/{alert_id}/messages")) == 1
            assert rig.fake.threads == set()


async def test_a_429_is_waited_out_by_discord_py_and_posted_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script[SEND] = [ratelimited(0.5)]
            site.response = BAD
            first, second = await rig.fake.wait(SEND, 2)
            assert second.at - first.at >= 0.45  # discord.py slept retry_after
            assert second.body == first.body  # the same message, the same nonce
            row = await sent(rig, "down")
            assert row["attempts"] == 0  # the client retried; the outbox never saw a failure
            await asyncio.sleep(1.0)
            assert len(rig.fake.of(SEND)) == 2
            (alert,) = rig.fake.messages.values()
            assert alert["id"] == row["message_id"]


@pytest.mark.parametrize(
    "refusal",
    [error(403, 50001, "Missing Access"), error(404, 10003, "Unknown Channel")],
    ids=["missing-access", "unknown-channel"],
)
async def test_a_channel_the_bot_cannot_post_to_is_given_up_at_once(
    tmp_path: Path, control: OkServer, refusal: Scripted
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script[SEND] = [refusal, refusal, refusal]
            site.response = BAD
            await rig.fake.wait(SEND)
            sql = "SELECT * FROM outbox WHERE kind = 'down' AND failed_at IS NOT NULL"
            await until(lambda: rig.bot.store.row(sql) is not None)
            row = rig.bot.store.row(sql)
            assert row is not None and row["sent_at"] is None
            assert refusal.body["message"] in row["last_error"]
            await asyncio.sleep(1.5)
            assert len(rig.fake.of(SEND)) == 1  # no retry storm


async def test_acknowledge_on_an_alert_edits_it_and_recheck_answers_in_its_thread(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            alert_id = int((await sent(rig, "down"))["message_id"])
            alert = rig.fake.messages[alert_id]
            details, recheck, mute, ack = buttons(alert)
            assert ack == f"check502:ack:{mid}:a"

            click = await rig.click(ack, alert)
            answer = await rig.callback(click)
            assert answer.body["type"] == UPDATE_MESSAGE
            data = answer.body["data"]
            assert_within_limits(data["embeds"])
            assert data["embeds"][0]["footer"]["text"].endswith("✋ Acknowledged by Ana")
            assert data["embeds"][0]["title"] == alert["embeds"][0]["title"]
            assert buttons(data) == [details, recheck, mute]
            incident = rig.bot.store.row("SELECT acked_by FROM incidents")
            assert incident is not None and incident["acked_by"] == str(USER)

            # Re-check on the alert: a fresh check in the alert's thread; the alert stays.
            started = time.monotonic()
            click = await rig.click(recheck, rig.fake.messages[alert_id])
            assert (await rig.callback(click)).body["type"] == DEFERRED_UPDATE
            _, posted = await rig.fake.wait(f"POST /channels/{alert_id}/messages", 2)
            assert posted.at - started < 5
            assert rig.fake.threads == {alert_id}
            (embed,) = posted.body["embeds"]
            assert embed["title"].startswith(f"Re-check of #{mid} · 🔴 ")
            assert "502" in embed["title"]
            assert buttons(posted.body) == [f"check502:recheck:{mid}", f"check502:mute:{mid}"]
            await asyncio.sleep(0.3)
            assert rig.fake.of(f"PATCH /webhooks/*/{click['token']}/messages/@original") == []
            assert buttons(rig.fake.messages[alert_id]) == [details, recheck, mute]


def visible(embed: dict[str, Any]) -> str:
    """What a person reads of an embed: Discord's bold marks and escapes undone."""
    return embed_text(embed).replace("**", "").replace("\\", "")


async def test_the_alert_is_a_compact_card_and_details_posts_the_diagnosis_in_its_thread(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            alert_id = int((await sent(rig, "down"))["message_id"])
            alert = rig.fake.messages[alert_id]
            (embed,) = alert["embeds"]
            seen = visible(embed)
            assert len(seen) <= 1200, len(seen)
            assert f"🔴 DOWN #{mid} {site.url}" in seen  # the headline
            assert "Public: HTTP/1.1 502 Bad Gateway" in seen and "127.0.0.1" in seen
            assert "→ " in seen and "Reproduce" not in seen and "curl" not in seen
            details = buttons(alert)[0]
            assert details == f"check502:details:{mid}:a"

            click = await rig.click(details, alert)
            assert (await rig.callback(click)).body["type"] == DEFERRED_UPDATE
            _, posted = await rig.fake.wait(f"POST /channels/{alert_id}/messages", 2)
            assert rig.fake.threads == {alert_id}  # in the alert's thread
            (full,) = posted.body["embeds"]
            assert full["title"].startswith(f"Details of the alert of #{mid} · 🔴 ")
            text = embed_text(full)
            assert "Reproduce" in text and "curl" in text and "127.0.0.1" in text
            assert_within_limits(posted.body["embeds"])
            assert buttons(rig.fake.messages[alert_id]) == buttons(alert)  # the alert stays


async def test_buttons_and_commands_in_the_alerts_thread_act_on_the_channels_monitor(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            alert_id = int((await sent(rig, "down"))["message_id"])
            recheck = buttons(rig.fake.messages[alert_id])[1]
            await rig.callback(await rig.click(recheck, rig.fake.messages[alert_id]))
            _, posted = await rig.fake.wait(f"POST /channels/{alert_id}/messages", 2)
            result = next(m for m in rig.fake.messages.values() if m["channel_id"] == str(alert_id))
            assert result["embeds"] == posted.body["embeds"]
            assert buttons(result) == [f"check502:recheck:{mid}", f"check502:mute:{mid}"]

            # The re-check's Mute, clicked in the thread: the monitor is its parent channel's.
            click = await rig.click(f"check502:mute:{mid}", result, thread=alert_id)
            answer = await rig.callback(click)
            assert answer.body["type"] == UPDATE_MESSAGE, answer.body
            assert buttons(answer.body["data"]) == [f"check502:recheck:{mid}"]
            muted = rig.bot.store.monitor(mid)
            assert muted is not None and muted.muted_until is not None

            # A command typed in the thread, too.
            typed = await rig.send(
                command_interaction("ack", {"id": mid}, thread=alert_id, synced_to=GUILD)
            )
            data = (await rig.callback(typed)).body["data"]
            assert "Acknowledged" in data["embeds"][0]["description"], data


async def test_muted_the_alert_is_still_marked_resolved_and_the_reply_waits(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            alert_id = int((await sent(rig, "down"))["message_id"])
            details, recheck, mute, ack = buttons(rig.fake.messages[alert_id])
            answer = await rig.callback(await rig.click(mute, rig.fake.messages[alert_id]))
            assert answer.body["type"] == UPDATE_MESSAGE
            assert buttons(answer.body["data"]) == [details, recheck, ack]
            monitor = rig.bot.store.monitor(mid)
            assert monitor is not None and monitor.muted_until is not None

            site.response = GOOD
            (edit,) = await rig.fake.wait(f"PATCH /channels/{CHANNEL}/messages/{alert_id}")
            assert_within_limits(edit.body["embeds"])
            assert edit.body["embeds"][0]["title"].startswith(f"✅ RESOLVED #{mid} · was ")
            assert edit.body["components"] == []  # nothing left to click
            in_thread = f"POST /channels/{alert_id}/messages"
            await asyncio.sleep(1.0)
            assert rig.fake.of(in_thread) == []  # the reply waits for the mute

            await rig.bot.execute(Context(DISCORD_CHANNEL, str(USER)), Unmute(mid))
            _, posted = await rig.fake.wait(in_thread, 2)
            assert posted.body["embeds"][0]["title"].startswith(f"✅ RECOVERED #{mid} after ")
            assert len(rig.fake.of(SEND)) == 1
