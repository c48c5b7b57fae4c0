"""Telegram as the core's alert surface: ``sendMessage``, replies, the resolved edit; and the
pieces every Bot API call of this surface goes through.

* **Where**: a monitor's channel is ``Channel("telegram", "-", "<chat_id>")``, or
  ``"<chat_id>/<message_thread_id>"`` for a forum topic, so alerts go to the topic the monitor
  was made in (:func:`channel_of`, :func:`chat_of`).
* **Threads**: Telegram has reply chains rather than threads; follow-ups and the recovery are
  replies to the alert (sent even when the alert was deleted: ``allow_sending_without_reply``).
* **Errors**: every Telegram failure becomes a :class:`bot.errors.DeliveryError` in
  :func:`delivery_error`, in one place: a 429 the rate limiter could not absorb carries its
  ``retry_after``; a chat the bot cannot post to (blocked, kicked, not found) is permanent;
  network errors and time-outs are retried by the outbox with backoff.
* **HTML Telegram refuses** (a rendering bug of ours) is sent again as plain text, never lost.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Bot as TelegramBot
from telegram import LinkPreviewOptions, ReplyParameters
from telegram import Message as TelegramMessage
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

from adapters.charts import Chart
from adapters.telegram.render import Message, alert_message, as_plain, resolved_message
from bot.errors import DeliveryError
from bot.model import Channel, Delivery, MessageRef

log = logging.getLogger("check502.telegram")

PLATFORM = "telegram"
MAX_INLINE_WAIT = 5.0
"""The longest 429 wait the rate limiter sits out itself; a longer one goes to the caller (the
outbox waits it out without holding every other call back)."""

PERMANENT = (
    "chat not found",
    "bot was blocked",
    "bot was kicked",
    "bot is not a member",
    "user is deactivated",
    "group chat was deactivated",
    "have no rights to send",
    "not enough rights",
    "need administrator rights",
    "chat_write_forbidden",
    "peer_id_invalid",
    "topic_closed",
    "topic_deleted",
    "message thread not found",
    "bot can't initiate conversation",
)
"""Phrases of Telegram errors retrying cannot fix: the chat, the topic or the right is gone."""
_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid")
_UNPARSABLE = ("can't parse entities", "message is too long", "text must be non-empty")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
"""No link previews: Telegram would fetch the very URL being diagnosed."""


# ----------------------------------------------------------------------------- channels


def channel_of(chat_id: int | str, thread_id: int | None = None) -> Channel:
    """The core's channel of a Telegram chat, or of one forum topic in it."""
    name = f"{chat_id}/{thread_id}" if thread_id else str(chat_id)
    return Channel(PLATFORM, "-", name)


def chat_of(channel: Channel) -> tuple[int | str, int | None]:
    """``(chat_id, message_thread_id)`` of a channel made by :func:`channel_of`."""
    chat, _, thread = channel.channel.partition("/")
    chat_id: int | str = int(chat) if chat.lstrip("-").isdigit() else chat
    return chat_id, int(thread) if thread.isdigit() else None


# ------------------------------------------------------------------------------- errors


def retry_seconds(exc: RetryAfter) -> float:
    """Telegram's ``retry_after`` in seconds, whichever type this PTB returns it as."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int becomes a timedelta in v23; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def delivery_error(exc: Exception, what: str) -> DeliveryError:
    """The one mapping of Telegram failures to the outbox's retry decision."""
    if isinstance(exc, RetryAfter):
        wait = retry_seconds(exc)
        return DeliveryError(f"{what}: rate limited, retry after {wait:g} s", retry_after=wait)
    if isinstance(exc, ChatMigrated):
        return DeliveryError(
            f"{what}: the group is now supergroup {exc.new_chat_id}; watch again there",
            permanent=True,
        )
    if isinstance(exc, Forbidden | InvalidToken):
        return DeliveryError(f"{what}: {exc}", permanent=True)
    if isinstance(exc, BadRequest):
        text = str(exc).lower()
        return DeliveryError(f"{what}: {exc}", permanent=any(p in text for p in PERMANENT))
    return DeliveryError(f"{what}: {type(exc).__name__}: {exc}")


def _has(exc: TelegramError, phrases: tuple[str, ...]) -> bool:
    text = str(exc).lower()
    return any(p in text for p in phrases)


# ------------------------------------------------------------------------ rate limiting


class _LongWait(Exception):
    def __init__(self, original: RetryAfter) -> None:
        super().__init__(str(original))
        self.original = original


class RateLimiter(AIORateLimiter):
    """PTB's :class:`AIORateLimiter` (30 messages a second, 20 a minute per group), retrying a
    429 itself ``max_retries`` times when the wait is at most ``max_wait`` seconds.

    A longer wait is raised to the caller at once: AIORateLimiter halts *every* request while it
    sleeps, so a 429 of one chat asking for minutes would stall all chats' commands.
    """

    def __init__(self, *, max_retries: int, max_wait: float = MAX_INLINE_WAIT) -> None:
        super().__init__(max_retries=max_retries)
        self.max_wait = max_wait

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        async def guarded(*a: Any, **kw: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            try:
                return await callback(*a, **kw)
            except RetryAfter as exc:
                if retry_seconds(exc) > self.max_wait:
                    raise _LongWait(exc) from None  # not a RetryAfter: not retried here
                raise

        try:
            return await super().process_request(
                guarded, args, kwargs, endpoint, data, rate_limit_args
            )
        except _LongWait as wrapped:
            raise wrapped.original from None


# ------------------------------------------------------------------------ sending, editing


async def send(
    bot: TelegramBot,
    chat_id: int | str,
    message: Message,
    *,
    thread_id: int | None = None,
    reply_to: int | None = None,
) -> TelegramMessage:
    """``sendMessage`` (a reply to ``reply_to`` if given, kept if that one was deleted)."""
    try:
        return await _send(bot, chat_id, message, thread_id, reply_to)
    except BadRequest as exc:
        if not message.html or not _has(exc, _UNPARSABLE):
            raise
        log.error("Telegram refused a message (%s); sending it as plain text", exc)
        return await _send(bot, chat_id, as_plain(message), thread_id, reply_to)


async def _send(
    bot: TelegramBot,
    chat_id: int | str,
    message: Message,
    thread_id: int | None,
    reply_to: int | None,
) -> TelegramMessage:
    reply = (
        ReplyParameters(reply_to, allow_sending_without_reply=True)
        if reply_to is not None
        else None
    )
    return await bot.send_message(
        chat_id,
        message.text,
        parse_mode=ParseMode.HTML if message.html else None,
        reply_markup=message.keyboard,
        message_thread_id=thread_id,
        reply_parameters=reply,
        link_preview_options=_NO_PREVIEW,
    )


async def edit(bot: TelegramBot, chat_id: int | str, message_id: int, message: Message) -> bool:
    """``editMessageText``; False when the message is gone or cannot be edited any more."""
    try:
        await _edit(bot, chat_id, message_id, message)
    except BadRequest as exc:
        if _has(exc, ("message is not modified",)):
            return True
        if _has(exc, _GONE):
            return False
        if not message.html or not _has(exc, _UNPARSABLE):
            raise
        log.error("Telegram refused an edit (%s); sending it as plain text", exc)
        await _edit(bot, chat_id, message_id, as_plain(message))
    return True


async def _edit(bot: TelegramBot, chat_id: int | str, message_id: int, message: Message) -> None:
    await bot.edit_message_text(
        message.text,
        chat_id=chat_id,
        message_id=message_id,
        parse_mode=ParseMode.HTML if message.html else None,
        reply_markup=message.keyboard,
        link_preview_options=_NO_PREVIEW,
    )


# ------------------------------------------------------------------------------ surface


class TelegramSurface:
    """Delivers the outbox's alerts to Telegram chats (and forum topics)."""

    name = PLATFORM

    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot

    async def deliver(self, delivery: Delivery) -> MessageRef:
        chat_id, thread_id = chat_of(delivery.channel)
        resolves = delivery.resolves
        if resolves is not None and delivery.original is not None and resolves.message_id.isdigit():
            # Edit first: an edit is idempotent, so a retry after a failed post repeats nothing.
            shown = resolved_message(delivery.original, delivery.alert)
            try:
                if not await edit(self.bot, chat_id, int(resolves.message_id), shown):
                    log.warning("could not mark Telegram message %s resolved: it is gone", resolves)
            except TelegramError as exc:
                raise delivery_error(exc, "editMessageText") from None
        if delivery.edit_only and resolves is not None:
            return resolves  # the edit is all a RESOLVED delivery is
        thread = delivery.thread
        reply_to = int(thread.message_id) if thread and thread.message_id.isdigit() else None
        try:
            sent = await send(
                self.bot,
                chat_id,
                alert_message(delivery.alert),
                thread_id=thread_id,
                reply_to=reply_to,
            )
        except TelegramError as exc:
            raise delivery_error(exc, "sendMessage") from None
        return MessageRef(str(sent.message_id), str(reply_to) if reply_to is not None else None)


# ------------------------------------------------------------------------------------ charts


async def send_photo(
    bot: TelegramBot,
    chat_id: int | str,
    chart: Chart,
    caption: Message,
    *,
    thread_id: int | None = None,
    reply_to: int | None = None,
) -> TelegramMessage:
    """``sendPhoto`` of the chart's PNG with ``caption`` (within 1,024 as shown); raises
    :class:`telegram.error.TelegramError` when Telegram refuses it."""
    reply = (
        ReplyParameters(reply_to, allow_sending_without_reply=True)
        if reply_to is not None
        else None
    )
    return await bot.send_photo(
        chat_id,
        photo=chart.png,
        filename=chart.filename,
        caption=caption.text,
        parse_mode=ParseMode.HTML if caption.html else None,
        reply_markup=caption.keyboard,
        message_thread_id=thread_id,
        reply_parameters=reply,
    )
