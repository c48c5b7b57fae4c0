"""The console's hooks into the shared command flow (:mod:`adapters.flow`): lines printed."""

from __future__ import annotations

from collections.abc import Callable

from adapters.cli.render import Style
from adapters.console.render import render_reply
from adapters.flow import Acked, probes
from adapters.present import progress_line
from bot.commands import Check, Command, CommandError
from bot.core import Progress
from bot.model import ErrorReply, Reply


class ConsoleHooks:
    """One command typed in the terminal: ``note`` prints the dim "Checking <url>…" and progress
    lines, ``show`` the answer. A terminal has nothing to replace or hide: every answer is a new
    block of lines, an error included."""

    platform = "console"

    def __init__(
        self,
        note: Callable[[str], None],
        show: Callable[[str], None],
        style: Style,
        *,
        render: Callable[[Reply, Style], str] = render_reply,
    ) -> None:
        self.note = note
        self.show = show
        self.style = style
        self._render = render

    async def refuse(self, error: CommandError) -> None:
        self.show(self._render(ErrorReply(str(error)), self.style))

    async def acknowledge(self, command: Command) -> Acked:
        if not probes(command):
            return Acked.NOTHING
        self.note(self.style.dim(f"Checking {command.url}…"))
        return Acked.PLACEHOLDER

    def progress(self, check: Check) -> Progress | None:
        async def show(done: int, runs: int) -> None:
            self.note(self.style.dim(progress_line(check.url, done, runs)))

        return show

    def render(self, reply: Reply) -> str:
        return self._render(reply, self.style)

    async def answer(self, reply: Reply, rendered: str, *, replace: bool) -> None:
        self.show(rendered)
