"""The bot's own health: can it resolve names and reach the outside at all?

Checked before an incident opens, so that a broken resolver or egress on the bot's host never
pages anyone for every monitor at once. A check is the engine's own probe of a control target
(``CHECK502_CONTROL_URL``, resolved with the bot's resolver): any HTTP answer, whatever its
status, proves the path works. Results are cached for a few seconds and shared by concurrent
callers, so a storm of failing monitors costs one control probe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from checks import AddressPolicy, Diagnosis, Resolver, Transport, diagnose

log = logging.getLogger("check502.health")

_FIX = (
    "; if that is expected where the bot runs, set CHECK502_CONTROL_URL to a URL reachable"
    " from there, or to off"
)


class Health:
    """``await health.check()`` is None when the bot's network works, else what is broken."""

    def __init__(
        self,
        control_url: str,
        *,
        resolver: Resolver,
        transport: Transport,
        timeout: float = 3.0,
        cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.control_url = control_url
        self.resolver = resolver
        self.transport = transport
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cached: tuple[float, str | None] | None = None
        self._inflight: asyncio.Task[str | None] | None = None

    @property
    def last_problem(self) -> tuple[str | None, float] | None:
        """The last control check's finding (None: the network worked) and when it ran (on
        :attr:`clock`); None before the first one."""
        return None if self._cached is None else (self._cached[1], self._cached[0])

    async def check(self) -> str | None:
        if self._cached is not None and self.clock() - self._cached[0] < self.cache_seconds:
            return self._cached[1]
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.ensure_future(self._probe())
        # Shielded: one caller giving up (its own check succeeded) must not cancel the others'.
        return await asyncio.shield(self._inflight)

    async def _probe(self) -> str | None:
        try:
            diagnosis = await diagnose(
                self.control_url,
                resolver=self.resolver,
                transport=self.transport,
                timeout=self.timeout,
                policy=AddressPolicy(allow_all=True),  # the operator's own target
            )
            problem = _problem(self.control_url, diagnosis)
        except Exception as exc:
            log.warning("health check of %s failed", self.control_url, exc_info=True)
            problem = f"the control target {self.control_url} cannot be checked ({exc}){_FIX}"
        self._cached = (self.clock(), problem)
        return problem


def _problem(url: str, diagnosis: Diagnosis) -> str | None:
    dns = diagnosis.dns
    if dns is not None and dns.error is not None:
        return (
            f"the bot's resolver ({dns.resolver}) fails for {dns.name}: "
            f"{dns.error.kind.value}{_FIX}"
        )
    public = [p for p in diagnosis.probes if p.target == "public"]
    if any(p.status is not None for p in public):
        return None
    errors = sorted({p.error.kind.value for p in public if p.error is not None}) or ["no answer"]
    return f"the bot cannot reach its control target {url} ({', '.join(errors)}){_FIX}"
