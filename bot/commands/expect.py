"""``expect=``: the HTTP status codes that count as up, as a normalised value."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.commands.errors import BadValue, CommandError, shown

__all__ = ["Expect", "parse_expect"]

_CODE_MIN = 100
_CODE_MAX = 599
_EXPECT_ITEM = re.compile(r"([1-5])xx|([0-9]{3})(?:-([0-9]{3}))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Expect:
    """The HTTP status codes that count as up: inclusive ranges, sorted and merged.

    Construction normalises, so equal sets of codes compare equal whichever way they were given.
    """

    ranges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.ranges:
            raise ValueError("Expect needs at least one range of status codes")
        for lo, hi in self.ranges:
            if not _CODE_MIN <= lo <= hi <= _CODE_MAX:
                raise ValueError(f"bad status range {lo}-{hi}")
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(self.ranges):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        object.__setattr__(self, "ranges", tuple(merged))

    @classmethod
    def default(cls) -> Expect:
        """Any 2xx or 3xx response is up."""
        return cls(((200, 399),))

    @classmethod
    def parse(cls, text: str) -> Expect:
        """Parse ``200,204``, ``2xx,3xx``, ``200-299``, ``301`` or any comma-separated mix."""
        try:
            return parse_expect(text)
        except BadValue as bad:
            raise CommandError(bad.sentence) from None

    def matches(self, status: int) -> bool:
        """Whether ``status`` counts as up."""
        return any(lo <= status <= hi for lo, hi in self.ranges)

    def __str__(self) -> str:
        return ",".join(_format_range(lo, hi) for lo, hi in self.ranges)


def _format_range(lo: int, hi: int) -> str:
    if lo == hi:
        return str(lo)
    if lo % 100 == 0 and hi == lo + 99:
        return f"{lo // 100}xx"
    return f"{lo}-{hi}"


def parse_expect(text: str) -> Expect:
    """The codes in an ``expect=`` value; raises :class:`BadValue` with the sentence to show."""
    example = "e.g. expect=200-299,301 or expect=2xx"
    text = text.strip()
    if not text:
        raise BadValue(f"expect= needs status codes, {example}.")
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        item = part.strip()
        match = _EXPECT_ITEM.fullmatch(item)
        if match is None:
            raise BadValue(f"{shown(item)} is not a status code or range, {example}.")
        hundreds, first, last = match.groups()
        if hundreds is not None:
            lo = int(hundreds) * 100
            hi = lo + 99
        else:
            lo = int(first)
            hi = int(last) if last is not None else lo
        if not (_CODE_MIN <= lo <= _CODE_MAX and _CODE_MIN <= hi <= _CODE_MAX):
            raise BadValue(f"{shown(item)} is outside the HTTP status codes 100-599.")
        if lo > hi:
            raise BadValue(f"{shown(item)} is backwards; write the lower code first.")
        ranges.append((lo, hi))
    return Expect(tuple(ranges))
