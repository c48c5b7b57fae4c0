"""The one command flow every surface runs, with small per-platform hooks.

What a user types goes through the same five steps on every surface::

    parse        text → Command, once (a usage error is answered privately, and that is all)
    acknowledge  at once: "Checking <url>…" for a command that probes, or nothing yet
    handle       Bot.handle(context, command), its progress throttled by the core
    render       the reply in the platform's format; a rendering failure becomes the short
                 OUR_FAULT sentence (logged with its traceback), never a traceback in the chat
    answer       replace the acknowledgement, or answer anew (privately where it is an error)

:func:`acknowledge` is the first two steps and :func:`complete` the last three, the split of
python-telegram-bot's ``check_update``/``handle_update`` and of slack-bolt's ack/lazy
listeners: Slack runs them in two listeners (the parsed :class:`Accepted` travels between them
in Bolt's context), every other surface runs them back to back with :func:`run`. A surface fills
in :class:`Hooks`, one object per incoming command (it knows the interaction to answer), so
adding a platform is filling in five methods.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Protocol, TypeGuard, TypeVar

from bot.commands import Check, Command, CommandError, Watch, parse_command
from bot.core import OUR_FAULT, Bot, Progress
from bot.model import Context, ErrorReply, Reply

__all__ = [
    "Accepted",
    "Acked",
    "Hooks",
    "Renderer",
    "acknowledge",
    "complete",
    "parse",
    "probes",
    "render_safely",
    "run",
]

log = logging.getLogger("check502.flow")

R = TypeVar("R")
"""What a surface renders a reply into (a Slack message, a list of Telegram messages...)."""
R_co = TypeVar("R_co", covariant=True)


class Acked(enum.Enum):
    """What the acknowledgement showed, which decides how the answer is given."""

    PLACEHOLDER = "placeholder"
    """A "Checking <url>…" (or a deferred "thinking…") that the answer replaces."""
    NOTHING = "nothing"
    """Nothing shown yet: the answer is a message of its own."""
    ANSWERED = "answered"
    """The acknowledgement was the whole answer (Slack answers help inside its 3 seconds)."""
    FAILED = "failed"
    """The acknowledgement could not be shown (the chat refuses the bot): a check would go
    unseen, so the command is not run."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A command that parsed and was acknowledged: what :func:`complete` goes on from."""

    command: Command
    text: str
    """What the user typed (a Re-run button carries it)."""
    acked: Acked


class Renderer(Protocol[R_co]):
    """How a surface renders replies: all :func:`render_safely` needs."""

    platform: str
    """Named in the log line of a rendering failure."""

    def render(self, reply: Reply) -> R_co:
        """The reply in the platform's format; may raise (a bug), :func:`render_safely` copes."""


class Hooks(Renderer[R], Protocol[R]):
    """One surface's part of the flow, for one incoming command."""

    async def refuse(self, error: CommandError) -> None:
        """Answer a usage error (privately where the platform can)."""

    async def acknowledge(self, command: Command) -> Acked:
        """Acknowledge ``command`` at once; for one that :func:`probes`, show "Checking <url>…"
        and return :attr:`Acked.PLACEHOLDER` (or :attr:`Acked.FAILED`)."""

    def progress(self, check: Check) -> Progress | None:
        """How to show a check's progress in the placeholder (None: not shown)."""

    async def answer(self, reply: Reply, rendered: R, *, replace: bool) -> None:
        """Show ``rendered``: in place of the placeholder when ``replace``; an
        :class:`ErrorReply` privately where the platform can."""


def parse(text: str) -> Command | CommandError:
    """The command in ``text``, or the usage error saying why it is not one (never raises)."""
    try:
        return parse_command(text)
    except CommandError as error:
        return error


def probes(command: Command) -> TypeGuard[Check | Watch]:
    """Whether ``command`` probes a URL (a check, or a watch's first check): such a command is
    acknowledged with "Checking <url>…" at once, as it can take seconds."""
    return isinstance(command, Check | Watch)


def render_safely(renderer: Renderer[R], reply: Reply) -> tuple[Reply, R]:
    """``renderer.render(reply)``, or when that fails the OUR_FAULT error (the traceback
    logged): the reply actually shown, and its rendering. Buttons use it as commands do."""
    try:
        return reply, renderer.render(reply)
    except Exception:
        log.exception("could not render a %s for %s", type(reply).__name__, renderer.platform)
        fault = ErrorReply(OUR_FAULT)
        return fault, renderer.render(fault)


async def acknowledge(hooks: Hooks[R], text: str) -> Accepted | None:
    """Parse ``text`` and acknowledge it; None when there is nothing more to do (a usage error,
    answered; an acknowledgement that was the answer, or that failed)."""
    parsed = parse(text)
    if isinstance(parsed, CommandError):
        await hooks.refuse(parsed)
        return None
    acked = await hooks.acknowledge(parsed)
    if acked in (Acked.ANSWERED, Acked.FAILED):
        return None
    return Accepted(parsed, text, acked)


async def complete(bot: Bot, hooks: Hooks[R], context: Context, accepted: Accepted) -> Reply:
    """Handle an acknowledged command, render its reply safely and answer; the reply shown."""
    command = accepted.command
    progress = hooks.progress(command) if isinstance(command, Check) else None
    reply, rendered = render_safely(hooks, await bot.handle(context, command, progress=progress))
    await hooks.answer(reply, rendered, replace=accepted.acked is Acked.PLACEHOLDER)
    return reply


async def run(bot: Bot, hooks: Hooks[R], context: Context, text: str) -> Reply | None:
    """The whole flow for a surface that answers in one go; the reply shown (None when the
    command stopped at its acknowledgement)."""
    accepted = await acknowledge(hooks, text)
    if accepted is None:
        return None
    return await complete(bot, hooks, context, accepted)
