"""One HTTP request to one pinned IP, measured phase by phase.

The request goes to the IP the caller chose (the DNS answer, or the origin the user gave) while
keeping the public ``Host`` header and TLS SNI: exactly what ``curl --resolve`` does. Connecting
to the pinned IP rather than the name means a second lookup can never switch the address after
the address policy approved it.

The probe opens the connection itself with asyncio, so connect and TLS are timed exactly and
every probe has a connection of its own (never a pooled or multiplexed one); HTTP is then spoken
by the libraries httpx is built on: h11 for HTTP/1.1 (:mod:`checks._http1`) and httpcore's
HTTP/2 connection (:mod:`checks._http2`) when the server picks ``h2`` by ALPN.

Every probe is bounded: one overall deadline (``timeout``) shared by the exchange and the
unverified certificate re-fetch after a TLS failure, at most ``BODY_EXCERPT`` bytes kept and
``BODY_DRAIN`` bytes read, and response headers larger than ``HEADER_LIMIT`` count as a failure.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from dataclasses import dataclass, field, replace

from checks import tlsinfo
from checks._exchange import BODY_DRAIN, BODY_EXCERPT, READ_SIZE, Exchange, Outcome
from checks._http1 import exchange_http1
from checks.errors import Phase, failure, map_exception
from checks.model import DnsRecord, ErrorKind, Finding, Probe, ProbeError, Timings, TlsInfo
from checks.request import PLAIN, RequestSpec
from checks.target import TargetURL
from checks.tlssessions import Offer, ResumingContext, SessionKey, TlsSessions, offering

HEADER_LIMIT = 64 * 1024
USER_AGENT = "check502/0.1"
_REFETCH_KINDS = {
    ErrorKind.TLS_EXPIRED,
    ErrorKind.TLS_HOSTNAME_MISMATCH,
    ErrorKind.TLS_UNTRUSTED,
    ErrorKind.TLS_HANDSHAKE,
}
"""Failures after which the certificate is fetched again, unverified, to show what it says."""
_MIN_LEFT = 0.05
"""Seconds: with less than this left of the probe's deadline, no re-fetch is started."""

__all__ = ["BODY_DRAIN", "BODY_EXCERPT", "HEADER_LIMIT", "ProbeRequest", "Transport", "probe"]


@dataclass(frozen=True, slots=True, eq=False)
class Transport:
    """The engine's network seam: how probes verify TLS.

    Two contexts, because ALPN is a property of the context: one offers ``h2`` and
    ``http/1.1``, the other only ``http/1.1`` (the protocol-mismatch retry). Each is made when
    first needed and then kept: loading a CA bundle costs tens of milliseconds of CPU, which a
    plain-HTTP check never needs (see :meth:`on_demand`).
    """

    ca_bundle: str | None = None
    """PEM file of the CAs to trust; None for certifi's bundle."""
    _contexts: dict[bool, ssl.SSLContext] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def create(cls, *, ca_bundle: str | None = None) -> Transport:
        """Both contexts made now, so a bundle that cannot be read fails here, at start-up."""
        transport = cls(ca_bundle)
        transport.context(http2=True)
        transport.context(http2=False)
        return transport

    @classmethod
    def on_demand(cls, *, ca_bundle: str | None = None) -> Transport:
        """The contexts made by the first TLS probe that needs them (a one-off check)."""
        return cls(ca_bundle)

    def context(self, *, http2: bool) -> ssl.SSLContext:
        """The context offering ``h2`` and ``http/1.1`` (``http2``), or ``http/1.1`` only."""
        made = self._contexts.get(http2)
        if made is None:
            import certifi  # noqa: PLC0415 - with the bundle it names, on first use

            # What ssl.create_default_context() makes, as a ResumingContext: the monitoring
            # path can offer a kept session to the handshake (checks.tlssessions).
            made = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
            made.load_verify_locations(cafile=self.ca_bundle or certifi.where())
            made.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
            made = self._contexts.setdefault(http2, made)
        return made

    @property
    def offer_h2(self) -> ssl.SSLContext:
        return self.context(http2=True)

    @property
    def http1_only(self) -> ssl.SSLContext:
        return self.context(http2=False)


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """What to send where: the public URL, pinned to ``ip:port`` with ``scheme``."""

    target: str
    url: TargetURL
    ip: str
    port: int
    scheme: str
    resolved: tuple[DnsRecord, ...] = ()
    dns_ms: float | None = None
    run: int = 0
    spec: RequestSpec = PLAIN
    """The method, headers, body and checks on the answer (a plain GET by default)."""


@dataclass(slots=True)
class _Connection:
    """Timestamps and facts gathered while connecting; ``phase`` names a failure's timing."""

    phase: str = Phase.CONNECT
    connected_at: float | None = None
    tls_at: float | None = None
    peer: str | None = None
    tls: TlsInfo | None = None
    alpn: str | None = None
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    ssl_object: ssl.SSLObject | None = None
    resumed: bool = False
    """The handshake resumed a kept TLS session (``checks.tlssessions``)."""


def _request_headers(url: TargetURL, spec: RequestSpec) -> tuple[tuple[bytes, bytes], ...]:
    own = (
        (b"Host", url.netloc.encode("ascii")),
        (b"User-Agent", USER_AGENT.encode("ascii")),
        (b"Accept", b"*/*"),
        (b"Accept-Encoding", b"identity"),
    )
    if spec.plain:
        return own
    extra = spec.wire_headers()
    given = {name.lower() for name, _ in extra}
    return (*(h for h in own if h[0].lower() not in given), *extra)


def _header_value(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _excerpt(raw: bytes, headers: tuple[tuple[str, str], ...]) -> str:
    encoding = (_header_value(headers, "content-encoding") or "").lower()
    data = raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            data = zlib.decompressobj(wbits=47).decompress(raw, BODY_EXCERPT)
        except zlib.error:
            data = raw
    elif encoding not in ("", "identity"):
        return f"({encoding}-encoded body, {len(raw)} bytes, not decoded)"
    charset = "utf-8"
    content_type = _header_value(headers, "content-type") or ""
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
    try:
        return data[:BODY_EXCERPT].decode(charset, errors="replace")
    except LookupError:
        return data[:BODY_EXCERPT].decode("utf-8", errors="replace")


async def _connect(
    request: ProbeRequest,
    context: ssl.SSLContext | None,
    conn: _Connection,
    offer: Offer | None = None,
) -> None:
    """Open the connection into ``conn`` (so the caller can always close it), timing each step.

    With an ``offer``, the TLS handshake offers its session; when the server resumes it, the
    certificate facts are the offer's (those of the last full handshake), not parsed again."""
    if offer is None:  # nothing to offer (plain HTTP, a full handshake): the default, None
        await _open(request, context, conn)
        if context is None:
            return
    else:  # set before the connection opens: uvloop runs the handshake in its context
        with offering(offer.session):
            await _open(request, context, conn)
    conn.tls_at = time.perf_counter()
    assert conn.writer is not None  # _open returned: connected
    ssl_object = conn.writer.get_extra_info("ssl_object")
    if ssl_object is not None:
        conn.ssl_object = ssl_object
        conn.alpn = ssl_object.selected_alpn_protocol()
        if offer is not None and ssl_object.session_reused:
            conn.resumed = True
            tls = offer.tls
            days = tls.days_left if tls.not_after is None else tlsinfo.days_until(tls.not_after)
            conn.tls = replace(tls, version=ssl_object.version(), alpn=conn.alpn, days_left=days)
        else:
            conn.tls = tlsinfo.from_ssl_object(ssl_object)
    conn.phase = Phase.RESPONSE


async def _open(request: ProbeRequest, context: ssl.SSLContext | None, conn: _Connection) -> None:
    """Connect, then (with a ``context``) the TLS handshake, timing each step into ``conn``."""
    conn.reader, conn.writer = await asyncio.open_connection(
        request.ip, request.port, limit=READ_SIZE
    )
    conn.connected_at = time.perf_counter()
    peer = conn.writer.get_extra_info("peername")
    if isinstance(peer, tuple):
        conn.peer = str(peer[0])
    if context is None:
        conn.phase = Phase.RESPONSE
        return
    conn.phase = Phase.TLS
    server_name = request.ip if request.url.is_ip else request.url.host
    await conn.writer.start_tls(context, server_hostname=server_name)


def _keep_session(
    sessions: TlsSessions,
    key: SessionKey,
    context: ssl.SSLContext,
    conn: _Connection,
    error: ProbeError | None,
    status: int | None,
) -> None:
    """Keep the session of a healthy exchange; forget it after a failure (no answer, a 5xx),
    so the next check, the one that confirms an outage, does a full handshake."""
    if conn.ssl_object is None or conn.tls is None:
        sessions.forget(key)
        return
    if error is not None or status is None or status >= 500:
        sessions.forget(key)
        sessions.count(resumed=conn.resumed)
        return
    sessions.keep(key, context, conn.ssl_object, conn.tls, resumed=conn.resumed)


async def probe(
    transport: Transport,
    request: ProbeRequest,
    *,
    timeout: float,
    http2: bool = True,
    sessions: TlsSessions | None = None,
) -> Probe:
    """Send one request (a GET unless ``request.spec`` says otherwise) on a fresh connection
    and measure it. Failures are values, never raised. With ``sessions`` (the monitoring path)
    an HTTPS probe offers the TLS session its last healthy check kept."""
    url = request.url
    spec = request.spec
    uses_tls = request.scheme == "https"
    context = transport.context(http2=http2) if uses_tls else None
    key: SessionKey | None = None
    offer: Offer | None = None
    if context is not None and sessions is not None:
        key = (request.ip, request.port, None if url.is_ip else url.host, http2)
        offer = sessions.offer(key, context)
    exchange = Exchange(
        request.scheme.encode("ascii"),
        url.path.encode("ascii"),
        _request_headers(url, spec),
        spec.method.encode("ascii"),
        spec.body.encode("utf-8"),
    )
    conn = _Connection()
    out = Outcome(needles=spec.needles)
    error: ProbeError | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout  # shared by the exchange and the certificate re-fetch
    start = time.perf_counter()
    try:
        async with asyncio.timeout_at(deadline):
            await _connect(request, context, conn, offer)
            reader, writer = conn.reader, conn.writer
            assert reader is not None and writer is not None
            if conn.alpn == "h2":
                # httpcore (and h2) load with the first HTTP/2 answer: a plain-HTTP check, such
                # as the check502 command's cold start, never pays for them.
                from checks._http2 import exchange_http2  # noqa: PLC0415

                await exchange_http2(
                    reader, writer, exchange, out, ip=request.ip, port=request.port
                )
            else:
                await exchange_http1(reader, writer, exchange, out)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a value (errors.map_exception)
        phase = Phase.BODY if out.status is not None else conn.phase
        mapped = map_exception(exc, phase)
        if phase == Phase.BODY and mapped.kind is ErrorKind.READ_TIMEOUT:
            mapped = failure(ErrorKind.READ_TIMEOUT, f"body stalled after {out.read} bytes")
        error = mapped.as_value()
    finally:
        if conn.writer is not None:
            if error is None:
                conn.writer.close()
            else:  # a broken or hostile peer gets no graceful close to stall on
                conn.writer.transport.abort()
    end = time.perf_counter()
    if sessions is not None and key is not None and context is not None:
        _keep_session(sessions, key, context, conn, error, out.status)
    header_bytes = sum(len(k) + len(v) + 4 for k, v in out.headers) + 17 if out.headers else 0
    if error is None and header_bytes > HEADER_LIMIT:
        error = ProbeError(
            ErrorKind.HEADERS_TOO_LARGE,
            f"response headers are {header_bytes // 1024} KiB; proxies refuse far less"
            " (nginx proxy_buffer_size 4-8 KiB, AWS ALB 32 KiB)",
        )
    tls = conn.tls
    left = deadline - loop.time()
    if error is not None and error.kind in _REFETCH_KINDS and tls is None and left > _MIN_LEFT:
        tls = await tlsinfo.fetch_unverified(
            request.ip,
            request.port,
            None if url.is_ip else url.host,
            timeout=left,
            verify_error=error.message,
        )
    if tls is not None and conn.alpn and tls.alpn is None:
        tls = replace(tls, alpn=conn.alpn)
    offset = request.dns_ms or 0.0

    def ms(stamp: float | None) -> float | None:
        return None if stamp is None else round(offset + (stamp - start) * 1000, 3)

    total = ms(end)
    headers = out.headers
    excerpt = _excerpt(bytes(out.kept), out.headers) if out.kept else ""
    location = _header_value(out.headers, "location")
    if spec.auth is not None and spec.auth.values:  # a server may echo what it was sent
        scrub = spec.auth.scrub
        headers = tuple((k, scrub(v)) for k, v in headers)
        excerpt, location = scrub(excerpt), location and scrub(location)
    findings: tuple[Finding, ...] = ()
    if error is None and out.status is not None and not spec.plain:
        found = tuple(out.found) if out.found else (False,) * len(spec.needles)
        findings = spec.findings(found, total)

    return Probe(
        target=request.target,
        url=url.url,
        host=url.host,
        ip=conn.peer or request.ip,
        port=request.port,
        resolved=request.resolved,
        status=out.status,
        http_version=out.http_version,
        reason=out.reason,
        headers=headers,
        header_bytes=header_bytes,
        body_excerpt=excerpt,
        timings=Timings(
            dns=request.dns_ms,
            connect=ms(conn.connected_at),
            tls=ms(conn.tls_at) if uses_tls else None,
            ttfb=ms(out.ttfb_at),
            total=total,
        ),
        error=error,
        tls=tls,
        location=location,
        run=request.run,
        http2_attempted=http2 and uses_tls,
        findings=findings,
    )
