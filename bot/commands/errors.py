"""How a command's errors are told: :class:`CommandError` and the helpers that quote user text."""

from __future__ import annotations

import difflib

from checks.errors import UsageError

_SHOWN_MAX = 40
_SENTENCE_MAX = 200


class CommandError(UsageError):
    """The text is not a valid command. ``str()`` is the message for the chat user.

    ``reason`` is the explanation alone and ``usage`` the usage line it ends with (if any), for
    surfaces that want to render them apart (e.g. the usage line in a code block).
    """

    def __init__(self, reason: str, usage: str | None = None) -> None:
        super().__init__(f"{reason} Usage: {usage}" if usage else reason)
        self.reason = reason
        self.usage = usage


class BadValue(Exception):
    """A value is wrong; carries the sentence. The grammar adds the usage line it belongs to."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def shown(text: str) -> str:
    """User text quoted for a reply: printable, short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text[: _SHOWN_MAX + 1])
    if len(clean) > _SHOWN_MAX:
        clean = clean[: _SHOWN_MAX - 1] + "…"
    return f'"{clean}"'


def sentence(message: str) -> str:
    """An engine message ("the URL has no host") as a short, printable sentence for the chat."""
    message = "".join(ch if ch.isprintable() else "?" for ch in message.strip())
    if len(message) > _SENTENCE_MAX:
        message = message[: _SENTENCE_MAX - 1] + "…"
    message = message or "That is not valid"
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?…" else f"{message}."


def suggest(word: str, choices: tuple[str, ...]) -> str | None:
    """The closest of ``choices`` to a mistyped ``word``, if one is close enough."""
    found = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return found[0] if found else None


SHOWN_MAX = _SHOWN_MAX
"""How many characters of user text a reply quotes at most."""
