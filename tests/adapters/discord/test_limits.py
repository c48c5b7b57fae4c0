"""The fake Discord refuses what Discord refuses, and our messages get through it.

discord.py itself (a logged-in client's ``send``) carries each message to the fake, so the
request bodies are the library's; the fake answers 400 "Invalid Form Body" (code 50035) past
each of Discord's limits, and returns the first message for a repeated ``enforce_nonce``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import httpx
import pytest

from bot.model import Alert, AlertKind, Delivery
from tests.adapters.discord.conftest import DISCORD_CHANNEL, assert_within_limits, discord_rig
from tests.support import OkServer
from tests.support.discord_fake import (
    CHANNEL,
    EMBED_TOTAL,
    TOKEN,
    FakeDiscord,
    embed_size,
    lost,
)
from tests.support.replies import diagnosis, probe

SEND = "POST /channels/*/messages"


def _embed(**parts: Any) -> dict[str, Any]:
    """An embed as JSON (what discord.py's ``Embed.to_dict`` sends)."""
    embed: dict[str, Any] = {"type": "rich"}
    for key in ("title", "description"):
        if key in parts:
            embed[key] = parts[key]
    if "fields" in parts:
        embed["fields"] = [{"name": n, "value": v, "inline": False} for n, v in parts["fields"]]
    if "footer" in parts:
        embed["footer"] = {"text": parts["footer"]}
    if "author" in parts:
        embed["author"] = {"name": parts["author"]}
    return embed


def _button(custom_id: str) -> list[dict[str, Any]]:
    button = {"type": 2, "style": 1, "label": "go", "custom_id": custom_id}
    return [{"type": 1, "components": [button]}]


# (what is sent, where Discord's error names it): each one past a limit.
OVER: list[tuple[dict[str, Any], str]] = [
    ({"content": "x" * 2001}, "content"),
    ({"embeds": [_embed(title="t") for _ in range(11)]}, "embeds"),
    ({"embeds": [_embed(title="x" * 257)]}, "embeds.0.title"),
    ({"embeds": [_embed(description="x" * 4097)]}, "embeds.0.description"),
    ({"embeds": [_embed(fields=[("n", "v")] * 26)]}, "embeds.0.fields"),
    ({"embeds": [_embed(fields=[("x" * 257, "v")])]}, "embeds.0.fields.0.name"),
    ({"embeds": [_embed(fields=[("n", "x" * 1025)])]}, "embeds.0.fields.0.value"),
    ({"embeds": [_embed(fields=[("n", "")])]}, "embeds.0.fields.0.value"),
    ({"embeds": [_embed(footer="x" * 2049)]}, "embeds.0.footer.text"),
    ({"embeds": [_embed(author="x" * 257)]}, "embeds.0.author.name"),
    ({"embeds": [_embed(description="x" * 3000), _embed(description="x" * 3001)]}, "embeds"),
    ({"embeds": [_embed(description="x" * 4000, fields=[("n", "x" * 1000)] * 2)]}, "embeds"),
    (
        {"embeds": [_embed(title="t" * 200, footer="f" * 2000, author="a" * 200)] * 3},
        "embeds",
    ),
    ({"content": "ok", "components": _button("x" * 101)}, "components.0.components.0.custom_id"),
    ({"content": "ok", "components": _button("")}, "components.0.components.0.custom_id"),
    ({"content": "ok", "nonce": "n" * 26, "enforce_nonce": True}, "nonce"),
]

AT_THE_LIMIT: list[dict[str, Any]] = [
    {"content": "x" * 2000},
    {"embeds": [_embed(title="t") for _ in range(10)]},
    {"embeds": [_embed(description="x" * 3000), _embed(description="x" * 3000)]},
    {
        "embeds": [
            _embed(
                title="x" * 256,
                description="x" * 2000,
                fields=[("n" * 100, "x" * 1024)] * 2,
                footer="x" * 1000,
                author="x" * 256,
            )
        ]
    },
    {"embeds": [_embed(fields=[("n", "v")] * 25)]},
    {"content": "ok", "components": _button("x" * 100)},
    {"content": "ok", "nonce": "n" * 25, "enforce_nonce": True},
]


def _errors(body: dict[str, Any], path: str) -> list[dict[str, str]]:
    node: Any = body["errors"]
    for key in path.split("."):
        node = node[key]
    return list(node["_errors"])


async def test_the_fake_refuses_past_each_limit_and_accepts_at_it() -> None:
    url = f"/channels/{CHANNEL}/messages"
    async with FakeDiscord() as fake, httpx.AsyncClient(base_url=fake.api_url) as http:
        headers = {"Authorization": f"Bot {TOKEN}"}
        for body, path in OVER:
            answer = await http.post(url, json=body, headers=headers)
            assert answer.status_code == 400, (path, answer.text)
            refused = answer.json()
            assert (refused["code"], refused["message"]) == (50035, "Invalid Form Body")
            assert _errors(refused, path), path
        assert fake.messages == {}  # nothing refused was created
        for body in AT_THE_LIMIT:
            answer = await http.post(url, json=body, headers=headers)
            assert answer.status_code == 200, answer.text
    assert len(fake.messages) == len(AT_THE_LIMIT)
    size = embed_size(list(fake.messages.values())[3]["embeds"][0])
    assert size == 256 + 2000 + 2 * (100 + 1024) + 1000 + 256 == EMBED_TOTAL - 240


async def test_discord_py_sees_the_refusal_as_discord_words_it(
    tmp_path: Path, control: OkServer
) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        channel = rig.client.get_partial_messageable(CHANNEL)
        embeds = [discord.Embed(description="x" * 3000), discord.Embed(description="y" * 3001)]
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(embeds=embeds)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert "In embeds: Embed size exceeds maximum size of 6000" in refused.value.text
    assert rig.fake.messages == {}


async def test_the_same_nonce_within_minutes_is_one_message(
    tmp_path: Path, control: OkServer
) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        channel = rig.client.get_partial_messageable(CHANNEL)
        first = await channel.send(content="one", nonce="check502:41")
        again = await channel.send(content="one", nonce="check502:41")
        other = await channel.send(content="two", nonce="check502:42")
    assert first.id == again.id != other.id
    assert len(rig.fake.of(SEND)) == 3
    assert all(c.body["enforce_nonce"] is True for c in rig.fake.of(SEND))
    assert len(rig.fake.messages) == 2


def _huge_alert() -> Alert:
    """A DOWN alert whose diagnosis, rendered in full, is far past 6,000 characters."""
    d = diagnosis(
        summary="s" * 3900,
        evidence=tuple(f"evidence {i} " + "e" * 150 for i in range(40)),
        reproduce=tuple(f"curl -sv https://shop.example.com/{i}" + "r" * 800 for i in range(4)),
        probes=(probe(headers=(("Server", "nginx/1.22.1"), ("Via", "v" * 900))),),
    )
    raw = len(d.verdict.summary) + sum(map(len, d.verdict.evidence)) * 2
    assert raw + sum(map(len, d.verdict.reproduce)) > 3 * EMBED_TOTAL
    return Alert(
        AlertKind.DOWN,
        datetime(2026, 12, 1, 12, tzinfo=UTC),
        monitor_id=7,
        url="https://shop.example.com/",
        incident_id=3,
        diagnosis=d,
    )


async def test_a_diagnosis_past_6000_goes_as_a_compact_card_and_is_accepted(
    tmp_path: Path, control: OkServer
) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        ref = await rig.client.surface.deliver(
            Delivery("check502:9", DISCORD_CHANNEL, _huge_alert())
        )
        (call,) = rig.fake.of(SEND)
    message = rig.fake.messages[int(ref.message_id)]
    (embed,) = message["embeds"]
    assert_within_limits(call.body["embeds"])
    # The alert is the compact card (the full diagnosis is behind Details): well within limits.
    assert 200 < embed_size(embed) <= 1200
    assert embed["title"] == "🔴 DOWN #7 https://shop.example.com/"
    assert message["components"]  # its buttons, Details first


async def test_a_lost_answer_retried_with_the_same_nonce_is_one_message(
    tmp_path: Path, control: OkServer
) -> None:
    """The edge drops Discord's answer after the message was created; discord.py retries the
    502 with the same body; the outbox key as the nonce makes it the same message."""
    async with discord_rig(tmp_path, control.url) as rig:
        rig.fake.script[SEND] = [lost()]
        alert = Alert(AlertKind.DOWN, datetime(2026, 12, 1, tzinfo=UTC), monitor_id=7)
        ref = await rig.client.surface.deliver(Delivery("check502:12", DISCORD_CHANNEL, alert))
        calls = rig.fake.of(SEND)
    assert len(calls) == 2 and calls[0].body["nonce"] == calls[1].body["nonce"] == "check502:12"
    assert list(rig.fake.messages) == [int(ref.message_id)]
