"""One HTTP request to one pinned IP, measured phase by phase.

The request goes to the IP the caller chose (the DNS answer, or the origin the user gave) while
keeping the public ``Host`` header and TLS SNI: exactly what ``curl --resolve`` does. Connecting
to the pinned IP rather than the name means a second lookup can never switch the address after
the address policy approved it.

Every probe is bounded: an overall deadline, at most ``BODY_EXCERPT`` bytes kept and
``BODY_DRAIN`` bytes read, and response headers larger than ``HEADER_LIMIT`` count as a failure.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import certifi
import httpx

from checks import tlsinfo
from checks.errors import Phase, ProbeFailure, failure, map_exception
from checks.model import DnsRecord, ErrorKind, Probe, ProbeError, Timings, TlsInfo
from checks.target import TargetURL

BODY_EXCERPT = 16 * 1024
BODY_DRAIN = 4 * 1024 * 1024
HEADER_LIMIT = 64 * 1024
USER_AGENT = "check502/0.1 (+https://github.com/check502/check502)"
_TLS_KINDS = {
    ErrorKind.TLS_EXPIRED,
    ErrorKind.TLS_HOSTNAME_MISMATCH,
    ErrorKind.TLS_UNTRUSTED,
    ErrorKind.TLS_HANDSHAKE,
}


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle or certifi.where())


@dataclass(slots=True)
class Clients:
    """The engine's HTTP seam: one client that offers HTTP/2 and one limited to HTTP/1.1.

    Each has its own SSL context (httpcore sets ALPN on the context it is given) and no
    keep-alive, so every probe opens a fresh connection and measures a real handshake.
    """

    http2: httpx.AsyncClient
    http1: httpx.AsyncClient

    @classmethod
    def create(cls, *, ca_bundle: str | None = None) -> Clients:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)

        def make(http2: bool) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                http1=True,
                http2=http2,
                verify=_ssl_context(ca_bundle),
                limits=limits,
                trust_env=False,
                follow_redirects=False,
            )

        return cls(http2=make(True), http1=make(False))

    async def aclose(self) -> None:
        await self.http2.aclose()
        await self.http1.aclose()


class _Tracer:
    """Collects httpcore trace events into phase timestamps, the peer and the certificate."""

    def __init__(self, tls: bool) -> None:
        self.events: dict[str, float] = {}
        self.phase = Phase.CONNECT
        self.uses_tls = tls
        self.peer: tuple[str, int] | None = None
        self.tls: TlsInfo | None = None
        self.alpn: str | None = None

    async def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        self.events.setdefault(name, time.perf_counter())
        if name == "connection.connect_tcp.complete":
            self.phase = Phase.TLS if self.uses_tls else Phase.RESPONSE
            peer = info["return_value"].get_extra_info("server_addr")
            if isinstance(peer, tuple):
                self.peer = (str(peer[0]), int(peer[1]))
        elif name == "connection.start_tls.complete":
            self.phase = Phase.RESPONSE
            ssl_object = info["return_value"].get_extra_info("ssl_object")
            if ssl_object is not None:
                self.alpn = ssl_object.selected_alpn_protocol()
                self.tls = tlsinfo.from_ssl_object(ssl_object)
        elif name.endswith("receive_response_headers.complete"):
            self.phase = Phase.BODY

    def at(self, suffix: str, start: float, offset: float) -> float | None:
        for name, stamp in self.events.items():
            if name.endswith(suffix):
                return round(offset + (stamp - start) * 1000, 3)
        return None


def _netloc(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _excerpt(raw: bytes, headers: httpx.Headers) -> str:
    encoding = headers.get("content-encoding", "").lower()
    data = raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            data = zlib.decompressobj(wbits=47).decompress(raw, BODY_EXCERPT)
        except zlib.error:
            data = raw
    elif encoding not in ("", "identity"):
        return f"({encoding}-encoded body, {len(raw)} bytes, not decoded)"
    charset = "utf-8"
    content_type = headers.get("content-type", "")
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
    try:
        return data[:BODY_EXCERPT].decode(charset, errors="replace")
    except LookupError:
        return data[:BODY_EXCERPT].decode("utf-8", errors="replace")


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


async def probe(
    clients: Clients,
    request: ProbeRequest,
    *,
    timeout: float,
    http2: bool = True,
    ca_bundle: str | None = None,
) -> Probe:
    """Send one GET and measure it. Never raises for network trouble: failures are values."""
    url = request.url
    uses_tls = request.scheme == "https"
    tracer = _Tracer(uses_tls)
    client = clients.http2 if http2 and uses_tls else clients.http1
    offset = request.dns_ms or 0.0
    pinned_url = f"{request.scheme}://{_netloc(request.ip, request.port)}{url.path}"
    extensions: dict[str, Any] = {"trace": tracer}
    if not url.is_ip:
        extensions["sni_hostname"] = url.host
    headers = {
        "Host": url.netloc,
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Accept-Encoding": "identity",
    }
    start = time.perf_counter()
    status: int | None = None
    http_version: str | None = None
    reason: str | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    header_bytes = 0
    body = b""
    location: str | None = None
    error: ProbeError | None = None
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(
                "GET",
                pinned_url,
                headers=headers,
                extensions=extensions,
                timeout=httpx.Timeout(timeout),
            ) as response:
                status = response.status_code
                http_version = response.http_version
                reason = response.reason_phrase or None
                response_headers = tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                )
                header_bytes = sum(len(k) + len(v) + 4 for k, v in response_headers) + 17
                location = response.headers.get("location")
                body, error = await _read_body(response)
                if error is None and header_bytes > HEADER_LIMIT:
                    error = ProbeError(
                        ErrorKind.HEADERS_TOO_LARGE,
                        f"response headers are {header_bytes // 1024} KiB; proxies refuse far less"
                        " (nginx proxy_buffer_size 4-8 KiB, AWS ALB 32 KiB)",
                    )
    except Exception as exc:
        error = map_exception(exc, tracer.phase).as_value()
    end = time.perf_counter()
    tls = tracer.tls
    if error is not None and error.kind in _TLS_KINDS and tls is None:
        tls = await tlsinfo.fetch_unverified(
            request.ip,
            request.port,
            None if url.is_ip else url.host,
            timeout=min(timeout, 5.0),
            verify_error=error.message,
        )
    if tls is not None and tracer.alpn and tls.alpn is None:
        tls = replace(tls, alpn=tracer.alpn)
    timings = Timings(
        dns=request.dns_ms,
        connect=tracer.at("connect_tcp.complete", start, offset),
        tls=tracer.at("start_tls.complete", start, offset) if uses_tls else None,
        ttfb=tracer.at("receive_response_headers.complete", start, offset),
        total=round(offset + (end - start) * 1000, 3),
    )
    peer_ip = tracer.peer[0] if tracer.peer else request.ip
    return Probe(
        target=request.target,
        url=url.url,
        host=url.host,
        ip=peer_ip,
        port=request.port,
        resolved=request.resolved,
        status=status,
        http_version=http_version,
        reason=reason,
        headers=response_headers,
        header_bytes=header_bytes,
        body_excerpt=_excerpt(body, httpx.Headers(list(response_headers))) if body else "",
        timings=timings,
        error=error,
        tls=tls,
        location=location,
        run=request.run,
        http2_attempted=http2 and uses_tls,
    )


async def _read_body(response: httpx.Response) -> tuple[bytes, ProbeError | None]:
    """Keep the first ``BODY_EXCERPT`` bytes; drain up to ``BODY_DRAIN`` to notice truncation."""
    kept = bytearray()
    read = 0
    try:
        async for chunk in response.aiter_raw():
            if len(kept) < BODY_EXCERPT:
                kept += chunk[: BODY_EXCERPT - len(kept)]
            read += len(chunk)
            if read >= BODY_DRAIN:
                break
    except Exception as exc:
        mapped: ProbeFailure = map_exception(exc, Phase.BODY)
        if mapped.kind is ErrorKind.READ_TIMEOUT:
            mapped = failure(ErrorKind.READ_TIMEOUT, f"body stalled after {read} bytes")
        return bytes(kept), mapped.as_value()
    return bytes(kept), None
