"""The Telegram webhook: what Telegram posts to us, checked before PTB sees it.

PTB's own webhook server answers a body that is not JSON with a 500 (and its traceback at
DEBUG), an update it cannot read with a 400 and a CRITICAL traceback quoting the data, and
reads bodies up to 100 MB. This one serves the same path on the bot's web server and runs an update only if
it carries our secret token (compared in constant time), is a JSON object of at most
:data:`adapters.incoming.MAX_BODY` bytes with an integer ``update_id``, and PTB can read it;
anything else is a 4xx and one log line. An ``update_id`` seen before (Telegram resends an
update it thinks we missed) is answered 200 and not run again; the ids kept are bounded.
Accepted updates go on the Application's update queue, as PTB's server puts them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import NetworkError, RetryAfter
from telegram.ext import Application

from adapters.incoming import RecentKeys, Refused, read_body, refusal
from adapters.telegram.config import TelegramConfig
from adapters.web.server import WebServer

log = logging.getLogger("check502.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SEEN_KEPT = 10_000
"""Update ids remembered: far more than Telegram has pending for one bot at a time."""
SEEN_SECONDS = 24 * 3600.0
"""Telegram keeps an undelivered update for 24 hours, so a resend comes within them."""


def parse_update(body: bytes) -> dict[str, Any]:
    """The update object in ``body``, or :class:`Refused` saying what is wrong with it."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Refused(HTTPStatus.BAD_REQUEST, "a body that is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(HTTPStatus.BAD_REQUEST, "JSON that is not an object")
    update_id = data.get("update_id")
    if type(update_id) is not int:
        raise Refused(HTTPStatus.BAD_REQUEST, "an update with no integer update_id")
    return data


class TelegramWebhook:
    """The webhook's endpoint on the bot's web server, feeding ``application``'s update queue."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        config: TelegramConfig,
        allowed_updates: tuple[str, ...],
    ) -> None:
        self.application = application
        self.config = config
        self.allowed_updates = allowed_updates
        self.seen = RecentKeys(SEEN_SECONDS, SEEN_KEPT)
        self.set = False
        """Telegram accepted ``setWebhook``."""

    def mount(self, server: WebServer) -> None:
        """Serve the webhook's path (with and without a trailing slash) on the web server."""
        path = self.config.webhook_path
        server.mount("POST", path, self.handle)
        if not path.endswith("/"):
            server.mount("POST", f"{path}/", self.handle)

    async def set_webhook(self, *, retries: int) -> None:
        """Tell Telegram where to post (``setWebhook``, retried ``retries`` times); the path
        must be served already, as Telegram may post at once."""
        config = self.config
        for attempt in range(retries + 1):
            try:
                await self.application.bot.set_webhook(
                    url=config.webhook_url or "",
                    secret_token=config.webhook_secret,
                    allowed_updates=list(self.allowed_updates),
                )
                self.set = True
                return
            except (NetworkError, RetryAfter) as exc:
                if attempt == retries:
                    raise
                log.warning("Telegram: setWebhook failed (%s); retrying", exc)
                await asyncio.sleep(1.0)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            update = await self._admit(request)
        except Refused as refused:
            return refusal(log, "Telegram", request, refused)
        if update is not None:
            await self.application.update_queue.put(update)
        return web.Response(status=HTTPStatus.OK)

    async def _admit(self, request: web.Request) -> Update | None:
        """The update to run, None if it ran already, or :class:`Refused`."""
        secret = self.config.webhook_secret
        if secret is not None:
            token = request.headers.get(SECRET_HEADER, "")
            if not token:
                raise Refused(HTTPStatus.FORBIDDEN, "no secret token")
            if not hmac.compare_digest(token.encode("utf-8", "replace"), secret.encode()):
                raise Refused(HTTPStatus.FORBIDDEN, "a wrong secret token")
        if request.content_type != "application/json":
            raise Refused(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"a {request.content_type[:60]!r} body"
            )
        data = parse_update(await read_body(request))
        update_id = data["update_id"]
        if str(update_id) in self.seen:
            log.info("Telegram: update %d came again and was not run again", update_id)
            return None
        bot = self.application.bot
        try:
            update = Update.de_json(data, bot)
        except Exception as exc:  # noqa: BLE001 - PTB raises whatever a malformed field makes it
            raise Refused(
                HTTPStatus.BAD_REQUEST, f"an update PTB cannot read ({type(exc).__name__})"
            ) from None
        self.seen.add(str(update_id))
        bot.insert_callback_data(update)
        return update
