"""What a worker does with one job: check, ask its own control target when nothing answered,
send the result to the coordinator's results stream."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from bot.checkrun import deadline as _deadline
from bot.checkrun import unsent as _unsent
from bot.health import Health
from bot.regions.jobs import RESULTS_STREAM, STREAM_MAXLEN, Job, Result
from bot.settings import Settings
from checks import (
    Auth,
    CachingResolver,
    Diagnosis,
    DnsResolver,
    RequestSpec,
    Resolver,
    TlsSessions,
    Transport,
    diagnose,
)
from checks.errors import UsageError

log = logging.getLogger("check502.worker")


class Prober:
    """The worker's check of a job (the broker's ``state.prober``); counts what it did."""

    def __init__(
        self,
        settings: Settings,
        region: str,
        redis: Redis,
        *,
        name: str,
        environ: Mapping[str, str],
        resolver: Resolver | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings
        self.region = region
        self.redis = redis
        self.name = name
        self.environ = environ
        if resolver is None:
            # The monitoring path honours each answer's TTL: a worker resolves a host once per
            # TTL, not once per check.
            resolver = CachingResolver(DnsResolver(settings.resolver, timeout=3.0))
        self.resolver: Resolver = resolver
        self.transport = transport or Transport.create(ca_bundle=settings.ca_bundle)
        self.tls_sessions = TlsSessions()
        self.health: Health | None = None
        if settings.control_url:
            self.health = Health(
                settings.control_url,
                resolver=self.resolver,
                transport=self.transport,
                cache_seconds=settings.health_cache,
            )
        self.done = 0
        self.stale = 0
        """Jobs dropped unrun: their round had expired (a backlog)."""
        self.refused = 0
        """Jobs that were not jobs (another version's, or garbage): dropped."""

    async def __call__(self, data: dict[str, Any]) -> None:
        try:
            job = Job.from_dict(data)
        except ValueError as exc:
            self.refused += 1
            log.warning("dropped a job that cannot be read: %s", exc)
            return
        if job.region != self.region:
            self.refused += 1
            log.warning("dropped a job for region %s (this worker is %s)", job.region, self.region)
            return
        if time.time() > job.deadline:
            self.stale += 1
            return
        result = await self.run(job)
        await self.redis.xadd(
            RESULTS_STREAM,
            result.fields(),  # type: ignore[arg-type]  # redis-py's own union of field types
            maxlen=STREAM_MAXLEN,
            approximate=True,
        )
        self.done += 1

    async def run(self, job: Job) -> Result:
        """The job's check, and the control check beside it when it might be needed."""
        control = None
        if self.health is not None:
            # Beside the probe, as the front does; the health check is cached and shared, so
            # a storm of jobs costs one control probe per cache period.
            control = asyncio.ensure_future(self.health.check())
        diagnosis = await self._diagnose(job)
        control_ok: bool | None = None
        if control is not None:
            if _answered(diagnosis):
                control.cancel()  # shielded inside: the shared probe goes on for the others
            else:
                # Answered a second before the round's deadline, so that the coordinator has
                # it: a region whose own network failed still answers (and is not counted).
                remaining = max(0.2, job.deadline - time.time() - 1.0)
                try:
                    async with asyncio.timeout(remaining):
                        control_ok = await control is None
                except TimeoutError:
                    control_ok = False  # no answer from the control target in time either
        return Result(job.key, self.region, diagnosis, control_ok, self.name)

    async def _diagnose(self, job: Job) -> Diagnosis:
        try:
            request = credentials(job.request, self.settings.auth_vars, self.environ)
        except UsageError as exc:
            return _unsent(job.url, job.origin, str(exc), job.request)
        try:
            async with asyncio.timeout(job.timeout):
                return await diagnose(
                    job.url,
                    origin=job.origin,
                    resolver=self.resolver,
                    transport=self.transport,
                    timeout=job.timeout * 0.9,
                    follow=job.follow,
                    policy=self.settings.policy,
                    request=request,
                    expect=job.expect.matches,
                    tls_sessions=self.tls_sessions,
                )
        except TimeoutError:
            return _deadline(job.url, job.origin, job.timeout, request.redacted())


def credentials(
    spec: RequestSpec, allowed: tuple[str, ...], environ: Mapping[str, str]
) -> RequestSpec:
    """``spec`` with its credentials read from this worker's environment, under the same
    ``CHECK502_AUTH_VARS`` rule as the front (bot.core); ``UsageError`` naming the variable
    (never its value) when one is not allowed or not set."""
    auth = spec.auth
    if auth is None:
        return spec
    values: list[str] = []
    for name in auth.names:
        if name not in allowed:
            raise UsageError(f"${name} is not one of the variables this worker may send")
        value = environ.get(name)
        if not value:
            raise UsageError(f"${name} is not set in the worker's environment")
        values.append(value)
    return replace(spec, auth=Auth(auth.scheme, auth.names, tuple(values)))


def _answered(diagnosis: Diagnosis) -> bool:
    return any(p.status is not None for p in diagnosis.probes if p.target == "public")
