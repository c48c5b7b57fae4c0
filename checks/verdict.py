"""From probes to a verdict: which of the seven causes, who generated the error, which hop.

The reasoning follows the guide: diagnose from the origin outward. The strongest evidence is
direct: what the origin says when asked past the edge (the origin bypass), then what the
generator's own code or page says (Cloudflare 522, an Envoy reset reason), then timing (a fast
failure beside slow successes, a failure at a proxy timeout while the origin answers quickly).
Where evidence cannot separate causes, the verdict says so: lower confidence and ``alternatives``.
"""

from __future__ import annotations

import re
import shlex
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from checks._keepalive import keepalive_race
from checks.advice import next_steps as advice_for
from checks.advice import phrase_steps
from checks.fingerprints import Attribution, attribute
from checks.mismatch import LOG_STEP, fix_steps, link_failed_fast, mismatches
from checks.model import Cause, DnsResult, ErrorKind, Hop, Mismatch, OriginProtocols, Probe, Verdict
from checks.steps import arrange
from checks.target import OriginTarget, TargetURL

LARGE_HEADERS = 8 * 1024
FAST_MS = 200.0
"""A gateway answering within this many ms of the connection did not wait on a timeout."""
_HOST = re.compile(r"\bHOST\b")
_PORT = re.compile(r"\bPORT\b")
_ORIGIN_IP = re.compile(r"\bORIGIN_IP\b")
_ORIGIN = re.compile(r"\bORIGIN\b(?!_)")


def _placeholder(pattern: re.Pattern[str], address: str, text: str) -> str:
    """Replace a placeholder with an address, bracketing IPv6 where a port is attached."""

    def sub(match: re.Match[str]) -> str:
        before = text[match.start() - 1 : match.start()]
        after = text[match.end() : match.end() + 1]
        return _quote_ip(address) if ":" in (before + after) else address

    return pattern.sub(sub, text)


_CURL_FORMAT = (
    "'%{http_code} %{http_version} dns=%{time_namelookup} connect=%{time_connect}"
    " tls=%{time_appconnect} ttfb=%{time_starttransfer} total=%{time_total} ip=%{remote_ip}\\n'"
)
"""Response headers above this overflow nginx's default proxy_buffer_size (4 or 8 KiB)."""

_KIND_CAUSE: dict[ErrorKind, tuple[Cause, float, tuple[Cause, ...]]] = {
    ErrorKind.DNS_NXDOMAIN: (Cause.DNS, 0.95, ()),
    ErrorKind.DNS_SERVFAIL: (Cause.DNS, 0.9, ()),
    ErrorKind.DNS_TIMEOUT: (Cause.DNS, 0.8, (Cause.FIREWALL,)),
    ErrorKind.DNS_NO_RECORDS: (Cause.DNS, 0.9, ()),
    ErrorKind.CONNECT_REFUSED: (Cause.ORIGIN_DOWN, 0.85, (Cause.FIREWALL,)),
    ErrorKind.CONNECT_TIMEOUT: (
        Cause.FIREWALL,
        0.6,
        (Cause.WORKERS_EXHAUSTED, Cause.ORIGIN_DOWN),
    ),
    ErrorKind.CONNECT_UNREACHABLE: (Cause.FIREWALL, 0.75, (Cause.ORIGIN_DOWN,)),
    ErrorKind.TLS_EXPIRED: (Cause.TLS, 0.95, ()),
    ErrorKind.TLS_HOSTNAME_MISMATCH: (Cause.TLS, 0.95, ()),
    ErrorKind.TLS_UNTRUSTED: (Cause.TLS, 0.9, ()),
    ErrorKind.TLS_HANDSHAKE: (Cause.TLS, 0.75, (Cause.PROTOCOL,)),
    ErrorKind.READ_TIMEOUT: (Cause.TIMEOUT, 0.75, (Cause.WORKERS_EXHAUSTED,)),
    ErrorKind.PREMATURE_CLOSE: (Cause.PROTOCOL, 0.55, (Cause.ORIGIN_DOWN,)),
    ErrorKind.INVALID_RESPONSE: (Cause.PROTOCOL, 0.85, ()),
    ErrorKind.HEADERS_TOO_LARGE: (Cause.PROTOCOL, 0.85, ()),
    ErrorKind.BODY_TRUNCATED: (Cause.PROTOCOL, 0.6, (Cause.ORIGIN_DOWN, Cause.TIMEOUT)),
    ErrorKind.TOO_MANY_REDIRECTS: (Cause.UNKNOWN, 0.3, ()),
    ErrorKind.BLOCKED_ADDRESS: (Cause.UNKNOWN, 0.0, ()),
}

_EDGE_KINDS = {
    ErrorKind.DNS_NXDOMAIN,
    ErrorKind.DNS_SERVFAIL,
    ErrorKind.DNS_TIMEOUT,
    ErrorKind.DNS_NO_RECORDS,
    ErrorKind.CONNECT_REFUSED,
    ErrorKind.CONNECT_TIMEOUT,
    ErrorKind.CONNECT_UNREACHABLE,
    ErrorKind.TLS_EXPIRED,
    ErrorKind.TLS_HOSTNAME_MISMATCH,
    ErrorKind.TLS_UNTRUSTED,
    ErrorKind.TLS_HANDSHAKE,
}

# Origin-bypass failures that only say *we* cannot reach the origin (it may accept the edge only).
_NO_ROUTE_FOR_US = {ErrorKind.CONNECT_TIMEOUT, ErrorKind.CONNECT_UNREACHABLE}

# Causes inferred from a generic gateway page, which a healthy origin bypass re-opens.
_LINK_SUSPECTS = {Cause.TIMEOUT, Cause.ORIGIN_DOWN, Cause.UNKNOWN, Cause.WORKERS_EXHAUSTED}

# Causes a fast gateway error with a healthy origin bypass is re-read from: a generic page's
# guess, or a page that says only "invalid response" or "handshake failed" on its own.
_FAST_LINK_SUSPECTS = _LINK_SUSPECTS | {Cause.PROTOCOL, Cause.TLS}

# Platform codes that say the upstream broke the HTTP protocol itself (Envoy's UPE flag).
_PROTOCOL_ERROR_CODES = frozenset({"UPE"})

# Probe errors that come at once, without waiting for any timeout.
_FAST_KINDS = {
    ErrorKind.CONNECT_REFUSED,
    ErrorKind.PREMATURE_CLOSE,
    ErrorKind.INVALID_RESPONSE,
    ErrorKind.TLS_HANDSHAKE,
    ErrorKind.TLS_EXPIRED,
    ErrorKind.TLS_HOSTNAME_MISMATCH,
    ErrorKind.TLS_UNTRUSTED,
}


def _speaks(found: OriginProtocols) -> str:
    """What the origin answered in, in words: "plain HTTP/1.1 and TLS (HTTP/1.1)"."""
    names = [
        ("plain HTTP/1.1", found.plain_http1),
        ("h2c", found.h2c),
        ("TLS (HTTP/1.1)", found.tls_http1),
        ("TLS (h2)", found.tls_h2),
    ]
    spoken = [name for name, yes in names if yes]
    return " and ".join(spoken)


# Without the origin's word, where a generated error most likely points.
_HOP_FOR_CAUSE = {
    Cause.ORIGIN_DOWN: Hop.ORIGIN,
    Cause.WORKERS_EXHAUSTED: Hop.ORIGIN,
    Cause.TIMEOUT: Hop.ORIGIN,
    Cause.PROTOCOL: Hop.ORIGIN,
    Cause.FIREWALL: Hop.EDGE_TO_ORIGIN,
    Cause.DNS: Hop.EDGE_TO_ORIGIN,
    Cause.TLS: Hop.EDGE_TO_ORIGIN,
    Cause.UNKNOWN: Hop.ORIGIN,
}

_CAUSE_PHRASE = {
    Cause.ORIGIN_DOWN: "the origin is down (nothing accepts the connection)",
    Cause.WORKERS_EXHAUSTED: "the origin's workers are exhausted",
    Cause.FIREWALL: "a firewall or security group blocks the path",
    Cause.DNS: "DNS resolution fails",
    Cause.TIMEOUT: "the origin is too slow to answer in time",
    Cause.TLS: "the TLS handshake fails",
    Cause.PROTOCOL: "the two sides disagree on the protocol",
    Cause.UNKNOWN: "the cause is not clear from outside",
}


def is_up(p: Probe) -> bool:
    """A usable 2xx or 3xx response."""
    return p.error is None and p.status is not None and p.status < 400


def _ms(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def _server_ms(p: Probe) -> float | None:
    """Time the server took between the connection being ready and the first byte."""
    if p.timings.ttfb is None:
        return None
    ready = p.timings.tls or p.timings.connect or p.timings.dns or 0.0
    return p.timings.ttfb - ready


def _outcome(p: Probe) -> str:
    return p.error.kind.value if p.error else str(p.status)


def _describe(p: Probe) -> str:
    where = f"{p.ip}:{p.port}" if p.ip else p.host
    if p.error is not None and p.status is None:
        return f"{p.error.kind.value} at {where} after {_ms(p.timings.total)}: {p.error.message}"
    version = f" over {p.http_version}" if p.http_version else ""
    extra = f" ({p.error.kind.value}: {p.error.message})" if p.error else ""
    return f"{p.status} from {where}{version} in {_ms(p.timings.total)}{extra}"


def _public_attribution(main: Probe) -> Attribution | None:
    """Who generated the failing public response, read from that response alone.

    None when nothing answered or the answer is usable. The origin bypass, the retries and the
    other runs are evidence for the cause and the hop, never for who generated this response:
    a gateway's own page stays that gateway's whatever the origin does.
    """
    if main.status is None or is_up(main):
        return None
    return attribute(main.status, main.headers, main.body_excerpt, reason=main.reason)


def _turned_away_at_once(draft: _Draft, main: Probe) -> bool:
    """A gateway's own page says its upstream refused or failed, and came without waiting on
    a timeout (what ``_gateway_generated`` reports as "its upstream failed at once")."""
    server = _server_ms(main)
    return draft.cause is Cause.ORIGIN_DOWN and (server is None or server <= 900)


def _unmarked_error_denied(main: Probe, o: Probe | None) -> bool:
    """The public error status carries no gateway's marks (so it reads as the origin's own),
    but the origin, asked directly, answers without an error status."""
    if o is None or o.status is None or o.status >= 400 or main.status is None:
        return False
    att = _public_attribution(main)
    return main.status >= 400 and att is not None and att.generated_by == "origin"


def _primary(probes: Sequence[Probe]) -> Probe:
    """The most common failure (or the first probe when all are up)."""
    failing = [p for p in probes if not is_up(p)]
    if not failing:
        return probes[0]
    common = Counter(_outcome(p) for p in failing).most_common(1)[0][0]
    return next(p for p in failing if _outcome(p) == common)


@dataclass(slots=True)
class _Draft:
    cause: Cause
    confidence: float
    hop: Hop | None
    generated_by: str | None
    """What the public response's marks say; ``_finish`` reads it again from that response."""
    alternatives: tuple[Cause, ...] = ()
    code: str | None = None
    summary: str = ""
    timed: bool = False
    """The cause was inferred from how long the gateway took, not named by its code: a code
    such as Varnish's "Backend fetch failed" then says nothing about whether it connected."""
    mismatches: tuple[Mismatch, ...] = ()


def _quote_ip(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _host_port(host: str, port: int) -> str:
    return f"{_quote_ip(host)}:{port}"


def reproduce(
    url: TargetURL, public: Probe | None, origin: OriginTarget | None, o: Probe | None
) -> tuple[str, ...]:
    """``curl`` commands that repeat the check by hand (``--resolve`` / ``--connect-to`` pin the
    address while keeping the URL's Host and SNI)."""
    base = f"curl -sv -o /dev/null -w {_CURL_FORMAT}"
    target = shlex.quote(url.url)
    pin = ""
    if public is not None and public.ip and not url.is_ip:
        pin = f" --resolve {shlex.quote(f'{url.host}:{url.port}:{_quote_ip(public.ip)}')}"
    lines = [f"{base}{pin} {target}"]
    if origin is None:
        return tuple(lines)
    ip = o.ip if o is not None and o.ip else origin.host
    if origin.scheme != url.scheme:
        direct = f"{origin.scheme}://{_host_port(ip, origin.port)}{url.path}"
        host = shlex.quote("Host: " + url.netloc)
        lines.append(f"{base} -H {host} {shlex.quote(direct)}")
    elif origin.port == url.port and not url.is_ip:
        spec = f"{url.host}:{url.port}:{_quote_ip(ip)}"
        lines.append(f"{base} --resolve {shlex.quote(spec)} {target}")
    else:
        spec = f"{_host_port(url.host, url.port)}:{_host_port(ip, origin.port)}"
        lines.append(f"{base} --connect-to {shlex.quote(spec)} {target}")
    return tuple(lines)


class _Reasoner:
    def __init__(
        self,
        url: TargetURL,
        origin: OriginTarget | None,
        public: Sequence[Probe],
        origin_probes: Sequence[Probe],
        retries: Sequence[Probe],
        dns: DnsResult | None,
        protocols: OriginProtocols | None = None,
    ) -> None:
        self.protocols = protocols
        self.url = url
        self.origin = origin
        self.public = public
        self.origin_probes = origin_probes
        self.retries = retries
        self.dns = dns
        self.evidence: list[str] = []
        self.concurrent = False
        """True when runs overlapped (``concurrency`` > 1)."""
        self.lead_steps: tuple[str, ...] = ()
        """Steps a rule puts before the cause's advice (what the pattern it saw calls for)."""

    def decide(self) -> Verdict:
        main = _primary(self.public)
        o = _primary(self.origin_probes) if self.origin_probes else None
        self._common_evidence(main, o)
        if main.error is not None and main.error.kind is ErrorKind.BLOCKED_ADDRESS:
            return self._finish(
                _Draft(
                    Cause.UNKNOWN, 0.0, None, None, summary=f"Not checked: {main.error.message}."
                ),
                main,
                o,
            )
        draft = self._keepalive_race(main) or self._workers_exhausted() or self._protocol_mismatch()
        if draft is not None:  # patterns across probes: the origin bypass adds evidence only
            return self._finish(draft, main, o)
        if is_up(main):
            draft = _Draft(Cause.OK, 0.95, None, None, summary=self._ok_summary(main, o))
            return self._finish(draft, main, o)
        draft = self._from_public(main)
        if o is not None:
            draft = self._with_origin(draft, main, o)
        return self._finish(draft, main, o)

    # --- evidence -------------------------------------------------------------------------

    def _common_evidence(self, main: Probe, o: Probe | None) -> None:
        dns = self.dns
        if dns is not None and dns.records and dns.resolver != "literal":
            ttls = {r.ttl for r in dns.records}
            ttl = f", TTL {next(iter(ttls))} s" if len(ttls) == 1 and None not in ttls else ""
            ips = ", ".join(dns.ips)
            cname = f" (CNAME {dns.cname})" if dns.cname else ""
            self.evidence.append(
                f"{self.url.host}{cname} resolves to {ips}{ttl} via {dns.resolver}"
            )
        answered_ips = {p.ip for p in self.public if p.ip}
        if len(answered_ips) > 1:
            bad = sorted({p.ip for p in self.public if p.ip and not is_up(p)})
            if bad and len(bad) < len(answered_ips):
                self.evidence.append(
                    f"{len(bad)} of {len(answered_ips)} addresses fail ({', '.join(bad)}); the others answer"
                )
        runs = {p.run for p in self.public}
        if len(runs) > 1:
            mix = Counter(_outcome(p) for p in self.public)
            parts = ", ".join(f"{k}×{v}" for k, v in mix.most_common())
            self.evidence.append(f"{len(runs)} runs on the public URL: {parts}")
            per_run = {run: {p.ip for p in self.public if p.run == run and p.ip} for run in runs}
            if len({frozenset(ips) for ips in per_run.values()}) > 1:
                seen = ", ".join(dict.fromkeys(p.ip for p in self.public if p.ip))
                self.evidence.append(
                    f"the name resolved to different addresses across runs (edge drift): {seen}"
                )
        self.evidence.append(f"Public: {_describe(main)}")
        if o is not None:
            self.evidence.append(
                f"Origin bypass ({self.origin.display if self.origin else o.ip},"
                f" Host {self.url.netloc}): {_describe(o)}"
            )
        for p in (main, o):
            if p is None or p.tls is None:
                continue
            t = p.tls
            if t.days_left is not None and t.days_left < 0:
                self.evidence.append(
                    f"{p.target} certificate for {t.subject} expired {-t.days_left} day(s) ago"
                )
            elif t.days_left is not None and t.days_left <= 14:
                self.evidence.append(
                    f"{p.target} certificate for {t.subject} expires in {t.days_left} day(s)"
                )
            if t.verify_error and p.error is not None:
                sans = ", ".join(t.sans[:4]) or "none"
                self.evidence.append(
                    f"{p.target} certificate: subject {t.subject}, SANs {sans},"
                    f" issuer {t.issuer}: {t.verify_error}"
                )

    # --- rules ----------------------------------------------------------------------------

    def _workers_exhausted(self) -> _Draft | None:
        """Fast failures beside slow successes under repeated or concurrent load."""
        if len({p.run for p in self.public}) < 2:
            return None
        # Only addresses that both succeed and fail: an edge that always fails is a bad edge.
        mixed = {p.ip for p in self.public if is_up(p)} & {
            p.ip for p in self.public if not is_up(p)
        }
        ups = [p for p in self.public if is_up(p) and p.ip in mixed]
        downs = [p for p in self.public if not is_up(p) and p.ip in mixed]
        if not ups or not downs:
            return None
        up_ms = statistics.median(p.timings.total or 0 for p in ups)
        down_ms = statistics.median(p.timings.total or 0 for p in downs)
        gateway_errors = [p for p in downs if p.status is not None and p.status in (502, 503, 504)]
        timeouts = [
            p
            for p in downs
            if p.error and p.error.kind in (ErrorKind.READ_TIMEOUT, ErrorKind.CONNECT_TIMEOUT)
        ]
        fast_gateway = gateway_errors and down_ms < up_ms / 2
        if not (fast_gateway or len(timeouts) == len(downs)):
            return None
        who = (
            attribute(
                gateway_errors[0].status or 502,
                gateway_errors[0].headers,
                gateway_errors[0].body_excerpt,
                reason=gateway_errors[0].reason,
            )
            if gateway_errors
            else None
        )
        self.evidence.append(
            f"{len(downs)} of {len(self.public)} requests failed in {_ms(down_ms)} (median) while "
            f"{len(ups)} succeeded in {_ms(up_ms)}: the upstream answers some requests and turns others away"
        )
        return _Draft(
            Cause.WORKERS_EXHAUSTED,
            0.75 if fast_gateway else 0.6,
            Hop.ORIGIN,
            who.generated_by if who else None,
            alternatives=(Cause.TIMEOUT,),
            summary="",
        )

    def _keepalive_race(self, main: Probe) -> _Draft | None:
        """Intermittent instant 502s or resets beside quick successes while the origin answers."""
        race = keepalive_race(self.public, self.origin_probes, concurrent=self.concurrent)
        if race is None:
            return None
        failure = race.failure
        who = (
            attribute(failure.status, failure.headers, failure.body_excerpt)
            if failure.status is not None
            else None
        )
        generated_by = who.generated_by if who is not None else None
        what = f"a {failure.status}" if failure.status is not None else "a reset"
        self.evidence.append(
            f"{race.failed} of {race.total} requests failed with {what} within"
            f" {_ms(race.fail_ms)} (median) while the others succeeded in {_ms(race.ok_ms)}:"
            " the failures did not wait on any timeout, and the upstream answers the other runs"
        )
        if race.origin_up:
            self.evidence.append(
                "the origin answers every direct request, so the app is up: the connections"
                " the proxy reuses are what fail"
            )
        self.lead_steps = phrase_steps("keepalive_race")
        origin = " while the origin answers every time" if race.origin_up else ""
        public = _public_attribution(main)  # who generated the public answer, as _finish says
        shown = public.generated_by if public is not None else None
        by = f" ({_outcome(main)} generated by {shown})" if shown not in (None, "origin") else ""
        summary = (
            f"{self.url.host} fails in {race.failed} of {race.total} requests{by}, each within"
            f" {_ms(race.fail_ms)}, while the others succeed{origin}: a keep-alive race, the app"
            " closes idle connections the proxy still reuses. Raise the app's keep-alive timeout"
            " above the proxy's idle timeout (gunicorn `--keep-alive`, Node"
            " `server.keepAliveTimeout`, above nginx's `keepalive_timeout` in `upstream{}` or"
            " the load balancer's idle timeout, 60 s on AWS ALB)."
        )
        behind_proxy = generated_by not in (None, "origin")
        return _Draft(
            Cause.PROTOCOL,
            (0.75 if race.origin_up else 0.6) - (0.1 if race.failed < 2 else 0.0),
            Hop.EDGE_TO_ORIGIN if behind_proxy else Hop.ORIGIN,
            generated_by,
            alternatives=(Cause.ORIGIN_DOWN, Cause.WORKERS_EXHAUSTED),
            code=who.code if who is not None else None,
            summary=summary,
        )

    def _protocol_mismatch(self) -> _Draft | None:
        """HTTP/2 and HTTP/1.1 disagree on the same address."""
        for retry in self.retries:
            first = next(
                (
                    p
                    for p in (*self.public, *self.origin_probes)
                    if p.target == retry.target and p.ip == retry.ip and p.http2_attempted
                ),
                None,
            )
            if first is None or is_up(first) == is_up(retry):
                continue
            working, broken = ("HTTP/1.1", "HTTP/2") if is_up(retry) else ("HTTP/2", "HTTP/1.1")
            bad = first if is_up(retry) else retry
            self.evidence.append(
                f"{retry.target} {retry.ip}: the server negotiates HTTP/2; over {broken} it fails "
                f"({_describe(bad)}), over {working} it works"
            )
            hop = Hop.ORIGIN if retry.target == "origin" else Hop.EDGE
            return _Draft(Cause.PROTOCOL, 0.85, hop, None if bad.status is None else "origin")
        return None

    def _from_public(self, main: Probe) -> _Draft:
        if main.status is None:
            assert main.error is not None
            cause, confidence, alternatives = _KIND_CAUSE[main.error.kind]
            hop = Hop.EDGE if main.error.kind in _EDGE_KINDS else Hop.ORIGIN
            return _Draft(cause, confidence, hop, None, alternatives)
        att = attribute(main.status, main.headers, main.body_excerpt, reason=main.reason)
        self.evidence.extend(att.evidence)
        if (
            main.error is not None
        ):  # answered, but the response is unusable (huge headers, cut body)
            cause, confidence, alternatives = _KIND_CAUSE[main.error.kind]
            return _Draft(cause, confidence, Hop.ORIGIN, att.generated_by, alternatives, att.code)
        if att.generated_by == "origin":
            return self._origin_generated(main, att)
        return self._gateway_generated(main, att)

    def _origin_generated(self, main: Probe, att: Attribution) -> _Draft:
        status = main.status or 0
        if att.cause is not None:
            return _Draft(att.cause, 0.6, Hop.ORIGIN, "origin", att.alternatives, att.code)
        if status == 503:
            return _Draft(
                Cause.WORKERS_EXHAUSTED, 0.45, Hop.ORIGIN, "origin", (Cause.UNKNOWN,), att.code
            )
        if status == 504:
            return _Draft(Cause.TIMEOUT, 0.55, Hop.ORIGIN, "origin", (), att.code)
        if status == 502:
            return _Draft(
                Cause.UNKNOWN,
                0.35,
                Hop.ORIGIN,
                "origin",
                (),
                att.code,
                summary="The origin itself answered 502: a layer inside it"
                " (its own proxy or app server) is failing.",
            )
        return _Draft(
            Cause.UNKNOWN,
            0.3,
            Hop.ORIGIN,
            "origin",
            (),
            att.code,
            summary=f"The origin answered {status}: an application error, not a gateway error.",
        )

    def _gateway_generated(
        self, main: Probe, att: Attribution, *, speaker: str = "the gateway"
    ) -> _Draft:
        """The cause a gateway's own page implies; ``speaker`` names that gateway in evidence."""
        server = _server_ms(main)
        if (
            att.cause is Cause.TIMEOUT
            and main.status == 502
            and server is not None
            and server < FAST_MS
        ):
            # A 502 read as a timeout (Apache's "Error reading from remote server") that came
            # within milliseconds did not wait for anything: the same words cover a reset or a
            # closed connection. A 504 or a timeout code stays a timeout even when fast (a
            # cached error page).
            self.evidence.append(
                f"{speaker} reported a timeout-like error after only {_ms(server)}:"
                " its upstream closed or reset the connection rather than being slow"
            )
            return _Draft(
                Cause.ORIGIN_DOWN,
                0.45,
                Hop.ORIGIN,
                att.generated_by,
                (Cause.PROTOCOL, Cause.TIMEOUT),
                att.code,
            )
        if att.cause is Cause.ORIGIN_DOWN and server is not None and server > 900:
            # A refused connect fails within milliseconds; a "backend unavailable" page after a
            # wait means the connect went unanswered (Apache's 503 after `connectiontimeout`)
            # or the gateway retried (HAProxy's `retries`), so both stay open.
            self.evidence.append(
                f"the gateway waited {_ms(server)} before reporting its upstream unavailable:"
                " a refused connection fails at once, so its connect went unanswered (packets"
                " dropped) or it retried"
            )
            return _Draft(
                Cause.ORIGIN_DOWN,
                0.45,
                Hop.ORIGIN,
                att.generated_by,
                (Cause.FIREWALL, *(c for c in att.alternatives if c is not Cause.FIREWALL)),
                att.code,
                timed=True,
            )
        if att.cause is not None:
            return _Draft(
                att.cause,
                0.8 if not att.alternatives else 0.6,
                _HOP_FOR_CAUSE.get(att.cause, Hop.ORIGIN),
                att.generated_by,
                att.alternatives,
                att.code,
            )
        if main.status == 504:
            return _Draft(
                Cause.TIMEOUT, 0.5, Hop.ORIGIN, att.generated_by, (Cause.FIREWALL,), att.code
            )
        alternatives = tuple(c for c in att.alternatives if c is not Cause.ORIGIN_DOWN) or (
            Cause.PROTOCOL,
            Cause.TLS,
            Cause.DNS,
            Cause.FIREWALL,
        )
        if server is not None and server > 900:
            self.evidence.append(
                f"{speaker} waited {_ms(server)} before answering:"
                " it gave up on a slow or unreachable upstream"
            )
            return _Draft(
                Cause.TIMEOUT,
                0.45,
                Hop.ORIGIN,
                att.generated_by,
                (Cause.FIREWALL, *alternatives),
                att.code,
                timed=True,
            )
        self.evidence.append(
            f"{speaker} answered in {_ms(server)}: its upstream failed at once"
            " (refused, reset, bad response), not by timing out"
        )
        return _Draft(Cause.ORIGIN_DOWN, 0.45, Hop.ORIGIN, att.generated_by, alternatives, att.code)

    def _with_origin(self, draft: _Draft, main: Probe, o: Probe) -> _Draft:
        """Refine with the origin bypass: the direct word of the origin outranks inference."""
        if o.error is not None and o.error.kind is ErrorKind.BLOCKED_ADDRESS:
            return draft
        if is_up(o) and draft.hop is Hop.EDGE:
            self.evidence.append(
                "the origin answers directly, so the application is up: the public edge itself"
                " (its name, address or certificate) is what fails"
            )
            return draft
        if _unmarked_error_denied(main, o):
            self.evidence.append(
                f"no gateway's page or code marks the public {main.status}, yet the origin"
                f" answers us {o.status} directly: a gateway this check does not recognise"
                " generated it, or the edge forwards to another upstream than the one checked"
            )
        if is_up(o):
            return self._origin_healthy(draft, main, o)
        if draft.hop is Hop.EDGE:
            # The public request failed before any gateway answered: that is the first broken
            # hop, whatever else the origin does.
            self.evidence.append(
                f"the origin bypass fails as well ({_outcome(o)}), but the public request fails"
                " before it reaches any gateway: the public edge is the first thing to fix"
            )
            return draft
        hung = o.error is not None and o.error.kind is ErrorKind.READ_TIMEOUT
        if hung and _turned_away_at_once(draft, main):
            return self._kept_waiting(draft, o)
        if o.status is None and o.error is not None:
            cause, confidence, alternatives = _KIND_CAUSE[o.error.kind]
            edge_connected = (
                draft.cause is Cause.TIMEOUT and draft.code is not None and not draft.timed
            )
            if edge_connected and o.error.kind in _NO_ROUTE_FOR_US:
                self.evidence.append(
                    f"the origin does not accept our connection ({o.error.kind.value}), which is"
                    f" expected when it only accepts the edge; the edge's code {draft.code}"
                    " shows the edge did connect"
                )
                return draft
            if o.error.kind.value.startswith("dns_"):
                self.evidence.append(
                    f"the origin name {self.origin.host if self.origin else ''} does not resolve:"
                    " the edge cannot find its upstream"
                )
                return _Draft(
                    Cause.DNS, 0.85, Hop.EDGE_TO_ORIGIN, draft.generated_by, (), draft.code
                )
            if (
                draft.cause is not cause
                and draft.cause is not Cause.UNKNOWN
                and draft.code is not None
            ):
                alternatives = (draft.cause, *alternatives)
            return _Draft(
                cause,
                min(0.95, confidence + 0.1),
                Hop.ORIGIN,
                draft.generated_by,
                alternatives,
                draft.code,
            )
        if o.error is not None:
            return self._origin_unusable(draft, main, o)
        # The origin answered with an error status of its own.
        o_att = attribute(o.status or 0, o.headers, o.body_excerpt)
        returns = "returns" if o.status == main.status else "itself returns"
        too = " too" if o.status == main.status else ""
        self.evidence.append(
            f"the origin {returns} {o.status}{too}: the problem is at the origin,"
            " the edge only reports it"
        )
        if o_att.generated_by != "origin":
            self._origin_marks(o_att)
            inner = self._gateway_generated(o, o_att, speaker="the gateway inside the origin")
            inner.hop = Hop.ORIGIN
        else:
            inner = self._origin_generated(o, o_att)
            if not (draft.generated_by == "origin" and main.status == o.status):
                inner.summary = ""  # it speaks of the origin's answer, not the public one
        return inner

    def _kept_waiting(self, draft: _Draft, o: Probe) -> _Draft:
        """The gateway failed at once, yet the origin keeps us waiting: it did not time out."""
        self.evidence.append(
            f"the origin keeps us waiting ({_outcome(o)} after {_ms(o.timings.total)}) while the"
            " gateway was turned away at once: an overloaded origin (workers or listen queue"
            " full) accepts some connections and answers none, and refuses others"
        )
        return _Draft(
            Cause.WORKERS_EXHAUSTED,
            0.6,
            Hop.ORIGIN,
            draft.generated_by,
            (Cause.TIMEOUT, Cause.ORIGIN_DOWN),
            draft.code,
        )

    def _origin_marks(self, o_att: Attribution) -> None:
        """Say what marks the origin's own answer carries, apart from the public response's."""
        self.evidence.extend(f"the origin's own answer: {e}" for e in o_att.evidence[:1])

    def _origin_unusable(self, draft: _Draft, main: Probe, o: Probe) -> _Draft:
        """The origin answered us, but with a response no client can use (huge headers, a body
        cut short or stalled, a broken redirect)."""
        assert o.error is not None
        kind = o.error.kind
        cause, confidence, alternatives = _KIND_CAUSE[kind]
        relayed = main.error is not None and main.error.kind is kind
        if kind is ErrorKind.HEADERS_TOO_LARGE and not relayed:
            self.evidence.append(
                f"the origin answers {o.status}, but its response headers are"
                f" {o.header_bytes // 1024} KiB, more than a proxy's default buffer"
                " (nginx proxy_buffer_size 4-8 KiB): the edge cannot take the origin's response"
            )
            return _Draft(
                cause, confidence, Hop.EDGE_TO_ORIGIN, draft.generated_by, alternatives, draft.code
            )
        edge = "relays it as it is" if relayed else "only reports it"
        self.evidence.append(
            f"the origin answers {o.status}, but its response is unusable ({kind.value}):"
            f" the problem is at the origin, the edge {edge}"
        )
        if draft.cause is not cause and draft.cause is not Cause.UNKNOWN and draft.code is not None:
            alternatives = (draft.cause, *alternatives)
        return _Draft(cause, confidence, Hop.ORIGIN, draft.generated_by, alternatives, draft.code)

    def _origin_healthy(self, draft: _Draft, main: Probe, o: Probe) -> _Draft:
        """The public URL fails while the origin answers us directly."""
        o_ms = o.timings.total or 0.0
        p_ms = main.timings.total or 0.0
        if draft.cause is Cause.TIMEOUT and o_ms >= p_ms * 0.5:
            self.evidence.append(
                f"the origin answers, but takes {_ms(o_ms)}; the edge gave up after {_ms(p_ms)}:"
                " the origin is too slow for the edge's timeout"
            )
            return _Draft(
                Cause.TIMEOUT,
                0.8,
                Hop.ORIGIN,
                draft.generated_by,
                (Cause.WORKERS_EXHAUSTED,),
                draft.code,
            )
        if (
            draft.code is not None
            and not draft.timed
            and draft.cause not in (Cause.ORIGIN_DOWN, Cause.UNKNOWN)
        ):
            draft.hop = Hop.EDGE_TO_ORIGIN  # the platform's own code names the cause
            return self._with_code_mismatch(draft, main, o)
        if (
            draft.code is None  # a platform's code (Envoy's UF, Cloudflare's 521) says more
            and draft.generated_by not in (None, "origin")  # a gateway's own error page
            and draft.cause in _FAST_LINK_SUSPECTS
            and link_failed_fast(main)
            and o.header_bytes <= LARGE_HEADERS
        ):
            return self._fast_link(draft, main, o)
        if draft.cause not in _LINK_SUSPECTS:
            draft.hop = Hop.EDGE_TO_ORIGIN
            return draft
        if o.header_bytes > LARGE_HEADERS:
            self.evidence.append(
                f"the origin's response headers are {o.header_bytes // 1024} KiB, more than"
                " a proxy's default buffer (nginx proxy_buffer_size 4-8 KiB)"
            )
            return _Draft(
                Cause.PROTOCOL,
                0.75,
                Hop.EDGE_TO_ORIGIN,
                draft.generated_by,
                (Cause.FIREWALL,),
                draft.code,
            )
        slow = draft.cause is Cause.TIMEOUT or (_server_ms(main) or 0.0) > 900
        how = f"gives up after {_ms(p_ms)}" if slow else "fails at once"
        if draft.code is not None and not draft.timed:
            how = f"reports the origin down (code {draft.code})"
        self.evidence.append(
            f"the origin answers us in {_ms(o_ms)}, so the application is up, but the edge {how}:"
            " the edge cannot reach the origin (blocked, or pointed at the wrong address)"
        )
        return _Draft(
            Cause.FIREWALL,
            0.65,
            Hop.EDGE_TO_ORIGIN,
            draft.generated_by,
            (Cause.DNS, Cause.TLS, Cause.PROTOCOL),
            draft.code,
        )

    def _asked(self, o: Probe) -> OriginProtocols | None:
        """What the origin answered the other way, if it was asked at this probe's address."""
        found = self.protocols
        if found is None or (o.ip is not None and found.ip != o.ip) or found.port != o.port:
            return None
        return found

    def _with_code_mismatch(self, draft: _Draft, main: Probe, o: Probe) -> _Draft:
        """A platform's code says the TLS handshake failed (Cloudflare's 525) or the upstream
        broke the protocol (Envoy's UPE): where the origin was asked, name the mismatch its
        answers leave that fits the code, keeping the code's cause."""
        found = self._asked(o)
        if found is None:
            return draft
        if draft.cause is Cause.TLS:
            fits = {"tls_to_plain"}  # the proxy did speak TLS: the origin does not
        elif draft.cause is Cause.PROTOCOL and draft.code in _PROTOCOL_ERROR_CODES:
            fits = {"h2_to_http1", "http1_to_h2"}
        else:
            return draft
        same = tuple(m for m in mismatches(found, draft.generated_by) if m.kind in fits)
        if same:
            self.evidence.append(
                f"asked the other way on {_host_port(found.ip, found.port)}: "
                + "; ".join(found.notes)
            )
            draft.mismatches = same
            draft.summary = f"{self._summary(draft, main).removesuffix('.')}: {same[0].sentence}."
        return draft

    def _fast_link(self, draft: _Draft, main: Probe, o: Probe) -> _Draft:
        """The proxy failed within milliseconds while the origin answers us: not a firewall
        (a dropped SYN makes a proxy wait), but a connection that fails at once. What the origin
        speaks, asked the other way, says whether the two sides speak different protocols."""
        server = _server_ms(main)
        who = draft.generated_by
        port = self.origin.port if self.origin else o.port
        self.evidence.append(
            f"the origin answers us in {_ms(o.timings.total)} while {who} failed in"
            f" {_ms(server)}: a firewall dropping packets does not fail that fast (the proxy"
            " would wait, then time out)"
        )
        found = self._asked(o)
        if found is None:
            self.evidence.append(
                "the origin was not asked the other way (TLS vs plain, HTTP/2 vs HTTP/1.1):"
                " no time was left before the deadline"
            )
            return _Draft(
                Cause.ORIGIN_DOWN,
                0.4,
                Hop.EDGE_TO_ORIGIN,
                draft.generated_by,
                (Cause.PROTOCOL, Cause.TLS, Cause.FIREWALL),
                draft.code,
                summary=f"{self.url.host} returns {main.status} generated by {who} in"
                f" {_ms(server)} while the origin answers us on {port}: probably the proxy"
                " dials another address or port than the origin listens on, or speaks"
                " another protocol to it (TLS or HTTP/2).",
            )
        self.evidence.append(
            f"asked the other way on {_host_port(found.ip, found.port)}: " + "; ".join(found.notes)
        )
        options = mismatches(found, draft.generated_by)
        subject = f"{self.url.host} returns {main.status} generated by {who} in {_ms(server)}"
        if options:
            first, *others = options
            causes = [m.cause for m in others if m.cause is not first.cause]
            alternatives = (*dict.fromkeys(causes), Cause.ORIGIN_DOWN)
            more = "".join(f" (or {m.sentence})" for m in others)
            self.evidence.append(
                "a proxy dialing another address or port than the origin's would fail as fast:"
                " the mismatch is what the origin's answers allow, the proxy's config confirms it"
            )
            return _Draft(
                first.cause,
                0.8 if not others else 0.6,
                Hop.EDGE_TO_ORIGIN,
                draft.generated_by,
                alternatives,
                draft.code,
                summary=f"{subject} while the origin answers: {first.sentence}{more}.",
                mismatches=options,
            )
        speaks = _speaks(found) or "nothing we asked"
        self.evidence.append(
            f"the origin speaks {speaks} on {port}: no protocol mismatch explains the failure"
        )
        return _Draft(
            Cause.ORIGIN_DOWN,
            0.5,
            Hop.EDGE_TO_ORIGIN,
            draft.generated_by,
            (Cause.FIREWALL, Cause.PROTOCOL),
            draft.code,
            summary=f"{subject} while the origin answers us on {port} and speaks {speaks}:"
            " probably the proxy dials another address or port than the origin listens on"
            " (its upstream config), or something rejects its connection.",
        )

    # --- output ---------------------------------------------------------------------------

    def _ok_summary(self, main: Probe, o: Probe | None) -> str:
        text = f"{self.url.host} answers {main.status} in {_ms(main.timings.total)}"
        if o is None or is_up(o):
            return text + "."
        if o.error is not None and o.error.kind is ErrorKind.BLOCKED_ADDRESS:
            return f"{text}; the origin bypass was not checked: {o.error.message}."
        if o.error is None:
            return (
                f"{text}; the origin, asked directly, answers {o.status}: the edge may serve"
                " a cached copy, or the origin treats requests that skip the edge differently."
            )
        return (
            f"{text}; the origin bypass fails ({_outcome(o)}),"
            " which is expected if the origin only accepts the edge."
        )

    def _finish(self, draft: _Draft, main: Probe, o: Probe | None) -> Verdict:
        # Every rule's draft passes here: who generated the public response, and the code it
        # carries, are read from that response alone, never from the origin or other probes.
        public = _public_attribution(main) if draft.cause is not Cause.OK else None
        draft.generated_by = public.generated_by if public else None
        draft.code = public.code if public else None
        summary = draft.summary or self._summary(draft, main, o)
        steps: list[str] = list(self.lead_steps)
        if (
            draft.cause is not Cause.OK
            and self.origin is None
            and draft.generated_by not in (None, "origin")
        ):
            steps.append(
                "Run the check again with the origin bypass (`origin=<IP or host:port>` in chat,"
                " `--origin` on the command line) to ask the origin directly (same Host and SNI),"
                " which tells the edge and the origin apart."
            )
        # Without the bypass an inferred hop is a guess: its advice ("the origin fails too")
        # would state more than was seen. Edge failures were seen directly.
        seen_hop = draft.hop if self.origin is not None or draft.hop is Hop.EDGE else None
        advice = advice_for(draft.cause, draft.generated_by, seen_hop)
        if draft.mismatches and self.origin is not None:
            # The fix for the mismatch first; certificate renewal and the like do not apply.
            address = _host_port(self.origin.host, self.origin.port)
            origin_tls = self.protocols is not None and self.protocols.tls is True
            steps.extend(
                fix_steps(draft.mismatches, draft.generated_by, address, origin_tls=origin_tls)
            )
            steps.append(
                "Confirm from the proxy host what the origin speaks: "
                f"`curl -v http://{address}/` and `curl -vk https://{address}/`"
                f" (and `curl -v --http2-prior-knowledge http://{address}/`);"
                " the one that answers is what the proxy must speak."
            )
            steps.append(LOG_STEP)
            # The cause's own advice is about certificates and buffers, not this mismatch.
            advice = (
                *advice_for(Cause.PROTOCOL, None, Hop.EDGE_TO_ORIGIN)[:1],
                *advice_for(Cause.ORIGIN_DOWN, None, Hop.EDGE_TO_ORIGIN)[:1],
            )
        steps.extend(self._fill(step, o) for step in advice)
        failed_fast = link_failed_fast(main) or (
            main.status is None and main.error is not None and main.error.kind in _FAST_KINDS
        )
        alternatives = tuple(dict.fromkeys(c for c in draft.alternatives if c is not draft.cause))
        return Verdict(
            cause=draft.cause,
            generated_by=draft.generated_by,
            hop=draft.hop if draft.cause is not Cause.OK else None,
            confidence=round(max(0.0, min(1.0, draft.confidence)), 2),
            summary=summary,
            evidence=tuple(dict.fromkeys(self.evidence)),
            next_steps=arrange(steps, failed_fast=failed_fast),
            reproduce=reproduce(self.url, main, self.origin, o),
            alternatives=alternatives,
            code=draft.code,
            mismatch=draft.mismatches[0] if draft.mismatches else None,
            other_mismatches=draft.mismatches[1:],
        )

    def _fill(self, step: str, o: Probe | None) -> str:
        """Put this check's host, port and origin address into an advice template."""
        step = _HOST.sub(self.url.host, step)
        if self.origin is None:
            return step
        ip = o.ip if o is not None and o.ip else self.origin.host
        step = _PORT.sub(str(self.origin.port), step)
        step = _placeholder(_ORIGIN_IP, ip, step)
        return _placeholder(_ORIGIN, self.origin.host, step)

    def _summary(self, draft: _Draft, main: Probe, o: Probe | None = None) -> str:
        what = _outcome(main)
        # An unmarked error status reads as the origin's own, unless the origin answers us without one.
        from_origin = (
            " with no gateway's marks" if _unmarked_error_denied(main, o) else " from the origin"
        )
        who = {None: "", "origin": from_origin}.get(
            draft.generated_by, f" generated by {draft.generated_by}"
        )
        code = f" (code {draft.code})" if draft.code else ""
        where = {
            Hop.EDGE: "at the public edge",
            Hop.EDGE_TO_ORIGIN: "between the edge and the origin",
            Hop.ORIGIN: "at the origin",
            None: "",
        }[draft.hop]
        maybe = "probably " if draft.confidence < 0.6 else ""
        place = f", {where}" if where else ""
        phrase = _CAUSE_PHRASE[draft.cause]
        if draft.cause is Cause.ORIGIN_DOWN and draft.hop is Hop.EDGE:
            phrase = "nothing accepts the connection at the public address"
        subject, verb = self.url.host, "returns"
        ips = {p.ip for p in self.public if p.ip}
        failing = {p.ip for p in self.public if p.ip and not is_up(p)}
        if 0 < len(failing) < len(ips):
            subject, verb = f"{len(failing)} of {len(ips)} addresses of {self.url.host}", "return"
        return f"{subject} {verb} {what}{who}{code}: {maybe}{phrase}{place}."


def healthy(url: TargetURL, main: Probe) -> Verdict:
    """The verdict of a check whose every answer met what its caller expects (the fast path
    :func:`checks.diagnose` takes with ``expect``): cause OK, the same summary the full
    reasoning would write, and no evidence, steps or ``curl`` lines (nothing to reason about)."""
    return Verdict(
        cause=Cause.OK,
        generated_by=None,
        hop=None,
        confidence=0.95,
        summary=f"{url.host} answers {main.status} in {_ms(main.timings.total)}.",
        evidence=(),
        next_steps=(),
        reproduce=(),
    )


def decide(
    url: TargetURL,
    origin: OriginTarget | None,
    public: Sequence[Probe],
    origin_probes: Sequence[Probe],
    retries: Sequence[Probe],
    *,
    dns: DnsResult | None = None,
    concurrency: int = 1,
    protocols: OriginProtocols | None = None,
) -> Verdict:
    """The verdict for one diagnosis. Pure: the same probes always give the same verdict.

    ``concurrency`` is how many runs were in flight at once: concurrent runs can exhaust the
    origin's workers themselves, which the keep-alive race must then rule out. ``protocols`` is
    what the origin speaks, asked the other way (see :mod:`checks.protocols`) when the public
    side failed fast while the origin answered.
    """
    reasoner = _Reasoner(url, origin, public, origin_probes, retries, dns, protocols)
    reasoner.concurrent = concurrency > 1
    return reasoner.decide()
