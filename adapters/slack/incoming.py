"""What Slack posts to ``/slack/events`` in HTTP mode, checked before Bolt sees it.

Slack signs each request: ``v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")`` in
``X-Slack-Signature``, the timestamp in ``X-Slack-Request-Timestamp``. A request is run only
if it is signed with our secret, dated within five minutes, a form or JSON body of at most
:data:`adapters.incoming.MAX_BODY` bytes, in UTF-8. Anything else is a 4xx and one log line
(Bolt itself would answer a non-numeric timestamp or a binary body with a 500 and a traceback).

A signature is a digest of the timestamp and the body, so a signature seen before is the same
request sent again: within Slack's five minutes it is answered 200 and not run again (after
them the timestamp is stale and it is refused anyway).

Retries: Slack resends (``X-Slack-Retry-Num``) only Events API events, with a new timestamp
and signature but the same ``event_id``; an ``event_id`` already seen is answered 200 with
``X-Slack-No-Retry: 1`` and not run again, while a retry of one never seen (the first attempt
never reached us) runs. Slash commands and button clicks are never resent by Slack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.incoming import RecentKeys, Refused, read_body, refusal

log = logging.getLogger("check502.slack")

WINDOW = 300
"""Seconds a signed request stays valid (Slack's five minutes), either side of our clock."""
SEEN_KEPT = 10_000
"""Signatures (and event ids) remembered: more than Slack sends one app in five minutes."""
CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json")


def _timestamp(headers: Mapping[str, str], now: float) -> str:
    stamp = headers.get("X-Slack-Request-Timestamp")
    if not stamp:
        raise Refused(HTTPStatus.UNAUTHORIZED, "no X-Slack-Request-Timestamp")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Refused(HTTPStatus.BAD_REQUEST, "X-Slack-Request-Timestamp is not a number")
    if abs(now - int(stamp)) > WINDOW:
        raise Refused(HTTPStatus.UNAUTHORIZED, "a stale X-Slack-Request-Timestamp")
    return stamp


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """The request's signature, if it is Slack's for ``body``; else :class:`Refused`."""
    stamp = _timestamp(headers, now)
    signature = headers.get("X-Slack-Signature")
    if not signature:
        raise Refused(HTTPStatus.UNAUTHORIZED, "no X-Slack-Signature")
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    expected = f"v0={digest.hexdigest()}".encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise Refused(HTTPStatus.UNAUTHORIZED, "a wrong X-Slack-Signature")
    return signature


class SlackGate:
    """The ``/slack/events`` handler: checks each request, then hands it to Bolt once."""

    def __init__(
        self, app: AsyncApp, secret: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self.secret = secret
        self.clock = clock
        self.seen = RecentKeys(WINDOW * 2, SEEN_KEPT)
        """Signatures and event ids already run: a timestamp is valid for 5 min either way."""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            text = await self._admit(request)
        except Refused as refused:
            return refusal(log, "Slack", request, refused)
        if text is None:
            return web.Response(status=HTTPStatus.OK, headers={"X-Slack-No-Retry": "1"})
        headers: dict[str, str | Sequence[str]] = {
            name: request.headers.getall(name) for name in set(request.headers.keys())
        }
        bolt = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt))

    async def _admit(self, request: web.Request) -> str | None:
        """The body to run, None if it already ran, or :class:`Refused`."""
        body = await read_body(request)
        signature = verify(self.secret, request.headers, body, self.clock())
        if request.content_type not in CONTENT_TYPES:
            raise Refused(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"a {request.content_type[:60]!r} body"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(HTTPStatus.BAD_REQUEST, "a body that is not UTF-8") from None
        if request.content_type == "application/json":
            event = _event_id(_json_object(text))
        else:
            event = None
            for payload in urllib.parse.parse_qs(text).get("payload", [])[:1]:
                _json_object(payload)  # Bolt would fail on it with a traceback
        if signature in self.seen or (event is not None and event in self.seen):
            log.info(
                "Slack: a request seen before was not run again (retry %s)",
                request.headers.get("X-Slack-Retry-Num", "-")[:4],
            )
            return None
        self.seen.add(signature)
        if event is not None:
            self.seen.add(event)
        return text


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(HTTPStatus.BAD_REQUEST, "JSON that does not parse") from None
    if not isinstance(data, dict):
        raise Refused(HTTPStatus.BAD_REQUEST, "JSON that is not an object")
    return data


def _event_id(data: dict[str, Any]) -> str | None:
    """An Events API body's ``event_id`` (the same in Slack's retries), if it has one."""
    event = data.get("event_id")
    return f"event:{event}" if isinstance(event, str) and event else None
