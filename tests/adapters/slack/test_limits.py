"""The fake Slack refuses what Slack refuses, and our messages get through it.

slack-sdk's own ``AsyncWebClient`` carries each request to the fake, which validates Block Kit
with slack-sdk's models and Slack's message rules, keeps the messages it posted per channel,
and answers ``thread_not_found`` / ``message_not_found`` for threads and edits of messages it
never posted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model import Alert, AlertKind, Channel, Delivery, MessageRef
from tests.adapters.slack.conftest import slack_rig
from tests.support import OkServer
from tests.support.replies import diagnosis, probe
from tests.support.slack_fake import CHANNEL, TEAM, FakeSlack
from tests.support.slack_render_check import assert_valid_blocks

# slack-sdk warns (UserWarning) before sending blocks without a fallback ``text``; some of
# these requests leave it out on purpose, to meet Slack's own answer.
pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument:UserWarning")


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def actions(*buttons: tuple[str, str], block_id: str = "acts") -> dict[str, Any]:
    elements = [
        {"type": "button", "text": {"type": "plain_text", "text": "go"}, "action_id": a, "value": v}
        for a, v in buttons
    ]
    return {"type": "actions", "block_id": block_id, "elements": elements}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


# (what is posted, Slack's error): each one past a rule.
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("51 blocks", {"blocks": [section("x")] * 51}, "invalid_blocks"),
    ("section text", {"blocks": [section("x" * 3001)]}, "invalid_blocks"),
    ("header", {"blocks": [header("x" * 151)]}, "invalid_blocks"),
    ("button value", {"blocks": [actions(("a", "v" * 2001))]}, "invalid_blocks"),
    ("action_id length", {"blocks": [actions(("a" * 256, "v"))]}, "invalid_blocks"),
    ("action_id twice", {"blocks": [actions(("a", "1"), ("a", "2"))]}, "invalid_blocks"),
    (
        "block_id twice",
        {"blocks": [actions(("a", "1"), block_id="b"), actions(("c", "1"), block_id="b")]},
        "invalid_blocks",
    ),
    ("26 buttons", {"blocks": [actions(*((f"a{i}", "v") for i in range(26)))]}, "invalid_blocks"),
    ("unknown block", {"blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
    ("nothing", {}, "no_text"),
    ("text", {"text": "x" * 40_001}, "msg_too_long"),
    ("thread", {"text": "reply", "thread_ts": "1699999999.000001"}, "thread_not_found"),
]

ACCEPTED: list[dict[str, Any]] = [
    {"blocks": [section("x")] * 50, "text": "fallback"},
    {"blocks": [section("x" * 3000)]},
    {"blocks": [header("x" * 150)]},
    {"blocks": [actions(("a" * 255, "v" * 2000), ("b", "v"))]},
    {"blocks": [actions(("a", "1"), block_id="b1"), actions(("a", "1"), block_id="b2")]},
    {"text": "x" * 40_000},
]


async def test_the_fake_refuses_what_slack_refuses_and_accepts_the_rest() -> None:
    async with FakeSlack() as fake:
        client = AsyncWebClient(token="xoxb-t", base_url=fake.api_url)
        for what, body, code in REFUSED:
            with pytest.raises(SlackApiError, match=code) as refused:
                await client.chat_postMessage(channel=CHANNEL, **body)
            assert refused.value.response["error"] == code, what
        assert fake.messages == {}
        for body in ACCEPTED:
            await client.chat_postMessage(channel=CHANNEL, **body)
        assert len(fake.messages) == len(ACCEPTED)


async def test_threads_and_edits_must_name_a_message_of_that_channel() -> None:
    async with FakeSlack() as fake:
        client = AsyncWebClient(token="xoxb-t", base_url=fake.api_url)
        parent = await client.chat_postMessage(channel=CHANNEL, text="alert")
        reply = await client.chat_postMessage(channel=CHANNEL, text="r", thread_ts=parent["ts"])
        # A reply to a reply goes into the parent's thread, as in Slack.
        nested = await client.chat_postMessage(channel=CHANNEL, text="r2", thread_ts=reply["ts"])
        assert fake.message(CHANNEL, nested["ts"])["thread_ts"] == parent["ts"]
        with pytest.raises(SlackApiError, match="thread_not_found"):
            await client.chat_postMessage(channel="C0OTHER", text="r", thread_ts=parent["ts"])
        await client.chat_update(channel=CHANNEL, ts=parent["ts"], text="resolved")
        assert fake.message(CHANNEL, parent["ts"])["text"] == "resolved"
        for channel, ts in ((CHANNEL, "1699999999.000001"), ("C0OTHER", parent["ts"])):
            with pytest.raises(SlackApiError, match="message_not_found"):
                await client.chat_update(channel=channel, ts=ts, text="x")
        with pytest.raises(SlackApiError, match="invalid_blocks"):
            await client.chat_update(channel=CHANNEL, ts=parent["ts"], blocks=[section("x" * 3001)])
        async with httpx.AsyncClient() as http:
            bad = await http.post(fake.response_url("1"), json={"blocks": [header("x" * 151)]})
            good = await http.post(fake.response_url("1"), json={"blocks": [header("x" * 150)]})
        assert (bad.status_code, bad.text, good.status_code) == (400, "invalid_blocks", 200)


def _huge_down(incident: int) -> Alert:
    d = diagnosis(
        summary="s" * 5000,
        evidence=tuple(f"evidence {i} " + "e" * 300 for i in range(60)),
        reproduce=tuple(f"curl -sv https://shop.example.com/{i}" + "r" * 2000 for i in range(3)),
        probes=(probe(headers=(("Server", "nginx/1.22.1"), ("Via", "v" * 3000))),),
    )
    return Alert(
        AlertKind.DOWN,
        datetime(2026, 12, 1, 12, tzinfo=UTC),
        monitor_id=7,
        url="https://shop.example.com/" + "p" * 3000,
        incident_id=incident,
        diagnosis=d,
    )


async def test_a_huge_alert_goes_as_blocks_and_its_recovery_into_its_thread(
    tmp_path: Path, control: OkServer
) -> None:
    channel = Channel("slack", TEAM, CHANNEL)
    down = _huge_down(3)
    async with slack_rig(tmp_path, control.url) as rig:
        ref = await rig.slack.surface.deliver(Delivery("check502:1", channel, down))
        (post,) = rig.fake.of("chat.postMessage")  # accepted at once: no text-only fallback
        assert_valid_blocks(post.body["blocks"])
        assert "blocks" in rig.fake.message(CHANNEL, ref.message_id)
        up = Alert(AlertKind.RECOVERED, datetime(2026, 12, 1, 12, 5, tzinfo=UTC), monitor_id=7)
        alert = MessageRef(ref.message_id)
        delivered = Delivery("check502:2", channel, up, thread=alert, resolves=alert, original=down)
        reply = await rig.slack.surface.deliver(delivered)
        (update,) = rig.fake.of("chat.update")
    assert update.body["ts"] == ref.message_id
    assert rig.fake.message(CHANNEL, reply.message_id)["thread_ts"] == ref.message_id
