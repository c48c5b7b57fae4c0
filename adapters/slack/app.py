"""The Slack surface: the Bolt app (``/check502``, its buttons), its server, its alert surface.

Slash commands run the shared command flow (:mod:`adapters.flow`) split in two, as Bolt splits
them: the ack listener parses the text, once, and acknowledges inside Slack's 3 seconds (a
usage error is the ephemeral acknowledgement itself; a command that probes is acknowledged in
the channel with "Checking <url>…", which the result then replaces through ``respond()``).
The parsed command reaches Bolt's lazy listener in Bolt's context, and the work runs there,
after the acknowledgement (``process_before_response``: the acknowledgement leaves first); a
result replacing it waits :data:`ACK_HEAD_START` after it. Buttons carry a monitor id and run
the same commands the user could type (mute, ack), as typed commands, so there is one grammar
and one set of rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters import flow
from adapters.flow import Acked
from adapters.present import progress_line
from adapters.slack.config import SCOPES, Mode, SlackConfig
from adapters.slack.incoming import SlackGate
from adapters.slack.render import (
    ACK,
    ALERT_ACTIONS,
    DETAILS,
    MUTE,
    MUTE_SECONDS,
    RECHECK,
    RERUN,
    Message,
    annotated,
    esc,
    reply_message,
)
from adapters.slack.surface import ClientFor, SlackSurface, web_client
from bot.commands import Ack as BotAck
from bot.commands import Check, Command, CommandError, Details, Help, Mute
from bot.core import Bot, Progress
from bot.errors import SettingsError
from bot.model import Channel, Context, ErrorReply, Reply

log = logging.getLogger("check502.slack")


class _NotOurs(logging.Filter):
    """Bolt reads ``SLACK_BOT_TOKEN`` itself and warns that our client (with the same token,
    and the configured API URL) wins: true, and on every start, so dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


logging.getLogger("slack_bolt.AsyncApp").addFilter(_NotOurs())

EVENTS_PATH = "/slack/events"
ACK_HEAD_START = 0.5
"""Seconds between acknowledging "Checking <url>…" and replacing it: a loopback check finishes
in milliseconds, and a replacement that reaches Slack before the message it replaces would
leave "Checking…" in the channel for good (bench/slack_ack saw the result arrive first)."""
PROGRESS_EDITS = 2
"""Progress edits of one check's "Checking…" message through its response URL (of 5 uses)."""
_RESPOND_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, OSError, SlackClientError)


def _context(team: str | None, channel: str | None, user: str | None) -> Context:
    return Context(Channel("slack", team or "-", channel or "-"), user or "-")


def _command_context(command: dict[str, Any]) -> Context:
    return _context(command.get("team_id"), command.get("channel_id"), command.get("user_id"))


class Render(Protocol):
    """How replies become Slack messages (:func:`adapters.slack.render.reply_message`)."""

    def __call__(self, reply: Reply, *, rerun: str | None = ...) -> Message: ...


_ACCEPTED = "check502_accepted"
"""Where the ack listener leaves the parsed command for the lazy one, in Bolt's context (which
Bolt copies into the lazy listener's request after the acknowledgement)."""
_ACKED_AT = "check502_acked_at"


class _SlackCommand:
    """Slack's hooks into the shared command flow (:mod:`adapters.flow`) for one slash command
    or button: ``ack`` in the ack listener, ``respond`` and ``client`` in the lazy one."""

    platform = "slack"

    def __init__(
        self,
        slack: SlackApp,
        context: Context,
        *,
        ack: AsyncAck | None = None,
        respond: AsyncRespond | None = None,
        client: AsyncWebClient | None = None,
        rerun: str | None = None,
        acked_at: float | None = None,
        show_progress: bool = True,
    ) -> None:
        self.slack = slack
        self.context = context
        self.ack = ack
        self.respond = respond
        self.client = client
        self.rerun = rerun
        self.acked_at = acked_at
        self.show_progress = show_progress

    async def refuse(self, error: CommandError) -> None:
        assert self.ack is not None
        await self.ack(text=f"✗ {esc(str(error))}")

    async def acknowledge(self, command: Command) -> Acked:
        assert self.ack is not None
        if isinstance(command, Help):  # quick: the acknowledgement itself is the answer
            _, msg = flow.render_safely(self, await self.slack.bot.handle(self.context, command))
            await self.ack(**msg.payload())
            return Acked.ANSWERED
        if flow.probes(command):
            await self.ack(response_type="in_channel", text=f"Checking {esc(command.url)}…")
            self.acked_at = time.monotonic()
            return Acked.PLACEHOLDER
        await self.ack()
        return Acked.NOTHING

    def progress(self, check: Check) -> Progress | None:
        if not self.show_progress:
            return None
        assert self.respond is not None
        return self.slack._progress(self.respond, self.context, check.url)

    def render(self, reply: Reply) -> Message:
        return self.slack.render(reply, rerun=self.rerun)

    async def answer(self, reply: Reply, rendered: Message, *, replace: bool) -> None:
        assert self.respond is not None and self.client is not None
        if replace and self.acked_at is not None:
            await asyncio.sleep(max(0.0, self.acked_at + ACK_HEAD_START - time.monotonic()))
        await self.slack._answer(
            self.respond, self.client, self.context, reply, rendered, replace=replace
        )


class SlackApp:
    """The Bolt app wired to the bot core, and the alert surface that posts with its tokens."""

    def __init__(self, bot: Bot, config: SlackConfig, *, render: Render = reply_message) -> None:
        self.bot = bot
        self.config = config
        self.render = render
        """Reply values to Slack messages; a parameter so that tests can hand in a failing one."""
        self.client = web_client(
            config.api_url, None if config.mode is Mode.OAUTH else config.bot_token
        )
        self.installations: SQLite3InstallationStore | None = None
        if config.mode is Mode.OAUTH:
            assert config.client_id is not None and config.client_secret is not None
            self.installations = SQLite3InstallationStore(
                database=config.install_db, client_id=config.client_id
            )
            oauth = AsyncOAuthSettings(
                client_id=config.client_id,
                client_secret=config.client_secret,
                scopes=list(SCOPES),
                installation_store=self.installations,
                state_store=SQLite3OAuthStateStore(
                    database=config.install_db, expiration_seconds=600
                ),
                authorization_url=config.authorization_url,
                redirect_uri=config.redirect_uri,
            )
            self.app = AsyncApp(
                name="check502",
                client=self.client,
                signing_secret=config.signing_secret,
                oauth_settings=oauth,
                process_before_response=True,
            )
        else:
            self.app = AsyncApp(
                name="check502",
                client=self.client,
                signing_secret=config.signing_secret,
                request_verification_enabled=config.mode is Mode.HTTP,
                process_before_response=True,
            )
        self.surface = SlackSurface(self._client_for)
        self._register()

    async def _client_for(self, team: str) -> AsyncWebClient | None:
        if self.installations is None:
            return self.client
        installed = await self.installations.async_find_bot(enterprise_id=None, team_id=team)
        if installed is None or not installed.bot_token:
            return None
        return web_client(self.config.api_url, installed.bot_token)

    def client_for(self) -> ClientFor:
        return self._client_for

    # ------------------------------------------------------------------------------ listeners

    def _register(self) -> None:
        app = self.app
        app.command(self.config.command)(ack=self._ack_command, lazy=[self._run_command])
        for action_id, work in (
            (RECHECK, self._recheck),
            (DETAILS, self._details),
            (RERUN, self._rerun),
            (MUTE, self._mute),
            (ACK, self._acknowledge),
        ):
            app.action(action_id)(ack=self._ack_action, lazy=[work])
        app.error(self._error)

    async def _ack_command(
        self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Parse the text, once, and acknowledge within Slack's 3 seconds."""
        hooks = _SlackCommand(self, _command_context(command), ack=ack)
        accepted = await flow.acknowledge(hooks, command.get("text") or "")
        if accepted is not None:
            context[_ACCEPTED] = accepted
            context[_ACKED_AT] = hooks.acked_at

    async def _run_command(
        self,
        command: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """The lazy half: run what the ack listener parsed and answer."""
        accepted = context.get(_ACCEPTED)
        if not isinstance(accepted, flow.Accepted):
            return  # the acknowledgement was the answer
        hooks = _SlackCommand(
            self,
            _command_context(command),
            respond=respond,
            client=client,
            rerun=accepted.text if isinstance(accepted.command, Check) else None,
            acked_at=context.get(_ACKED_AT),
        )
        await flow.complete(self.bot, hooks, hooks.context, accepted)

    def _progress(self, respond: AsyncRespond, context: Context, url: str) -> Progress:
        """Replaces "Checking <url>…" with "Checking <url>… 3/10 runs", at most
        :data:`PROGRESS_EDITS` times: a response URL takes five posts, and the result needs two."""
        edits = 0

        async def show(done: int, runs: int) -> None:
            nonlocal edits
            if edits >= PROGRESS_EDITS:
                return
            edits += 1
            text = esc(progress_line(url, done, runs))
            await self._respond(
                respond,
                None,
                context,
                Message(text),
                response_type="in_channel",
                replace_original=True,
            )

        return show

    async def _answer(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: Context,
        reply: Reply,
        msg: Message,
        *,
        replace: bool,
    ) -> None:
        """Show ``reply`` (rendered as ``msg``): in the channel, replacing the acknowledgement,
        or privately if an error."""
        if isinstance(reply, ErrorReply):
            if replace:
                await self._respond(respond, None, context, Message(""), delete_original=True)
            await self._respond(respond, None, context, msg, response_type="ephemeral")
            return
        await self._respond(
            respond,
            client,
            context,
            msg,
            response_type="in_channel",
            replace_original=replace,
            unfurl_links=False,
            unfurl_media=False,
        )

    async def _respond(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient | None,
        context: Context,
        msg: Message,
        **options: Any,
    ) -> None:
        """``respond()``; when the response URL fails, post to the channel instead (if given)."""
        try:
            response = await respond(**msg.payload(), **options)
            if response.status_code == 200:
                return
            problem = f"HTTP {response.status_code} {response.body[:200]!r}"
        except _RESPOND_FAILURES as exc:
            problem = f"{type(exc).__name__}: {exc}"
        log.warning("Slack response_url failed (%s)", problem)
        if client is None:
            return
        try:
            await client.chat_postMessage(channel=context.channel.channel, **msg.payload())
        except _RESPOND_FAILURES as exc:
            log.warning("Slack chat.postMessage failed too (%s); the reply is lost", exc)

    async def _ack_action(self, ack: AsyncAck) -> None:
        await ack()

    def _clicked(self, body: dict[str, Any]) -> tuple[Context, int | None]:
        context = _context(
            (body.get("team") or {}).get("id"),
            (body.get("channel") or {}).get("id"),
            (body.get("user") or {}).get("id"),
        )
        actions = body.get("actions") or [{}]
        try:
            return context, int(actions[0].get("value", ""))
        except ValueError:
            return context, None

    async def _recheck(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        context, monitor_id = self._clicked(body)
        if monitor_id is None:
            return
        reply = await self.bot.recheck(context, monitor_id)
        if await self._in_thread(body, client, context, reply):
            return
        hooks = _SlackCommand(self, context, respond=respond, client=client)
        reply, msg = flow.render_safely(hooks, reply)
        await self._answer(respond, client, context, reply, msg, replace=True)

    async def _details(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """An alert's Details: the full diagnosis behind it, posted in the alert's thread."""
        context, monitor_id = self._clicked(body)
        if monitor_id is None:
            return
        reply = await self.bot.handle(context, Details(monitor_id))
        if await self._in_thread(body, client, context, reply):
            return
        _, msg = flow.render_safely(_SlackCommand(self, context), reply)
        await self._respond(respond, None, context, msg, response_type="ephemeral")

    async def _in_thread(
        self, body: dict[str, Any], client: AsyncWebClient, context: Context, reply: Reply
    ) -> bool:
        """Post ``reply`` in the thread of the alert whose button was clicked; False when the
        button was not on an alert, the reply is a refusal, or Slack refused the post."""
        message = body.get("message") or {}
        on_alert = any(b.get("block_id") == ALERT_ACTIONS for b in message.get("blocks", ()) if b)
        if not on_alert or isinstance(reply, ErrorReply):
            return False
        # An alert stays as the incident's record: what its buttons show goes into its thread.
        shown, msg = flow.render_safely(_SlackCommand(self, context), reply)
        if isinstance(shown, ErrorReply):
            return False  # a rendering failure: the caller answers privately
        try:
            await client.chat_postMessage(
                channel=context.channel.channel,
                thread_ts=message.get("thread_ts") or message.get("ts"),
                unfurl_links=False,
                **msg.payload(),
            )
            return True
        except _RESPOND_FAILURES as exc:
            log.warning("could not post in the alert's thread (%s)", exc)
            return False

    async def _rerun(
        self, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        context, _ = self._clicked(body)
        text = str((body.get("actions") or [{}])[0].get("value", ""))
        command = flow.parse(text)
        if not isinstance(command, Check):
            return  # only a check is ever put on this button
        hooks = _SlackCommand(
            self, context, respond=respond, client=client, rerun=text, show_progress=False
        )
        await flow.complete(
            self.bot, hooks, context, flow.Accepted(command, text, Acked.PLACEHOLDER)
        )

    async def _mute(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        await self._in_place(
            body, respond, lambda mid: Mute(mid, MUTE_SECONDS), "🔕 Muted for 1 h", MUTE
        )

    async def _acknowledge(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        await self._in_place(body, respond, BotAck, "✋ Acknowledged", ACK)

    async def _in_place(
        self,
        body: dict[str, Any],
        respond: AsyncRespond,
        command: Callable[[int], Command],
        note: str,
        button: str,
    ) -> None:
        """Run a button's command; show it on the message itself, or privately if refused."""
        context, monitor_id = self._clicked(body)
        if monitor_id is None:
            return
        reply = await self.bot.handle(context, command(monitor_id))
        message = body.get("message") or {}
        if isinstance(reply, ErrorReply) or not message.get("blocks"):
            _, msg = flow.render_safely(_SlackCommand(self, context), reply)
            await self._respond(respond, None, context, msg, response_type="ephemeral")
            return
        blocks = annotated(message["blocks"], f"{note} by <@{esc(context.user)}>", drop=[button])
        text = str(message.get("text") or "check502")
        await self._respond(respond, None, context, Message(text, blocks), replace_original=True)

    async def _error(self, error: Exception, body: dict[str, Any]) -> None:
        kind = body.get("type") or body.get("command") or "request"
        log.error("Slack %s failed: %s", kind, error, exc_info=error)


# ---------------------------------------------------------------------------------- serving


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def web_app(slack: SlackApp) -> web.Application:
    """``/slack/events`` behind :class:`SlackGate`, Bolt's OAuth pages (if any), ``/healthz``."""
    app = web.Application()
    app.router.add_post(EVENTS_PATH, SlackGate(slack.app, slack.config.signing_secret).handle)
    flow = slack.app.oauth_flow
    if flow is not None:
        pages = slack.app.server(path=EVENTS_PATH).handle_get_requests
        app.router.add_get(flow.install_path, pages)
        app.router.add_get(flow.redirect_uri_path, pages)
    app.router.add_get("/healthz", _healthz)
    return app


async def serve_http(slack: SlackApp, host: str, port: int) -> web.AppRunner:
    """Serve ``/slack/events`` (and the OAuth pages, ``/healthz``) on ``host:port``."""
    runner = web.AppRunner(web_app(slack), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _check_token(client: AsyncWebClient, config: SlackConfig) -> None:
    """``auth.test`` before anything starts: a refused token or an unreachable API is one line
    at start-up, not alerts given up later (or Socket Mode retrying with tracebacks)."""
    try:
        await client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        raise SettingsError(f"SLACK_BOT_TOKEN was refused by Slack ({code})") from None
    except _RESPOND_FAILURES as exc:
        raise SettingsError(
            f"SLACK_API_URL={config.api_url}: cannot reach Slack ({type(exc).__name__}: {exc})"
        ) from None


async def run_slack(bot: Bot, env: Mapping[str, str]) -> None:
    """:func:`serve_slack` with the configuration read from ``env`` (for embedding; the
    entry point parses every surface's configuration first, :mod:`adapters.registry`)."""
    await serve_slack(bot, SlackConfig.from_env(env, db_path=bot.settings.db_path))


async def serve_slack(bot: Bot, config: SlackConfig) -> None:
    """The Slack surface until cancelled: HTTP or Socket Mode, alerts through chat.postMessage."""
    slack = SlackApp(bot, config)
    if config.mode is not Mode.OAUTH:
        await _check_token(slack.client, config)
    bot.attach(slack.surface)
    await bot.start()
    runner: web.AppRunner | None = None
    handler = None
    try:
        if config.mode is Mode.SOCKET:
            from slack_bolt.adapter.socket_mode.async_handler import (  # noqa: PLC0415 - Socket Mode only
                AsyncSocketModeHandler,
            )

            handler = AsyncSocketModeHandler(slack.app, config.app_token)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.warning("Slack: connected in Socket Mode")
        else:
            runner = await serve_http(slack, config.host, config.port)
            log.warning(
                "Slack: listening on %s:%s%s (%s)",
                config.host,
                config.port,
                EVENTS_PATH,
                config.mode,
            )
        await asyncio.Event().wait()
    finally:
        if handler is not None:
            with contextlib.suppress(Exception):
                await handler.close_async()  # type: ignore[no-untyped-call]
        if runner is not None:
            await runner.cleanup()
