"""Monitor alerts through the Slack surface: post, thread, resolve; 429s, dead channels, buttons.

A real local server flips between healthy and failing under a 1-second monitor; the whole core
runs, and the fake Slack records what the surface posted, where, and with which ``thread_ts``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from adapters.slack.render import ACK, ALERT_ACTIONS, DETAILS, MUTE, RECHECK
from bot.commands import Unmute, Watch
from bot.model import Channel, Context, WatchReply
from tests.adapters.slack.conftest import SlackRig, slack_rig
from tests.bot.conftest import until
from tests.support import OkServer, build_response, ok_server
from tests.support.slack_fake import CHANNEL, TEAM, error, ratelimited
from tests.support.slack_render_check import assert_valid_blocks, block_text

BAD = build_response(502, b"<html><body>upstream failed</body></html>", {"Server": "<!channel>"})
GOOD = build_response(200, b"ok")
SLACK_CHANNEL = Channel("slack", TEAM, CHANNEL)


async def watch(rig: SlackRig, url: str, channel: Channel = SLACK_CHANNEL) -> int:
    """A 1-second monitor (below the grammar's 30 s floor, as tests may); its id."""
    reply = await rig.bot.execute(Context(channel, "U0001"), Watch(url, every=1, confirm=2))
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


async def sent_ts(rig: SlackRig) -> str:
    """The Slack ``ts`` the outbox recorded for the DOWN alert, once it is recorded."""
    sql = "SELECT message_id FROM outbox WHERE kind = 'down' AND message_id IS NOT NULL"
    await until(lambda: rig.bot.store.row(sql) is not None)
    row = rig.bot.store.row(sql)
    assert row is not None
    return str(row["message_id"])


def buttons(blocks: list[dict[str, object]]) -> dict[str, str]:
    return {
        e["action_id"]: e["value"]  # type: ignore[index]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]  # type: ignore[attr-defined]
    }


async def test_an_outage_posts_follows_up_in_the_thread_and_resolves_the_alert(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait("chat.postMessage")
            assert down.body["channel"] == CHANNEL
            assert "thread_ts" not in down.body
            assert_valid_blocks(down.body["blocks"])
            text = block_text(down.body["blocks"])
            assert f"DOWN #{mid}" in text and "502" in text and "127.0.0.1" in text
            assert "<!channel>" not in text  # no one is pinged
            assert "<!channel>" not in down.body["text"]
            assert buttons(down.body["blocks"]) == {
                DETAILS: str(mid),
                RECHECK: str(mid),
                MUTE: str(mid),
                ACK: str(mid),
            }
            alert_ts = await sent_ts(rig)
            assert alert_ts.startswith("1700000000.")

            await asyncio.sleep(1.0)
            site.response = GOOD
            (update,) = await rig.fake.wait("chat.update")
            assert update.body["ts"] == alert_ts and update.body["channel"] == CHANNEL
            assert_valid_blocks(update.body["blocks"])
            resolved = block_text(update.body["blocks"])
            assert f"RESOLVED #{mid}" in resolved and "Recovered" in resolved
            assert ACK not in buttons(update.body["blocks"])  # nothing left to acknowledge
            _, recovered = await rig.fake.wait("chat.postMessage", 2)
            assert recovered.body["thread_ts"] == alert_ts
            assert recovered.body["reply_broadcast"] is True
            assert "RECOVERED" in recovered.body["text"]
            assert update.at <= recovered.at  # the idempotent edit goes first


async def test_a_429_is_retried_after_retry_after_and_posted_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["chat.postMessage"] = [ratelimited(1)]
            site.response = BAD
            first, second = await rig.fake.wait("chat.postMessage", 2)
            assert second.at - first.at >= 0.9  # slack-sdk's handler slept Retry-After
            await asyncio.sleep(1.0)
            assert len(rig.fake.of("chat.postMessage")) == 2  # one refused, one posted
            row = rig.bot.store.row("SELECT sent_at, attempts FROM outbox WHERE kind = 'down'")
            assert row is not None and row["sent_at"] is not None


async def test_persistent_429s_go_back_to_the_outbox_with_retry_after(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            # The client retries twice itself; the third 429 reaches the outbox.
            rig.fake.script["chat.postMessage"] = [ratelimited(1)] * 3
            site.response = BAD
            calls = await rig.fake.wait("chat.postMessage", 4, timeout=15)
            assert calls[3].at - calls[2].at >= 0.9
            await until(
                lambda: (
                    rig.bot.store.row(
                        "SELECT 1 FROM outbox WHERE kind = 'down' AND sent_at IS NOT NULL"
                    )
                    is not None
                )
            )
            row = rig.bot.store.row("SELECT attempts, last_error FROM outbox WHERE kind = 'down'")
            assert row is not None and row["attempts"] == 1 and "rate limited" in row["last_error"]


async def test_a_channel_the_bot_cannot_post_to_is_given_up_at_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["chat.postMessage"] = [error("channel_not_found")]
            site.response = BAD
            await rig.fake.wait("chat.postMessage")
            await until(
                lambda: (
                    rig.bot.store.row("SELECT 1 FROM outbox WHERE failed_at IS NOT NULL")
                    is not None
                )
            )
            row = rig.bot.store.row("SELECT attempts, last_error FROM outbox WHERE kind = 'down'")
            assert row is not None and "channel_not_found" in row["last_error"]
            await asyncio.sleep(1.5)
            assert len(rig.fake.of("chat.postMessage")) == 1  # no retry storm


async def test_slack_down_loses_no_alert(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            await watch(rig, site.url)
            rig.fake.script["chat.postMessage"] = [error("internal_error")] * 2
            site.response = BAD
            calls = await rig.fake.wait("chat.postMessage", 3, timeout=20)
            assert calls[2].body["blocks"] == calls[0].body["blocks"]  # the same alert again
            await until(
                lambda: (
                    rig.bot.store.row("SELECT 1 FROM outbox WHERE sent_at IS NOT NULL") is not None
                )
            )


async def test_acknowledge_button_on_an_alert_stops_reminders_in_place(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait("chat.postMessage")
            alert_ts = await sent_ts(rig)
            message = {"type": "message", "ts": alert_ts, "text": down.body["text"]}
            message["blocks"] = down.body["blocks"]
            r, click_url = await rig.click(ACK, str(mid), message)
            assert r.status_code == 200
            (update,) = await rig.answers(click_url)
            assert update.body["replace_original"] is True
            assert_valid_blocks(update.body["blocks"])
            assert "Acknowledged by <@U0001>" in block_text(update.body["blocks"])
            assert set(buttons(update.body["blocks"])) == {DETAILS, RECHECK, MUTE}
            incident = rig.bot.store.row("SELECT acked_by FROM incidents")
            assert incident is not None and incident["acked_by"] == "U0001"

            # Re-check on the alert answers in its thread, leaving the alert as it is.
            before = len(rig.fake.of("chat.postMessage"))
            started = time.monotonic()
            await rig.click(RECHECK, str(mid), message)
            calls = await rig.fake.wait("chat.postMessage", before + 1)
            recheck = calls[-1]
            assert recheck.body["thread_ts"] == alert_ts
            assert f"Re-check of #{mid}" in block_text(recheck.body["blocks"])
            assert recheck.at - started < 5
            assert any(b.get("block_id") == ALERT_ACTIONS for b in down.body["blocks"])


def visible(blocks: list[dict[str, object]]) -> str:
    """What a person reads of ``blocks``: mrkdwn's bold marks and Slack's entities undone."""
    text = block_text(blocks).replace("*", "").replace("`", "")  # type: ignore[arg-type]
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_the_alert_is_a_compact_card_and_details_posts_the_diagnosis_in_its_thread(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait("chat.postMessage")
            assert_valid_blocks(down.body["blocks"])
            seen = visible(down.body["blocks"])
            assert len(seen) <= 1200, len(seen)
            assert f"🔴 DOWN #{mid} {site.url}" in seen  # the headline
            assert "Public: HTTP/1.1 502 Bad Gateway" in seen and "127.0.0.1" in seen
            assert "→ " in seen and "Reproduce" not in seen and "curl" not in seen
            alert_ts = await sent_ts(rig)
            message = {"type": "message", "ts": alert_ts, "text": down.body["text"]}
            message["blocks"] = down.body["blocks"]

            await rig.click(DETAILS, str(mid), message)
            calls = await rig.fake.wait("chat.postMessage", 2)
            details = calls[-1]
            assert details.body["thread_ts"] == alert_ts
            assert_valid_blocks(details.body["blocks"])
            full = block_text(details.body["blocks"])
            assert f"Details of the alert of #{mid}" in full
            assert "Reproduce" in full and "curl" in full and "127.0.0.1" in full
            assert "<!channel>" not in full and "&lt;!channel&gt;" in full  # no one is pinged


async def test_muted_the_alert_is_still_marked_resolved_and_the_reply_waits(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            mid = await watch(rig, site.url)
            site.response = BAD
            (down,) = await rig.fake.wait("chat.postMessage")
            alert_ts = await sent_ts(rig)
            message = {"type": "message", "ts": alert_ts, "text": down.body["text"]}
            message["blocks"] = down.body["blocks"]
            _, click_url = await rig.click(MUTE, str(mid), message)
            (muted,) = await rig.answers(click_url)
            assert "Muted for 1 h by <@U0001>" in block_text(muted.body["blocks"])
            monitor = rig.bot.store.monitor(mid)
            assert monitor is not None and monitor.muted_until is not None

            site.response = GOOD
            (update,) = await rig.fake.wait("chat.update")
            assert update.body["ts"] == alert_ts and update.body["channel"] == CHANNEL
            assert_valid_blocks(update.body["blocks"])
            assert f"RESOLVED #{mid}" in block_text(update.body["blocks"])
            assert buttons(update.body["blocks"]) == {}  # no Re-check, Mute or Acknowledge
            await asyncio.sleep(1.0)
            assert len(rig.fake.of("chat.postMessage")) == 1  # the reply waits for the mute

            await rig.bot.execute(Context(SLACK_CHANNEL, "U0001"), Unmute(mid))
            _, recovered = await rig.fake.wait("chat.postMessage", 2)
            assert recovered.body["thread_ts"] == alert_ts
            assert "RECOVERED" in recovered.body["text"]
            assert len(rig.fake.of("chat.update")) == 1
