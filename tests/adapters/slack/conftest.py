"""A whole bot behind the real Bolt app, served over HTTP on loopback, talking to a fake Slack."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.slack.app import EVENTS_PATH, SlackApp, mount
from adapters.slack.config import Mode, SlackConfig
from bot.core import Bot
from bot.model import Channel, Monitor
from tests.bot.conftest import control, fast_settings  # noqa: F401 - the control fixture
from tests.support.slack_fake import (
    CHANNEL,
    SECRET,
    TEAM,
    Call,
    FakeSlack,
    action_form,
    action_payload,
    command_form,
    signed,
)
from tests.support.web import web_server


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt and slack-sdk read SLACK_* themselves: none from the machine leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("SLACK_"):
            monkeypatch.delenv(name)


@dataclass
class SlackRig:
    fake: FakeSlack
    bot: Bot
    slack: SlackApp
    url: str
    http: httpx.AsyncClient
    _names: int = 0

    def next_url(self) -> str:
        self._names += 1
        return self.fake.response_url(str(self._names))

    async def command(self, text: str, **form: Any) -> tuple[httpx.Response, str, float]:
        """POST a signed ``/check502 text``; the response, its response_url, seconds to ack."""
        response_url = self.next_url()
        body, headers = signed(command_form(text, response_url, **form))
        started = time.monotonic()
        r = await self.http.post(self.url, content=body, headers=headers)
        return r, response_url, time.monotonic() - started

    async def answers(self, response_url: str, count: int = 1) -> list[Call]:
        """The first ``count`` posts to ``response_url`` (waited for, bounded)."""
        return await self.fake.wait(response_url.removeprefix(self.fake.url), count)

    async def typed_watch(self, url: str) -> tuple[Call, Monitor]:
        """``/check502 watch url`` typed in the channel: its reply, and the monitor made."""
        _, response_url, _ = await self.command(f"watch {url}")
        (reply,) = await self.answers(response_url)
        (monitor,) = self.bot.store.monitors_in(Channel("slack", TEAM, CHANNEL))
        return reply, monitor

    async def click(
        self, action_id: str, value: str, message: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[httpx.Response, str]:
        response_url = self.next_url()
        payload = action_payload(action_id, value, response_url, message=message, **kw)
        body, headers = signed(action_form(payload))
        r = await self.http.post(self.url, content=body, headers=headers)
        return r, response_url


@asynccontextmanager
async def slack_rig(
    tmp_path: Path, control_url: str | None, **settings: Any
) -> AsyncIterator[SlackRig]:
    async with FakeSlack() as fake:
        config = SlackConfig(
            mode=Mode.HTTP, api_url=fake.api_url, bot_token="xoxb-test", signing_secret=SECRET
        )
        bot = Bot(fast_settings(tmp_path, control_url, **settings))
        slack = SlackApp(bot, config)
        bot.attach(slack.surface)
        await bot.start()
        try:
            async with web_server(bot) as server, httpx.AsyncClient(timeout=10) as http:
                mount(slack, server)
                yield SlackRig(fake, bot, slack, f"{server.url}{EVENTS_PATH}", http)
        finally:
            await bot.stop()
            bot.close()
