"""A DNS cache for the monitoring path: each answer kept for its own TTL.

A monitor checked every 60 s asks for the same name 1,440 times a day while its records seldom
change; :class:`CachingResolver` asks once per TTL instead, as a stub resolver with a cache
(systemd-resolved, nscd) would. It wraps any :class:`~checks.dns.Resolver`:

* an answer with records is kept for its lowest TTL, clamped to ``min_ttl`` .. ``max_ttl``
  (1 s .. 1 h: a TTL of 0 still spares the burst of checks in the same second, and a week-long
  TTL still gets re-asked hourly), and served with the TTLs counted down, the resolver named
  ``"<who> (cached)"`` and a lookup time of 0;
* a name that does not exist (NXDOMAIN) or has no address records is kept ``negative_ttl``
  seconds (5 s: a name fixed after an outage is seen within seconds; most zones' SOA minimum is
  longer, RFC 2308 lets a cache keep it less);
* an IP literal's answer (``127.0.0.1`` is itself) is kept for good, as it cannot change;
* failures that may pass at once (SERVFAIL, timeouts) and other answers without a TTL
  (``localhost``, the hosts file) are never kept;
* at most ``max_entries`` names, the least recently used dropped first;
* concurrent lookups of one name share one query (a burst of monitors on one host sends one).

One-off checks never use it: they resolve afresh and report the TTL the server gave.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from checks.dns import Resolver
from checks.model import DnsRecord, DnsResult, ErrorKind

__all__ = ["CachingResolver"]

_NEGATIVE = frozenset({ErrorKind.DNS_NXDOMAIN, ErrorKind.DNS_NO_RECORDS})


class CachingResolver:
    """A :class:`~checks.dns.Resolver` that honours each answer's TTL (see the module docstring).

    ``clock`` returns seconds (``time.monotonic`` by default; tests pass their own).
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        max_entries: int = 100_000,
        min_ttl: float = 1.0,
        max_ttl: float = 3600.0,
        negative_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if not 0 < min_ttl <= max_ttl:
            raise ValueError("min_ttl must be above 0 and at most max_ttl")
        self._resolver = resolver
        self._max_entries = max_entries
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, DnsResult]] = OrderedDict()
        """name → (when it expires on ``clock``, the answer as received)."""
        self._pending: dict[str, asyncio.Task[DnsResult]] = {}
        self.hits = 0
        self.misses = 0

    @property
    def description(self) -> str:
        """Who answers: the wrapped resolver's description."""
        return str(getattr(self._resolver, "description", "the resolver"))

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, host: str) -> DnsResult | None:
        """The kept answer for ``host`` as served now, or None (expired or never kept): what
        :meth:`resolve` returns at once, for a caller that then needs no deadline."""
        key = host.lower().rstrip(".")
        kept = self._entries.get(key)
        if kept is None:
            return None
        expires, result = kept
        if expires == math.inf:  # an IP literal: its answer never changes
            self.hits += 1
            return result if result.name == host else replace(result, name=host)
        left = expires - self._clock()
        if left <= 0:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return _served(result, host, left)

    async def resolve(self, host: str) -> DnsResult:
        kept = self.peek(host)
        if kept is not None:
            return kept
        key = host.lower().rstrip(".")
        task = self._pending.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.get_running_loop().create_task(self._lookup(key, host))
            self._pending[key] = task
            task.add_done_callback(_retrieve)
        # A caller that gives up (its deadline) leaves the shared lookup to the others; the
        # wrapped resolver bounds it in time.
        return await asyncio.shield(task)

    async def _lookup(self, key: str, host: str) -> DnsResult:
        try:
            result = await self._resolver.resolve(host)
        finally:
            self._pending.pop(key, None)
        keep = self._keep_for(result, key)
        if keep is not None:
            self._entries[key] = (self._clock() + keep, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return result

    def _keep_for(self, result: DnsResult, key: str) -> float | None:
        """Seconds to keep ``result``, or None when it is not kept (``math.inf``: for good)."""
        if result.error is not None:
            return self._negative_ttl if result.error.kind in _NEGATIVE else None
        ttl = result.ttl
        if ttl is None:
            return math.inf if _is_literal(key) and result.records else None
        return min(self._max_ttl, max(self._min_ttl, float(ttl)))


def _is_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _retrieve(task: asyncio.Task[DnsResult]) -> None:
    """Mark a failed shared lookup's error as seen (every caller that waited got it)."""
    if not task.cancelled():
        task.exception()


def _served(result: DnsResult, host: str, left: float) -> DnsResult:
    """A kept answer as served now: TTLs counted down, marked cached, no lookup time."""
    remaining = max(0, math.ceil(left))
    records = tuple(
        r if r.ttl is None else DnsRecord(r.ip, r.family, min(r.ttl, remaining))
        for r in result.records
    )
    return replace(
        result, name=host, resolver=f"{result.resolver} (cached)", records=records, duration_ms=0.0
    )
