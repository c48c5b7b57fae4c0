"""A regional DOWN alert through the Telegram surface: a monospace table of the regions,
accepted by the fake Telegram (HTML parsed as Telegram parses it, 4,096 UTF-16 units after the
tags), and its resolve edit keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.telegram.render import TEXT_LIMIT
from bot.model import Alert, AlertKind, Channel, Delivery, MessageRef, RegionView
from tests.adapters.telegram.conftest import telegram_rig
from tests.support import OkServer
from tests.support.region_views import AT, THREE, WIDEST, regional_down
from tests.support.telegram_fake import GROUP, parse_html, utf16

GROUP_CHANNEL = Channel("telegram", "-", str(GROUP))


async def test_the_regions_are_a_monospace_table(tmp_path: Path, control: OkServer) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        ref = await rig.telegram.surface.deliver(
            Delivery("check502:1", GROUP_CHANNEL, regional_down())
        )
        shown = rig.fake.message(GROUP, int(ref.message_id))
    text = shown["text"]
    assert "Seen from 3 regions: 2 failing, 0 up, 1 not counted" in text
    lines = text.splitlines()
    head = lines.index("region status          latency IP           cause")
    assert lines[head + 1 : head + 5] == [
        "eu     502             41 ms   198.51.100.7 Origin down",
        "us     connect_refused 3 ms    198.51.100.8 Origin down",
        "ap     no_answer       –       –            –",
        "  (not counted: no answer from this region)",
    ]
    pre = [e for e in shown["entities"] if e["type"] == "pre"]
    assert len(pre) == 1  # the table, in one monospace block


@pytest.mark.parametrize("views", [THREE, WIDEST], ids=["three", "sixteen"])
async def test_a_regional_alert_and_its_resolve_stay_within_telegrams_limits(
    tmp_path: Path, control: OkServer, views: tuple[RegionView, ...]
) -> None:
    down = regional_down(views)
    async with telegram_rig(tmp_path, control.url) as rig:
        ref = await rig.telegram.surface.deliver(Delivery("check502:1", GROUP_CHANNEL, down))
        up = Alert(AlertKind.RECOVERED, AT, monitor_id=7, incident_id=41)
        alert = MessageRef(ref.message_id)
        resolved = Delivery("check502:2", GROUP_CHANNEL, up, thread=alert, resolves=alert,
                            original=down)  # fmt: skip
        await rig.telegram.surface.deliver(resolved)
        (post,) = rig.fake.of("sendMessage")[:1]
        (edit,) = rig.fake.of("editMessageText")
    for call in (post, edit):  # each accepted: the fake refuses bad HTML and long texts
        text, _ = parse_html(call.params["text"])
        assert utf16(text) <= TEXT_LIMIT
        assert views[0].region in text and "Seen from" in text
