"""Requests a chat platform pushes to us over HTTP: read within bounds, refused in one line,
run at most once.

Slack (HTTP mode) and Telegram (webhook mode) post to an endpoint anyone on the internet can
reach. Whatever arrives, the endpoint answers within :data:`READ_SECONDS` with at most
:data:`MAX_BODY` bytes read; a request it will not run is a 4xx and one log line naming why,
never a traceback. A request seen before (the same signed Slack request replayed, the same
Telegram ``update_id`` delivered twice) is acknowledged with 200 and not run again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from http import HTTPStatus

from aiohttp import web

MAX_BODY = 1024 * 1024
"""Bytes of a request body we read: Slack's largest (a button on a 50-block message) and
Telegram's (an update with a long message) are a fraction of this."""
READ_SECONDS = 10.0
"""Seconds a client has to send its body; a trickle is cut off there."""


class Refused(Exception):
    """The request will not be run: ``status`` and the one-line ``reason`` (no secrets)."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class RecentKeys:
    """Keys seen within ``ttl`` seconds, at most ``size`` of them: the oldest are forgotten
    first, so memory stays bounded whatever is sent."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        self._expire(self.clock())
        return len(self._expiry)

    def __contains__(self, key: object) -> bool:
        self._expire(self.clock())
        return key in self._expiry

    def add(self, key: str) -> bool:
        """Remember ``key``; whether it was new (not seen within ``ttl``)."""
        now = self.clock()
        self._expire(now)
        if key in self._expiry:
            return False
        self._expiry[key] = now + self.ttl
        while len(self._expiry) > self.size:
            self._expiry.popitem(last=False)
        return True

    def _expire(self, now: float) -> None:
        # Insertion order is expiry order (one ttl for all): stop at the first still valid.
        while self._expiry:
            key, expiry = next(iter(self._expiry.items()))
            if expiry > now:
                return
            del self._expiry[key]


async def read_body(request: web.Request, *, limit: int = MAX_BODY) -> bytes:
    """The request's body, or :class:`Refused` when it is longer than ``limit`` bytes (declared
    or sent) or does not arrive within :data:`READ_SECONDS`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body of {declared} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(READ_SECONDS):
            while chunk := await request.content.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body over {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(
            HTTPStatus.REQUEST_TIMEOUT, f"the body took over {READ_SECONDS:g} s"
        ) from None
    return b"".join(chunks)


def refusal(
    log: logging.Logger, platform: str, request: web.Request, refused: Refused
) -> web.Response:
    """The 4xx for ``refused``, logged as one line (no traceback, no body, no secret)."""
    log.warning(
        "%s: refused a request from %s to %s: %s (HTTP %d)",
        platform,
        request.remote or "?",
        request.rel_url.raw_path[:100],
        refused.reason,
        refused.status,
    )
    return web.json_response({"error": "invalid request"}, status=refused.status)
