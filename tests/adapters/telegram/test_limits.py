"""Telegram counts a text's length in UTF-16 code units after parsing its entities.

The fake Bot API refuses a text past 4,096 such units with 400 "message is too long", as
Telegram does, and python-telegram-bot (the real client) carries our messages to it. Emoji and
other astral characters count two units each, so a text of 3,000 of them (3,000 code points,
6,000 units) must be trimmed: a length counted in code points would let it through to a 400.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from telegram.constants import ParseMode

from adapters.telegram.render import TEXT_LIMIT, Message, reply_messages
from bot.model import DiagnosisReply, ErrorReply
from tests.support.replies import diagnosis
from tests.support.telegram_fake import PRIVATE, TOKEN, FakeTelegram, parse_html, utf16

FIRE = "🔥"  # one code point, two UTF-16 units


@pytest.fixture
async def bot() -> AsyncIterator[tuple[FakeTelegram, telegram.Bot]]:
    async with FakeTelegram() as fake, telegram.Bot(TOKEN, base_url=fake.api_url) as client:
        yield fake, client


async def send(client: telegram.Bot, message: Message) -> telegram.Message:
    mode = ParseMode.HTML if message.html else None
    return await client.send_message(
        PRIVATE, message.text, parse_mode=mode, reply_markup=message.keyboard
    )


async def test_the_fake_counts_utf16_units_after_the_tags(
    bot: tuple[FakeTelegram, telegram.Bot],
) -> None:
    fake, client = bot
    for too_long in (FIRE * 2049, "x" * 4097, "x" * 4095 + FIRE):
        assert len(too_long) <= 4097 and utf16(too_long) > TEXT_LIMIT
        with pytest.raises(telegram.error.BadRequest, match=r"(?i)message is too long"):
            await client.send_message(PRIVATE, too_long)
    # 4,096 units once the tags are gone, although the HTML source is longer: accepted.
    sent = await client.send_message(PRIVATE, f"<b>{FIRE * 2048}</b>", parse_mode=ParseMode.HTML)
    assert sent.text == FIRE * 2048
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 4096
    await client.send_message(PRIVATE, "x" * 4096)
    await client.send_message(PRIVATE, "x" * 4094 + FIRE)
    assert len(fake.messages) == 3


@pytest.mark.parametrize(
    "reply",
    [
        ErrorReply(FIRE * 3000),
        DiagnosisReply(diagnosis(summary=FIRE * 3000)),
        DiagnosisReply(diagnosis(evidence=tuple(FIRE * 150 for _ in range(40)))),
    ],
    ids=["error", "summary", "evidence"],
)
async def test_astral_text_under_4096_code_points_is_trimmed_to_4096_units(
    bot: tuple[FakeTelegram, telegram.Bot], reply: ErrorReply | DiagnosisReply
) -> None:
    fake, client = bot
    messages = reply_messages(reply)
    for message in messages:
        sent = await send(client, message)  # a 400 "message is too long" would raise here
        text, _ = parse_html(message.text)
        assert sent.text == text and utf16(text) <= TEXT_LIMIT
    shown = "".join(parse_html(m.text)[0] for m in messages)
    assert shown.count(FIRE) >= 400  # trimmed, not emptied
    assert len(fake.of("sendMessage")) == len(messages)
