"""Discord as the core's alert surface: channel messages, a thread per alert, the resolved edit.

Messages go through ``client.get_partial_messageable``: no gateway cache is needed, so alerts
flow as soon as the client has logged in. Every send carries the outbox key as its ``nonce``
(discord.py sets ``enforce_nonce``), so a retry after a lost answer is deduplicated by Discord.
Follow-ups go into a thread started on the alert (a message's thread has the message's id);
where threads are not allowed (DMs, missing permission) they go as replies instead.

Every Discord failure becomes a :class:`bot.errors.DeliveryError` in :func:`delivery_error`.
discord.py itself waits out 429s (its rate-limit buckets); what reaches here is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from adapters.charts import history_chart
from adapters.discord.render import (
    Message,
    alert_message,
    allowed_mentions,
    chart_refused,
    resolved_message,
    with_chart,
)
from bot.errors import DeliveryError
from bot.model import Delivery, HistoryReply, MessageRef

log = logging.getLogger("check502.discord")

NO_MENTIONS = discord.AllowedMentions.none()
_THREAD_EXISTS = 160004
"""Discord's error code: a thread has already been created for this message."""
_UNKNOWN_CHANNEL = 10003
_UNKNOWN_MESSAGE = 10008
_FAILURES = (discord.DiscordException, aiohttp.ClientError, asyncio.TimeoutError, OSError)

ViewFor = Callable[[Message], discord.ui.View | None]
"""Builds the buttons of a message (the app's persistent view), or None."""


def delivery_error(exc: BaseException, what: str) -> DeliveryError:
    """The one mapping of Discord failures to the outbox's retry decision."""
    if isinstance(exc, discord.RateLimited):
        return DeliveryError(f"{what}: rate limited", retry_after=exc.retry_after)
    if isinstance(exc, discord.Forbidden | discord.NotFound):
        return DeliveryError(f"{what}: {exc.status} {exc.text or exc}", permanent=True)
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            return DeliveryError(f"{what}: rate limited", retry_after=_retry_after(exc))
        return DeliveryError(f"{what}: {exc.status} {exc.text or exc}", permanent=exc.status < 500)
    return DeliveryError(f"{what}: {type(exc).__name__}: {exc}")


def _retry_after(exc: discord.HTTPException) -> float:
    value = getattr(exc.response, "headers", {}).get("Retry-After")
    try:
        return max(1.0, float(str(value)))
    except (TypeError, ValueError):
        return 1.0


def kwargs(
    msg: Message, view_for: ViewFor, allowed: discord.AllowedMentions = NO_MENTIONS
) -> dict[str, Any]:
    out: dict[str, Any] = {"allowed_mentions": allowed}
    if msg.content is not None:
        out["content"] = msg.content
    if msg.embed is not None:
        out["embed"] = msg.embed
    view = view_for(msg)
    if view is not None:
        out["view"] = view
    return out


class DiscordSurface:
    """Delivers the outbox's alerts to Discord channels."""

    name = "discord"

    def __init__(self, client: discord.Client, view_for: ViewFor) -> None:
        self.client = client
        self.view_for = view_for

    async def deliver(self, delivery: Delivery) -> MessageRef:
        channel_id = int(delivery.channel.channel)
        nonce = delivery.key[-25:]  # Discord's limit; the key's tail is the outbox row id
        if delivery.resolves is not None and delivery.original is not None:
            await self._resolve(channel_id, int(delivery.resolves.message_id), delivery)
            if delivery.edit_only:
                return delivery.resolves
        msg = alert_message(delivery.alert)
        allowed = allowed_mentions(delivery.alert)
        if delivery.thread is None:
            sent = await self._send(channel_id, msg, nonce, allowed=allowed)
            return MessageRef(str(sent.id))
        alert_id = int(delivery.thread.message_id)
        sent, thread = await self.post_in_thread(
            channel_id,
            alert_id,
            msg,
            name=f"#{delivery.alert.monitor_id} {delivery.alert.url or 'incident'}",
            nonce=nonce,
            allowed=allowed,
        )
        return MessageRef(str(sent.id), thread)

    async def _send(
        self,
        channel_id: int,
        msg: Message,
        nonce: str | None,
        *,
        allowed: discord.AllowedMentions = NO_MENTIONS,
        **extra: Any,
    ) -> discord.Message:
        channel = self.client.get_partial_messageable(channel_id)
        if nonce is not None:
            extra["nonce"] = nonce
        try:
            return await channel.send(**kwargs(msg, self.view_for, allowed), **extra)
        except _FAILURES as exc:
            raise delivery_error(exc, "send") from None

    async def post_in_thread(
        self,
        channel_id: int,
        alert_id: int,
        msg: Message,
        *,
        name: str,
        nonce: str | None = None,
        allowed: discord.AllowedMentions = NO_MENTIONS,
    ) -> tuple[discord.Message, str | None]:
        """Into the alert's thread (started if needed), else as a reply to the alert; the
        message and the thread's id (None when it went as a reply)."""
        thread = self.client.get_partial_messageable(
            alert_id, type=discord.ChannelType.public_thread
        )
        extra: dict[str, Any] = {} if nonce is None else {"nonce": nonce}
        try:
            sent = await thread.send(**kwargs(msg, self.view_for, allowed), **extra)
            return sent, str(alert_id)
        except discord.NotFound:
            pass  # no thread yet: start one on the alert
        except discord.Forbidden:
            return await self._reply(channel_id, alert_id, msg, nonce, allowed), None
        except _FAILURES as exc:
            raise delivery_error(exc, "send to thread") from None
        try:
            # Straight to the route: PartialMessage.create_thread raises ValueError ("no guild
            # info") on a message of a PartialMessageable, which every alert here is.
            await self.client.http.start_thread_with_message(
                channel_id, alert_id, name=name[:100], auto_archive_duration=1440
            )
        except discord.HTTPException as exc:
            if exc.code != _THREAD_EXISTS:
                # DMs, forum or voice channels, no Create Public Threads: reply instead.
                log.info("no thread on Discord message %s (%s); replying", alert_id, exc.text)
                return await self._reply(channel_id, alert_id, msg, nonce, allowed), None
        except _FAILURES as exc:
            raise delivery_error(exc, "create thread") from None
        try:
            sent = await thread.send(**kwargs(msg, self.view_for, allowed), **extra)
        except _FAILURES as exc:
            raise delivery_error(exc, "send to thread") from None
        return sent, str(alert_id)

    async def _reply(
        self,
        channel_id: int,
        alert_id: int,
        msg: Message,
        nonce: str | None,
        allowed: discord.AllowedMentions = NO_MENTIONS,
    ) -> discord.Message:
        reference = discord.MessageReference(
            message_id=alert_id, channel_id=channel_id, fail_if_not_exists=False
        )
        return await self._send(channel_id, msg, nonce, allowed=allowed, reference=reference)

    async def _resolve(self, channel_id: int, alert_id: int, delivery: Delivery) -> None:
        """Edit the alert to RESOLVED, without its buttons; idempotent, so done first."""
        assert delivery.original is not None
        edit = resolved_message(delivery.original, delivery.alert)
        alert = discord.PartialMessage(
            channel=self.client.get_partial_messageable(channel_id), id=alert_id
        )
        try:
            await alert.edit(embed=edit.embed, view=None, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            if exc.code in {_UNKNOWN_MESSAGE, _UNKNOWN_CHANNEL} or exc.status in {403, 404}:
                log.warning("could not mark Discord message %s resolved: %s", alert_id, exc.text)
                return
            raise delivery_error(exc, "edit") from None
        except _FAILURES as exc:
            raise delivery_error(exc, "edit") from None


# ------------------------------------------------------------------------------------ charts


async def attach_history_chart(
    interaction: discord.Interaction[Any], reply: HistoryReply, embed: discord.Embed
) -> bool:
    """Draw ``reply``'s chart and show it in ``embed``, the interaction's response already sent:
    the response is edited to carry the PNG as an attachment the embed's image names. True when
    shown; on a refusal the text stays, one line is logged and the user is told privately."""
    chart = await history_chart(reply)
    if chart is None:
        return False
    file = discord.File(io.BytesIO(chart.png), filename=chart.filename, description=chart.alt_text)
    try:
        await interaction.edit_original_response(
            embed=with_chart(embed, chart.filename),
            attachments=[file],
            allowed_mentions=NO_MENTIONS,
        )
        return True
    except _FAILURES as exc:
        reason = exc.text if isinstance(exc, discord.HTTPException) else type(exc).__name__
        log.warning("Discord: could not attach the chart of #%s (%s)", reply.monitor.id, reason)
    with contextlib.suppress(*_FAILURES):  # the log line above says it; the text stands
        await interaction.followup.send(
            chart_refused(reason), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
    return False
