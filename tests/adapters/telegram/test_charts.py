"""``/check502 history`` in Telegram: the chart goes with ``sendPhoto`` through PTB's real
multipart path to the strict fake, captioned with the whole text when it fits in 1,024 (as
shown), else after the text with a short caption. A refused photo leaves the text."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from adapters.present import NO_CHART
from bot.model import Channel
from tests.adapters.telegram.conftest import TelegramRig, telegram_rig
from tests.support import OkServer
from tests.support.charts import add_monitor, assert_chart, record_history
from tests.support.telegram_fake import PRIVATE, bad_request, utf16

CHAT = Channel("telegram", "-", str(PRIVATE))


def _monitor(rig: TelegramRig, url: str, *, checks: bool = True) -> int:
    mid = add_monitor(rig.bot.store, CHAT, url)
    if checks:
        record_history(rig.bot.store, mid, time.time(), hours=30)
    return mid


async def test_a_short_history_is_the_caption_of_its_chart(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig, "https://shop.example.com/cart")
        typed = await rig.type(f"/check502 history {mid}")
        assert rig.fake.of("sendMessage") == []  # one message: the photo, the text its caption
        (photo,) = rig.fake.of("sendPhoto")
        filename, data = photo.files["photo"]
        assert filename.startswith(f"check502-{mid}-") and filename.endswith(".png")
        assert_chart(data)
        assert photo.reply_to == typed["message_id"]
        assert f"#{mid}" in photo.text and "Uptime 24 h" in photo.text
        assert utf16(photo.text) <= 1024
        sent = rig.fake.sent(photo)
        assert sent["photo"][0]["width"] == 1000 and sent["photo"][0]["height"] == 500


async def test_a_long_history_is_its_text_then_the_chart_with_a_short_caption(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig, "https://shop.example.com/" + "a" * 580)
        typed = await rig.type(f"/check502 history {mid}")
        (text,) = rig.replies_to(typed)
        (photo,) = rig.fake.of("sendPhoto")
        assert utf16(text.text) > 1024 and "Uptime 24 h" in text.text  # the full text
        assert text.at < photo.at
        assert photo.reply_to == typed["message_id"]
        assert photo.text.startswith("📈") and "shop.example.com" in photo.text
        assert utf16(photo.text) <= 1024
        assert_chart(photo.files["photo"][1])


@pytest.mark.parametrize(
    "url", ["https://shop.example.com/", "https://shop.example.com/" + "a" * 580]
)
async def test_a_refused_photo_keeps_the_text_and_says_why(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        refusal = "Bad Request: not enough rights to send photos to the chat"
        rig.fake.script["sendPhoto"] = [bad_request(refusal)]
        mid = _monitor(rig, url)
        caplog.set_level(logging.WARNING)
        typed = await rig.type(f"/check502 history {mid}")
        text, note = rig.replies_to(typed)
        assert f"#{mid}" in text.text and "Uptime 24 h" in text.text  # the text stands
        assert "chart could not be sent" in note.text and "not enough rights" in note.text.lower()
        assert len(rig.fake.of("sendPhoto")) == 1  # not tried twice
        lines = [r for r in caplog.records if "chart" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None
        assert "not enough rights" in lines[0].getMessage().lower()


async def test_history_without_checks_says_so_and_sends_no_photo(
    tmp_path: Path, control: OkServer
) -> None:
    async with telegram_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig, "https://shop.example.com/", checks=False)
        typed = await rig.type(f"/check502 history {mid}")
        (text,) = rig.replies_to(typed)
        assert NO_CHART in text.text
        assert rig.fake.of("sendPhoto") == []
