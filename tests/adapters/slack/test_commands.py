"""``/check502`` through the real Bolt app over HTTP: signed requests in, Slack's calls out.

Every test drives real servers on 127.0.0.1 (nginx in front of a dead upstream for the 502),
the real slack-bolt request path (signature check, ack, lazy listeners, ``respond()``), and
records what reached the fake Slack.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.render import MUTE, RECHECK, RERUN
from tests.adapters.slack.conftest import slack_rig
from tests.support import OkServer, closed_port, nginx, ok_server
from tests.support.slack_fake import SECRET, command_form, signed
from tests.support.slack_render_check import assert_valid_blocks, block_text

pytestmark = pytest.mark.gateways


async def test_check_acks_at_once_then_replaces_it_with_the_diagnosis(
    tmp_path: Path, control: OkServer
) -> None:
    with closed_port() as dead, nginx(dead.url) as gw:
        async with slack_rig(tmp_path, control.url) as rig:
            r, response_url, took = await rig.command(f"{gw.url}cart origin={dead.url}")
            acked = time.monotonic()
            assert r.status_code == 200
            assert took < 3.0
            ack = r.json()
            assert ack["response_type"] == "in_channel"
            assert ack["text"] == f"Checking {gw.url}cart…"
            (call,) = await rig.answers(response_url)
            # The result replaces the ack: it must not reach Slack before the ack has.
            assert call.at > acked
            result = call.body
            assert result["response_type"] == "in_channel"
            assert result["replace_original"] is True
            assert_valid_blocks(result["blocks"])
            text = block_text(result["blocks"])
            assert "HTTP/1.1 502 Bad Gateway" in text  # status and HTTP version
            assert "Origin down" in text  # the verdict
            assert "nginx" in text  # who generated it
            for phase in ("DNS", "connect", "first byte", "total"):
                assert phase in text
            assert "`127.0.0.1`" in text  # resolved and used IP
            assert "*Public*" in text and "*Origin bypass*" in text
            assert "connect_refused" in text  # the origin side of the comparison
            assert "*Evidence*" in text and "*Next steps*" in text and "```curl" in text
            buttons = [e for b in result["blocks"] if b["type"] == "actions" for e in b["elements"]]
            assert [b["action_id"] for b in buttons] == [RERUN]
            assert "502" in result["text"]  # the fallback text says it too


async def test_a_usage_error_is_the_ephemeral_ack_and_nothing_else(
    tmp_path: Path, control: OkServer
) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        r, response_url, _ = await rig.command("wacth https://example.com/")
        assert r.status_code == 200
        body = r.text
        assert "✗" in body and "watch" in body
        assert "in_channel" not in body
        await asyncio.sleep(0.5)
        assert rig.fake.of(response_url.removeprefix(rig.fake.url)) == []


async def test_a_refused_target_is_told_privately_and_the_ack_removed(
    tmp_path: Path, control: OkServer
) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        r, response_url, _ = await rig.command("http://10.0.0.1/")  # private: refused
        acked = time.monotonic()
        assert r.json()["response_type"] == "in_channel"
        path = response_url.removeprefix(rig.fake.url)
        delete, private = await rig.fake.wait(path, 2)
        assert delete.at > acked  # a refusal is instant: deleting the ack waits for it
        assert delete.body.get("delete_original") is True
        assert private.body["response_type"] == "ephemeral"
        assert "private" in private.body["text"].lower() or "refus" in private.body["text"].lower()
        assert "blocks" not in private.body


async def test_help_is_ephemeral_and_escaped(tmp_path: Path, control: OkServer) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        r, _, took = await rig.command("help")
        assert took < 3.0
        ack = r.json()
        assert ack.get("response_type", "ephemeral") == "ephemeral"
        assert_valid_blocks(ack["blocks"])
        text = block_text(ack["blocks"])
        assert "watch" in text and "&lt;url&gt;" in text and "<url>" not in text


async def test_watch_then_mute_button_updates_the_message_in_place(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            r, response_url, _ = await rig.command(f"watch {site.url} every=30s")
            assert r.json()["text"].startswith("Checking")
            (reply,) = await rig.answers(response_url)
            (monitor,) = rig.bot.store.monitors_in(_channel())
            blocks = reply.body["blocks"]
            assert_valid_blocks(blocks)
            assert f"Watching #{monitor.id}" in block_text(blocks)
            values = {
                e["action_id"]: e["value"]
                for b in blocks
                if b["type"] == "actions"
                for e in b["elements"]
            }
            assert values == {RECHECK: str(monitor.id), MUTE: str(monitor.id)}

            message = {
                "type": "message",
                "ts": "1700000000.000009",
                "text": reply.body["text"],
                "blocks": blocks,
            }
            r, click_url = await rig.click(MUTE, values[MUTE], message)
            assert r.status_code == 200
            (update,) = await rig.answers(click_url)
            assert update.body["replace_original"] is True
            assert_valid_blocks(update.body["blocks"])
            assert "Muted for 1 h by <@U0001>" in block_text(update.body["blocks"])
            left = [
                e["action_id"]
                for b in update.body["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
            ]
            assert left == [RECHECK]
            muted = rig.bot.store.monitor(monitor.id)
            assert muted is not None and muted.muted_until is not None


async def test_recheck_button_replaces_the_result_with_a_fresh_check(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            _, monitor = await rig.typed_watch(site.url)
            r, click_url = await rig.click(RECHECK, str(monitor.id))
            assert r.status_code == 200
            (update,) = await rig.answers(click_url)
            assert update.body["replace_original"] is True
            assert f"Re-check of #{monitor.id}" in block_text(update.body["blocks"])
            assert "200 OK" in block_text(update.body["blocks"])


async def test_a_button_for_another_channels_monitor_is_refused_privately(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            _, monitor = await rig.typed_watch(site.url)
            _, click_url = await rig.click(MUTE, str(monitor.id), channel="C0999")
            (answer,) = await rig.answers(click_url)
            assert answer.body["response_type"] == "ephemeral"
            assert f"no monitor #{monitor.id}" in answer.body["text"]
            still = rig.bot.store.monitor(monitor.id)
            assert still is not None and still.muted_until is None


async def test_run_again_button_repeats_the_check(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            _, response_url, _ = await rig.command(site.url)
            (first,) = await rig.answers(response_url)
            (value,) = [
                e["value"]
                for b in first.body["blocks"]
                if b["type"] == "actions"
                for e in b["elements"]
            ]
            assert site.url in value
            before = len(site.requests)
            _, click_url = await rig.click(RERUN, value)
            (again,) = await rig.answers(click_url)
            assert again.body["replace_original"] is True
            assert "200 OK" in block_text(again.body["blocks"])
            assert len(site.requests) > before


@pytest.mark.parametrize(
    ("why", "sign"),
    [
        ("bad signature", {"signature": "v0=" + "0" * 64}),
        ("wrong secret", {"secret": "not-the-secret"}),
        ("stale timestamp", {"timestamp_offset": -400}),
    ],
)
async def test_unsigned_or_stale_requests_get_401_and_do_nothing(
    tmp_path: Path, control: OkServer, why: str, sign: dict[str, Any]
) -> None:
    import time

    async with slack_rig(tmp_path, control.url) as rig:
        response_url = rig.next_url()
        form = command_form("https://example.com/", response_url)
        options: dict[str, Any] = {"secret": SECRET}
        if "timestamp_offset" in sign:
            options["timestamp"] = int(time.time()) + sign["timestamp_offset"]
        else:
            options.update(sign)
        body, headers = signed(form, **options)
        r = await rig.http.post(rig.url, content=body, headers=headers)
        assert r.status_code == 401, why
        assert json.loads(r.text) == {"error": "invalid request"}
        await asyncio.sleep(0.3)
        assert rig.fake.calls == []


def _channel() -> Any:
    from bot.model import Channel
    from tests.support.slack_fake import CHANNEL, TEAM

    return Channel("slack", TEAM, CHANNEL)
