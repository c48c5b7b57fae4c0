"""``/check502 status on|off`` through the real Bolt app: the page's link lands in the channel."""

from __future__ import annotations

import re
from pathlib import Path

from tests.adapters.slack.conftest import slack_rig
from tests.support import OkServer
from tests.support.slack_render_check import assert_valid_blocks, block_text


async def test_status_on_then_off_in_slack(tmp_path: Path, control: OkServer) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        r, response_url, took = await rig.command("status on")
        assert r.status_code == 200 and took < 3.0
        (call,) = await rig.answers(response_url)
        assert call.body["response_type"] == "in_channel"
        assert_valid_blocks(call.body["blocks"])
        text = block_text(call.body["blocks"])
        assert "Status page on." in text
        match = re.search(r"/status/([A-Za-z0-9_-]{32})", text)
        assert match is not None, text
        assert rig.bot.store.status_channel(match.group(1)) is not None

        _, response_url, _ = await rig.command("status off")
        (call,) = await rig.answers(response_url)
        assert "404" in block_text(call.body["blocks"])
        assert rig.bot.store.status_channel(match.group(1)) is None
