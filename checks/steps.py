"""Next steps in the order the evidence calls for, each said once.

The advice tables (:mod:`checks.advice`) are combined from several angles (the gateway, the
hop, the cause), so the same action can arrive twice in different words, and a table's order
cannot know what this check saw. :func:`arrange` drops repeats (the same text, or the same
first command or directive) and, when the failure came within milliseconds, moves advice about
timeouts and slowness after the rest: a 0 ms failure did not wait for any timeout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["arrange", "is_timeout_advice"]

_FIRST_CODE = re.compile(r"`([^`]+)`")
_TIMEOUT_WORDS = re.compile(
    r"\btime(?:d)?[ _-]?out\b|_timeout\b|timeout_seconds|\bslow\b|time_starttransfer|time_total"
    r"|\bwaits?\b",
    re.IGNORECASE,
)
_KEEPALIVE = re.compile(r"keep-?alive|idle timeout|keepAliveTimeout", re.IGNORECASE)
"""The keep-alive race gives fast failures: its timeout advice fits them and stays in place."""


def is_timeout_advice(step: str) -> bool:
    """A step about waiting: raising a timeout, finding a slow endpoint, timing the origin."""
    return bool(_TIMEOUT_WORDS.search(step)) and not _KEEPALIVE.search(step)


def _key(step: str) -> str:
    """What makes two steps the same advice: the first command or directive they name."""
    match = _FIRST_CODE.search(step)
    return match.group(1).strip().rstrip(";").lower() if match else step.strip().lower()


def arrange(steps: Iterable[str], *, failed_fast: bool) -> tuple[str, ...]:
    """``steps`` once each (by text and by first command), in their order, except that with
    ``failed_fast`` the timeout advice comes after everything else."""
    seen: set[str] = set()
    kept: list[str] = []
    for step in steps:
        key = _key(step)
        if step in seen or key in seen:
            continue
        seen.update((step, key))
        kept.append(step)
    if failed_fast:
        kept.sort(key=is_timeout_advice)  # stable: each group keeps its order
    return tuple(kept)
