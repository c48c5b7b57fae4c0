"""A whole bot behind the real discord.py client, connected to a fake Discord on loopback.

The client is our :class:`Check502Client`, logged in with ``Client.login`` (which runs
``setup_hook``: the buttons are registered and the commands synced against the fake) and then
connected with ``Client.connect`` to the fake's gateway (``DISCORD_GATEWAY_URL``, as
``run_discord`` sets it). Interactions arrive as Discord sends them: INTERACTION_CREATE events
on that WebSocket, after READY. Everything after (the gateway parser, the command tree, the
dynamic items, the interaction responses over HTTP) is discord.py's own code; no test touches
a private attribute of it, so any discord.py 2.x can run them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket

from adapters.discord.app import Check502Client
from adapters.discord.config import DiscordConfig, Sync
from bot.core import Bot
from bot.model import Channel, Monitor
from tests.bot.conftest import control, fast_settings  # noqa: F401 - the control fixture
from tests.support.discord_fake import (
    APP_ID,
    CHANNEL,
    GUILD,
    TOKEN,
    Call,
    FakeDiscord,
    command_interaction,
    component_interaction,
)

DISCORD_CHANNEL = Channel("discord", str(GUILD), str(CHANNEL))

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS = 25
FIELD_NAME_LIMIT = 256
FIELD_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_LIMIT = 6000
"""Discord's embed limits (developers/resources/message.mdx, "Embed Limits"): beyond, 400."""


async def login(fake: FakeDiscord, bot: Bot, **config: Any) -> Check502Client:
    """A new client on ``bot``, logged in to ``fake`` (commands synced as ``config`` says) and
    connected to its gateway (its READY received)."""
    client = Check502Client(bot, DiscordConfig(token=TOKEN, api_url=fake.api_url, **config))
    bot.attach(client.surface)
    await asyncio.wait_for(client.login(TOKEN), 10)
    identified = len(fake.identified)
    gateway = asyncio.create_task(client.connect(reconnect=False))
    _gateways[client] = gateway
    await fake.until(
        lambda: (len(fake.identified) > identified and fake.ready.is_set()) or gateway.done(),
        lambda: "the client never identified on the fake gateway",
    )
    if gateway.done():
        gateway.result()  # connecting failed: say why
    return client


_gateways: dict[Check502Client, asyncio.Task[None]] = {}


async def close(client: Check502Client) -> None:
    """Close ``client`` and wait (bounded) for its gateway session to end."""
    await client.close()
    gateway = _gateways.pop(client, None)
    if gateway is not None:
        await asyncio.wait_for(asyncio.gather(gateway, return_exceptions=True), 10)


@dataclass
class DiscordRig:
    fake: FakeDiscord
    bot: Bot
    client: Check502Client

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Discord delivers ``payload`` to the client: INTERACTION_CREATE on the gateway."""
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def command(self, subcommand: str, **options: object) -> dict[str, Any]:
        """``/check502 <subcommand> …`` typed in the channel, as a command synced to the guild."""
        return await self.send(command_interaction(subcommand, options, synced_to=GUILD))

    async def click(self, custom_id: str, message: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return await self.send(component_interaction(custom_id, message, **kw))

    async def callback(self, payload: dict[str, Any]) -> Call:
        """The initial response to ``payload`` (waited for, bounded)."""
        (call,) = await self.fake.wait(
            f"POST /interactions/{payload['id']}/{payload['token']}/callback"
        )
        return call

    async def edits(self, payload: dict[str, Any], count: int = 1) -> list[Call]:
        """The first ``count`` edits of ``payload``'s original response."""
        return await self.fake.wait(
            f"PATCH /webhooks/{APP_ID}/{payload['token']}/messages/@original", count
        )

    def original(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The original response to ``payload`` as Discord now shows it (the fake's copy)."""
        mid = self.fake.originals[payload["token"]]
        assert mid is not None, "the original response was deleted"
        return self.fake.messages[mid]

    async def typed_watch(self, url: str, **options: object) -> tuple[dict[str, Any], Monitor]:
        """``/check502 watch url:…``: the message it left in the channel, and the monitor."""
        payload = await self.command("watch", url=url, **options)
        await self.callback(payload)
        await self.edits(payload)
        (monitor,) = self.bot.store.monitors_in(DISCORD_CHANNEL)
        return self.original(payload), monitor

    async def restart(self, **config: Any) -> Check502Client:
        """Close the client and log a new one in on the same bot and database."""
        await close(self.client)
        self.client = await login(self.fake, self.bot, **config)
        return self.client


@asynccontextmanager
async def discord_rig(
    tmp_path: Path,
    control_url: str | None,
    *,
    guild_id: int | None = GUILD,
    sync: Sync = Sync.AUTO,
    **settings: Any,
) -> AsyncIterator[DiscordRig]:
    previous = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake:
        # As run_discord does: discord.py's REST base (HTTP client and webhooks alike), and
        # the gateway it connects to (DISCORD_GATEWAY_URL).
        discord.http.Route.BASE = fake.api_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        bot = Bot(fast_settings(tmp_path, control_url, **settings))
        rig: DiscordRig | None = None
        try:
            rig = DiscordRig(fake, bot, await login(fake, bot, guild_id=guild_id, sync=sync))
            await bot.start()
            yield rig
        finally:
            if rig is not None:
                await close(rig.client)
            await bot.stop()
            bot.close()
            discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous


# -------------------------------------------------------------------------------- embeds


def embed_text(embed: dict[str, Any]) -> str:
    """Everything an embed shows, one string to search."""
    parts = [embed.get("title", ""), embed.get("description", "")]
    for f in embed.get("fields", []):
        parts += [f["name"], f["value"]]
    parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(parts)


def field(embed: dict[str, Any], name: str) -> dict[str, Any]:
    """The embed's field whose name starts with ``name``."""
    for f in embed.get("fields", []):
        if f["name"].startswith(name):
            return dict(f)
    raise AssertionError(f"no field {name!r} in {[f['name'] for f in embed.get('fields', [])]}")


def assert_within_limits(embeds: list[dict[str, Any]]) -> None:
    """The embeds of one message, as sent, within every limit Discord enforces."""
    total = 0
    for embed in embeds:
        title = embed.get("title", "")
        description = embed.get("description", "")
        footer = (embed.get("footer") or {}).get("text", "")
        fields = embed.get("fields", [])
        assert len(title) <= TITLE_LIMIT, len(title)
        assert len(description) <= DESCRIPTION_LIMIT, len(description)
        assert len(footer) <= FOOTER_LIMIT, len(footer)
        assert len(fields) <= FIELDS, len(fields)
        for f in fields:
            assert 0 < len(f["name"]) <= FIELD_NAME_LIMIT, f["name"]
            assert 0 < len(f["value"]) <= FIELD_LIMIT, (f["name"], len(f["value"]))
        total += len(title) + len(description) + len(footer)
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
    assert total <= EMBED_LIMIT, total
