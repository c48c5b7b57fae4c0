"""The bot's one web server on 127.0.0.1 and a port the kernel picks, for a test's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from adapters.web.config import WebConfig
from adapters.web.server import Installer, WebServer
from bot.core import Bot


@asynccontextmanager
async def web_server(
    bot: Bot, *, surfaces: Sequence[str] = (), installers: Sequence[Installer] = ()
) -> AsyncIterator[WebServer]:
    config = WebConfig(enabled=True, host="127.0.0.1", port=0)
    server = WebServer(bot, config, surfaces=surfaces, installers=installers)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
