"""The one entry point: :func:`diagnose` a URL.

It resolves the public name, probes every resolved IP (up to ``MAX_IPS``), probes the origin
directly when one is given, concurrently, repeats for ``runs`` rounds, retries HTTP/1.1 where a
server negotiated HTTP/2, and hands everything to :func:`checks.verdict.decide`. When a public
gateway error came within milliseconds while the origin answered, it also asks the origin, once,
what it speaks the other way (:mod:`checks.protocols`: TLS vs plain, HTTP/2 vs HTTP/1.1).

Deadlines: everything a run does shares one deadline, ``timeout`` seconds from the run's start,
and an optional overall ``budget`` caps every run's deadline, so a check ends within its limit
whatever the server does (no step, retry or re-fetch gets a fresh timeout of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from checks.dns import DnsResolver, Resolver
from checks.errors import InvalidURL, TargetRefused, UsageError
from checks.mismatch import points_at_link
from checks.model import (
    Diagnosis,
    DnsRecord,
    DnsResult,
    ErrorKind,
    Finding,
    OriginProtocols,
    Probe,
    ProbeError,
    Timings,
)
from checks.policy import AddressPolicy
from checks.probe import ProbeRequest, Transport, probe
from checks.protocols import ask_origin
from checks.request import PLAIN, RequestSpec, reword
from checks.target import OriginTarget, TargetURL, parse_origin, parse_url
from checks.tlssessions import TlsSessions
from checks.verdict import decide, healthy

log = logging.getLogger(__name__)

MAX_IPS = 8
MAX_REDIRECTS = 5
MAX_RUNS = 100
MAX_CONCURRENCY = 50
MAX_BUDGET = 3600.0
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


_MIN_LEFT = 0.05
"""Seconds: with less than this left before a deadline, a step is skipped rather than started."""


def _out_of_time(
    target: str, url: TargetURL, port: int, dns: DnsResult, run: int, visited: list[str]
) -> Probe:
    """The probe that was never sent because its run's deadline had already passed."""
    hops = f" after {len(visited)} redirect(s)" if visited else ""
    error = ProbeError(ErrorKind.READ_TIMEOUT, f"the deadline passed{hops} before this request")
    return _with_redirects(_failed(target, url, port, error, dns=dns, run=run), visited)


@dataclass(frozen=True, slots=True)
class _Round:
    """What one run found: the public name's DNS, its probes, the origin's, HTTP/1.1 retries."""

    dns: DnsResult
    public: list[Probe]
    origin: list[Probe]
    retries: list[Probe]


class _Run:
    """Everything one ``diagnose`` call shares: transport, resolver, policy, limits.

    Every step of a run (DNS, each redirect hop, the HTTP/1.1 retry, the certificate re-fetch
    inside a probe) shares the run's one ``deadline`` (``loop.time()`` seconds); none gets a
    fresh timeout of its own.
    """

    def __init__(
        self,
        transport: Transport,
        resolver: Resolver,
        policy: AddressPolicy,
        follow: bool,
        spec: RequestSpec = PLAIN,
        sessions: TlsSessions | None = None,
    ) -> None:
        self.transport = transport
        self.sessions = sessions
        """TLS sessions kept between checks (the monitoring path), or None (a full handshake)."""
        self.resolver = resolver
        self._peek: Callable[[str], DnsResult | None] | None = getattr(resolver, "peek", None)
        """A cache's answer at once, without a lookup (``CachingResolver.peek``), or None."""
        self.policy = policy
        self.follow = follow
        self.spec = spec
        """The request every probe sends (the public name, the origin bypass, each hop)."""
        self.retried: set[tuple[str, str]] = set()
        """(target, IP) pairs already retried over HTTP/1.1: one retry each per diagnosis."""
        self.asked = False
        """Whether the origin has been asked the other way (once per diagnosis)."""
        self.protocols: OriginProtocols | None = None

    async def ask_other_way(
        self, public: Sequence[Probe], origin: Sequence[Probe], url: TargetURL, deadline: float
    ) -> None:
        """When the public side failed fast while the origin answered, ask the origin on the
        same address and port what it speaks (TLS vs plain, HTTP/2 vs HTTP/1.1), once, within
        what is left of the run's deadline. Otherwise (a healthy check) nothing is sent."""
        answering = points_at_link(public, origin)
        if self.asked or answering is None or answering.ip is None:
            return
        if self.policy.refusal(answering.ip) is not None:
            return
        if deadline - asyncio.get_running_loop().time() < _MIN_LEFT:
            return
        self.asked = True
        self.protocols = await ask_origin(
            answering.ip,
            answering.port,
            host=url.netloc,
            server_name=None if url.is_ip else url.host,
            deadline=deadline,
        )

    async def resolve(self, host: str, deadline: float) -> DnsResult:
        """Resolve ``host``, giving up (``dns_timeout``) when the deadline passes first."""
        if self._peek is not None and (kept := self._peek(host)) is not None:
            return kept  # a cache's answer: nothing to wait for
        started = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                return await self.resolver.resolve(host)
        except TimeoutError:
            who = getattr(self.resolver, "description", "the resolver")
            error = ProbeError(
                ErrorKind.DNS_TIMEOUT, f"no DNS answer for {host} from {who} before the deadline"
            )
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            return DnsResult(host, str(who), (), elapsed, error=error)

    async def public(self, url: TargetURL, run: int, deadline: float) -> _Round:
        """Resolve the public name and probe each of its addresses."""
        dns = await self.resolve(url.host, deadline)
        if dns.error is not None:
            return _Round(
                dns, [_failed("public", url, url.port, dns.error, dns=dns, run=run)], [], []
            )
        records = dns.records[:MAX_IPS]
        self.refuse_all(records)
        chains = (
            self._chain("public", url, r.ip, url.port, url.scheme, dns, run, deadline)
            for r in records
        )
        # One address (the common case) is awaited as it is: no task to gather.
        found = [await next(chains)] if len(records) == 1 else await asyncio.gather(*chains)
        return _Round(dns, [p for p, _ in found], [], [r for _, r in found if r is not None])

    async def origin(
        self, url: TargetURL, origin: OriginTarget, dns: DnsResult, run: int, deadline: float
    ) -> tuple[list[Probe], list[Probe]]:
        """Probe the origin directly with the public path, Host and SNI: (probes, retries)."""
        if dns.error is not None:
            return [_failed("origin", url, origin.port, dns.error, dns=dns, run=run)], []
        ip = dns.records[0].ip
        result, retry = await self._chain(
            "origin", url, ip, origin.port, origin.scheme, dns, run, deadline
        )
        return [result], [retry] if retry is not None else []

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
        deadline: float,
    ) -> tuple[Probe, Probe | None]:
        """Probe ``ip``; with ``follow``, keep following redirects (each hop re-checked).

        Returns the last response and, where it negotiated HTTP/2, its HTTP/1.1 retry.
        """
        loop = asyncio.get_running_loop()
        visited: list[str] = []
        spec = self.spec
        while True:
            refusal = self.policy.refusal(ip)
            if refusal is not None:
                error = ProbeError(ErrorKind.BLOCKED_ADDRESS, refusal)
                failed = _failed(target, url, port, error, dns=dns, run=run)
                return _with_redirects(failed, visited), None
            left = deadline - loop.time()
            if left < _MIN_LEFT:
                return _out_of_time(target, url, port, dns, run, visited), None
            request = ProbeRequest(
                target, url, ip, port, scheme, dns.records, dns.duration_ms, run, spec
            )
            result = await probe(self.transport, request, timeout=left, sessions=self.sessions)
            if not (self.follow and result.status in _REDIRECTS and result.location):
                retry = await self._http1_retry(result, request, deadline)
                return _with_redirects(result, visited), retry
            if len(visited) >= MAX_REDIRECTS:
                error = ProbeError(
                    ErrorKind.TOO_MANY_REDIRECTS, f"more than {MAX_REDIRECTS} redirects"
                )
                failed = _failed(target, url, port, error, dns=dns, run=run)
                return _with_redirects(failed, visited), None
            visited.append(url.url)
            was = (url.scheme, url.host, url.port)
            try:
                url = url.resolve(result.location)
            except UsageError as exc:  # the server's Location, not the user's input
                error = ProbeError(ErrorKind.INVALID_RESPONSE, f"bad redirect Location: {exc}")
                failed = _failed(target, url, port, error, dns=dns, run=run)
                return _with_redirects(failed, visited), None
            assert result.status is not None  # it is one of _REDIRECTS
            spec = spec.after_redirect(result.status, was == (url.scheme, url.host, url.port))
            name_refusal = self.policy.refuse_name(url.host)  # checked again on every hop
            if name_refusal is not None:
                error = ProbeError(ErrorKind.BLOCKED_ADDRESS, name_refusal)
                failed = _failed(target, url, port, error, dns=dns, run=run)
                return _with_redirects(failed, visited), None
            dns = await self.resolve(url.host, deadline)
            if dns.error is not None:
                failed = _failed(target, url, url.port, dns.error, dns=dns, run=run)
                return _with_redirects(failed, visited), None
            ip, port, scheme = dns.records[0].ip, url.port, url.scheme

    async def _http1_retry(
        self, result: Probe, request: ProbeRequest, deadline: float
    ) -> Probe | None:
        """Where HTTP/2 was negotiated, the same request over HTTP/1.1 (protocol mismatch check),
        once per (target, IP), within what is left of the same deadline (skipped when nothing is).
        """
        if result.ip is None or not result.tls or result.tls.alpn != "h2":
            return None
        key = (result.target, result.ip)
        left = deadline - asyncio.get_running_loop().time()
        if key in self.retried or left < _MIN_LEFT:
            return None
        self.retried.add(key)
        retry = await probe(
            self.transport, request, timeout=left, http2=False, sessions=self.sessions
        )
        return replace(retry, protocol_retry=True)


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
    """One transport per CA bundle: loading a bundle costs milliseconds, so it is loaded by the
    first TLS probe (never for a plain-HTTP check), then kept."""
    if ca_bundle is None:
        return Transport.on_demand()
    return Transport.create(ca_bundle=ca_bundle)  # a bundle that cannot be read fails at once


def _with_redirects(result: Probe, visited: list[str]) -> Probe:
    return replace(result, redirects=tuple(visited)) if visited else result


def _outcome(p: Probe) -> str:
    if p.error is not None:
        return p.error.kind.value
    return str(p.status)


def _all_meet(expect: Callable[[int], bool], probes: Sequence[Probe]) -> bool:
    """Every probe got an answer ``expect`` accepts, with nothing found wrong in it."""
    return all(
        p.error is None and p.status is not None and not p.findings and expect(p.status)
        for p in probes
    )


def _report(progress: Callable[[int, int], None] | None, done: int, runs: int) -> None:
    """Tell the caller a run finished; a failing callback never breaks the diagnosis."""
    if progress is None:
        return
    try:
        progress(done, runs)
    except Exception:  # the caller's callback: its failure is not the check's
        log.warning("progress callback failed; the check goes on", exc_info=True)


def _seconds(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


async def diagnose(
    url: str | TargetURL,
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
    budget: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    request: RequestSpec | None = None,
    expect: Callable[[int], bool] | None = None,
    tls_sessions: TlsSessions | None = None,
) -> Diagnosis:
    """Diagnose ``url``: probe it (and ``origin``), then say what is wrong and where.

    ``url`` is text as a user typed it, or a :class:`~checks.target.TargetURL` already parsed
    (a monitor checked every minute parses its URL once).

    Each run ends within ``timeout`` seconds of its start whatever the servers do: its DNS
    lookups, probes, redirects, HTTP/1.1 retries and certificate re-fetches share that one
    deadline (the first runs' clock starts with the call, so the origin's lookup counts too).
    ``budget`` bounds the whole call: runs not started when it runs out are not started, runs
    in flight are cut at it (and left out when at least one run finished), and the verdict says
    how many finished. ``request`` is what every probe sends and asks of the answer (method,
    headers, body, credentials, keyword, latency threshold; :mod:`checks.request`): the origin
    bypass and every redirect hop send it too, and its findings are in ``Diagnosis.findings``.
    ``progress(runs_done, runs)`` is called from the event loop each time a
    run finishes; if it raises, that is logged and the check goes on.

    ``expect`` (the monitoring path: a monitor's expected statuses) allows a fast verdict: when
    every run finished and every answer (public, origin bypass, HTTP/1.1 retry) has a status it
    accepts and no finding (keyword, latency), the verdict is OK with the summary only, without
    the reasoning a failure gets (evidence, advice, ``curl`` lines). Anything else, and every
    one-off check (no ``expect``), gets the full verdict.

    ``tls_sessions`` (the monitoring path, :class:`checks.tlssessions.TlsSessions`): HTTPS
    probes offer the TLS session their last healthy check kept, so a healthy check skips the
    full handshake; a full one still happens every ``refresh`` seconds and after a failure.

    Raises :class:`checks.errors.UsageError` for input that cannot be checked (a malformed URL,
    origin or resolver, a refused metadata name). Network trouble never raises: it is reported
    in the probes and the verdict.
    """
    loop = asyncio.get_running_loop()
    began = loop.time()  # the clock starts now: building a resolver or transport counts too
    target = url if isinstance(url, TargetURL) else parse_url(url)
    origin_target = parse_origin(origin, target) if origin else None
    if not 1 <= runs <= MAX_RUNS:
        raise InvalidURL(f"runs must be between 1 and {MAX_RUNS}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidURL(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    if not 0 < timeout <= 120:
        raise InvalidURL("timeout must be between 0 and 120 seconds")
    if budget is not None and not 0 < budget <= MAX_BUDGET:
        raise InvalidURL(f"the overall limit must be between 0 and {MAX_BUDGET} seconds")
    policy = policy or AddressPolicy()
    for host in (target.host, origin_target.host if origin_target else None):
        if host is not None and (refusal := policy.refuse_name(host)) is not None:
            raise TargetRefused(refusal)
    if resolver is None or isinstance(resolver, str):
        resolver = _resolver(resolver, min(timeout, 5.0))
    if transport is None:
        transport = _transport(ca_bundle)
    budget_at = None if budget is None else began + budget
    checked_at = datetime.now(UTC)
    spec = request or PLAIN
    session = _Run(transport, resolver, policy, follow, spec, tls_sessions)

    def deadline(start: float) -> tuple[float, bool]:
        """A run's deadline from its start, and whether the budget (not the timeout) sets it."""
        own = start + timeout
        if budget_at is not None and budget_at < own:
            return budget_at, True
        return own, False

    origin_dns: DnsResult | None = None
    if origin_target is not None:  # resolved once, checked before anything is sent
        origin_dns = await session.resolve(origin_target.host, deadline(began)[0])
        session.refuse_all(origin_dns.records[:1])

    async def one_run(run: int, until: float) -> _Round:
        public_task = session.public(target, run, until)
        if origin_target is None:
            return await public_task
        assert origin_dns is not None
        async with _all_or_nothing() as group:
            public_run = group.create_task(public_task)
            origin_run = group.create_task(
                session.origin(target, origin_target, origin_dns, run, until)
            )
        found = public_run.result()
        origin_probes, origin_retries = origin_run.result()
        await session.ask_other_way(found.public, origin_probes, target, until)
        return replace(found, origin=origin_probes, retries=[*found.retries, *origin_retries])

    done: dict[int, _Round] = {}
    cut: dict[int, _Round] = {}
    pending = iter(range(runs))

    async def worker() -> None:
        """Run the next pending run until none is left or the budget is spent."""
        start = began  # a worker's first run starts with the call
        for run in pending:
            if run > 0 and budget_at is not None and loop.time() >= budget_at - _MIN_LEFT:
                return
            until, by_budget = deadline(start)
            found = await one_run(run, until)
            if by_budget and loop.time() >= until - _MIN_LEFT:
                cut[run] = found  # stopped by the budget, not finished
                return
            done[run] = found
            _report(progress, len(done), runs)
            start = loop.time()

    if min(concurrency, runs) == 1:
        await worker()  # one run at a time (every scheduled check): no task group
    else:
        async with _all_or_nothing() as group:
            for _ in range(min(concurrency, runs)):
                group.create_task(worker())
    kept = done or cut  # with no run finished, what the cut runs saw is all there is
    rounds = [kept[run] for run in sorted(kept)]
    public_probes = [p for r in rounds for p in r.public]
    origin_probes = [p for r in rounds for p in r.origin]
    retries = [p for r in rounds for p in r.retries]
    dns = rounds[0].dns
    ips_seen = tuple(dict.fromkeys(p.ip for p in public_probes if p.ip))
    mix = Counter(_outcome(p) for p in public_probes)
    all_probes = (*public_probes, *origin_probes, *retries)
    findings: tuple[Finding, ...] = ()
    if expect is not None and len(done) == runs and _all_meet(expect, all_probes):
        verdict = healthy(target, public_probes[0])
    else:
        verdict = decide(
            target,
            origin_target,
            public_probes,
            origin_probes,
            retries,
            dns=dns,
            concurrency=concurrency,
            protocols=session.protocols,
        )
        if len(done) < runs:
            assert budget is not None  # only the budget stops runs
            note = (
                f"{len(done)} of {runs} runs finished within {_seconds(budget)} s"
                " (the overall limit)"
            )
            verdict = replace(verdict, evidence=(note, *verdict.evidence))
        if not spec.plain:
            answered = [p for p in public_probes if p.findings]
            findings = tuple(dict.fromkeys(f for p in answered for f in p.findings))
            verdict = reword(verdict, spec, public_probes, findings)
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
        runs_done=len(done),
        origin_protocols=session.protocols,
        findings=findings,
        request=None if spec.plain else spec.redacted(),
    )
