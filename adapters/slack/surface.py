"""Slack as the core's alert surface: ``chat.postMessage``, threads, and the resolved edit.

Every Slack failure becomes a :class:`bot.errors.DeliveryError` here, in one place: a 429 that
slack-sdk's own retry handler could not absorb carries ``Retry-After``; a channel or token that
is gone is permanent; anything else is retried by the outbox with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.charts import Chart, history_chart
from adapters.slack.render import Message, alert_message, chart_refused, resolved_message
from bot.errors import DeliveryError
from bot.model import AlertKind, Delivery, HistoryReply, MessageRef

log = logging.getLogger("check502.slack")

ClientFor = Callable[[str], Awaitable[AsyncWebClient | None]]
"""The Web API client holding the bot token of a workspace (team id); None: not installed."""

PERMANENT = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "team_access_not_granted",
        "restricted_action",
        "ekm_access_denied",
    }
)
"""Errors retrying cannot fix: the channel, the token or the permission is gone."""
_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
_BAD_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long"})
_BROADCAST = (AlertKind.RECOVERED, AlertKind.REMINDER, AlertKind.ESCALATION)
"""Follow-ups also shown in the channel, not only in the thread."""


def web_client(api_url: str, token: str | None = None) -> AsyncWebClient:
    """A Web API client that retries 429s after Retry-After (twice), and connection errors."""
    client = AsyncWebClient(token=token, base_url=api_url, timeout=10)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def delivery_error(exc: Exception, what: str) -> DeliveryError:
    """The one mapping of Slack failures to the outbox's retry decision."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        code = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429:
            return DeliveryError(f"{what}: rate limited", retry_after=_retry_after(exc))
        return DeliveryError(f"{what}: {code}", permanent=code in PERMANENT)
    return DeliveryError(f"{what}: {type(exc).__name__}: {exc}")


def _retry_after(exc: SlackApiError) -> float:
    for key, value in (exc.response.headers or {}).items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(1.0, float(raw))
            except ValueError:
                break
    return 1.0


_FAILURES = (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class SlackSurface:
    """Delivers the outbox's alerts to Slack channels."""

    name = "slack"

    def __init__(self, client_for: ClientFor) -> None:
        self.client_for = client_for

    async def deliver(self, delivery: Delivery) -> MessageRef:
        channel = delivery.channel
        client = await self.client_for(channel.workspace)
        if client is None:
            raise DeliveryError(
                f"check502 is not installed in Slack workspace {channel.workspace}", permanent=True
            )
        if delivery.resolves is not None and delivery.original is not None:
            # Edit first: an edit is idempotent, so a retry after a failed post repeats nothing.
            edit = resolved_message(delivery.original, delivery.alert)
            await self._update(client, channel.channel, delivery.resolves.message_id, edit)
            if delivery.edit_only:
                return delivery.resolves
        thread = delivery.thread.message_id if delivery.thread is not None else None
        extra: dict[str, Any] = {}
        if thread is not None:
            extra["thread_ts"] = thread
            if delivery.alert.kind in _BROADCAST:
                extra["reply_broadcast"] = True
        msg = alert_message(delivery.alert)
        ts = await self._post(client, channel.channel, msg, extra)
        return MessageRef(ts, thread)

    async def _post(
        self, client: AsyncWebClient, channel: str, msg: Message, extra: dict[str, Any]
    ) -> str:
        try:
            response = await client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **msg.payload(), **extra
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in _BAD_BLOCKS or not msg.blocks:
                raise delivery_error(exc, "chat.postMessage") from None
            log.error("Slack refused the blocks (%s); posting text only", exc.response["error"])
            return await self._post(client, channel, Message(msg.text), extra)
        except _FAILURES as exc:
            raise delivery_error(exc, "chat.postMessage") from None
        return str(response["ts"])

    async def _update(self, client: AsyncWebClient, channel: str, ts: str, msg: Message) -> None:
        try:
            await client.chat_update(channel=channel, ts=ts, **msg.payload())
        except SlackApiError as exc:
            code = exc.response.get("error")
            if code in _GONE or code in _BAD_BLOCKS:
                log.warning("could not mark Slack message %s resolved: %s", ts, code)
                return
            raise delivery_error(exc, "chat.update") from None
        except _FAILURES as exc:
            raise delivery_error(exc, "chat.update") from None


# ------------------------------------------------------------------------------------ charts


async def share_history_chart(
    client: AsyncWebClient, channel: str, reply: HistoryReply, *, thread_ts: str | None = None
) -> Message | None:
    """Draw ``reply``'s chart and share it in ``channel``, after its text reply; the private note
    to show when Slack refused it (None: shared, or nothing to draw)."""
    chart = await history_chart(reply)
    if chart is None:
        return None
    problem = await upload_chart(client, channel, chart, thread_ts=thread_ts)
    return None if problem is None else chart_refused(problem)


async def upload_chart(
    client: AsyncWebClient, channel: str, chart: Chart, *, thread_ts: str | None = None
) -> str | None:
    """Share ``chart`` in ``channel`` (in ``thread_ts``'s thread if given) with Slack's v2 file
    upload; None when shared, else why not (Slack's error code, e.g. ``not_in_channel``), after
    logging one line. Never raises for Slack or network failures."""
    try:
        await client.files_upload_v2(
            channel=channel,
            file=chart.png,
            filename=chart.filename,
            title=chart.title,
            alt_txt=chart.alt_text,
            thread_ts=thread_ts,
        )
    except SlackApiError as exc:
        code = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        log.warning("Slack: could not post the chart in %s (%s)", channel, code)
        return code
    except _FAILURES as exc:
        log.warning(
            "Slack: could not post the chart in %s (%s: %s)", channel, type(exc).__name__, exc
        )
        return "upload_failed"
    return None
