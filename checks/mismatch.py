"""When the proxy and the origin speak different protocols: when to ask, what the answers mean,
and the config line that fixes it on each gateway.

Pure functions over values: :mod:`checks.protocols` asks the origin, :mod:`checks.engine` decides
with :func:`points_at_link` whether to ask at all, and :mod:`checks.verdict` reads the answers
with :func:`mismatches` and :func:`fix_steps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from checks.gateways import GatewayId
from checks.gateways import GatewayId as G
from checks.model import Cause, Mismatch, OriginProtocols, Probe

__all__ = [
    "FAST_MS",
    "LINK_STATUSES",
    "LOG_STEP",
    "fix_steps",
    "link_failed_fast",
    "mismatches",
    "points_at_link",
]

LOG_STEP = (
    "Read the proxy's error log while you reproduce (`tail -f /var/log/nginx/error.log`,"
    " `journalctl -u haproxy`, `journalctl -u caddy`): a TLS error on the upstream connection"
    " (`wrong version number`, `first record does not look like a TLS handshake`), a closed"
    " connection or an HTTP/2 framing error confirms it."
)
FAST_MS = 200.0
"""Milliseconds (as ``checks.verdict.FAST_MS``): a gateway answering this soon after the
connection did not wait on a timeout."""
LINK_STATUSES = frozenset({500, 502, 503})
"""Statuses a gateway generates when its upstream connection fails (504 is a wait, not this)."""
LARGE_HEADERS = 8 * 1024


def _up(p: Probe) -> bool:
    return p.error is None and p.status is not None and p.status < 400


def _server_ms(p: Probe) -> float | None:
    if p.timings.ttfb is None:
        return None
    ready = p.timings.tls or p.timings.connect or p.timings.dns or 0.0
    return p.timings.ttfb - ready


def link_failed_fast(p: Probe) -> bool:
    """The public response is a gateway error generated at once: the proxy's upstream failed
    without waiting for any timeout (refused, reset, or a protocol it could not read)."""
    server = _server_ms(p)
    return p.error is None and p.status in LINK_STATUSES and server is not None and server < FAST_MS


def points_at_link(public: Sequence[Probe], origin: Sequence[Probe]) -> Probe | None:
    """The origin probe to ask "the other way", when the evidence points at the edge-to-origin
    link: a public gateway error generated within milliseconds while the origin answers us.

    None otherwise (a healthy check, a slow failure, an origin that fails too, or one whose
    oversized headers already explain the failure), so those cost nothing extra.
    """
    answering = next((o for o in origin if _up(o) and o.ip), None)
    if answering is None or answering.header_bytes > LARGE_HEADERS:
        return None
    if not any(link_failed_fast(p) for p in public):
        return None
    return answering


_TLS_LINES: Mapping[GatewayId, str] = {
    G.AWS_ALB: "AWS ALB: target group protocol `HTTPS` on port PORTNUM",
    G.TRAEFIK: "Traefik: the service URL `https://ADDR` (with a `serversTransport` for its CA)",
    G.NGINX: "nginx: `proxy_pass https://ADDR;` with `proxy_ssl_server_name on;`",
    G.INGRESS_NGINX: "ingress-nginx: `nginx.ingress.kubernetes.io/backend-protocol: HTTPS`",
    G.HAPROXY: "HAProxy: `server app ADDR ssl verify required ca-file <ca.pem> sni req.hdr(host)`",
    G.CADDY: "Caddy: `reverse_proxy https://ADDR` (or `transport http { tls }`)",
    G.APACHE: "Apache: `SSLProxyEngine on` with `ProxyPass / https://ADDR/`",
    G.ENVOY: "Envoy: a `transport_socket` `envoy.transport_sockets.tls` (UpstreamTlsContext"
    " with `sni`) on the cluster",
}
_PLAIN_LINES: Mapping[GatewayId, str] = {
    G.AWS_ALB: "AWS ALB: target group protocol `HTTP` on port PORTNUM",
    G.TRAEFIK: "Traefik: the service URL `http://ADDR`",
    G.NGINX: "nginx: `proxy_pass http://ADDR;` (no `proxy_ssl_*` lines)",
    G.INGRESS_NGINX: "ingress-nginx: `nginx.ingress.kubernetes.io/backend-protocol: HTTP`",
    G.HAPROXY: "HAProxy: `server app ADDR` without `ssl`",
    G.CADDY: "Caddy: `reverse_proxy http://ADDR` (no `tls` in `transport http`)",
    G.APACHE: "Apache: `ProxyPass / http://ADDR/` (no `SSLProxyEngine` for it)",
    G.ENVOY: "Envoy: no `envoy.transport_sockets.tls` `transport_socket` on the cluster",
}
_HTTP1_LINES: Mapping[GatewayId, str] = {
    G.AWS_ALB: "AWS ALB: target group protocol version `HTTP1` (not `HTTP2` or `gRPC`)",
    G.TRAEFIK: "Traefik: the service URL `SCHEME://ADDR` (not `h2c://`)",
    G.NGINX: "nginx: replace `grpc_pass` with `proxy_pass SCHEME://ADDR;` and"
    " `proxy_http_version 1.1;`",
    G.INGRESS_NGINX: "ingress-nginx: `nginx.ingress.kubernetes.io/backend-protocol: HTTP`"
    " (not GRPC)",
    G.HAPROXY: "HAProxy: drop `proto h2` from `server app ADDR` (and use `alpn http/1.1` with"
    " `ssl`)",
    G.CADDY: "Caddy: `transport http { versions 1.1 }`",
    G.APACHE: "Apache: replace `h2c://` / `h2://` with `ProxyPass / SCHEME://ADDR/`",
    G.ENVOY: "Envoy: no `http2_protocol_options` on the cluster (HTTP/1.1 to it)",
}
_H2_LINES: Mapping[GatewayId, str] = {
    G.AWS_ALB: "AWS ALB: target group protocol version `HTTP2` (or `gRPC`)",
    G.TRAEFIK: "Traefik: the service URL `h2c://ADDR` (HTTP/2 in plain text)",
    G.NGINX: "nginx: `grpc_pass GRPCSCHEME://ADDR;` for a gRPC (HTTP/2-only) origin",
    G.INGRESS_NGINX: "ingress-nginx: `nginx.ingress.kubernetes.io/backend-protocol: GRPC`",
    G.HAPROXY: "HAProxy: `server app ADDR proto h2`",
    G.CADDY: "Caddy: `transport http { versions h2c 2 }`",
    G.APACHE: "Apache: `ProxyPass / H2SCHEME://ADDR/` (mod_proxy_http2)",
    G.ENVOY: "Envoy: `http2_protocol_options: {}` on the cluster",
}
_LINES: Mapping[str, tuple[str, Mapping[GatewayId, str]]] = {
    "plain_to_tls": ("Make the proxy speak TLS to it", _TLS_LINES),
    "tls_to_plain": ("Make the proxy speak plain HTTP to it", _PLAIN_LINES),
    "h2_to_http1": ("Make the proxy speak HTTP/1.1 to it", _HTTP1_LINES),
    "http1_to_h2": ("Make the proxy speak HTTP/2 to it", _H2_LINES),
}
_ALL_GATEWAYS = (G.NGINX, G.HAPROXY, G.CADDY, G.APACHE, G.ENVOY)


def _fill(line: str, address: str, tls: bool) -> str:
    port = address.rsplit(":", 1)[-1]
    return (
        line.replace("ADDR", address)
        .replace("PORTNUM", port)
        .replace("GRPCSCHEME", "grpcs" if tls else "grpc")
        .replace("H2SCHEME", "h2" if tls else "h2c")
        .replace("SCHEME", "https" if tls else "http")
    )


def fix_steps(
    found: Sequence[Mismatch], gateway: str | None, address: str, *, origin_tls: bool
) -> tuple[str, ...]:
    """One step per mismatch, most likely first: the config line that fixes it, for the gateway
    that generated the error alone when it is known, for every gateway otherwise."""
    steps = []
    for m in found:
        lead, lines = _LINES[m.kind]
        tls = origin_tls
        names = (GatewayId(gateway),) if gateway is not None and gateway in lines else _ALL_GATEWAYS
        chosen = "; ".join(_fill(lines[n], address, tls) for n in names)
        steps.append(f"{lead} ({m.sentence}): {chosen}.")
    return tuple(steps)


_HTTP2_FIRST = frozenset({G.ENVOY})
"""Gateways whose commoner slip is the HTTP version: Envoy (Istio) speaks HTTP/2 to a pod whose
Service port is named ``http2`` or ``grpc``, while its TLS to the pod is the mesh's own."""


def mismatches(found: OriginProtocols, gateway: str | None = None) -> tuple[Mismatch, ...]:
    """The protocol mismatches the origin's answers leave possible, most likely first.

    The proxy's side is not visible from outside, so each is "what the proxy must be speaking
    for this fast failure": the other side of TLS, the other HTTP version. Where the answers
    allow two, the TLS one comes first (the commoner slip, an ``https://`` upstream on a plain
    port or the reverse) unless the generating ``gateway`` is one whose commoner slip is the
    HTTP version (Envoy); an origin with no HTTP/1.1 at all leads in any case. An origin that
    speaks both sides of a pair gives none for that pair.
    """
    port = found.port
    out: list[Mismatch] = []
    tls_only = found.tls is True and found.plain_http1 is False and found.h2c is not True
    plain_only = found.tls is False and (found.plain_http1 is True or found.h2c is True)
    if tls_only:
        out.append(
            Mismatch(
                "plain_to_tls",
                "plain HTTP",
                "TLS",
                port,
                Cause.TLS,
                f"the proxy speaks plain HTTP to an origin that speaks TLS on {port}",
            )
        )
    if plain_only:
        out.append(
            Mismatch(
                "tls_to_plain",
                "HTTPS",
                "plain HTTP",
                port,
                Cause.TLS,
                f"the proxy speaks HTTPS to an origin that speaks plain HTTP on {port}",
            )
        )
    http1 = found.plain_http1 is True or found.tls_http1 is True
    http2 = found.h2c is True or found.tls_h2 is True
    no_http2 = found.h2c is False and found.tls_h2 is not True
    no_http1 = found.plain_http1 is False and found.tls_http1 is not True
    if http1 and no_http2:
        out.append(
            Mismatch(
                "h2_to_http1",
                "HTTP/2",
                "HTTP/1.1 only",
                port,
                Cause.PROTOCOL,
                f"the proxy speaks HTTP/2 to an HTTP/1.1-only origin on {port}",
            )
        )
    if http2 and no_http1:
        out.append(
            Mismatch(
                "http1_to_h2",
                "HTTP/1.1",
                "HTTP/2 only",
                port,
                Cause.PROTOCOL,
                f"the proxy speaks HTTP/1.1 to an HTTP/2-only origin on {port}",
            )
        )
    version_first = gateway in _HTTP2_FIRST

    def rank(m: Mismatch) -> int:
        if m.kind == "http1_to_h2":  # no HTTP/1.1 at all (a gRPC server): the surest finding
            return 0
        return 1 if (m.cause is Cause.PROTOCOL) == version_first else 2

    return tuple(sorted(out, key=rank))
