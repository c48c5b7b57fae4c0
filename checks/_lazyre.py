"""Regular expressions compiled on first use, then kept.

The fingerprint and explain tables hold nearly five hundred patterns. Compiled at import they cost
about 100 ms of CPU at every start of the ``check502`` command, though one check reads only a few
of them (a healthy answer, none of the explain table). A :class:`LazyPattern` compiles itself
the first time it is searched. A malformed pattern therefore no longer stops the import: the
test suite compiles every one with :func:`compile_all`.
"""

from __future__ import annotations

import re
import sys

__all__ = ["LazyPattern", "compile_all"]

_MADE: list[LazyPattern] = []


class LazyPattern:
    """``re.compile(pattern, flags)``, done by the first search and then kept."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None
        _MADE.append(self)

    def compiled(self) -> re.Pattern[str]:
        found = self._compiled
        if found is None:  # two threads may both compile: the same pattern, harmless
            found = self._compiled = re.compile(self.pattern, self.flags)
        return found

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled().search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled().match(string, pos, endpos)

    def fullmatch(
        self, string: str, pos: int = 0, endpos: int = sys.maxsize
    ) -> re.Match[str] | None:
        return self.compiled().fullmatch(string, pos, endpos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LazyPattern):
            return NotImplemented
        return (self.pattern, self.flags) == (other.pattern, other.flags)

    def __hash__(self) -> int:
        return hash((self.pattern, self.flags))

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self.flags!r})"


def compile_all() -> int:
    """Compile every pattern made so far (raising :class:`re.error` on the first bad one);
    return how many there are."""
    for pattern in _MADE:
        pattern.compiled()
    return len(_MADE)
