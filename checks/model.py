"""The values the diagnosis engine returns.

Everything here is a frozen, slotted dataclass or a string enum: plain data with no formatting
methods. Surfaces (the command line, chat adapters) render these values; storage serialises them
through :func:`checks.jsonout.diagnosis_to_dict`.

Timings follow curl's ``-w`` variables: every figure is cumulative milliseconds from the start of
the probe (``dns`` = ``time_namelookup``, ``connect`` = ``time_connect``, ``tls`` =
``time_appconnect``, ``ttfb`` = ``time_starttransfer``, ``total`` = ``time_total``). A phase that
did not happen (no TLS on plain HTTP, no first byte after a refused connection) is ``None``.
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checks.request import RequestSpec


class Cause(enum.StrEnum):
    """The seven causes of a 502 from the guide, plus ``ok`` and ``unknown``."""

    OK = "ok"
    ORIGIN_DOWN = "origin_down"
    WORKERS_EXHAUSTED = "workers_exhausted"
    FIREWALL = "firewall"
    DNS = "dns"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROTOCOL = "protocol"
    UNKNOWN = "unknown"


class Hop(enum.StrEnum):
    """Which hop of the path is broken."""

    EDGE = "edge"
    """The public name or edge itself fails (DNS, TLS, refused)."""
    EDGE_TO_ORIGIN = "edge_to_origin"
    """The public URL fails while the origin answers directly: the link between them is broken."""
    ORIGIN = "origin"
    """The origin fails too, or it generated the error itself."""


class Finding(enum.StrEnum):
    """What a check found wrong with an answer that is not one of the seven 502 causes."""

    KEYWORD_MISSING = "keyword_missing"
    """The keyword that must appear is not in the body (read up to ``BODY_DRAIN`` bytes)."""
    KEYWORD_PRESENT = "keyword_present"
    """The keyword that must not appear is in the body."""
    SLOW = "slow"
    """The answer took longer than the latency threshold."""
    AUTH_UNSET = "auth_unset"
    """The environment variable holding the credentials is not set: nothing was sent."""


FINDING_WORDS = {
    Finding.KEYWORD_MISSING: "keyword missing",
    Finding.KEYWORD_PRESENT: "keyword present",
    Finding.SLOW: "slow",
    Finding.AUTH_UNSET: "credentials not set",
}
"""The plain outcome each finding is called by, in replies and monitor history."""


class ErrorKind(enum.StrEnum):
    """Why a probe got no usable HTTP response. One per failed probe."""

    DNS_NXDOMAIN = "dns_nxdomain"
    DNS_SERVFAIL = "dns_servfail"
    DNS_TIMEOUT = "dns_timeout"
    DNS_NO_RECORDS = "dns_no_records"
    CONNECT_REFUSED = "connect_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_UNREACHABLE = "connect_unreachable"
    TLS_EXPIRED = "tls_expired"
    TLS_HOSTNAME_MISMATCH = "tls_hostname_mismatch"
    TLS_UNTRUSTED = "tls_untrusted"
    TLS_HANDSHAKE = "tls_handshake"
    READ_TIMEOUT = "read_timeout"
    PREMATURE_CLOSE = "premature_close"
    INVALID_RESPONSE = "invalid_response"
    HEADERS_TOO_LARGE = "headers_too_large"
    BODY_TRUNCATED = "body_truncated"
    BLOCKED_ADDRESS = "blocked_address"
    """The address is refused by the address policy (private, loopback, metadata...)."""
    TOO_MANY_REDIRECTS = "too_many_redirects"


@dataclass(frozen=True, slots=True)
class ProbeError:
    kind: ErrorKind
    message: str


@dataclass(frozen=True, slots=True)
class DnsRecord:
    ip: str
    family: int  # 4 or 6
    ttl: int | None  # None when the answer came from /etc/hosts or an IP literal


@dataclass(frozen=True, slots=True)
class DnsResult:
    name: str
    resolver: str
    """Who answered: ``"127.0.0.1:5353"``, ``"system (10.0.0.2)"``, ``"hosts file"``, ``"literal"``."""
    records: tuple[DnsRecord, ...]
    duration_ms: float
    error: ProbeError | None = None
    cname: str | None = None

    @property
    def ips(self) -> tuple[str, ...]:
        return tuple(r.ip for r in self.records)

    @property
    def ttl(self) -> int | None:
        """Seconds this answer may be kept: its records' lowest TTL. None when no record has
        one (an IP literal, ``localhost``, the hosts file, a failed lookup)."""
        ttls = [r.ttl for r in self.records if r.ttl is not None]
        return min(ttls) if ttls else None


@dataclass(frozen=True, slots=True)
class Timings:
    """Cumulative milliseconds from the start of the probe, as curl's ``-w`` reports them."""

    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    ttfb: float | None = None
    total: float | None = None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    subject: str | None
    sans: tuple[str, ...]
    issuer: str | None
    not_after: datetime | None
    days_left: int | None
    verified: bool
    version: str | None = None
    alpn: str | None = None
    verify_error: str | None = None


Target = str  # "public" or "origin"


@dataclass(frozen=True, slots=True)
class Probe:
    """One HTTP request to one IP, and what came back."""

    target: Target
    url: str
    host: str
    ip: str | None
    port: int
    resolved: tuple[DnsRecord, ...]
    status: int | None
    http_version: str | None
    reason: str | None
    headers: tuple[tuple[str, str], ...]
    header_bytes: int
    body_excerpt: str
    timings: Timings
    error: ProbeError | None
    tls: TlsInfo | None
    location: str | None = None
    run: int = 0
    http2_attempted: bool = False
    protocol_retry: bool = False
    """True for the HTTP/1.1 repeat of a request that negotiated HTTP/2 (mismatch check)."""
    redirects: tuple[str, ...] = ()
    """URLs followed before this response, oldest first (only with ``follow``)."""
    findings: tuple[Finding, ...] = ()
    """What this answer fails of the check's request spec (keyword, latency threshold)."""

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def answered(self) -> bool:
        return self.status is not None


@dataclass(frozen=True, slots=True)
class OriginProtocols:
    """What the origin speaks on one address and port, asked every way (TLS or plain text,
    HTTP/1.1 or HTTP/2). Asked only when the evidence points at the edge-to-origin link.

    Each answer is True (it speaks that), False (it answered, in another protocol, or closed
    on it) or None (not asked, or no answer before the check's deadline).
    """

    ip: str
    port: int
    plain_http1: bool | None = None
    """Answers an HTTP/1.1 request sent in plain text."""
    h2c: bool | None = None
    """Answers HTTP/2 with prior knowledge in plain text (``h2c``, what ``grpc_pass`` sends)."""
    tls: bool | None = None
    """Completes a TLS handshake."""
    tls_http1: bool | None = None
    """Answers an HTTP/1.1 request over TLS."""
    tls_h2: bool | None = None
    """Picks ``h2`` by ALPN over TLS and opens with an HTTP/2 SETTINGS frame."""
    notes: tuple[str, ...] = ()
    """What each question got, one sentence each, for the evidence."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The proxy and the origin speak different protocols on the edge-to-origin link."""

    kind: str
    """``plain_to_tls``, ``tls_to_plain``, ``h2_to_http1`` or ``http1_to_h2``."""
    proxy_speaks: str
    """What the proxy must be speaking for this mismatch (``"plain HTTP"``, ``"HTTP/2"``...)."""
    origin_speaks: str
    """What the origin speaks instead (``"TLS"``, ``"plain HTTP"``, ``"HTTP/1.1 only"``...)."""
    port: int
    cause: Cause
    sentence: str
    """In words: "the proxy speaks plain HTTP to an origin that speaks TLS on 8443"."""


@dataclass(frozen=True, slots=True)
class Verdict:
    cause: Cause
    generated_by: str | None
    """A fingerprint id (``"nginx"``, ``"cloudflare"``...), ``"origin"``, or None when nothing answered."""
    hop: Hop | None
    confidence: float
    summary: str
    evidence: tuple[str, ...]
    next_steps: tuple[str, ...]
    reproduce: tuple[str, ...]
    alternatives: tuple[Cause, ...] = ()
    """Other causes the evidence does not rule out, most likely first."""
    code: str | None = None
    """The platform's own error code when one was seen (``"521"``, ``"FUNCTION_INVOCATION_FAILED"``)."""
    mismatch: Mismatch | None = None
    """The protocol mismatch named, most likely first, when the evidence found one."""
    other_mismatches: tuple[Mismatch, ...] = ()
    """Other mismatches the origin's answers leave possible (the evidence cannot tell them apart)."""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    url: str
    checked_at: datetime
    verdict: Verdict
    probes: tuple[Probe, ...]
    dns: DnsResult | None = None
    origin: str | None = None
    runs: int = 1
    concurrency: int = 1
    ips_seen: tuple[str, ...] = field(default=())
    status_mix: tuple[tuple[str, int], ...] = field(default=())
    """How often each outcome (a status code or an error kind) was seen on the public URL."""
    runs_done: int = -1
    """How many of ``runs`` finished (fewer when an overall budget cut the check short).
    Left out, it is ``runs``: every run finished."""
    origin_protocols: OriginProtocols | None = None
    """What the origin speaks, asked the other way (TLS vs plain, HTTP/2 vs HTTP/1.1) when the
    public side failed fast while the origin answered; None when it was not asked."""
    findings: tuple[Finding, ...] = ()
    """What the public answers fail of the request spec (keyword missing, slow...), in order."""
    request: RequestSpec | None = None
    """The request sent when it was not a plain GET, without the credentials' values."""

    def __post_init__(self) -> None:
        if self.runs_done < 0:  # frozen: the one place a default is filled in after __init__
            object.__setattr__(self, "runs_done", self.runs)

    @property
    def healthy(self) -> bool:
        return self.verdict.cause is Cause.OK and not self.findings


# Pickled as their class and field values. A shard process sends every scheduled check's
# diagnosis to the front over a pipe (bot.shards); slotted dataclasses pickle through
# ``dataclasses``' generic ``__getstate__``, which calls ``fields()`` for every object:
# about 40 µs to pickle a healthy diagnosis and 50 µs to load it, against 11 µs and 36 µs
# this way (a C attrgetter, then the class's own ``__init__`` on loading).


def _pickled_by_fields(cls: type) -> None:
    names = [f.name for f in fields(cls) if f.init]
    assert len(names) > 1, cls  # attrgetter of one name returns the value, not a tuple
    get = operator.attrgetter(*names)

    def __reduce__(self: object) -> tuple[type, tuple[object, ...]]:
        return cls, get(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]


for _cls in (ProbeError, DnsRecord, DnsResult, Timings, TlsInfo, Probe, OriginProtocols,
             Mismatch, Verdict, Diagnosis):  # fmt: skip
    _pickled_by_fields(_cls)
del _cls
