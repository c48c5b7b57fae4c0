"""``list`` and ``details`` of a monitor checked from regions, on every surface: where it is
checked from (``regions eu, us, ap · quorum 2 of 3``) and, in details, each region's result of
its alert, within each platform's limits."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.cli.render import Style
from adapters.console.render import render_alert, render_reply
from adapters.discord import render as discord_render
from adapters.slack import render as slack_render
from adapters.telegram import render as telegram_render
from bot.model import AlertKind, Channel, DiagnosisReply, ListReply, RegionView, WatchReply
from checks import Cause
from tests.adapters.discord.conftest import assert_within_limits
from tests.support.region_views import THREE, WIDEST, regional_down
from tests.support.replies import diagnosis
from tests.support.replies import monitor as _monitor
from tests.support.slack_render_check import assert_valid_blocks, block_text
from tests.support.telegram_fake import parse_html, utf16

CHANNEL = Channel("slack", "T1", "C1")
SETUP = "regions eu, us, ap · quorum 2 of 3"


def listing() -> ListReply:
    regional = dataclasses.replace(_monitor(1, CHANNEL), regions=("eu", "us", "ap"), quorum=2)
    majority = dataclasses.replace(_monitor(2, CHANNEL), regions=("eu", "us", "ap"))
    return ListReply((regional, majority, _monitor(3, CHANNEL)))


def test_list_shows_regions_and_the_quorum_on_every_surface() -> None:
    texts = {
        "console": render_reply(listing(), Style(False)),
        "slack": block_text(slack_render.reply_message(listing()).blocks),
        "telegram": "".join(
            parse_html(m.text)[0] for m in telegram_render.reply_messages(listing())
        ),
    }
    embed = discord_render.reply_message(listing()).embed
    assert embed is not None and embed.description is not None
    texts["discord"] = embed.description
    for surface, text in texts.items():
        # #1 names its quorum, #2 gets the majority, #3 is checked by the bot itself.
        assert text.count(SETUP) == 2, surface
        assert text.count("regions ") == 2, surface


def details(views: tuple[RegionView, ...]) -> DiagnosisReply:
    return DiagnosisReply(
        diagnosis(), 1, details=True, regions=("eu", "us", "ap"), quorum=2, views=views
    )


@pytest.mark.parametrize("views", [THREE, WIDEST], ids=["three", "sixteen"])
def test_details_shows_each_regions_result_within_the_limits(
    views: tuple[RegionView, ...],
) -> None:
    reply = details(views)
    first = views[0].region
    console = render_reply(reply, Style(False))
    assert f"Checked from {SETUP}" in console and first in console

    blocks = slack_render.reply_message(reply).blocks
    assert_valid_blocks(blocks)
    assert f"Checked from {SETUP}" in block_text(blocks) and first in block_text(blocks)
    regional = [f for b in blocks for f in b.get("fields", ()) if f["text"][:1] in "🟢🔴⚪"]
    assert len(regional) == len(views)

    embed = discord_render.reply_message(reply).embed
    assert embed is not None
    data = embed.to_dict()
    assert_within_limits([data])  # type: ignore[list-item]
    assert f"Checked from {SETUP}" in data.get("description", "")
    assert any(f["name"].endswith(first) for f in data.get("fields", []))

    [message] = telegram_render.reply_messages(reply)
    text, entities = parse_html(message.text)
    assert utf16(text) <= telegram_render.TEXT_LIMIT
    assert f"Checked from {SETUP}" in text and first in text
    assert any(e["type"] == "pre" for e in entities)


def test_details_of_a_local_monitor_say_nothing_of_regions() -> None:
    plain = DiagnosisReply(diagnosis(), 1, details=True)
    assert "regions" not in render_reply(plain, Style(False))
    assert "Checked from" not in block_text(slack_render.reply_message(plain).blocks)


def test_a_cause_change_follow_up_shows_the_regions_again() -> None:
    changed = dataclasses.replace(
        regional_down(), kind=AlertKind.CAUSE_CHANGED, previous_cause=Cause.TIMEOUT
    )
    console = render_alert(changed, Style(False))
    assert "Seen from 3 regions" in console and "198.51.100.8" in console
    blocks = slack_render.alert_message(changed).blocks
    assert_valid_blocks(blocks)
    assert "Seen from 3 regions" in block_text(blocks)
    embed = discord_render.alert_message(changed).embed
    assert embed is not None
    data = embed.to_dict()
    assert_within_limits([data])  # type: ignore[list-item]
    assert [f["name"] for f in data["fields"]][-3:] == ["🔴 eu", "🔴 us", "⚪ ap"]
    text, entities = parse_html(telegram_render.alert_message(changed).text)
    assert "Seen from 3 regions" in text and any(e["type"] == "pre" for e in entities)


def test_the_watch_reply_says_where_a_regional_monitor_is_checked_from() -> None:
    m = dataclasses.replace(_monitor(1, CHANNEL), regions=("eu", "us", "ap"))
    reply = WatchReply(m, diagnosis())
    said = "Checked from eu, us, ap: a check fails when 2 of the 3 regions see it fail."
    assert said in render_reply(reply, Style(False)).replace("\n", " ")
    assert said in block_text(slack_render.reply_message(reply).blocks)
    embed = discord_render.reply_message(reply).embed
    assert embed is not None and said in (embed.description or "")
    [message] = telegram_render.reply_messages(reply)
    assert said in parse_html(message.text)[0]
    local = WatchReply(_monitor(1, CHANNEL), diagnosis())
    assert "Checked from" not in render_reply(local, Style(False))
