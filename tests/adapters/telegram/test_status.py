"""``/check502 status on|off`` through the real python-telegram-bot app and the fake Bot API."""

from __future__ import annotations

import re
from pathlib import Path

from tests.adapters.telegram.conftest import telegram_rig
from tests.support import OkServer
from tests.support.telegram_fake import GROUP


async def test_status_on_then_off_in_telegram(tmp_path: Path, control: OkServer) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        await rig.type("/check502 status on", chat_id=GROUP)
        (reply,) = rig.fake.of("sendMessage")
        assert reply.params["chat_id"] == GROUP
        assert reply.text.startswith("Status page on.")
        match = re.search(r"/status/([A-Za-z0-9_-]{32})", reply.text)
        assert match is not None, reply.text
        assert rig.bot.store.status_channel(match.group(1)) is not None

        await rig.type("/check502 status off", chat_id=GROUP)
        off = rig.fake.of("sendMessage")[-1]
        assert "404" in off.text
        assert rig.bot.store.status_channel(match.group(1)) is None
