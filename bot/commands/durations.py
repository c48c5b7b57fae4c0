"""The one duration parser, shared by the chat grammar and the settings (``CHECK502_*``).

One scanner reads ``<number><unit>`` parts, units from largest to smallest, each at most once
(``1h30m``); a bare number is seconds. What each place accepts beyond that is a
:class:`DurationRules` value, so the differences are data, not a second parser:

=========  ==========  =========  ============  =========================================
rules      units       fractions  space before  used by
                                   the unit
=========  ==========  =========  ============  =========================================
CHAT       w d h m s   no         no            every=, mute (whole seconds, in a chat
                                                 token)
TIMEOUT    s ms        yes        no            timeout= (one part: ``2.5s``, ``1500ms``)
SETTING    w d h m s   yes        yes           ``CHECK502_*`` durations (``500ms``,
           ms                                    ``0.5``, ``5 s``, ``1h30m``)
=========  ==========  =========  ============  =========================================

The arithmetic is exact (:class:`fractions.Fraction`), so ``2.5s``, ``1500ms`` and the ``repr``
of any float read back to exactly the float that was meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from bot.commands.errors import BadValue, CommandError, shown

__all__ = [
    "CHAT",
    "MAX_DURATION",
    "SETTING",
    "TIMEOUT",
    "DurationRules",
    "chat_duration",
    "exact_duration",
    "format_duration",
    "format_timeout",
    "parse_duration",
    "read_duration",
    "setting_seconds",
    "timeout_seconds",
]

MAX_DURATION = 365 * 86400
"""The longest duration the chat grammar accepts."""

_SIZES: dict[str, int] = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_MS = "ms"
_ORDER = ("w", "d", "h", "m", "s", "ms")
_PART = re.compile(r"([0-9]{1,12})(\.[0-9]{1,17})?(\s*)(ms|[wdhms])", re.IGNORECASE)
_BARE = re.compile(r"([0-9]{1,12})(\.[0-9]{1,17})?")
_FORMAT_UNITS: tuple[tuple[str, int], ...] = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


@dataclass(frozen=True, slots=True)
class DurationRules:
    """What a duration may look like in one place."""

    units: frozenset[str]
    """The unit letters accepted (lower case): any of w, d, h, m, s, ms."""
    compound: bool = True
    """Several parts, largest unit first (``1h30m``)."""
    fractions: bool = False
    """A decimal point in a number (``1.5h``, ``0.5``)."""
    spaced: bool = False
    """A space between a number and its unit (``5 s``), as environment variables are written."""


CHAT = DurationRules(frozenset(_SIZES))
TIMEOUT = DurationRules(frozenset({"s", _MS}), compound=False, fractions=True)
SETTING = DurationRules(frozenset(_ORDER), fractions=True, spaced=True)


def read_duration(text: str, rules: DurationRules) -> Fraction | None:
    """Seconds in ``text`` (surrounding blanks ignored) as ``rules`` allow, or None.

    Bounded: every number has at most 12 digits before its point, so the scan and the
    arithmetic are too. Zero and huge values are for the caller to judge.
    """
    text = text.strip()
    bare = _BARE.fullmatch(text)
    if bare is not None:
        if bare.group(2) and not rules.fractions:
            return None
        return Fraction(bare.group(0))
    total = Fraction(0)
    position = 0
    last = -1
    parts = 0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            return None
        number, fraction, space, unit = match.groups()
        unit = unit.lower()
        rank = _ORDER.index(unit)
        if (
            unit not in rules.units
            or rank <= last
            or (fraction and not rules.fractions)
            or (space and not rules.spaced)
        ):
            return None
        value = Fraction(number + (fraction or ""))
        total += value / 1000 if unit == _MS else value * _SIZES[unit]
        last = rank
        parts += 1
        position = match.end()
    if parts == 0 or (parts > 1 and not rules.compound):
        return None
    return total


_EXAMPLES = "30s, 5m, 1h30m or 2d"


def chat_duration(text: str) -> int:
    """Whole seconds of a chat duration; raises :class:`BadValue` with the sentence to show."""
    seconds = read_duration(text, CHAT)
    if not text or seconds is None:
        raise BadValue(f"{shown(text)} is not a duration; write e.g. {_EXAMPLES}.")
    if seconds <= 0:
        raise BadValue(f"{shown(text)} is not a positive duration; write e.g. {_EXAMPLES}.")
    if seconds > MAX_DURATION:
        raise BadValue(f"{shown(text)} is longer than a year.")
    return int(seconds)


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``5m``, ``1h``, ``1h30m``, ``2d``, ``1w`` or bare ``90`` (seconds).

    Units go from largest to smallest, each at most once. Raises
    :class:`~bot.commands.CommandError` for anything else, for zero, and for more than 365 days.
    """
    try:
        return chat_duration(text.strip())
    except BadValue as bad:
        raise CommandError(bad.sentence) from None


def setting_seconds(text: str) -> float | None:
    """Seconds in a ``CHECK502_*`` duration (``5s``, ``10m``, ``1h``, ``500ms``, ``0.5``,
    ``1h30m``; a bare number is seconds), or None when it is not one. Never negative."""
    seconds = read_duration(text, SETTING)
    return None if seconds is None else float(seconds)


def timeout_seconds(text: str) -> float | None:
    """Seconds in a ``timeout=`` value (``10s``, ``2.5``, ``1500ms``), or None."""
    seconds = read_duration(text, TIMEOUT)
    return None if seconds is None else float(seconds)


def format_duration(seconds: int) -> str:
    """Compact human form for replies: ``30s``, ``5m``, ``1h30m``, ``2d``, ``1d2h``.

    At most two adjacent units; what is below them is dropped (``3725`` is ``1h2m``).
    """
    if seconds < 0:
        return f"-{format_duration(-seconds)}"
    for index, (name, size) in enumerate(_FORMAT_UNITS):
        if seconds >= size or size == 1:
            text = f"{seconds // size}{name}"
            if index + 1 < len(_FORMAT_UNITS):
                next_name, next_size = _FORMAT_UNITS[index + 1]
                rest = seconds % size // next_size
                if rest:
                    text += f"{rest}{next_name}"
            return text
    raise AssertionError("unreachable: the last unit is one second")  # pragma: no cover


def exact_duration(seconds: int) -> str:
    """Every unit needed, so the text parses back to exactly ``seconds``."""
    parts: list[str] = []
    for name, size in _FORMAT_UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size}{name}")
            seconds %= size
    return "".join(parts) or "0s"


def format_timeout(value: float) -> str:
    """A ``timeout=`` value that reads back to exactly ``value``."""
    return f"{int(value)}s" if value == int(value) else f"{value!r}s"
