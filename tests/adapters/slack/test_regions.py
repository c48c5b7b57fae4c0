"""A regional DOWN alert through the Slack surface: each region side by side in section
fields, accepted by the fake Slack (Block Kit checked with slack-sdk's models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import Alert, AlertKind, Channel, Delivery, MessageRef
from tests.adapters.slack.conftest import slack_rig
from tests.support import OkServer
from tests.support.region_views import AT, THREE, WIDEST, regional_down
from tests.support.slack_fake import CHANNEL, TEAM
from tests.support.slack_render_check import assert_valid_blocks, block_text

SLACK_CHANNEL = Channel("slack", TEAM, CHANNEL)


async def test_each_region_is_a_field_of_the_alert(tmp_path: Path, control: OkServer) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        await rig.slack.surface.deliver(Delivery("check502:1", SLACK_CHANNEL, regional_down()))
        (post,) = rig.fake.of("chat.postMessage")
    blocks = post.body["blocks"]
    assert_valid_blocks(blocks)
    [regions] = [b for b in blocks if "fields" in b]
    eu, us, ap = (f["text"] for f in regions["fields"])
    assert "*eu*" in eu and "`502`" in eu and "41 ms" in eu and "198.51.100.7" in eu
    assert "Origin down" in eu
    assert "`connect_refused`" in us and "not counted" not in us
    assert "*ap*" in ap and "_(not counted: no answer from this region)_" in ap
    assert "Seen from 3 regions: 2 failing, 0 up, 1 not counted" in block_text(blocks)
    assert [b["type"] for b in blocks][-1] == "actions"  # the buttons stay last


@pytest.mark.parametrize("views", [THREE, WIDEST], ids=["three", "sixteen"])
async def test_a_regional_alert_and_its_resolve_stay_within_slacks_limits(
    tmp_path: Path, control: OkServer, views: tuple[object, ...]
) -> None:
    down = regional_down(views)  # type: ignore[arg-type]
    async with slack_rig(tmp_path, control.url) as rig:
        ref = await rig.slack.surface.deliver(Delivery("check502:1", SLACK_CHANNEL, down))
        up = Alert(AlertKind.RECOVERED, AT, monitor_id=7, incident_id=41)
        alert = MessageRef(ref.message_id)
        resolved = Delivery("check502:2", SLACK_CHANNEL, up, thread=alert, resolves=alert,
                            original=down)  # fmt: skip
        await rig.slack.surface.deliver(resolved)
        (post,) = rig.fake.of("chat.postMessage")[:1]
        (update,) = rig.fake.of("chat.update")
    for blocks in (post.body["blocks"], update.body["blocks"]):
        assert_valid_blocks(blocks)
        sections = [b for b in blocks if "fields" in b]
        assert sum(len(b["fields"]) for b in sections) == len(views)
        assert all(len(b["fields"]) <= 10 for b in sections)
