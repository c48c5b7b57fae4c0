"""The one entry point: :func:`diagnose` a URL.

It resolves the public name, probes every resolved IP (up to ``MAX_IPS``), probes the origin
directly when one is given, concurrently, repeats for ``runs`` rounds, retries HTTP/1.1 where a
server negotiated HTTP/2, and hands everything to :func:`checks.verdict.decide`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from checks.dns import DnsResolver, Resolver
from checks.errors import InvalidURL, TargetRefused, UsageError
from checks.model import Diagnosis, DnsRecord, DnsResult, ErrorKind, Probe, ProbeError, Timings
from checks.policy import AddressPolicy
from checks.probe import ProbeRequest, Transport, probe
from checks.target import OriginTarget, TargetURL, parse_origin, parse_url
from checks.verdict import decide

MAX_IPS = 8
MAX_REDIRECTS = 5
MAX_RUNS = 100
MAX_CONCURRENCY = 50
_REDIRECTS = {301, 302, 303, 307, 308}


def _failed(
    target: str, url: TargetURL, port: int, error: ProbeError, *, dns: DnsResult | None, run: int
) -> Probe:
    """A probe that never got to send its request (DNS failure, refused address)."""
    return Probe(
        target=target,
        url=url.url,
        host=url.host,
        ip=None,
        port=port,
        resolved=dns.records if dns else (),
        status=None,
        http_version=None,
        reason=None,
        headers=(),
        header_bytes=0,
        body_excerpt="",
        timings=Timings(
            dns=dns.duration_ms if dns else None, total=dns.duration_ms if dns else None
        ),
        error=error,
        tls=None,
        run=run,
    )


class _Run:
    """Everything one ``diagnose`` call shares: transport, resolver, policy, limits."""

    def __init__(
        self,
        transport: Transport,
        resolver: Resolver,
        policy: AddressPolicy,
        timeout: float,
        follow: bool,
    ) -> None:
        self.transport = transport
        self.resolver = resolver
        self.policy = policy
        self.timeout = timeout
        self.follow = follow

    async def public(self, url: TargetURL, run: int) -> tuple[DnsResult, list[Probe]]:
        """Resolve the public name and probe each of its addresses."""
        dns = await self.resolver.resolve(url.host)
        if dns.error is not None:
            return dns, [_failed("public", url, url.port, dns.error, dns=dns, run=run)]
        records = dns.records[:MAX_IPS]
        self.refuse_all(records)
        probes = await asyncio.gather(
            *(self._chain("public", url, r.ip, url.port, url.scheme, dns, run) for r in records)
        )
        return dns, list(probes)

    async def origin(
        self, url: TargetURL, origin: OriginTarget, dns: DnsResult, run: int
    ) -> list[Probe]:
        """Probe the origin directly with the public path, Host and SNI."""
        if dns.error is not None:
            return [_failed("origin", url, origin.port, dns.error, dns=dns, run=run)]
        ip = dns.records[0].ip
        return [await self._chain("origin", url, ip, origin.port, origin.scheme, dns, run)]

    def refuse_all(self, records: Sequence[DnsRecord]) -> None:
        """Raise when the policy refuses every address: nothing may be probed at all."""
        refusals = [self.policy.refusal(r.ip) for r in records]
        if refusals and all(refusals):
            raise TargetRefused(str(refusals[0]))

    async def _chain(
        self,
        target: str,
        url: TargetURL,
        ip: str,
        port: int,
        scheme: str,
        dns: DnsResult,
        run: int,
    ) -> Probe:
        """Probe ``ip``; with ``follow``, keep following redirects (each hop re-checked)."""
        visited: list[str] = []
        while True:
            refusal = self.policy.refusal(ip)
            if refusal is not None:
                error = ProbeError(ErrorKind.BLOCKED_ADDRESS, refusal)
                failed = _failed(target, url, port, error, dns=dns, run=run)
                return _with_redirects(failed, visited)
            request = ProbeRequest(target, url, ip, port, scheme, dns.records, dns.duration_ms, run)
            result = await probe(self.transport, request, timeout=self.timeout)
            if not (self.follow and result.status in _REDIRECTS and result.location):
                return _with_redirects(result, visited)
            if len(visited) >= MAX_REDIRECTS:
                error = ProbeError(
                    ErrorKind.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects"
                )
                return _with_redirects(_failed(target, url, port, error, dns=dns, run=run), visited)
            visited.append(url.url)
            try:
                url = url.resolve(result.location)
            except UsageError as exc:  # the server's Location, not the user's input
                error = ProbeError(ErrorKind.INVALID_RESPONSE, f"bad redirect Location: {exc}")
                return _with_redirects(_failed(target, url, port, error, dns=dns, run=run), visited)
            name_refusal = self.policy.refuse_name(url.host)  # checked again on every hop
            if name_refusal is not None:
                error = ProbeError(ErrorKind.BLOCKED_ADDRESS, name_refusal)
                return _with_redirects(_failed(target, url, port, error, dns=dns, run=run), visited)
            dns = await self.resolver.resolve(url.host)
            if dns.error is not None:
                failed = _failed(target, url, url.port, dns.error, dns=dns, run=run)
                return _with_redirects(failed, visited)
            ip, port, scheme = dns.records[0].ip, url.port, url.scheme

    async def http1_retry(self, probe_result: Probe, url: TargetURL, scheme: str) -> Probe | None:
        """Where HTTP/2 was negotiated, the same request over HTTP/1.1 (protocol mismatch check)."""
        if probe_result.ip is None or not probe_result.tls or probe_result.tls.alpn != "h2":
            return None
        request = ProbeRequest(
            probe_result.target,
            url,
            probe_result.ip,
            probe_result.port,
            scheme,
            probe_result.resolved,
            probe_result.timings.dns,
            probe_result.run,
        )
        result = await probe(self.transport, request, timeout=self.timeout, http2=False)
        return replace(result, protocol_retry=True)


@contextlib.asynccontextmanager
async def _all_or_nothing() -> AsyncIterator[asyncio.TaskGroup]:
    """A task group that cancels the other tasks when one raises, and re-raises that error
    itself (unwrapped from the exception group), so callers see our own error tree."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None


@functools.lru_cache(maxsize=16)
def _resolver(nameserver: str | None, timeout: float) -> DnsResolver:
    """One resolver per setting: building one reads /etc/resolv.conf."""
    return DnsResolver(nameserver, timeout=timeout)


@functools.lru_cache(maxsize=16)
def _transport(ca_bundle: str | None) -> Transport:
    """One transport per CA bundle: loading a bundle costs milliseconds."""
    return Transport.create(ca_bundle=ca_bundle)


def _with_redirects(result: Probe, visited: list[str]) -> Probe:
    return replace(result, redirects=tuple(visited)) if visited else result


def _outcome(p: Probe) -> str:
    if p.error is not None:
        return p.error.kind.value
    return str(p.status)


async def diagnose(
    url: str,
    *,
    origin: str | None = None,
    runs: int = 1,
    concurrency: int = 1,
    resolver: str | Resolver | None = None,
    ca_bundle: str | None = None,
    timeout: float = 10.0,
    follow: bool = False,
    policy: AddressPolicy | None = None,
    transport: Transport | None = None,
) -> Diagnosis:
    """Diagnose ``url``: probe it (and ``origin``), then say what is wrong and where.

    Raises :class:`checks.errors.UsageError` for input that cannot be checked (a malformed URL,
    origin or resolver, a refused metadata name). Network trouble never raises: it is reported
    in the probes and the verdict.
    """
    target = parse_url(url)
    origin_target = parse_origin(origin, target) if origin else None
    if not 1 <= runs <= MAX_RUNS:
        raise InvalidURL(f"runs must be between 1 and {MAX_RUNS}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidURL(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    if not 0 < timeout <= 120:
        raise InvalidURL("timeout must be between 0 and 120 seconds")
    policy = policy or AddressPolicy()
    for host in (target.host, origin_target.host if origin_target else None):
        if host is not None and (refusal := policy.refuse_name(host)) is not None:
            raise TargetRefused(refusal)
    if resolver is None or isinstance(resolver, str):
        resolver = _resolver(resolver, min(timeout, 5.0))
    if transport is None:
        transport = _transport(ca_bundle)
    checked_at = datetime.now(UTC)
    session = _Run(transport, resolver, policy, timeout, follow)
    gate = asyncio.Semaphore(concurrency)
    origin_dns: DnsResult | None = None
    if origin_target is not None:  # resolved once, checked before anything is sent
        origin_dns = await resolver.resolve(origin_target.host)
        session.refuse_all(origin_dns.records[:1])

    async def one_run(run: int) -> tuple[DnsResult, list[Probe], list[Probe]]:
        async with gate:
            public_task = session.public(target, run)
            if origin_target is None:
                dns, public = await public_task
                return dns, public, []
            assert origin_dns is not None
            async with _all_or_nothing() as group:
                public_run = group.create_task(public_task)
                origin_run = group.create_task(
                    session.origin(target, origin_target, origin_dns, run)
                )
            dns, public = public_run.result()
            return dns, public, origin_run.result()

    async with _all_or_nothing() as group:
        tasks = [group.create_task(one_run(run)) for run in range(runs)]
    rounds = [task.result() for task in tasks]
    public_probes = [p for _, public, _ in rounds for p in public]
    origin_probes = [p for _, _, op in rounds for p in op]
    retries = await _protocol_retries(session, target, origin_target, public_probes, origin_probes)
    dns = rounds[0][0]
    ips_seen = tuple(dict.fromkeys(p.ip for p in public_probes if p.ip))
    mix = Counter(_outcome(p) for p in public_probes)
    all_probes = (*public_probes, *origin_probes, *retries)
    verdict = decide(
        target,
        origin_target,
        public_probes,
        origin_probes,
        retries,
        dns=dns,
    )
    return Diagnosis(
        url=target.url,
        checked_at=checked_at,
        verdict=verdict,
        probes=all_probes,
        dns=dns,
        origin=origin_target.display if origin_target else None,
        runs=runs,
        concurrency=concurrency,
        ips_seen=ips_seen,
        status_mix=tuple(sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


async def _protocol_retries(
    session: _Run,
    target: TargetURL,
    origin: OriginTarget | None,
    public: Sequence[Probe],
    origin_probes: Sequence[Probe],
) -> list[Probe]:
    """One HTTP/1.1 retry per distinct (target, IP) that negotiated HTTP/2."""
    seen: set[tuple[str, str | None]] = set()
    pending = []
    for p in (*public, *origin_probes):
        key = (p.target, p.ip)
        if key in seen or not p.tls or p.tls.alpn != "h2":
            continue
        seen.add(key)
        scheme = origin.scheme if p.target == "origin" and origin else target.scheme
        pending.append(session.http1_retry(p, target, scheme))
    results = await asyncio.gather(*pending)
    return [r for r in results if r is not None]
