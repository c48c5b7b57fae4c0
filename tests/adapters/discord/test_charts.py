"""``/check502 history`` in Discord: the embed answers at once, then the response is edited to
carry the chart PNG as an attachment its embed shows (``attachment://``), through discord.py's
real multipart path against the strict fake. A refused edit keeps the text and says why."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from adapters.present import NO_CHART
from tests.adapters.discord.conftest import DISCORD_CHANNEL, DiscordRig, discord_rig, embed_text
from tests.support import OkServer
from tests.support.charts import add_monitor, assert_chart, record_history
from tests.support.discord_fake import APP_ID, EPHEMERAL, error


def _monitor(rig: DiscordRig, *, checks: bool = True) -> int:
    mid = add_monitor(rig.bot.store, DISCORD_CHANNEL)
    if checks:
        record_history(rig.bot.store, mid, time.time(), hours=30)
    return mid


async def test_history_edits_its_embed_to_show_the_chart_attached(
    tmp_path: Path, control: OkServer
) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig)
        payload = await rig.command("history", id=mid)
        first = await rig.callback(payload)
        assert first.files == ()  # the text does not wait for the chart
        assert first.body["data"]["embeds"][0]["title"].startswith(f"📈 #{mid} ")
        (edit,) = await rig.edits(payload)
        (upload,) = edit.files
        assert upload.field == "files[0]"
        assert_chart(upload.data)
        (attachment,) = edit.body["attachments"]
        assert attachment["id"] == 0 and attachment["filename"] == upload.filename
        assert "shop.example.com" in attachment["description"]
        assert upload.filename.startswith(f"check502-{mid}-")
        (embed,) = edit.body["embeds"]
        assert embed["image"]["url"] == f"attachment://{upload.filename}"
        assert embed["title"].startswith(f"📈 #{mid} ")
        # As Discord now shows it: one attachment, the PNG, which the embed's image points at.
        shown = rig.original(payload)
        ((kept, data),) = rig.fake.attached(int(shown["id"]))
        assert data == upload.data and kept["content_type"] == "image/png"
        assert shown["embeds"][0]["image"]["url"] == kept["url"]


async def test_a_refused_chart_keeps_the_embed_and_says_why_privately(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        rig.fake.script[f"PATCH /webhooks/{APP_ID}/*/messages/@original"] = [
            error(403, 50013, "Missing Permissions")
        ]
        mid = _monitor(rig)
        caplog.set_level(logging.WARNING)
        payload = await rig.command("history", id=mid)
        await rig.callback(payload)
        await rig.edits(payload)
        (note,) = await rig.fake.wait(f"POST /webhooks/{APP_ID}/{payload['token']}")
        assert note.body["flags"] & EPHEMERAL
        assert "chart could not be attached" in note.body["content"]
        assert "Missing Permissions" in note.body["content"]
        shown = rig.original(payload)
        assert shown["embeds"][0]["title"].startswith(f"📈 #{mid} ")  # the text stands
        assert shown["attachments"] == [] and "image" not in shown["embeds"][0]
        lines = [r for r in caplog.records if "chart" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None
        assert "Missing Permissions" in lines[0].getMessage()


async def test_history_without_checks_says_so_and_attaches_nothing(
    tmp_path: Path, control: OkServer
) -> None:
    async with discord_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig, checks=False)
        payload = await rig.command("history", id=mid)
        first = await rig.callback(payload)
        assert NO_CHART in embed_text(first.body["data"]["embeds"][0])
        await asyncio.sleep(1.5)  # a chart, had one been drawn, would have come by now
        assert rig.fake.of(f"PATCH /webhooks/{APP_ID}/*/messages/@original") == []
