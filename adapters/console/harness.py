"""A whole bot in-process, driven like a chat: push a command, pop what the channel shows.

In the spirit of errbot's test backend. Tests and the console share it::

    async with ConsoleHarness(settings) as chat:
        reply = await chat.push("/check502 watch https://shop.example.com every=30s")
        alert = await chat.pop(timeout=30)      # the next alert the channel shows
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self

from adapters import flow
from adapters.cli.render import Style
from adapters.console.hooks import ConsoleHooks
from adapters.console.surface import ConsoleSurface, Posted
from bot.commands import Check, CommandError
from bot.core import Bot, Progress
from bot.model import Channel, Context, ErrorReply, Reply
from bot.notify import Notifier
from bot.settings import Settings
from checks import Resolver, Transport

CONSOLE = Channel("console", "local", "terminal")


class ConsoleHarness:
    def __init__(
        self,
        settings: Settings,
        *,
        user: str = "you",
        resolver: Resolver | None = None,
        transport: Transport | None = None,
        environ: Mapping[str, str] | None = None,
        notifiers: Sequence[Notifier] = (),
    ) -> None:
        self.settings = settings
        self.user = user
        self.bot = Bot(
            settings,
            resolver=resolver,
            transport=transport,
            environ=environ,
            notifiers=notifiers,
        )
        self.posted: list[Posted] = []
        self._queue: asyncio.Queue[Posted] = asyncio.Queue()
        self.surface = ConsoleSurface(self._show)
        self.bot.attach(self.surface)
        self.last_reply: Reply | None = None
        self.progress: list[tuple[int, int]] = []
        self.notes: list[str] = []
        """The acknowledgements shown ("Checking <url>…"), in order."""

    def _show(self, posted: Posted) -> None:
        self.posted.append(posted)
        self._queue.put_nowait(posted)

    async def __aenter__(self) -> Self:
        await self.bot.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.bot.stop()
        self.bot.close()

    async def push(self, text: str, *, user: str | None = None, channel: Channel = CONSOLE) -> str:
        """Run a command as ``user`` in ``channel`` through the console's command flow; return
        the reply as the terminal shows it (a usage error included). Acknowledgements go to
        :attr:`notes`, a check's progress updates to :attr:`progress` as ``(runs done, runs)``."""
        shown: list[str] = []
        hooks = _HarnessHooks(self, shown)
        reply = await flow.run(self.bot, hooks, Context(channel, user or self.user), text)
        self.last_reply = reply if reply is not None else hooks.refused
        return shown[-1]

    async def pop(self, timeout: float = 10.0) -> Posted:
        """The next message the surface showed; raises ``TimeoutError`` after ``timeout``."""
        return await asyncio.wait_for(self._queue.get(), timeout)

    def pending(self) -> list[Posted]:
        """Everything shown and not popped yet, without waiting."""
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items


class _HarnessHooks(ConsoleHooks):
    """The console's hooks, recording instead of printing."""

    def __init__(self, chat: ConsoleHarness, shown: list[str]) -> None:
        super().__init__(chat.notes.append, shown.append, Style(False))
        self.chat = chat
        self.refused: Reply | None = None

    async def refuse(self, error: CommandError) -> None:
        self.refused = ErrorReply(str(error))
        await super().refuse(error)

    def progress(self, check: Check) -> Progress | None:
        async def record(done: int, runs: int) -> None:
            self.chat.progress.append((done, runs))

        return record
