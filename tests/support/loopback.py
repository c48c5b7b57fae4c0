"""The common half of the chat platforms' fakes: an aiohttp app on 127.0.0.1 that records calls.

A fake subclasses :class:`LoopbackFake`, adds its routes in :meth:`routes`, calls
:meth:`record` for each request and says in :meth:`of` which calls a key names; the base
serves it on an OS-chosen port, closes its WebSockets and the server on exit, and lets a test
wait (bounded) for calls to arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, Self, TypeVar

from aiohttp import web

CallT = TypeVar("CallT")


class LoopbackFake(ABC, Generic[CallT]):
    client_max_size = 1024**2
    """The largest request body aiohttp reads (its default); a fake taking files raises it
    above the platform's own limit, so that the fake, not aiohttp, answers an upload too big."""

    def __init__(self) -> None:
        self.calls: list[CallT] = []
        self.sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._changed = asyncio.Event()

    # ----------------------------------------------------------------- for the subclasses

    @abstractmethod
    def routes(self, app: web.Application) -> None: ...

    @abstractmethod
    def of(self, key: str) -> list[CallT]:
        """The calls ``key`` names (a method, a path, a route pattern...)."""

    def describe(self, call: CallT) -> str:
        """How a call is named in a failed wait's message."""
        return str(call)

    def record(self, call: CallT) -> CallT:
        self.calls.append(call)
        self.changed()
        return call

    def changed(self) -> None:
        """Something a test may wait for happened (a call, a WebSocket message)."""
        self._changed.set()

    # -------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=self.client_max_size)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # ---------------------------------------------------------------------------- waiting

    async def until(
        self, predicate: Callable[[], bool], what: Callable[[], str], timeout: float = 10.0
    ) -> None:
        """Wait (bounded) until ``predicate()`` holds, waking on every recorded change."""
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [self.describe(c) for c in self.calls]
                raise AssertionError(f"{what()}; calls seen: {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.2))

    async def wait(self, key: str, count: int = 1, timeout: float = 10.0) -> list[CallT]:
        """Wait (bounded) until ``key`` was called ``count`` times; return those calls."""
        await self.until(
            lambda: len(self.of(key)) >= count,
            lambda: f"{key} called {len(self.of(key))} times, not {count}",
            timeout,
        )
        return self.of(key)[:count]
