"""The Discord surface: the ``/check502`` command group, its buttons, the client, the runner.

Each subcommand's typed options are turned into the text a user would type in any other chat
(``watch https://… every=1m``) and go through the core's one grammar. A command that probes is
deferred at once ("check502 is thinking…") and the deferred response is edited with the result;
a usage error, a refusal and ``help`` are ephemeral. Buttons are one :class:`ActionButton`
``DynamicItem`` whose ``custom_id`` carries the action and the monitor id, so buttons of
messages sent before a restart still work.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters import flow
from adapters.discord.config import DiscordConfig, Sync
from adapters.discord.render import (
    MUTE_SECONDS,
    Message,
    annotated,
    md,
    reply_message,
)
from adapters.discord.surface import NO_MENTIONS, DiscordSurface, attach_history_chart, kwargs
from adapters.flow import Acked
from adapters.present import progress_line
from adapters.web.server import ReadyHook, WebServer
from bot.commands import MAX_REGIONS, Ack, Check, Command, CommandError, Details, Help, Mute
from bot.core import OUR_FAULT, Bot, Progress
from bot.errors import BotError, SettingsError
from bot.model import Channel, Context, ErrorReply, HistoryReply, Reply

log = logging.getLogger("check502.discord")

_ACTIONS = ("recheck", "mute", "ack")


def context_of(interaction: discord.Interaction[Any]) -> Context:
    """Who and where; in a thread (an alert's, where follow-ups and re-checks go), the channel
    the thread is in, whose monitors its buttons and commands are about."""
    guild = str(interaction.guild_id) if interaction.guild_id else "dm"
    where = interaction.channel
    parent = where.parent_id if isinstance(where, discord.Thread) else None
    channel = str(parent or interaction.channel_id or "-")
    return Context(Channel("discord", guild, channel), str(interaction.user.id))


def _words(*parts: str | None, **options: object) -> str:
    """The command text for typed options: ``watch <url> every=1m``; unset options left out."""
    words = [p for p in parts if p]
    words += [f"{k}={v}" for k, v in options.items() if v is not None]
    return " ".join(words)


def _mentions(value: str | None) -> str | None:
    """Mentions picked in a string option arrive as ``<@1> <@&2>``: one ``notify=`` value."""
    return None if value is None else ",".join(value.replace(",", " ").split()) or None


# ---------------------------------------------------------------------------------- buttons


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"check502:(?P<action>details|recheck|mute|ack):(?P<id>\d{1,18})(?P<alert>:a)?",
):
    """Re-check, Mute 1 h or Acknowledge for one monitor; ``:a`` marks an alert's button."""

    def __init__(self, action: str, monitor_id: int, *, alert: bool = False) -> None:
        label, style = {
            "details": ("Details", discord.ButtonStyle.primary),
            "recheck": ("Re-check", discord.ButtonStyle.primary),
            "mute": ("Mute 1 h", discord.ButtonStyle.secondary),
            "ack": ("Acknowledge", discord.ButtonStyle.success),
        }[action]
        custom_id = f"check502:{action}:{monitor_id}" + (":a" if alert else "")
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=custom_id))
        self.action = action
        self.monitor_id = monitor_id
        self.alert = alert

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ActionButton:
        return cls(match["action"], int(match["id"]), alert=bool(match["alert"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        if not isinstance(client, Check502Client):  # pragma: no cover - only ours registers it
            return
        await client.on_button(interaction, self)


def view_for(msg: Message) -> discord.ui.View | None:
    """The persistent buttons of a message (no timeout: they work as long as the bot runs)."""
    b = msg.buttons
    if b is None:
        return None
    view = discord.ui.View(timeout=None)
    if b.details:
        view.add_item(ActionButton("details", b.monitor_id, alert=b.alert))
    view.add_item(ActionButton("recheck", b.monitor_id, alert=b.alert))
    if b.mute:
        view.add_item(ActionButton("mute", b.monitor_id, alert=b.alert))
    if b.alert and b.ack:
        view.add_item(ActionButton("ack", b.monitor_id, alert=b.alert))
    return view


def _without(view_of: discord.Message | None, action: str) -> discord.ui.View | None:
    """The message's own buttons, minus the one just used (Mute after muting...)."""
    if view_of is None:
        return None
    view = discord.ui.View(timeout=None)
    for row in view_of.components:
        for child in getattr(row, "children", ()):
            custom_id = getattr(child, "custom_id", None) or ""
            m = re.fullmatch(ActionButton.__discord_ui_compiled_template__, custom_id)
            if m is None or m["action"] == action:
                continue
            view.add_item(ActionButton(m["action"], int(m["id"]), alert=bool(m["alert"])))
    return view


# ------------------------------------------------------------------------------------ client


class Check502Client(discord.Client):
    """discord.py's client with our command tree, buttons and alert surface."""

    def __init__(self, core: Bot, config: DiscordConfig) -> None:
        # No voice here: discord.py's start-up warnings that voice libraries are missing would
        # be two lines of noise on every start (and around a bad setting's one line).
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(intents=discord.Intents.default(), allowed_mentions=NO_MENTIONS)
        self.core = core
        self.config = config
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(build_commands(self))
        self.tree.on_error = self._command_error  # type: ignore[method-assign]
        self.surface = DiscordSurface(self, view_for)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)
        await self.sync_commands()
        if self.application_id is not None:
            log.warning(
                "Discord: invite check502 with %s", self.config.invite_url(self.application_id)
            )

    # ------------------------------------------------------------------------ command sync

    def commands_payload(self) -> list[dict[str, Any]]:
        return [c.to_dict(self.tree) for c in self.tree.get_commands()]

    async def sync_commands(self) -> bool:
        """Sync when the commands changed since the last sync to this scope; True if synced."""
        if self.config.sync is Sync.OFF:
            return False
        guild = discord.Object(self.config.guild_id) if self.config.guild_id else None
        scope = f"discord.synced.{self.application_id}.{self.config.guild_id or 'global'}"
        digest = hashlib.sha256(
            json.dumps(self.commands_payload(), sort_keys=True).encode()
        ).hexdigest()
        if self.config.sync is Sync.AUTO and self.core.store.get_meta(scope) == digest:
            return False
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.Forbidden:
            if guild is None:
                raise
            raise SettingsError(
                f"DISCORD_GUILD_ID={self.config.guild_id}: Discord refused the commands there"
                " (is the bot in that server, invited with the applications.commands scope?)"
            ) from None
        self.core.store.set_meta(scope, digest)
        where = f"server {self.config.guild_id}" if guild else "all servers (global)"
        log.warning("Discord: synced %d command(s) to %s", len(synced), where)
        return True

    # --------------------------------------------------------------------------- commands

    async def run_command(self, interaction: discord.Interaction[Any], text: str) -> None:
        """The shared command flow (:mod:`adapters.flow`) with Discord's hooks."""
        hooks = _DiscordCommand(self, interaction)
        await flow.run(self.core, hooks, context_of(interaction), text)

    def _progress(self, interaction: discord.Interaction[Any], url: str) -> Progress:
        """Edits the deferred response ("thinking…") into "Checking <url>… 3/10 runs"."""

        async def show(done: int, runs: int) -> None:
            text = progress_line(md(url)[:1900], done, runs)
            await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)

        return show

    def _render(self, reply: Reply) -> Message:
        return flow.render_safely(_RENDERER, reply)[1]

    async def _deferred(
        self, interaction: discord.Interaction[Any], reply: Reply, msg: Message
    ) -> None:
        """Edit the deferred response with ``reply`` (rendered as ``msg``); an error replaces it
        with a private note."""
        if isinstance(reply, ErrorReply) or msg.embed is None:
            await interaction.delete_original_response()
            await interaction.followup.send(
                msg.content or OUR_FAULT, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        view = view_for(msg)
        await interaction.edit_original_response(
            content=None, embed=msg.embed, view=view, allowed_mentions=NO_MENTIONS
        )

    async def _command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        log.error("Discord command failed", exc_info=error)
        text = f"✗ {OUR_FAULT}"
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about the failure", exc_info=True)

    # ---------------------------------------------------------------------------- buttons

    async def _recheck(
        self, interaction: discord.Interaction[Any], context: Context, button: ActionButton
    ) -> None:
        """On a result: edit it in place. On an alert: post the fresh check in its thread, so
        the alert stays the incident's record."""
        await interaction.response.defer()
        if button.action == "details":
            reply = await self.core.handle(context, Details(button.monitor_id))
        else:
            reply = await self.core.recheck(context, button.monitor_id)
        msg = self._render(reply)
        if isinstance(reply, ErrorReply) or msg.embed is None:
            await interaction.followup.send(
                msg.content or OUR_FAULT, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        message = interaction.message
        if not button.alert or message is None:
            await interaction.edit_original_response(embed=msg.embed, view=view_for(msg))
            return
        try:
            await self.surface.post_in_thread(
                message.channel.id, message.id, msg, name=f"#{button.monitor_id} incident"
            )
        except BotError:
            log.warning("could not post the %s in the alert's thread", button.action, exc_info=True)
            await interaction.followup.send(**kwargs(msg, view_for))

    async def on_button(self, interaction: discord.Interaction[Any], button: ActionButton) -> None:
        context = context_of(interaction)
        if button.action in ("recheck", "details"):  # Details: the alert's full diagnosis
            await self._recheck(interaction, context, button)
            return
        command: Command = (
            Mute(button.monitor_id, MUTE_SECONDS)
            if button.action == "mute"
            else Ack(button.monitor_id)
        )
        reply = await self.core.handle(context, command)
        message = interaction.message
        if isinstance(reply, ErrorReply) or message is None or not message.embeds:
            await interaction.response.send_message(
                **kwargs(self._render(reply), view_for), ephemeral=True
            )
            return
        who = interaction.user.display_name
        note = ("🔕 Muted for 1 h" if button.action == "mute" else "✋ Acknowledged") + f" by {who}"
        await interaction.response.edit_message(
            embed=annotated(message.embeds[0], note), view=_without(message, button.action)
        )


# ------------------------------------------------------------------------------ command flow


class _DiscordRenderer:
    platform = "discord"

    def render(self, reply: Reply) -> Message:
        return reply_message(reply)


_RENDERER = _DiscordRenderer()


class _DiscordCommand(_DiscordRenderer):
    """Discord's hooks into the shared command flow for one slash command: a command that
    probes is deferred ("check502 is thinking…") and its response edited with the result;
    a usage error, a refusal and help are ephemeral."""

    def __init__(self, client: Check502Client, interaction: discord.Interaction[Any]) -> None:
        self.client = client
        self.interaction = interaction
        self.private = False

    async def refuse(self, error: CommandError) -> None:
        await self.interaction.response.send_message(
            f"✗ {md(str(error))}"[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def acknowledge(self, command: Command) -> Acked:
        if flow.probes(command):
            await self.interaction.response.defer(thinking=True)
            return Acked.PLACEHOLDER
        self.private = isinstance(command, Help)
        return Acked.NOTHING

    def progress(self, check: Check) -> Progress | None:
        return self.client._progress(self.interaction, check.url)

    async def answer(self, reply: Reply, rendered: Message, *, replace: bool) -> None:
        if replace:
            await self.client._deferred(self.interaction, reply, rendered)
            return
        await self.interaction.response.send_message(
            **kwargs(rendered, view_for),
            ephemeral=self.private or isinstance(reply, ErrorReply),
        )
        if isinstance(reply, HistoryReply) and rendered.embed is not None:
            await attach_history_chart(self.interaction, reply, rendered.embed)  # after the text


# ---------------------------------------------------------------------------------- commands


def build_commands(client: Check502Client) -> app_commands.Group:
    """``/check502 check|watch|notify|maintenance|list|unwatch|mute|unmute|ack|history|explain|
    status|help``."""
    group = app_commands.Group(
        name="check502", description="Diagnose 502 Bad Gateway errors, and watch URLs"
    )

    @group.command(name="check", description="Diagnose a URL now: who made the 502, which hop, why")
    @app_commands.describe(
        url="The URL to check, e.g. https://shop.example.com/cart",
        origin="The origin's IP or host[:port]: the same request straight to it, bypassing the CDN",
        runs="Repeat the check (1–10) to catch an intermittent failure",
    )
    async def check(
        interaction: discord.Interaction[Any],
        url: str,
        origin: str | None = None,
        runs: app_commands.Range[int, 1, 10] | None = None,
    ) -> None:
        await client.run_command(interaction, _words("check", url, origin=origin, runs=runs))

    @group.command(name="watch", description="Check a URL on a schedule and alert this channel")
    @app_commands.describe(
        url="The URL to watch",
        every="How often, e.g. 30s, 5m, 1h (30s to 24h; default 30s)",
        origin="The origin's IP or host[:port], also checked directly",
        confirm="Failed checks in a row before alerting (1–10; default 2)",
        expect="Status codes that count as up, e.g. 200 or 200-399 (default 200-399)",
        timeout="Limit per check, e.g. 4s (1s to 30s)",
        notify="Who the DOWN alert pings: pick users or roles, e.g. @alice @oncall",
        escalate="Ping again, and page, if not acknowledged this long after, e.g. 15m",
        regions="Check it from these probe regions, e.g. eu,us,ap (the bot's CHECK502_REGIONS)",
        quorum="Regions that must see it fail before it is DOWN (default: a majority)",
    )
    async def watch(
        interaction: discord.Interaction[Any],
        url: str,
        every: str | None = None,
        origin: str | None = None,
        confirm: app_commands.Range[int, 1, 10] | None = None,
        expect: str | None = None,
        timeout: str | None = None,
        notify: str | None = None,
        escalate: str | None = None,
        regions: str | None = None,
        quorum: app_commands.Range[int, 1, MAX_REGIONS] | None = None,
    ) -> None:
        text = _words(
            "watch",
            url,
            every=every,
            origin=origin,
            confirm=confirm,
            expect=expect,
            timeout=timeout,
            notify=_mentions(notify),
            escalate=escalate,
            regions=None if regions is None else "".join(regions.split()),  # "eu, us" is one
            quorum=quorum,
        )
        await client.run_command(interaction, text)

    @group.command(name="notify", description="Who a monitor's DOWN alert pings, and escalation")
    @app_commands.describe(
        id="The monitor's number",
        who="Users or roles to ping, e.g. @alice @oncall; off for no one",
        escalate="Ping again, and page, if not acknowledged this long after, e.g. 15m; or off",
    )
    async def notify_(
        interaction: discord.Interaction[Any],
        id: app_commands.Range[int, 1],
        who: str,
        escalate: str | None = None,
    ) -> None:
        text = _words("notify", str(id), _mentions(who), escalate=escalate)
        await client.run_command(interaction, text)

    @group.command(name="maintenance", description="Hold every alert of a monitor for a while")
    @app_commands.describe(
        target="A monitor's number, or all", duration="How long, e.g. 2h (1m to 30d); or off"
    )
    async def maintenance(
        interaction: discord.Interaction[Any], target: str, duration: str
    ) -> None:
        await client.run_command(interaction, _words("maintenance", target, duration))

    @group.command(name="list", description="The monitors of this channel")
    async def list_(interaction: discord.Interaction[Any]) -> None:
        await client.run_command(interaction, "list")

    @group.command(name="export", description="This channel's monitors as a monitors file")
    async def export(interaction: discord.Interaction[Any]) -> None:
        await client.run_command(interaction, "export")

    def by_id(name: str, description: str) -> None:
        @group.command(name=name, description=description)
        @app_commands.describe(id="The monitor's number, as in /check502 list")
        async def command(
            interaction: discord.Interaction[Any], id: app_commands.Range[int, 1]
        ) -> None:
            await client.run_command(interaction, f"{name} {id}")

    by_id("unwatch", "Stop watching a monitor")
    by_id("unmute", "Turn a monitor's alerts back on")
    by_id("ack", "Acknowledge a monitor's incident: no more reminders")
    by_id("history", "A monitor's last checks, uptime and incidents")
    by_id("details", "The full diagnosis behind a monitor's alert")

    @group.command(name="mute", description="Hold back a monitor's alerts for a while")
    @app_commands.describe(
        id="The monitor's number", duration="How long, e.g. 30m, 2h (default 1h)"
    )
    async def mute(
        interaction: discord.Interaction[Any],
        id: app_commands.Range[int, 1],
        duration: str | None = None,
    ) -> None:
        await client.run_command(interaction, _words("mute", str(id), duration))

    @group.command(name="explain", description="What an error-log line or platform code means")
    @app_commands.describe(line="A log line (nginx, HAProxy, Envoy…) or a code such as 521")
    async def explain(interaction: discord.Interaction[Any], line: str) -> None:
        await client.run_command(interaction, f"explain {line}")

    @group.command(
        name="status", description="This channel's public status page: on, off, or its URL"
    )
    @app_commands.describe(action="on creates the page, off revokes its URL; empty says the URL")
    async def status(
        interaction: discord.Interaction[Any], action: Literal["on", "off"] | None = None
    ) -> None:
        await client.run_command(interaction, _words("status", action))

    @group.command(name="help", description="How to use check502")
    @app_commands.describe(topic="A command to explain, e.g. watch")
    async def help_(interaction: discord.Interaction[Any], topic: str | None = None) -> None:
        await client.run_command(interaction, _words("help", topic))

    return group


# ------------------------------------------------------------------------------------ runner


async def run_discord(bot: Bot, env: Mapping[str, str], server: WebServer | None = None) -> None:
    """:func:`serve_discord` with the configuration read from ``env`` (for embedding; the
    entry point parses every surface's configuration first, :mod:`adapters.registry`)."""
    await serve_discord(bot, DiscordConfig.from_env(env), server)


async def serve_discord(bot: Bot, config: DiscordConfig, server: WebServer | None = None) -> None:
    """The Discord surface until cancelled: the gateway for commands, REST for alerts; its
    readiness (the gateway's READY) on ``server`` when the web server runs."""
    discord.http.Route.BASE = config.api_url
    if config.gateway_url is not None:
        # discord.py connects to this constant (it does not ask GET /gateway/bot).
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)
    client = Check502Client(bot, config)
    try:
        # Client.start is login then connect; split, so that the outbox starts only once the
        # token is accepted: queued alerts are not tried (and given up) with a refused token.
        try:
            await client.login(config.token)
        except discord.LoginFailure:
            raise SettingsError(
                "DISCORD_TOKEN was refused by Discord (not a valid bot token)"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SettingsError(
                f"DISCORD_API_URL={config.api_url}: cannot reach Discord"
                f" ({type(exc).__name__}: {exc})"
            ) from None
        bot.attach(client.surface)
        await bot.start()
        if server is not None:
            server.readiness("discord", _gateway_ready(client))
        await _connect(client, config)
    finally:
        if not client.is_closed():
            await asyncio.shield(client.close())


GATEWAY_RETRY_MAX = 60.0
"""The longest wait between two attempts at a gateway that could never be reached."""


async def _connect(client: discord.Client, config: DiscordConfig) -> None:
    """``client.connect``, retried with backoff while the gateway has never answered:
    discord.py 2.7 reconnects only a connection it once had (a first connection refused ends in
    an AttributeError on the WebSocket it never had), and a network down when the bot starts is
    a wait, not an exit."""
    delay = 1.0
    while not client.is_closed():
        try:
            await client.connect(reconnect=True)
            return
        except AttributeError:
            if client.ws is not None:
                raise
        log.warning(
            "Discord: cannot reach the gateway %s; trying again in %.0f s",
            config.gateway_url or "wss://gateway.discord.gg",
            delay,
        )
        await asyncio.sleep(delay)
        delay = min(delay * 2, GATEWAY_RETRY_MAX)


class _OneLine(logging.Filter):
    """discord.py logs each reconnect with the whole traceback of a refused connection: one
    line naming the error is the news."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("discord.client").addFilter(_OneLine())


def _gateway_ready(client: discord.Client) -> ReadyHook:
    async def ready() -> str | None:
        return None if client.is_ready() and not client.is_closed() else "gateway not ready"

    return ready
