"""A regional DOWN alert through the Discord surface: one inline embed field per region,
within every limit the fake Discord enforces, and its resolve edit keeps them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import Alert, AlertKind, Delivery, MessageRef, RegionView
from tests.adapters.discord.conftest import DISCORD_CHANNEL, assert_within_limits, discord_rig
from tests.support import OkServer
from tests.support.discord_fake import CHANNEL
from tests.support.region_views import AT, THREE, WIDEST, regional_down

SEND = "POST /channels/*/messages"


async def test_each_region_is_an_inline_field(tmp_path: Path, control: OkServer) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        await rig.client.surface.deliver(Delivery("check502:1", DISCORD_CHANNEL, regional_down()))
        (call,) = rig.fake.of(SEND)
    (embed,) = call.body["embeds"]
    assert_within_limits([embed])
    eu, us, ap = embed["fields"]
    assert all(f["inline"] for f in (eu, us, ap))
    assert eu["name"] == "🔴 eu" and "`502` · 41 ms" in eu["value"]
    assert "198.51.100.7" in eu["value"] and "Origin down" in eu["value"]
    assert us["name"] == "🔴 us" and "`connect_refused`" in us["value"]
    assert ap["name"] == "⚪ ap" and "*(not counted: no answer from this region)*" in ap["value"]
    assert "Seen from 3 regions: 2 failing, 0 up, 1 not counted" in embed["description"]


@pytest.mark.parametrize("views", [THREE, WIDEST], ids=["three", "sixteen"])
async def test_a_regional_alert_and_its_resolve_stay_within_discords_limits(
    tmp_path: Path, control: OkServer, views: tuple[RegionView, ...]
) -> None:
    down = regional_down(views)
    async with discord_rig(tmp_path, control.url) as rig:
        ref = await rig.client.surface.deliver(Delivery("check502:1", DISCORD_CHANNEL, down))
        up = Alert(AlertKind.RECOVERED, AT, monitor_id=7, incident_id=41)
        alert = MessageRef(ref.message_id)
        resolved = Delivery("check502:2", DISCORD_CHANNEL, up, thread=alert, resolves=alert,
                            original=down)  # fmt: skip
        await rig.client.surface.deliver(resolved)
        (post,) = rig.fake.of(SEND)[:1]
        (edit,) = rig.fake.of(f"PATCH /channels/{CHANNEL}/messages/{ref.message_id}")
    for embeds in (post.body["embeds"], edit.body["embeds"]):
        assert_within_limits(embeds)
        assert len(embeds[0]["fields"]) == len(views)
