"""``/check502 status action:on|off`` through the real discord.py client and the fake Discord."""

from __future__ import annotations

import re
from pathlib import Path

from tests.adapters.discord.conftest import discord_rig
from tests.support import OkServer


async def test_status_on_then_off_in_discord(tmp_path: Path, control: OkServer) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        on = await rig.command("status", action="on")
        (embed,) = (await rig.callback(on)).body["data"]["embeds"]
        assert embed["description"].startswith("Status page on.")
        match = re.search(r"/status/([A-Za-z0-9_-]{32})", embed["description"])
        assert match is not None, embed
        assert rig.bot.store.status_channel(match.group(1)) is not None

        said = await rig.command("status")
        (embed,) = (await rig.callback(said)).body["data"]["embeds"]
        assert match.group(0) in embed["description"]

        off = await rig.command("status", action="off")
        (embed,) = (await rig.callback(off)).body["data"]["embeds"]
        assert "404" in embed["description"]
        assert rig.bot.store.status_channel(match.group(1)) is None
