"""``check502-bot`` with no chat configured: a chat in the terminal.

Type commands as in any chat (``/check502`` is optional); replies print below, and alerts of
the monitors print as they fire. Each command runs in its own task, so a slow check does not
block the next one. ``quit`` or end of input (Ctrl-D) stops.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TextIO

from adapters.cli.render import Style
from adapters.console.harness import CONSOLE
from adapters.console.render import render_reply
from adapters.console.surface import ConsoleSurface, Posted
from adapters.present import progress_line
from bot.commands import Check, Watch, parse_command
from bot.core import Bot
from bot.errors import BotError
from bot.model import Context
from checks import UsageError

_BANNER = (
    "check502 console: a chat with the bot in this terminal.\n"
    "Try: /check502 https://example.com/ · watch <url> · list · help · quit\n"
)


def _probed(text: str) -> str | None:
    """The URL a command probes (a check or watch), which is acknowledged at once."""
    try:
        command = parse_command(text)
    except (UsageError, BotError):
        return None
    if isinstance(command, Check | Watch):
        return command.url
    return None


async def _lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``stream`` read on a thread (works for terminals, pipes and files)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, pump)
    return queue


async def run_console(bot: Bot, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
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
        url = _probed(text)
        progress = None
        if url is not None:
            write(style.dim(f"Checking {url}…"))

            async def progress(done: int, runs: int) -> None:
                write(style.dim(progress_line(url, done, runs)))

        write(render_reply(await bot.handle(context, text, progress=progress), style))

    try:
        lines = await _lines(stdin)
        while (line := await lines.get()) is not None:
            text = line.strip()
            if not text:
                continue
            if text.lower() in {"quit", "exit", "/quit", "/exit"}:
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
        await bot.stop()
        bot.close()
