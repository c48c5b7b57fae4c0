"""``check502-bot`` with no chat configured: a chat in the terminal.

Type commands as in any chat (``/check502`` is optional); replies print below, and alerts of
the monitors print as they fire. Each command runs in its own task, so a slow check does not
block the next one. ``quit`` or end of input (Ctrl-D) stops.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import getpass
import io
import os
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from adapters import flow
from adapters.cli.render import Style
from adapters.console.harness import CONSOLE
from adapters.console.hooks import ConsoleHooks
from adapters.console.render import render_reply
from adapters.console.surface import ConsoleSurface, Posted
from bot.core import Bot
from bot.model import Context, Reply

_BANNER = (
    "check502 console: a chat with the bot in this terminal.\n"
    "Try: /check502 https://example.com/ · watch <url> · list · help · quit\n"
)


_MAX_LINE = 64 * 1024
"""A line longer than this is handed on as it stands (the grammar refuses it): memory stays
bounded whatever is piped in."""


async def _lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``stream``, then None at its end.

    A terminal or a pipe is watched by the event loop (``add_reader``): no thread sits in a
    blocking read, so ``quit`` ends the process at once even while the terminal stays open.
    A regular file (or a stream without a descriptor) is read on a daemon thread instead.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    try:
        fd = stream.fileno()
        _watch(loop, fd, queue)
    except (OSError, ValueError, NotImplementedError):  # io.UnsupportedOperation is both
        _pump_on_a_thread(loop, stream, queue)
    return queue


def _watch(loop: asyncio.AbstractEventLoop, fd: int, queue: asyncio.Queue[str | None]) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""

    def readable() -> None:
        nonlocal pending
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # a terminal that went away (EIO) ends the input like Ctrl-D
            chunk = b""
        if not chunk:
            loop.remove_reader(fd)
            rest = pending + decoder.decode(b"", final=True)
            if rest:
                queue.put_nowait(rest)
            queue.put_nowait(None)
            return
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            queue.put_nowait(line + "\n")
        if len(pending) > _MAX_LINE:
            queue.put_nowait(pending)
            pending = ""

    loop.add_reader(fd, readable)  # raises for a regular file: epoll cannot watch one


def _pump_on_a_thread(
    loop: asyncio.AbstractEventLoop, stream: TextIO, queue: asyncio.Queue[str | None]
) -> None:
    def pump() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the console has ended
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()


async def run_console(
    bot: Bot,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    *,
    render: Callable[[Reply, Style], str] = render_reply,
) -> None:
    """The console until ``quit`` or the end of ``stdin``; ``render`` turns replies into text
    (a parameter so that tests can hand in a failing one)."""
    style = Style.for_stream(stdout)
    interactive = stdin.isatty()

    def write(text: str) -> None:
        stdout.write(text if text.endswith("\n") else text + "\n")
        stdout.flush()

    def show(posted: Posted) -> None:
        write(posted.text)

    bot.attach(ConsoleSurface(show, style))
    await bot.start()
    context = Context(CONSOLE, getpass.getuser())
    write(_BANNER)
    running: set[asyncio.Task[None]] = set()

    async def one(text: str) -> None:
        await flow.run(bot, ConsoleHooks(write, write, style, render=render), context, text)

    try:
        lines = await _lines(stdin)
        while (line := await lines.get()) is not None:
            text = line.strip()
            if not text:
                continue
            if text.lower() in {"quit", "exit", "/quit", "/exit"}:
                for task in running:  # at once: a check still running is abandoned
                    task.cancel()
                if running:
                    await asyncio.wait(running)
                break
            task = asyncio.create_task(one(text))
            running.add(task)
            task.add_done_callback(running.discard)
            if not interactive:  # piped input: keep the replies in the order of the commands
                await task
        if running:
            await asyncio.gather(*running)
        await bot.sender.deliver_due()
    finally:
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            asyncio.get_running_loop().remove_reader(stdin.fileno())
        await bot.stop()
        bot.close()
