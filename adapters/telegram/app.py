"""The Telegram surface: the PTB Application (``/check502``, ``/start``, ``/help``, the inline
buttons), polling or the webhook, and the alert surface.

A check or watch is answered at once with "⏳ Checking <url>…" as a reply to the command, and
that message is edited in place with the result. Anything else is answered with a reply. A
usage error is a short reply to the command (Telegram has no private replies in a group).

Buttons carry a monitor id and run the same commands the user could type (``mute 3 1h``,
``ack 3``), so there is one grammar and one set of rules; every button press is answered
(``answerCallbackQuery``), a refusal as an alert only the presser sees.

The core's scheduler runs the monitors: the Application is built without a job queue, with
PTB's rate limiter (:class:`adapters.telegram.surface.RateLimiter`) and concurrent updates, so
one slow check does not hold up the next chat's command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from telegram import BotCommand, CallbackQuery, Update, User
from telegram import Message as TelegramMessage
from telegram.error import Conflict as PollingConflict
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from adapters import flow
from adapters.flow import Acked
from adapters.telegram.config import Mode, TelegramConfig
from adapters.telegram.logs import redacted_logs
from adapters.telegram.render import (
    ACK,
    ALERT_RECHECK,
    DETAILS,
    MUTE,
    MUTE_SECONDS,
    RECHECK,
    RERUN,
    Message,
    annotated,
    checking,
    parse_callback,
    reply_messages,
    shorten,
    without,
)
from adapters.telegram.surface import (
    RateLimiter,
    TelegramSurface,
    channel_of,
    edit,
    send,
)
from adapters.telegram.webhook import TelegramWebhook
from bot.commands import Ack as BotAck
from bot.commands import Check, Command, CommandError, Details, Mute
from bot.core import OUR_FAULT, Bot, Progress
from bot.errors import SettingsError
from bot.model import Context, ErrorReply, Reply, TextReply

log = logging.getLogger("check502.telegram")

COMMANDS = (
    BotCommand("check502", "Diagnose a 502: /check502 <url> [origin=<ip>], or watch, list, help"),
    BotCommand("help", "All commands, or one: /help watch"),
    BotCommand("start", "What this bot does"),
)
"""The command menu, published with ``setMyCommands`` at start-up."""
ALLOWED_UPDATES = ("message", "callback_query")
PTBApplication = Application[Any, Any, Any, Any, Any, Any]
ANSWER_WITHIN = 1.0
"""Seconds a Re-check or Run again waits before answering its button: a refusal (another chat's
monitor, too many checks) comes back at once and is shown as an alert; a check goes on after."""
BOOTSTRAP_RETRIES = 3
ANSWER_LIMIT = 200
"""Characters of a button's answer Telegram shows."""


def build_application(config: TelegramConfig) -> PTBApplication:
    """The PTB Application for ``config``: no job queue, PTB's rate limiter, concurrent updates."""
    return (
        Application.builder()
        .token(config.token)
        .base_url(config.api_url)
        .base_file_url(config.file_url)
        .job_queue(None)
        .rate_limiter(RateLimiter(max_retries=config.max_retries))
        .concurrent_updates(True)
        .connect_timeout(5.0)
        .read_timeout(10.0)
        .write_timeout(10.0)
        .pool_timeout(5.0)
        .build()
    )


class Render(Protocol):
    """How replies become Telegram messages (:func:`adapters.telegram.render.reply_messages`)."""

    def __call__(self, reply: Reply, *, rerun: bool = ...) -> list[Message]: ...


@dataclass(frozen=True, slots=True)
class _Where:
    """Where to answer a message: its chat, its forum topic, and the message itself."""

    chat_id: int
    thread_id: int | None
    message_id: int

    @classmethod
    def of(cls, message: TelegramMessage) -> _Where:
        thread = message.message_thread_id if message.is_topic_message else None
        return cls(message.chat.id, thread, message.message_id)


class _Answer:
    """A button press's ``answerCallbackQuery``: sent once, whatever happens."""

    def __init__(self, query: CallbackQuery) -> None:
        self.query = query
        self.sent = False

    async def __call__(self, text: str | None = None, *, alert: bool = False) -> None:
        if self.sent:
            return
        self.sent = True
        short = shorten(text, ANSWER_LIMIT) if text else None
        try:
            await self.query.answer(short, show_alert=alert or None)
        except TelegramError as exc:
            log.warning("Telegram: could not answer a button press (%s)", exc)


class TelegramApp:
    """The PTB Application wired to the bot core, and the alert surface that posts through it."""

    def __init__(
        self, bot: Bot, config: TelegramConfig, *, render: Render = reply_messages
    ) -> None:
        self.bot = bot
        self.config = config
        self.render = render
        """Reply values to messages; a parameter so that tests can hand in a failing one."""
        self.application = build_application(config)
        self.surface = TelegramSurface(self.application.bot)
        self.webhook: TelegramWebhook | None = None
        self._register()

    # ------------------------------------------------------------------------- lifecycle

    def _register(self) -> None:
        new = filters.UpdateType.MESSAGE  # an edited command is not run again
        app = self.application
        app.add_handler(CommandHandler("check502", self._command, filters=new))
        app.add_handler(CommandHandler(("start", "help"), self._help, filters=new))
        app.add_handler(CallbackQueryHandler(self._button))
        app.add_error_handler(self._error)

    async def start(self) -> None:
        """Check the token (``getMe``), start the Application, publish the command menu."""
        try:
            await self.application.initialize()
        except InvalidToken:
            # PTB's message quotes the token itself: it is not repeated here.
            raise SettingsError(
                f"TELEGRAM_BOT_TOKEN was refused by the Bot API at {self._api_host()};"
                " check it with @BotFather (/token)"
            ) from None
        except NetworkError as exc:
            reason = str(exc).replace(self.config.token, "<redacted>")
            raise SettingsError(
                f"TELEGRAM_API_URL: the Bot API at {self._api_host()} cannot be reached ({reason})"
            ) from None
        await self.application.start()
        try:
            await self.application.bot.set_my_commands(COMMANDS)
        except TelegramError as exc:
            log.warning("Telegram: could not publish the command menu (%s)", exc)

    async def serve(self) -> None:
        """Receive updates: long polling, or the webhook (:mod:`adapters.telegram.webhook`)
        when one is configured."""
        updater = self.application.updater
        assert updater is not None
        config = self.config
        if config.mode is Mode.WEBHOOK:
            self.webhook = TelegramWebhook(self.application, config, ALLOWED_UPDATES)
            await self.webhook.start(retries=BOOTSTRAP_RETRIES)
        else:
            await updater.start_polling(
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
                error_callback=_polling_error,
            )

    async def stop(self) -> None:
        """Stop receiving, then the Application, then its HTTP clients (reverse order)."""
        if self.webhook is not None:
            await self.webhook.stop()
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def _api_host(self) -> str:
        return self.config.api_url.removesuffix("/bot")

    # -------------------------------------------------------------------------- commands

    def _context(self, message: TelegramMessage, user: User | None) -> Context:
        where = _Where.of(message)
        return Context(channel_of(where.chat_id, where.thread_id), str(user.id) if user else "-")

    async def _command(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        await self._run(message, update.effective_user, message.text)

    async def _run(self, message: TelegramMessage, user: User | None, text: str) -> None:
        """The shared command flow (:mod:`adapters.flow`) with Telegram's hooks."""
        hooks = _TelegramCommand(self, _Where.of(message))
        await flow.run(self.bot, hooks, self._context(message, user), text)

    def _progress(self, where: _Where, message_id: int, url: str) -> Progress:
        """Edits "⏳ Checking <url>…" into "⏳ Checking <url>… 3/10 runs" as runs finish."""

        async def show(done: int, runs: int) -> None:
            await edit(self.application.bot, where.chat_id, message_id, checking(url, done, runs))

        return show

    async def _help(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        command, _sep, topic = message.text.partition(" ")
        if command.lower().startswith("/start"):
            topic = ""  # a deep-link payload, not a help topic
        await self._run(message, update.effective_user, f"help {topic}")

    async def _show(
        self, where: _Where, messages: list[Message], *, progress: int | None = None
    ) -> None:
        """Show a reply's ``messages``: edited into the ``progress`` message, or as a reply to
        the command; the parts of a long listing after it follow as messages of their own."""
        first, rest = messages[0], messages[1:]
        edited = False
        if progress is not None:
            try:
                edited = await edit(self.application.bot, where.chat_id, progress, first)
            except TelegramError as exc:
                log.warning("Telegram: could not edit message %s (%s)", progress, exc)
                return
        if not edited and await self._post(where, first, reply_to=where.message_id) is None:
            return
        for message in rest:
            if await self._post(where, message) is None:
                return

    async def _post(
        self, where: _Where, message: Message, *, reply_to: int | None = None
    ) -> int | None:
        """Send ``message`` where the command was typed; its id, or None if Telegram refused."""
        try:
            sent = await send(
                self.application.bot,
                where.chat_id,
                message,
                thread_id=where.thread_id,
                reply_to=reply_to,
            )
        except TelegramError as exc:
            log.warning("Telegram: could not answer in chat %s (%s)", where.chat_id, exc)
            return None
        return sent.message_id

    # --------------------------------------------------------------------------- buttons

    async def _button(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        answer = _Answer(query)
        try:
            await self._click(query, answer)
        finally:
            await answer()  # the client shows a spinner until the press is answered

    async def _click(self, query: CallbackQuery, answer: _Answer) -> None:
        parsed = parse_callback(query.data)
        message = query.message
        if parsed is None or not isinstance(message, TelegramMessage):
            await answer("This button no longer works; type the command instead.", alert=True)
            return
        action, monitor_id = parsed
        context = self._context(message, query.from_user)
        if action in (MUTE, ACK) and monitor_id is not None:
            await self._in_place(query, message, context, action, monitor_id, answer)
        elif action in (RECHECK, ALERT_RECHECK) and monitor_id is not None:
            reply = await _answered(
                answer, self.bot.recheck(context, monitor_id), f"Re-checking #{monitor_id}…"
            )
            if reply is not None:
                await self._after_click(message, reply, in_place=action == RECHECK)
        elif action == DETAILS and monitor_id is not None:
            # The full diagnosis behind the alert, as a reply to it: the alert stays compact.
            reply = await _answered(
                answer,
                self.bot.handle(context, Details(monitor_id)),
                f"Details of #{monitor_id}…",
            )
            if reply is not None:
                await self._after_click(message, reply, in_place=False)
        elif action == RERUN:
            original = message.reply_to_message
            text = original.text if original is not None else None
            command = flow.parse(text) if text else None
            if not isinstance(command, Check):
                await answer("The command this answered is gone; type it again.", alert=True)
                return
            reply = await _answered(answer, self.bot.handle(context, command), "Running it again…")
            if reply is not None:
                await self._after_click(message, reply, in_place=True, rerun=True)

    async def _after_click(
        self, message: TelegramMessage, reply: Reply, *, in_place: bool, rerun: bool = False
    ) -> None:
        """A button's fresh result: in place of the message, or (an alert, which stays the
        incident's record; an error) as a reply to it."""
        where = _Where.of(message)
        reply, messages = flow.render_safely(_TelegramCommand(self, where, rerun=rerun), reply)
        if isinstance(reply, ErrorReply) or not in_place:
            for shown in messages[:1]:
                await self._post(where, shown, reply_to=message.message_id)
            return
        await self._show(where, messages, progress=message.message_id)

    async def _in_place(
        self,
        query: CallbackQuery,
        message: TelegramMessage,
        context: Context,
        action: str,
        monitor_id: int,
        answer: _Answer,
    ) -> None:
        """Mute or Acknowledge: run the command, show it on the message itself."""
        command: Command
        if action == MUTE:
            command, note = Mute(monitor_id, MUTE_SECONDS), "🔕 Muted for 1 h"
        else:
            command, note = BotAck(monitor_id), "✋ Acknowledged"
        reply = await self.bot.handle(context, command)
        if isinstance(reply, ErrorReply):
            await answer(reply.text, alert=True)
            return
        await answer(reply.text if isinstance(reply, TextReply) else None)
        note = f"{note} by {query.from_user.mention_html()}"
        bot = self.application.bot
        where = _Where.of(message)
        updated = annotated(
            message.text_html if message.text else "", note, message.reply_markup, drop=action
        )
        try:
            if updated is not None and await edit(bot, where.chat_id, message.message_id, updated):
                return
            # Too long to add the note (or the message is gone): say it in a reply instead.
            await send(
                bot,
                where.chat_id,
                Message(note),
                thread_id=where.thread_id,
                reply_to=message.message_id,
            )
            await bot.edit_message_reply_markup(
                where.chat_id,
                message.message_id,
                reply_markup=without(message.reply_markup, action),
            )
        except TelegramError as exc:
            log.warning("Telegram: could not show a button's effect (%s)", exc)

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram update failed: %s", context.error, exc_info=context.error)


class _TelegramCommand:
    """Telegram's hooks into the shared command flow for one command: a check or watch is
    answered at once with "⏳ Checking <url>…" as a reply to the command and that message is
    edited with the result; anything else, a usage error included, is a reply (Telegram has no
    private replies in a group)."""

    platform = "telegram"

    def __init__(self, telegram: TelegramApp, where: _Where, *, rerun: bool = False) -> None:
        self.telegram = telegram
        self.where = where
        self.rerun = rerun
        self.placeholder: int | None = None

    async def refuse(self, error: CommandError) -> None:
        _, messages = flow.render_safely(self, ErrorReply(str(error)))
        await self.telegram._show(self.where, messages)

    async def acknowledge(self, command: Command) -> Acked:
        if not flow.probes(command):
            return Acked.NOTHING
        self.rerun = isinstance(command, Check)
        where = self.where
        self.placeholder = await self.telegram._post(
            where, checking(command.url), reply_to=where.message_id
        )
        # When the bot cannot even post here, the check would go unseen: it is not run.
        return Acked.FAILED if self.placeholder is None else Acked.PLACEHOLDER

    def progress(self, check: Check) -> Progress | None:
        if self.placeholder is None:
            return None
        return self.telegram._progress(self.where, self.placeholder, check.url)

    def render(self, reply: Reply) -> list[Message]:
        return self.telegram.render(reply, rerun=self.rerun)

    async def answer(self, reply: Reply, rendered: list[Message], *, replace: bool) -> None:
        await self.telegram._show(
            self.where, rendered, progress=self.placeholder if replace else None
        )


async def _answered(answer: _Answer, work: Awaitable[Reply], progress: str) -> Reply | None:
    """Run ``work`` for a button; a refusal that comes back at once is the button's answer (an
    alert, and None is returned), else the button is answered with ``progress`` while it runs."""
    task = asyncio.ensure_future(_safely(work))
    try:
        done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN)
        early = task.result() if done else None
        if isinstance(early, ErrorReply):
            await answer(early.text, alert=True)
            return None
        await answer(progress)
        return await task
    finally:
        task.cancel()


async def _safely(work: Awaitable[Reply]) -> Reply:
    try:
        return await work
    except Exception:
        log.exception("a Telegram button's work failed")
        return ErrorReply(OUR_FAULT)


def _polling_error(exc: TelegramError) -> None:
    """One line per failed ``getUpdates`` (PTB retries, backing off to 30 s), no traceback."""
    if isinstance(exc, PollingConflict):
        log.error("Telegram: another process is polling with this bot token (%s)", exc)
    else:
        log.warning("Telegram: getUpdates failed (%s); retrying", exc)


async def run_telegram(bot: Bot, env: Mapping[str, str]) -> None:
    """:func:`serve_telegram` with the configuration read from ``env`` (for embedding; the
    entry point parses every surface's configuration first, :mod:`adapters.registry`)."""
    await serve_telegram(bot, TelegramConfig.from_env(env))


async def serve_telegram(bot: Bot, config: TelegramConfig) -> None:
    """The Telegram surface until cancelled: polling or the webhook, alerts through sendMessage."""
    with redacted_logs(config.token, config.token.partition(":")[2], config.webhook_secret):
        telegram = TelegramApp(bot, config)
        try:
            await telegram.start()
            # Attached once initialized: until then the outbox holds Telegram alerts back.
            bot.attach(telegram.surface)
            await bot.start()
            await telegram.serve()
            name = telegram.application.bot.username
            if config.mode is Mode.WEBHOOK:
                log.warning(
                    "Telegram: @%s receives updates at %s (listening on %s:%s%s)",
                    name,
                    config.webhook_url,
                    config.host,
                    config.port,
                    config.webhook_path,
                )
                if config.secret_generated:
                    log.warning(
                        "Telegram: TELEGRAM_WEBHOOK_SECRET is not set; a new one was made for this run"
                    )
            else:
                log.warning("Telegram: @%s is polling for updates", name)
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(TelegramError):
                await telegram.stop()
