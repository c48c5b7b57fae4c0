"""A whole bot behind the real PTB Application, talking to a fake Bot API on loopback.

Updates go in through ``Application.process_update`` (the path polling and the webhook take
too), so every handler, the rate limiter and the HTTP client are PTB's own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from adapters.telegram.app import TelegramApp
from adapters.telegram.config import TelegramConfig
from bot.core import Bot
from bot.model import Channel, Monitor
from tests.bot.conftest import control, fast_settings  # noqa: F401 - the control fixture
from tests.support.telegram_fake import PRIVATE, TOKEN, Call, FakeTelegram


@pytest.fixture(autouse=True)
def _no_telegram_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TELEGRAM_* (or PTB_TIMEDELTA) from the machine leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PTB_")):
            monkeypatch.delenv(name)


@dataclass
class TelegramRig:
    fake: FakeTelegram
    bot: Bot
    telegram: TelegramApp

    async def process(self, update: dict[str, Any]) -> None:
        """Feed one update through the Application, as polling or the webhook would."""
        app = self.telegram.application
        await app.process_update(Update.de_json(update, app.bot))

    async def type(self, text: str, **where: Any) -> dict[str, Any]:
        """A user types ``text`` (in a private chat unless ``chat_id=``); their message."""
        update = self.fake.typed(text, **where)
        await self.process(update)
        return dict(update["message"])

    async def press(self, data: str, message: dict[str, Any], **kw: Any) -> str:
        """A user presses button ``data`` on ``message``; the press's query id."""
        update = self.fake.click(data, message, **kw)
        await self.process(update)
        return str(update["callback_query"]["id"])

    def answer(self, query_id: str) -> Call:
        (call,) = [
            c
            for c in self.fake.of("answerCallbackQuery")
            if c.params.get("callback_query_id") == query_id
        ]
        return call

    def replies_to(self, message: dict[str, Any]) -> list[Call]:
        return [c for c in self.fake.of("sendMessage") if c.reply_to == message["message_id"]]

    async def typed_watch(self, url: str, chat_id: int = PRIVATE) -> tuple[dict[str, Any], Monitor]:
        """``/check502 watch url`` typed in ``chat_id``: the message showing it, the monitor."""
        typed = await self.type(f"/check502 watch {url}", chat_id=chat_id)
        (progress,) = self.replies_to(typed)
        (monitor,) = self.bot.store.monitors_in(Channel("telegram", "-", str(chat_id)))
        return self.fake.sent(progress), monitor


@asynccontextmanager
async def telegram_rig(
    tmp_path: Path, control_url: str | None, **settings: Any
) -> AsyncIterator[TelegramRig]:
    async with FakeTelegram() as fake:
        config = TelegramConfig(token=TOKEN, api_url=fake.api_url)
        bot = Bot(fast_settings(tmp_path, control_url, **settings))
        telegram = TelegramApp(bot, config)
        bot.attach(telegram.surface)
        await telegram.start()
        await bot.start()
        try:
            yield TelegramRig(fake, bot, telegram)
        finally:
            await telegram.stop()
            await bot.stop()
            bot.close()
