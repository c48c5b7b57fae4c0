"""The fingerprint table behind :func:`checks.explain.explain`.

Each :class:`Rule` ties one log phrase or platform code to a cause, following the tables in
``fingerprints.md`` Part 3 (log phrases) and Part 2 (platform codes). ``RULES`` is ordered most
specific first and the first match wins, so a line like ``upstream timed out ... while SSL
handshaking`` is a TLS problem before it is a timeout, and ``URX,UF`` is read as ``UF``.

Short codes (``SC``, ``UF``, ``H12``, ``522``, ``PC01``) only match in the context their
product writes them (a HAProxy termination-state field, an Envoy flag field, ``code=H12``,
``Error 522``...), never inside ordinary words or numbers. Patterns are case-insensitive unless
wrapped in :func:`_cs`. Patterns avoid nested unbounded quantifiers and bound every free-text
gap, so even the longest input the caller allows matches in milliseconds.

The tables are kept out of ``ruff format`` (``# fmt: off``) so that each rule stays a compact,
aligned row instead of a dozen one-argument lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks._lazyre import LazyPattern
from checks.gateways import Source, parse_source
from checks.model import Cause

__all__ = ["RULES", "Rule"]

_O = Cause.ORIGIN_DOWN
_W = Cause.WORKERS_EXHAUSTED
_F = Cause.FIREWALL
_D = Cause.DNS
_T = Cause.TIMEOUT
_S = Cause.TLS
_P = Cause.PROTOCOL
_U = Cause.UNKNOWN


@dataclass(frozen=True, slots=True)
class Rule:
    """One fingerprint: a pattern, who writes it, and what it means."""

    id: str
    pattern: LazyPattern
    """Compiled (case-insensitive) by its first search: see :mod:`checks._lazyre`."""
    source: Source | None
    """Who writes the line or code: a gateway's typed id, Go, Kubernetes, the origin; or None."""
    cause: Cause
    status: int | None
    summary: str
    alternatives: tuple[Cause, ...] = ()
    steps: tuple[str, ...] = ()
    """Steps specific to this line, shown before the cause's general advice."""
    advice: str | None = None
    """A key of :data:`checks.advice.PHRASE_STEPS`: steps for what the phrase says happened (a
    keep-alive race, a killed worker...), shown after ``steps`` and before the cause's advice."""


def _rule(
    rule_id: str,
    source: str | None,
    cause: Cause,
    status: int | None,
    alternatives: tuple[Cause, ...],
    regex: str,
    summary: str,
    steps: tuple[str, ...] = (),
    advice: str | None = None,
) -> Rule:
    # Positional on purpose: each row of the tables below reads id, source, cause, status,
    # alternatives, then the pattern and the summary, like a table. The source is spelt as a
    # string in the rows and parsed here, once, into its typed id (a misspelt one stops the import).
    source = None if source is None else parse_source(source)
    pattern = LazyPattern(regex, re.IGNORECASE)
    return Rule(rule_id, pattern, source, cause, status, summary, alternatives, steps, advice)


def _cs(regex: str) -> str:
    """Case-sensitive: for codes whose case carries meaning (HAProxy ``sC`` vs ``SC``)."""
    return f"(?-i:{regex})"


# ---------------------------------------------------------------------------------------------
# Context helpers for short codes.

_ERRNO_TEXT = r"[^()\n]{1,60}"


def _nginx_connect(errno: int) -> str:
    """``connect() failed (N: ...)`` or ``connect() to ADDR failed (N: ...)``."""
    return rf"connect\(\)(?: to \S{{1,300}})? failed \({errno}: {_ERRNO_TEXT}\)"


def _nginx_timeout(action: str) -> str:
    return rf"upstream timed out \(\d{{1,5}}: {_ERRNO_TEXT}\) while {action}"


_ENVOY_FLAG_FIELD = r'(?:"\s\d{3}\s|response_flags"?\s{0,3}[:=]\s{0,3}"?)'


def _envoy_flag(flag: str) -> str:
    """A flag in Envoy's access-log flag field (after the status code, or ``response_flags``)."""
    other = r"[A-Z]{2,5}"
    return rf'{_ENVOY_FLAG_FIELD}(?P<m>(?:{other},){{0,8}}{flag}(?:,{other}){{0,8}})(?=[\s",}}]|$)'


_HAP_BEFORE = r"\s-?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+\s+\d{3}\s+-?\d+\s+\S+\s+\S+\s+"
_HAP_AFTER = r"(?=\s+\d+/\d+/\d+/\d+/\+?\d+(?:\s|$))"


def _haproxy_state(state: str) -> str:
    """A HAProxy termination state: after timers/status/bytes/cookies, or before the counters."""
    return (
        rf"{_HAP_BEFORE}(?P<m>{state}[-A-Za-z]{{2}})(?=\s|$)"
        rf"|\s(?P<m2>{state}(?:[-A-Za-z]{{2}})?){_HAP_AFTER}"
    )


_CF_BEFORE = (
    r"(?i:\b(?:error|err|http(?:/[\d.]{1,3})?|status|code|cf)(?:[\s_-]?code)?[\s:=#\"'>-]{0,3}"
    r"|\bcloudflare\b[^\d\n]{0,30}?)"
)


def _cloudflare(code: str, title: str | None = None) -> str:
    """``Error 522``, ``cloudflare 521``, ``error code 1016``, or ``522: Connection timed out``."""
    regex = rf"{_CF_BEFORE}(?P<m>{code})\b"
    if title is None:
        return regex
    return rf"{regex}|\b(?P<m2>{code})(?::|\s-)?\s{{0,3}}(?i:{title})"


def _heroku(code: str, title: str) -> str:
    """``code=H12``, ``Error H12``, ``heroku ... H12``, or ``H12 (Request timeout)``."""
    return (
        rf"(?i:\bcode=|\b(?:error|heroku)\b[^\d\n]{{0,20}}?)(?P<m>{code})\b"
        rf"|\b(?P<m2>{code})\b\s{{0,3}}[(:-]?\s{{0,3}}(?i:{title})"
    )


def _fly(codes: str, phrase: str | None = None) -> str:
    """``[PC01]``, ``error PC01``, ``code=PC01``, ``fly ... PC01``, or the code's own phrase."""
    regex = rf"(?:\[|(?i:\b(?:error|code|fly)\b)[^\d\n]{{0,20}}?)(?P<m>{codes})\b"
    return f"{regex}|(?i:{phrase})" if phrase else regex


def _token(tokens: str) -> str:
    """Whole identifiers (``OriginConnectError``, ``backend_timeout``) and nothing longer."""
    return rf"(?<![\w.])(?P<m>{tokens})(?![\w])"


# ---------------------------------------------------------------------------------------------
# Kubernetes, ingress-nginx and Kong first: their lines are nginx-shaped but more specific.

# fmt: off
_KUBERNETES = (
    _rule("kube_proxy_no_local_endpoints", "kubernetes", _F, None, (_O,),
          r"has no local endpoints",
          "kube-proxy drops traffic for this Service on nodes without a local ready pod "
          "(externalTrafficPolicy: Local), which a proxy sees as a connect timeout."),
    _rule("kube_proxy_no_endpoints", "kubernetes", _O, None, (_F,),
          r"has no endpoints",
          "The Service has no ready endpoints, so kube-proxy rejects connections and the "
          "proxy in front sees connection refused.",
          steps=("Check `kubectl get endpoints <svc>` and the pods' readiness probes.",)),
    _rule("ingress_no_active_endpoint", "ingress_nginx", _O, 503, (),
          r"does not have any active Endpoint",
          "ingress-nginx found no ready pod behind the Service and answers from its default "
          "upstream with 503.",
          steps=("Check `kubectl get endpoints <svc>` and `kubectl describe pod` for "
                 "readiness.",)),
    _rule("ingress_no_peer", "ingress_nginx", _O, 502, (),
          r'no peer was returned, balancer|upstream: "https?://0\.0\.0\.1(?::\d+)?/',
          "ingress-nginx's Lua balancer had no backend pod to pick (0.0.0.1 is its "
          "placeholder upstream), so every pod behind the Service is missing or not ready."),
)

_KONG = (
    _rule("kong_ring_balancer", "kong", _O, 503, (_F,),
          r"failure to get a peer from the (?:ring-balancer|retry handler)",
          "Kong's balancer found no healthy target in the upstream: all targets are down or "
          "marked unhealthy."),
    _rule("kong_name_resolution", "kong", _D, 503, (),
          r"name resolution failed",
          "Kong could not resolve the Service's upstream host name."),
    _rule("kong_invalid_response", "kong", _P, 502, (_O, _S),
          r"An invalid response was received from the upstream server",
          "Kong's 502 page: the upstream refused, reset or sent an unparsable response; the "
          "Kong error log has the nginx phrase with the real reason."),
    _rule("kong_unavailable", "kong", _O, 503, (_W, _D),
          r"The upstream server is currently unavailable",
          "Kong's 503 page: no upstream target was available to take the request."),
    _rule("kong_timing_out", "kong", _T, 504, (_F,),
          r"The upstream server is timing out",
          "Kong's 504 page: the upstream did not answer within the Service's timeouts."),
)

# ---------------------------------------------------------------------------------------------
# nginx / OpenResty (fingerprints.md 3.1).

_NGINX_TLS = (
    _rule("nginx_ssl_timeout", "nginx", _S, 504, (_W,),
          _nginx_timeout("SSL handshaking to upstream"),
          "The TCP connection to the upstream opened but the TLS handshake never finished "
          "within proxy_connect_timeout."),
    _rule("nginx_ssl_expired", "nginx", _S, 502, (),
          r"upstream SSL certificate verify error: \(10:",
          "nginx verifies the upstream certificate (proxy_ssl_verify on) and it has expired.",
          steps=("Renew the upstream's certificate and reload the server that holds it.",)),
    _rule("nginx_ssl_untrusted", "nginx", _S, 502, (),
          r"upstream SSL certificate verify error: \((?:2|18|19|20|21):",
          "nginx cannot build a trusted chain for the upstream certificate (self-signed or "
          "missing issuer).",
          steps=("Point `proxy_ssl_trusted_certificate` at the issuing CA, or serve the full "
                 "chain.",)),
    _rule("nginx_ssl_verify", "nginx", _S, 502, (),
          r"upstream SSL certificate verify error",
          "nginx rejected the upstream certificate during verification."),
    _rule("nginx_ssl_mismatch", "nginx", _S, 502, (),
          r"upstream SSL certificate does not match",
          "The upstream certificate does not cover the name nginx verifies (proxy_ssl_name).",
          steps=("Set `proxy_ssl_name` to a name on the certificate, or reissue it with that "
                 "name.",)),
    _rule("nginx_ssl_wrong_version", "nginx", _S, 502, (_P,),
          r"SSL_do_handshake\(\) failed[^\n]{0,300}?wrong version number",
          "nginx spoke TLS to a port that answers plain HTTP (proxy_pass https:// to an HTTP "
          "port).",
          steps=("Use `proxy_pass http://` for a plain-HTTP upstream, or point it at the TLS "
                 "port.",)),
    _rule("nginx_ssl_handshake", "nginx", _S, 502, (),
          r"SSL_do_handshake\(\) failed",
          "The TLS handshake between nginx and the upstream failed (protocols, ciphers or "
          "SNI)."),
    _rule("nginx_ssl_peer_closed", "nginx", _S, 502, (_O,),
          r"peer closed connection in SSL handshake",
          "The upstream closed the connection during the TLS handshake (no certificate for "
          "the SNI name, protocol mismatch, or the server died)."),
)

_NGINX_CONNECT = (
    _rule("nginx_connect_eagain", "nginx", _W, 502, (_T,),
          _nginx_connect(11),
          "The upstream's listen queue is full (Linux returns EAGAIN on a full unix socket): "
          "every worker is busy.",
          steps=("Raise `pm.max_children` / `listen.backlog` in the PHP-FPM pool, or find "
                 "what blocks the workers.",)),
    _rule("nginx_connect_enoent", "nginx", _O, 502, (),
          _nginx_connect(2),
          "The upstream unix socket does not exist, so the app (often PHP-FPM) is not "
          "running or listens elsewhere.",
          steps=("Start the app (`systemctl status php*-fpm`) and compare its `listen =` "
                 "path with the socket in `fastcgi_pass` / `proxy_pass`.",)),
    _rule("nginx_connect_eacces", "nginx", _F, 502, (),
          _nginx_connect(13),
          "A local policy stops nginx from connecting: SELinux (httpd_can_network_connect) "
          "or the socket file's permissions. Not one of the seven causes exactly; treat it "
          "as a block.",
          steps=("Check SELinux with `getsebool httpd_can_network_connect` (enable with "
                 "`setsebool -P httpd_can_network_connect 1`) and the socket's owner "
                 "(`listen.owner` in PHP-FPM).",)),
    _rule("nginx_connect_refused", "nginx", _O, 502, (_F,),
          _nginx_connect(111),
          "Nothing is listening at the upstream address: the app is down, crashed, or bound "
          "to another interface or port."),
    _rule("nginx_connect_no_route", "nginx", _F, 502, (_O,),
          _nginx_connect(113),
          "There is no route to the upstream host: it is down, a firewall answers with ICMP, "
          "or the address is stale (a rescheduled pod)."),
    _rule("nginx_connect_net_unreachable", "nginx", _F, 502, (),
          _nginx_connect(101),
          "The upstream's network is unreachable from nginx (routing or interface problem)."),
    _rule("nginx_connect_timed_out", "nginx", _F, 502, (_W,),
          _nginx_connect(110),
          "The kernel gave up on the TCP handshake to the upstream: SYNs are being dropped "
          "by a firewall or security group."),
)

_NGINX_TIMEOUT = (
    _rule("nginx_timeout_connecting", "nginx", _F, 504, (_W,),
          _nginx_timeout("connecting to upstream"),
          "nginx could not complete the TCP handshake within proxy_connect_timeout: SYNs are "
          "dropped by a firewall, or a full accept queue drops them."),
    _rule("nginx_timeout_sending", "nginx", _T, 504, (_W,),
          _nginx_timeout("sending request to upstream"),
          "The upstream stopped reading the request body within proxy_send_timeout."),
    _rule("nginx_timeout_reading_header", "nginx", _T, 504, (_W,),
          _nginx_timeout("reading response header from upstream"),
          "The upstream accepted the request but sent no response header within "
          "proxy_read_timeout: a slow endpoint or a saturated app."),
    _rule("nginx_timeout_reading_body", "nginx", _T, None, (_W,),
          _nginx_timeout("reading upstream"),
          "The upstream sent headers and then stalled mid-body, so the client gets a "
          "truncated response."),
    _rule("nginx_timeout", "nginx", _T, 504, (_F, _W),
          r"upstream timed out",
          "nginx gave up waiting for the upstream; the `while ...` clause (missing here) "
          "says whether it was connecting (firewall) or reading (slow app)."),
)

_NGINX_OTHER = (
    _rule("nginx_no_live_upstreams", "nginx", _O, 502, (_F, _T),
          r"no live upstreams",
          "Every server in the upstream block is marked failed (max_fails) after earlier "
          "errors; look at the lines before this one for the first failure."),
    _rule("nginx_temporarily_disabled", "nginx", _O, None, (_F, _T),
          r"upstream server temporarily disabled",
          "nginx marked an upstream server failed for fail_timeout after repeated errors."),
    _rule("nginx_premature_close_header", "nginx", _P, 502, (_O, _T),
          r"upstream prematurely closed (?:FastCGI stdout|connection) while reading response "
          r"header",
          "The upstream closed the connection before sending a response header: a worker "
          "killed mid-request (crash, OOM, app-server timeout) or a keep-alive race.",
          advice="premature_close"),
    _rule("nginx_premature_close", "nginx", _P, None, (_O,),
          r"upstream prematurely closed",
          "The upstream closed the connection mid-response, so the client gets a truncated "
          "body.",
          advice="premature_close"),
    _rule("nginx_reset_header", "nginx", _O, 502, (_P,),
          r"(?:recv|readv?)\(\) failed \(104: Connection reset by peer\) while reading response "
          r"header",
          "The upstream reset the connection before answering: its worker crashed or was "
          "killed mid-request (or, on a reused connection, a keep-alive race).",
          advice="premature_close"),
    _rule("nginx_reset", "nginx", _O, None, (_P,),
          r"(?:recv|readv?)\(\) failed \(104: Connection reset by peer\)",
          "The upstream reset the connection mid-response, so the client gets a truncated "
          "body."),
    _rule("nginx_send_failed", "nginx", _P, 502, (_O,),
          r"(?:writev?|send|sendfile)\(\) failed \((?:32: Broken pipe|104: Connection reset by "
          r"peer)\) while sending request",
          "The upstream closed a reused keep-alive connection while nginx was sending the "
          "request.",
          steps=("Make the upstream's keep-alive timeout longer than nginx's "
                 "`keepalive_timeout` in the `upstream{}` block.",),
          advice="keepalive_race"),
    _rule("nginx_too_big_header", "nginx", _P, 502, (),
          r"upstream sent too big header",
          "The upstream's response headers are larger than proxy_buffer_size (large cookies "
          "or headers).",
          steps=("Set `proxy_buffer_size 16k; proxy_buffers 8 16k;` (FastCGI: "
                 "`fastcgi_buffer_size 32k;`), then shrink the headers.",)),
    _rule("nginx_invalid_header", "nginx", _P, 502, (),
          r"upstream sent invalid header",
          "The upstream sent a response header nginx cannot parse.",
          advice="bad_response"),
    _rule("nginx_no_valid_http_header", "nginx", _P, 200, (_S,),
          r"upstream sent no valid HTTP/1\.0 header",
          "The upstream did not answer in HTTP/1.x (an HTTP/2, TLS or binary server), and "
          "nginx relays the raw bytes as a 200.",
          steps=("Check the upstream port speaks HTTP/1.1 in plain text; use `grpc_pass` or "
                 "`https://` if it does not.",)),
    _rule("nginx_invalid_chunked", "nginx", _P, None, (),
          r"upstream sent invalid chunked response",
          "The upstream's chunked encoding is broken, so the client gets a truncated body.",
          advice="bad_response"),
    _rule("nginx_extra_data", "nginx", _P, None, (),
          r'upstream sent (?:more data than specified in "Content-Length" header|data after final '
          r"chunk)",
          "The upstream's body does not match its framing (Content-Length or chunked).",
          advice="bad_response"),
    _rule("nginx_trailers", "nginx", _P, None, (),
          r"upstream sent (?:too big trailers|invalid trailer)",
          "The upstream sent trailers nginx rejects.",
          advice="bad_response"),
    _rule("nginx_early_hints", "nginx", _P, 502, (),
          r"upstream sent too big early hints",
          "The upstream's 103 Early Hints headers do not fit nginx's buffer."),
    _rule("nginx_premature_response", "nginx", _P, 502, (_S,),
          r"upstream prematurely sent response",
          "The upstream sent data before the exchange allowed it (for example before the TLS "
          "handshake).",
          advice="bad_response"),
    _rule("nginx_resolve_nxdomain", "nginx", _D, 502, (),
          r"could not be resolved \(3: Host not found\)",
          "nginx's resolver got NXDOMAIN for the upstream name: it does not exist."),
    _rule("nginx_resolve_servfail", "nginx", _D, 502, (),
          r"could not be resolved \(2: Server failure\)",
          "nginx's resolver got SERVFAIL for the upstream name: the DNS server could not "
          "answer."),
    _rule("nginx_resolve_failed", "nginx", _D, 502, (),
          rf"could not be resolved \(\d{{1,5}}: {_ERRNO_TEXT}\)",
          "nginx's resolver could not resolve the upstream name (refused or timed out)."),
    _rule("nginx_no_resolver", "nginx", _D, 502, (),
          r"no resolver defined to resolve",
          "proxy_pass uses a variable, so nginx resolves at request time, but no `resolver` "
          "is configured.",
          steps=("Add `resolver <dns-ip> valid=30s;` to the `http{}` block.",)),
    _rule("nginx_host_not_found", "nginx", _D, None, (),
          r"host not found in upstream",
          "A static upstream name did not resolve when nginx loaded its configuration, so "
          "nginx refuses to start or reload."),
    _rule("nginx_worker_connections", "nginx", _W, None, (),
          r"worker_connections are not enough",
          "nginx itself ran out of connection slots (worker_connections).",
          steps=("Raise `worker_connections` and `worker_rlimit_nofile`, and check for "
                 "upstream connections piling up.",)),
)

# ---------------------------------------------------------------------------------------------
# Envoy / Istio (3.2). Transport failure reasons, then reset reasons, bodies, details, flags.

_ENVOY = (
    _rule("envoy_tls_verify", "envoy", _S, 503, (),
          _cs(r"OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"),
          "Envoy's TLS connection to the upstream failed certificate verification.",
          steps=("Check the upstream certificate and the cluster's `validation_context` "
                 "(Istio: mTLS mode and DestinationRule `tls`).",)),
    _rule("envoy_tls_wrong_version", "envoy", _S, 503, (_P,),
          _cs(r"OPENSSL_internal:WRONG_VERSION_NUMBER"),
          "Envoy spoke TLS to a plaintext port (or the reverse): an mTLS mode mismatch."),
    _rule("envoy_tls_error", "envoy", _S, 503, (),
          r"transport failure reason: TLS[_ ]error",
          "Envoy's TLS handshake with the upstream failed."),
    _rule("envoy_delayed_connect_refused", "envoy", _O, 503, (_F,),
          r"delayed connect error: (?:111|Connection refused)",
          "The upstream refused Envoy's connection: nothing listens on the pod or endpoint "
          "port."),
    _rule("envoy_delayed_connect_unreachable", "envoy", _F, 503, (_O,),
          r"delayed connect error: (?:113|101|No route to host|Network is unreachable)",
          "There is no route from Envoy to the upstream address (host down or stale "
          "endpoint)."),
    _rule("envoy_reset_connection_timeout", "envoy", _F, 503, (_W,),
          r"reset reason: connection timeout",
          "Envoy's TCP connect to the upstream timed out (cluster connect_timeout): dropped "
          "SYNs."),
    _rule("envoy_reset_connection_failure", "envoy", _O, 503, (_F, _S),
          r"reset reason: (?:remote )?connection failure",
          "Envoy could not connect to the upstream; without a transport reason this is most "
          "often a refused connection."),
    _rule("envoy_reset_termination", "envoy", _P, 503, (_O,),
          r"reset reason: connection termination",
          "The upstream closed the connection before responding: a keep-alive race or a "
          "killed worker.",
          advice="premature_close"),
    _rule("envoy_reset_remote", "envoy", _O, 503, (_P,),
          r"reset reason: remote (?:refused stream )?reset",
          "The upstream reset the stream (TCP RST or HTTP/2 RST_STREAM) before answering."),
    _rule("envoy_reset_overflow", "envoy", _W, 503, (),
          r"reset reason: overflow|x-envoy-overloaded:\s{0,3}true",
          "Envoy's circuit breaker for the cluster tripped (too many connections or pending "
          "requests)."),
    _rule("envoy_reset_protocol_error", "envoy", _P, 502, (),
          r"reset reason: protocol error",
          "The upstream's response broke the protocol: HTTP/1 vs HTTP/2 port naming or "
          "invalid headers.",
          advice="istio_ports"),
    _rule("envoy_reset_overload_manager", "envoy", _W, 503, (),
          r"reset reason: overload manager reset",
          "Envoy's own overload manager shed the request: the proxy is out of resources."),
    _rule("envoy_no_healthy_upstream", "envoy", _O, 503, (_D, _T, _F),
          r"no[ _]healthy[ _]upstream|no healthy host for (?:HTTP|TCP) connection pool",
          "The cluster has zero healthy endpoints: the pods are down, or none exist because "
          "the cluster's name does not resolve, or they exist but health checks (or outlier "
          "ejection) have not passed them yet.",
          advice="no_healthy_upstream"),
    _rule("envoy_request_timeout", "envoy", _T, 504, (_W,),
          r"upstream request timeout|upstream_(?:response|per_try)_timeout",
          "The upstream did not answer within the route timeout (15 s by default)."),
    _rule("envoy_details_connection_failure", "envoy", _O, 503, (_F, _S),
          r"upstream_reset_before_response_started\{(?:remote_)?connection_failure",
          "Envoy could not connect to the upstream (response code details); most often "
          "refused."),
    _rule("envoy_details_connection_timeout", "envoy", _F, 503, (_W,),
          r"upstream_reset_before_response_started\{connection_timeout",
          "Envoy's connect to the upstream timed out (response code details)."),
    _rule("envoy_details_termination", "envoy", _P, 503, (_O,),
          r"upstream_reset_before_response_started\{connection_termination",
          "The upstream closed the connection before responding (response code details).",
          advice="premature_close"),
    _rule("envoy_details_overflow", "envoy", _W, 503, (),
          r"upstream_reset_before_response_started\{overflow",
          "Envoy's circuit breaker tripped (response code details)."),
    _rule("envoy_details_protocol_error", "envoy", _P, 502, (),
          r"upstream_reset_before_response_started\{protocol_error",
          "The upstream's response broke the protocol (response code details).",
          advice="istio_ports"),
    _rule("envoy_details_remote_reset", "envoy", _O, 503, (_P,),
          r"upstream_reset_before_response_started\{remote_(?:refused_stream_)?reset",
          "The upstream reset the stream before answering (response code details)."),
    _rule("envoy_flag_uh", "envoy", _O, 503, (_D, _T, _F),
          _cs(_envoy_flag("UH")),
          "Envoy flag UH: no healthy upstream endpoint in the cluster.",
          advice="no_healthy_upstream"),
    _rule("envoy_flag_uf", "envoy", _O, 503, (_F, _S),
          _cs(_envoy_flag("UF")),
          "Envoy flag UF: the connection to the upstream failed (refused, timed out or TLS)."),
    _rule("envoy_flag_uc", "envoy", _P, 503, (_O,),
          _cs(_envoy_flag("UC")),
          "Envoy flag UC: the upstream terminated the connection (keep-alive race or killed "
          "worker).",
          advice="premature_close"),
    _rule("envoy_flag_ur", "envoy", _O, 503, (_P,),
          _cs(_envoy_flag("UR")),
          "Envoy flag UR: the upstream reset the stream."),
    _rule("envoy_flag_uo", "envoy", _W, 503, (),
          _cs(_envoy_flag("UO")),
          "Envoy flag UO: upstream overflow, the circuit breaker tripped."),
    _rule("envoy_flag_upe", "envoy", _P, 502, (),
          _cs(_envoy_flag("UPE")),
          "Envoy flag UPE: upstream protocol error (HTTP/1 vs HTTP/2, invalid headers).",
          advice="istio_ports"),
    _rule("envoy_flag_ut", "envoy", _T, 504, (),
          _cs(_envoy_flag("UT")),
          "Envoy flag UT: the upstream request timed out (route timeout)."),
    _rule("envoy_flag_df", "envoy", _D, 503, (),
          _cs(_envoy_flag("DF")),
          "Envoy flag DF: DNS resolution of the upstream failed."),
    _rule("envoy_flag_si", "envoy", _T, None, (),
          _cs(_envoy_flag("SI")),
          "Envoy flag SI: the stream idle timeout fired (no bytes for too long)."),
    _rule("envoy_flag_om", "envoy", _W, 503, (),
          _cs(_envoy_flag("OM")),
          "Envoy flag OM: the overload manager terminated the request; the proxy is out of "
          "resources."),
    _rule("istio_port_name", "envoy", _P, None, (),
          r"\bIST0118\b|doesn't follow the naming convention of Istio port"
          r"|\bPortNameIsNotUnderNamingConvention\b",
          "istioctl analyze: a Service port's name (or its missing `appProtocol`) does not say "
          "its protocol, so the sidecars guess it; a wrong guess (HTTP/1 vs HTTP/2 or gRPC, or "
          "plain TCP) breaks requests with 502/503 (flags UPE or UC).",
          steps=("Name the port by protocol (`http`, `http2`, `grpc`, `tcp`, or `http-<x>`) or "
                 "set `appProtocol`, then re-run `istioctl analyze`.",),
          advice="istio_ports"),
    _rule("envoy_flag_urx", "envoy", _U, None, (_O, _T, _P),
          _cs(_envoy_flag("URX")),
          "Envoy flag URX: retries were exhausted, so the upstream kept failing; the status "
          "is the last attempt's, so read the upstream's own logs."),
)

# ---------------------------------------------------------------------------------------------
# HAProxy (3.3 and 2.19).

_HAPROXY = (
    _rule("haproxy_frontend_ssl", "haproxy", _U, None, (_S,),
          r"\s[\w.-]{1,100}/\d{1,5}: (?:SSL handshake failure|(?:Timeout|Connection closed"
          r"|Connection error) during SSL handshake)",
          "A client failed the TLS handshake with HAProxy's own frontend (`<frontend>/<bind>`); "
          "this is the client side, not the upstream, and is usually noise unless every client "
          "fails."),
    _rule("haproxy_ssl_error", "haproxy", _S, 503, (),
          r"(?:Timeout|Connection closed|Connection error) during SSL handshake|SSL handshake "
          r"failure|Server presented an SSL certificate different from the (?:configured|expected) "
          r"one",
          "HAProxy's TLS handshake with the server failed (the connection error string wins "
          "over the termination state it comes with)."),
    _rule("haproxy_nosrv", "haproxy", _O, 503, (_F,),
          _cs(r"/<NOSRV>\s[^\n]{0,300}?\sSC[-A-Za-z]{2}(?=\s|$)"),
          "HAProxy had no server to send the request to (<NOSRV> with SC): every server in "
          "the backend is down."),
    _rule("haproxy_state_sc", "haproxy", _O, 503, (_F,),
          _cs(_haproxy_state("SC")),
          "HAProxy termination state SC: the server refused the TCP connection (RST, or ICMP "
          "unreachable)."),
    _rule("haproxy_state_connect_timeout", "haproxy", _F, 503, (_W,),
          _cs(_haproxy_state("sC")),
          "HAProxy termination state sC: `timeout connect` struck before the server accepted."),
    _rule("haproxy_state_queue_timeout", "haproxy", _W, 503, (),
          _cs(_haproxy_state("sQ")),
          "HAProxy termination state sQ: the request waited in the queue too long (servers "
          "at maxconn)."),
    _rule("haproxy_state_server_timeout", "haproxy", _T, 504, (_W,),
          _cs(_haproxy_state("sH")),
          "HAProxy termination state sH: `timeout server` struck before the response headers."),
    _rule("haproxy_state_sh", "haproxy", _O, 502, (_P,),
          _cs(_haproxy_state("SH")),
          "HAProxy termination state SH: the server aborted or crashed before sending full "
          "response headers."),
    _rule("haproxy_state_ph", "haproxy", _P, 502, (),
          _cs(_haproxy_state("PH")),
          "HAProxy termination state PH: HAProxy blocked an invalid or incomplete response "
          "header."),
    _rule("haproxy_state_pd", "haproxy", _P, None, (),
          _cs(_haproxy_state("PD")),
          "HAProxy termination state PD: HAProxy blocked badly formatted chunked data after "
          "the headers."),
    _rule("haproxy_state_sd_error", "haproxy", _O, None, (_P,),
          _cs(_haproxy_state("SD")),
          "HAProxy termination state SD: the server connection died with an error "
          "mid-transfer."),
    _rule("haproxy_state_data_timeout", "haproxy", _T, None, (),
          _cs(_haproxy_state("sD")),
          "HAProxy termination state sD: the server stopped sending data for `timeout "
          "server`."),
    _rule("haproxy_state_pc", "haproxy", _W, 503, (),
          _cs(_haproxy_state("PC")),
          "HAProxy termination state PC: HAProxy hit its own socket limit while connecting."),
    _rule("haproxy_state_rc", "haproxy", _W, 503, (),
          _cs(_haproxy_state("RC")),
          "HAProxy termination state RC: a local resource (memory, sockets, source ports) "
          "ran out."),
    _rule("haproxy_no_server", "haproxy", _O, 503, (_F,),
          r"has no server available!",
          "Every server in the HAProxy backend is down."),
    _rule("haproxy_check_l4con_refused", "haproxy", _O, 503, (_F,),
          r"(?:\bL4CON\b|Layer4 connection problem)[^\n]{0,80}?Connection refused",
          "HAProxy's health check was refused: nothing listens on the server port, or a "
          "firewall REJECT rule on the way answers for it.",
          advice="refused_or_firewall"),
    _rule("haproxy_check_l4con_unreachable", "haproxy", _F, 503, (_O,),
          r"(?:\bL4CON\b|Layer4 connection problem)[^\n]{0,80}?(?:No route to host|Network is "
          r"unreachable)",
          "HAProxy's health check found no route to the server: a firewall answers with ICMP "
          "unreachable, or the host or its address is gone.",
          steps=("From the HAProxy host run `ip route get <server-ip>` and `traceroute -T -p "
                 "<port> <server-ip>`; a firewall rejecting with `icmp-host-unreachable` looks "
                 "exactly like a missing host (`iptables -S | grep -i reject` on the way).",)),
    _rule("haproxy_check_l4con", "haproxy", _O, 503, (_F,),
          r"\bL4CON\b|Layer4 connection problem",
          "HAProxy's health check could not connect at layer 4 (refused or unreachable; a "
          "firewall can do either).",
          advice="refused_or_firewall"),
    _rule("haproxy_check_l4tout", "haproxy", _F, 503, (_W,),
          r"\bL4TOUT\b|Layer4 timeout",
          "HAProxy's health check connect timed out: packets to the server are dropped."),
    _rule("haproxy_check_l6", "haproxy", _S, 503, (),
          r"\bL6(?:RSP|TOUT)\b|Layer6 (?:invalid response|timeout)",
          "HAProxy's health check failed at the TLS layer (invalid response or handshake "
          "timeout)."),
    _rule("haproxy_check_l7tout", "haproxy", _T, 503, (_W,),
          r"\bL7TOUT\b|Layer7 timeout",
          "HAProxy's HTTP health check got no answer in time: the app is slow or stuck."),
    _rule("haproxy_check_l7rsp", "haproxy", _P, 503, (),
          r"\bL7RSP\b|Layer7 invalid response",
          "HAProxy's HTTP health check got a response it could not parse."),
    _rule("haproxy_check_l7sts", "haproxy", _O, 503, (),
          r"\bL7STS\b|Layer7 wrong status",
          "HAProxy's HTTP health check got an error status: the app answers but reports "
          "itself unhealthy."),
)

# ---------------------------------------------------------------------------------------------
# Apache httpd mod_proxy (3.4).

_APACHE_ERRNO = r"\(({errno})\)[^:\n]{{0,60}}:[^\n]{{0,160}}?\b{code}\b"

# Apache 2.2 and early 2.4 print the same messages without an AH number, prefixed "proxy: ".
_AP_CONNECT = r"(?:AH00957|proxy: [\w-]{1,20}: attempt to connect to)"
_AP_STATUS_LINE = r"(?:AH01102|proxy: error reading status line from remote server)"

_APACHE = (
    _rule("apache_connect_refused", "apache", _O, 503, (_F,),
          _APACHE_ERRNO.format(errno="111", code=_AP_CONNECT),
          "Apache could not connect to the backend: connection refused, nothing listens "
          "there."),
    _rule("apache_connect_timeout", "apache", _F, 503, (_W,),
          _APACHE_ERRNO.format(errno="110", code=_AP_CONNECT),
          "Apache's connect to the backend timed out: packets are dropped on the way."),
    _rule("apache_connect_no_route", "apache", _F, 503, (_O,),
          _APACHE_ERRNO.format(errno="113", code=_AP_CONNECT),
          "There is no route from Apache to the backend host."),
    _rule("apache_connect_failed", "apache", _O, 503, (_F,),
          r"\bAH00957\b|\bAH01114\b|failed to make connection to backend"
          r"|proxy: [\w-]{1,20}: attempt to connect to \S{1,200} \([^)\n]{0,200}\) failed",
          "Apache could not connect to the backend (mod_proxy answers 503)."),
    _rule("apache_worker_disabled", "apache", _O, 503, (_F,),
          r"\bAH00959\b|\bAH00940\b|disabl(?:ing worker|ed connection) for \(",
          "Apache disabled the backend worker after a failed connect and answers 503 until "
          "the retry window passes.",
          steps=("Find the first failure (AH00957) before this line; `retry=0` on "
                 "`ProxyPass` avoids the 60 s lock-out while debugging.",)),
    _rule("apache_read_timeout", "apache", _T, 502, (_W,),
          _APACHE_ERRNO.format(errno="70007", code=_AP_STATUS_LINE),
          "The backend did not send its status line before the proxy timeout; Apache reports "
          "this as 502 Proxy Error, not 504."),
    _rule("apache_read_reset", "apache", _P, 502, (_O,),
          _APACHE_ERRNO.format(errno="104|70014", code=_AP_STATUS_LINE),
          "The backend reset or closed a connection Apache reused from its pool before sending "
          "a status line: the keep-alive race (the backend closes idle connections sooner than "
          "Apache stops reusing them), or a worker killed mid-request.",
          advice="keepalive_race"),
    _rule("apache_status_line", "apache", _O, 502, (_T, _P),
          rf"\b{_AP_STATUS_LINE}",
          "Apache could not read the backend's status line; the errno in brackets says why "
          "(70007 timeout, 104 reset)."),
    _rule("apache_fcgi_timeout", "apache", _T, 504, (_W,),
          _APACHE_ERRNO.format(errno="70007", code="AH01075"),
          "mod_proxy_fcgi gave up waiting for PHP-FPM (`Error dispatching request`, timeout): "
          "the script ran longer than Apache's proxy timeout, or every PHP-FPM worker was busy.",
          steps=("Compare Apache's `ProxyTimeout` (or `timeout=` on the fcgi `ProxyPass`) with "
                 "PHP's `max_execution_time` and `request_terminate_timeout`, then find the slow "
                 "script in PHP-FPM's `slowlog`.",),
          advice="pool_full"),
    _rule("apache_fcgi_reset", "apache", _O, 503, (_P, _T),
          _APACHE_ERRNO.format(errno="104|32|70014", code="AH01075")
          + r"|\bAH01067\b|Failed to read FastCGI header",
          "PHP-FPM closed or reset the FastCGI connection before answering: its child crashed, "
          "was killed (`request_terminate_timeout`, OOM) or restarted.",
          advice="worker_killed"),
    _rule("apache_fcgi_dispatch", "apache", _O, 503, (_T, _W, _P),
          r"\bAH01075\b|Error dispatching request to",
          "mod_proxy_fcgi could not get an answer from PHP-FPM (`Error dispatching request`); "
          "the errno in brackets says why (70007 timeout, 104 reset, 111 refused)."),
    _rule("apache_dns_failure", "apache", _D, 500, (),
          r"DNS lookup failure for:",
          "Apache could not resolve the backend host name (mod_proxy answers 500)."),
    _rule("apache_ssl_handshake", "apache", _S, 500, (),
          r"\bAH02003\b|Error during SSL Handshake with remote server",
          "Apache's TLS handshake with the backend failed (mod_proxy answers 500).",
          steps=("Check `SSLProxyEngine`, `SSLProxyCACertificateFile` and "
                 "`SSLProxyCheckPeerName` against the backend certificate.",)),
    _rule("apache_corrupt_status", "apache", _P, 502, (),
          r"Corrupt status line returned by remote server",
          "The backend's status line is not valid HTTP."),
    _rule("apache_pass_body", "apache", _P, None, (_O,),
          r"\bAH01097\b|\bAH01084\b|pass request body failed",
          "Apache could not pass the request body to the backend (it closed or reset the "
          "connection)."),
    _rule("apache_read_error", "apache", _T, 502, (_O, _P),
          r"Error reading from remote server",
          "Apache's 502 Proxy Error: reading the backend's response failed; the AH01102 line "
          "just before says timeout (70007) or reset (104)."),
)

# ---------------------------------------------------------------------------------------------
# Go reverse proxies: Traefik, Caddy, httputil (3.5).

_GO = (
    _rule("traefik_no_server", "traefik", _O, 503, (_F,),
          r"\bno available server\b",
          "Traefik's load balancer has no healthy server for the service."),
    _rule("caddy_no_upstreams", "caddy", _O, 503, (_F,),
          r"\bno upstreams available\b",
          "Caddy has no healthy upstream for the reverse_proxy."),
    _rule("go_lookup_no_such_host", "go", _D, 502, (),
          r"\blookup \S{1,255}(?: on \S{1,100})?: no such host",
          "The proxy's DNS lookup of the upstream name returned no such host (NXDOMAIN)."),
    _rule("go_lookup_failure", "go", _D, 502, (),
          r"\blookup \S{1,255} on \S{1,100}: [^\n]{0,120}?(?:i/o timeout|server misbehaving)",
          "The proxy's DNS server timed out or failed (SERVFAIL) resolving the upstream name."),
    _rule("go_connection_refused", "go", _O, 502, (_F,),
          r"\bdial (?:tcp[46]?|unix) \S{1,300} connect: (?:connection refused|no such file or "
          r"directory)",
          "The proxy's connection to the upstream was refused: nothing listens at that "
          "address."),
    _rule("go_dial_timeout", "go", _F, 504, (_W,),
          r"\bdial tcp[46]? \S{1,300} (?:connect: connection timed out|i/o timeout)",
          "The proxy's TCP connect to the upstream timed out: packets are dropped on the way."),
    _rule("go_no_route", "go", _F, 502, (_O,),
          r"\bconnect: (?:no route to host|network is unreachable)",
          "There is no route from the proxy to the upstream address."),
    _rule("go_response_header_timeout", "go", _T, 504, (_W,),
          r"timeout awaiting response headers",
          "The upstream accepted the request but sent no headers within "
          "ResponseHeaderTimeout."),
    _rule("go_connection_reset", "go", _O, 502, (_P,),
          r"\bread(?:from)? tcp \S{1,300} read: connection reset by peer",
          "The upstream reset the connection mid-request (a killed worker, or a reused "
          "connection it had just closed).",
          advice="premature_close"),
    _rule("go_broken_pipe", "go", _P, 502, (_O,),
          r"\bwrite tcp \S{1,300} write: (?:broken pipe|connection reset by peer)",
          "The upstream closed a reused connection while the proxy was writing the request.",
          advice="keepalive_race"),
    _rule("go_x509_expired", "go", _S, None, (),
          r"x509: certificate has expired",
          "The upstream's certificate has expired (Traefik answers 500, Caddy 502).",
          steps=("Renew the upstream certificate and reload the server that holds it.",)),
    _rule("go_x509_unknown_authority", "go", _S, None, (),
          r"x509: certificate signed by unknown authority",
          "The upstream's certificate does not chain to a CA the proxy trusts (Traefik 500, "
          "Caddy 502)."),
    _rule("go_x509_name_mismatch", "go", _S, None, (),
          r"x509: certificate is valid for [^\n]{1,300}?, not ",
          "The upstream's certificate does not cover the name the proxy verifies (Traefik "
          "500, Caddy 502)."),
    _rule("go_tls_verify", "go", _S, None, (),
          r"tls: failed to verify certificate|\bx509: ",
          "The proxy rejected the upstream's certificate (Traefik 500, Caddy 502)."),
    _rule("go_http_to_https", "go", _S, None, (_P,),
          r"server gave HTTP response to HTTPS client|first record does not look like a TLS "
          r"handshake",
          "The proxy spoke TLS to a plain-HTTP upstream port (Traefik 500, Caddy 502)."),
    _rule("go_server_closed_idle", "go", _P, 502, (_O,),
          r"server closed idle connection",
          "The upstream closed an idle keep-alive connection just as the proxy reused it: the "
          "keep-alive race (the app's idle timeout is shorter than the proxy's).",
          advice="keepalive_race"),
    _rule("go_malformed_response", "go", _P, 502, (_S,),
          r"malformed HTTP (?:response|status code|version)",
          "The upstream's response is not valid HTTP/1.x."),
    _rule("go_eof", "go", _P, 502, (_O,),
          _cs(r"(?:\bcaused by:?|:|\"(?:error|err)\"\s{0,3}:\s{0,3}\")\s?(?P<m>(?:unexpected )?EOF)"
              r"(?=$|[\s\"',}])"),
          "The upstream closed the connection without a complete response: a keep-alive race "
          "or a worker that died mid-request.",
          advice="premature_close"),
)

# ---------------------------------------------------------------------------------------------
# Varnish, then Fastly (2.8). Varnish FetchError lines first: Fastly shares some texts.

_VARNISH = (
    _rule("varnish_backend_unhealthy", "varnish", _O, 503, (_F,),
          r"FetchError\s+backend \S{1,100}: unhealthy",
          "Varnish's probe marked the backend sick, so it did not even try to fetch."),
    _rule("varnish_backend_busy", "varnish", _W, 503, (),
          r"FetchError\s+backend \S{1,100}: busy",
          "The backend reached `.max_connections` in Varnish."),
    _rule("varnish_fail_refused", "varnish", _O, 503, (_F,),
          r"FetchError\s+backend \S{1,100}: fail errno 111\b",
          "Varnish's connection to the backend was refused."),
    _rule("varnish_fail_unreachable", "varnish", _F, 503, (_O,),
          r"FetchError\s+backend \S{1,100}: fail errno (?:110|113)\b",
          "Varnish could not reach the backend (connect timeout or no route)."),
    _rule("varnish_fail", "varnish", _O, 503, (_F,),
          r"FetchError\s+backend \S{1,100}: fail\b|FetchError\s+no backend connection",
          "Varnish could not open a connection to the backend."),
    _rule("varnish_first_byte_timeout", "varnish", _T, 503, (_W,),
          r"FetchError\s+first byte timeout",
          "The backend sent no first byte within `.first_byte_timeout`."),
    _rule("varnish_write_error", "varnish", _P, 503, (_O,),
          r"FetchError\s+backend write error",
          "Varnish failed writing the request to the backend (it closed the connection)."),
    _rule("varnish_format_error", "varnish", _P, 503, (),
          r"FetchError\s+(?:http format error|Received junk|overflow)",
          "The backend's response was not valid HTTP or its headers overflowed Varnish's "
          "buffer."),
    _rule("varnish_backend_closed", "varnish", _P, 503, (_O,),
          r"FetchError\s+backend closed",
          "The backend closed the connection before a complete response."),
    _rule("varnish_timeout", "varnish", _T, 503, (),
          r"FetchError\s+timeout",
          "A Varnish fetch timeout (between bytes) fired."),
    _rule("varnish_backend_fetch_failed", "varnish", _U, 503, (_O, _T, _P),
          r"503 Backend fetch failed",
          "Varnish's synthetic error page: the fetch from the backend failed; varnishlog's "
          "FetchError line says why."),
)

_FASTLY = (
    _rule("fastly_all_backends_failed", "fastly", _O, 503, (_F,),
          _cs(r"All backends failed or unhealthy|Backend is unhealthy|No healthy backends"),
          "Fastly has no healthy backend for this request."),
    _rule("fastly_first_byte_timeout", "fastly", _T, 503, (_W,),
          _cs(r"first byte timeout"),
          "Fastly's first-byte timeout (15 s by default) fired before the origin answered."),
    _rule("fastly_backend_read_error", "fastly", _T, 503, (_P, _O),
          _cs(r"backend read error"),
          "Fastly failed reading the origin's response (timeout or reset)."),
    _rule("fastly_backend_write_error", "fastly", _P, 503, (_O,),
          _cs(r"backend write error"),
          "Fastly failed writing the request to the origin."),
    _rule("fastly_max_conn", "fastly", _W, 503, (),
          _cs(r"Backend\.max_conn reached"),
          "The backend's max_conn limit in Fastly was reached."),
    _rule("fastly_connection_refused", "fastly", _O, 503, (_F,),
          _cs(r"\b503 Connection refused\b"),
          "The origin refused Fastly's connection."),
    _rule("fastly_unreachable", "fastly", _F, 503, (_W,),
          _cs(r"\b503 (?:Network Unreachable|Operation now in progress)\b"),
          "Fastly could not reach the origin (no route, or the connect timed out)."),
)

# ---------------------------------------------------------------------------------------------
# Serverless and PaaS platforms (2.6, 2.7, 2.13, 2.14, 2.15).

_VERCEL = (
    _rule("vercel_invocation_failed", "vercel", _O, 500, (),
          r"\b(?:EDGE_FUNCTION|FUNCTION|MIDDLEWARE)_INVOCATION_FAILED\b",
          "The Vercel function threw or failed to boot (out of memory, unhandled error).",
          steps=("Open the function's logs for the request ID in the Vercel dashboard.",)),
    _rule("vercel_invocation_timeout", "vercel", _T, 504, (),
          r"\b(?:EDGE_FUNCTION|FUNCTION|MIDDLEWARE)_INVOCATION_TIMEOUT\b",
          "The Vercel function ran past its maximum duration."),
    _rule("vercel_no_response", "vercel", _O, 502, (_P,),
          r"\bNO_RESPONSE_FROM_FUNCTION\b",
          "The Vercel function ended without sending a response."),
    _rule("vercel_bad_response", "vercel", _P, 502, (),
          r"\b(?:BODY_NOT_A_STRING_FROM_FUNCTION|FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE)\b",
          "The Vercel function returned a response the platform cannot send (wrong body type "
          "or too large)."),
    _rule("vercel_throttled", "vercel", _W, 503, (),
          r"\bFUNCTION_THROTTLED\b",
          "Vercel throttled the function: the concurrency limit was reached."),
    _rule("vercel_dns", "vercel", _D, 502, (),
          r"\bDNS_HOSTNAME_(?:NOT_FOUND|RESOLVE_FAILED|SERVER_ERROR|EMPTY|RESOLVED_PRIVATE)\b",
          "Vercel could not resolve the external rewrite or proxy target's host name."),
    _rule("vercel_external_connection", "vercel", _O, 502, (_F,),
          r"\bROUTER_EXTERNAL_TARGET_CONNECTION_ERROR\b",
          "Vercel could not connect to the external rewrite target."),
    _rule("vercel_external_handshake", "vercel", _S, 502, (),
          r"\bROUTER_EXTERNAL_TARGET_HANDSHAKE_ERROR\b",
          "The TLS handshake with the external rewrite target failed."),
    _rule("vercel_external_error", "vercel", _P, 502, (_O,),
          r"\bROUTER_EXTERNAL_TARGET_ERROR\b",
          "The external rewrite target sent an invalid response."),
    _rule("vercel_config", "vercel", _U, None, (),
          r"\b(?:DEPLOYMENT_PAUSED|INFINITE_LOOP_DETECTED)\b",
          "A Vercel project configuration error (paused deployment or rewrite loop), not an "
          "origin failure."),
)

_HEROKU = (
    _rule("heroku_h10", "heroku", _O, 503, (),
          _cs(_heroku("H10", "App crashed")),
          "Heroku H10: the web dyno crashed or failed to start."),
    _rule("heroku_h11", "heroku", _W, 503, (_T,),
          _cs(_heroku("H11", "Backlog too deep")),
          "Heroku H11: the router's backlog for the app is too deep; dynos cannot keep up."),
    _rule("heroku_h12", "heroku", _T, 503, (_W,),
          _cs(_heroku("H12", "Request timeout")),
          "Heroku H12: the app sent no first byte within 30 s."),
    _rule("heroku_h13", "heroku", _P, 503, (_O, _T),
          _cs(_heroku("H13", "Connection closed without response")),
          "Heroku H13: the dyno accepted the connection and closed it without answering: the "
          "web server's keep-alive timeout is shorter than the router's reuse (keep-alive "
          "race), or its own request timeout killed the worker mid-request.",
          advice="keepalive_race"),
    _rule("heroku_h14", "heroku", _O, 503, (),
          _cs(_heroku("H14", r"No web (?:dynos|processes) running")),
          "Heroku H14: no web dynos are running."),
    _rule("heroku_h15", "heroku", _T, 503, (),
          _cs(_heroku("H15", "Idle connection")),
          "Heroku H15: the connection was idle for 55 s without data."),
    _rule("heroku_h17", "heroku", _P, 503, (),
          _cs(_heroku("H17", "Poorly formatted HTTP response")),
          "Heroku H17: the dyno's HTTP response was malformed."),
    _rule("heroku_h18", "heroku", _P, 503, (_O,),
          _cs(_heroku("H18", "Server Request Interrupted")),
          "Heroku H18: the dyno closed the socket mid-request or mid-response."),
    _rule("heroku_h19", "heroku", _F, 503, (_W,),
          _cs(_heroku("H19", "Backend connection timeout")),
          "Heroku H19: the router could not connect to the dyno within 5 s."),
    _rule("heroku_h20", "heroku", _O, 503, (),
          _cs(_heroku("H20", "App boot timeout")),
          "Heroku H20: the web process did not bind to $PORT within the boot timeout."),
    _rule("heroku_h21", "heroku", _O, 503, (_F,),
          _cs(_heroku("H21", "Backend connection refused")),
          "Heroku H21: the dyno refused the router's connection."),
    _rule("heroku_h22", "heroku", _W, 503, (),
          _cs(_heroku("H22", "Connection limit reached")),
          "Heroku H22: the app reached its connection limit."),
    _rule("heroku_h23", "heroku", _U, 503, (),
          _cs(_heroku("H23", "Endpoint misconfigured")),
          "Heroku H23: an endpoint is misconfigured; a platform configuration problem."),
    _rule("heroku_r10", "heroku", _O, 503, (),
          _cs(r"\bR10\b[^\n]{0,10}?(?i:boot timeout)|failed to bind to \$PORT"),
          "Heroku R10: the web process did not bind to $PORT within 60 s of launch.",
          steps=("Bind to `0.0.0.0:$PORT`, not a fixed port.",)),
)

_FLY = (
    _rule("fly_pc01", "fly", _O, 502, (),
          _cs(_fly("PC01", r"instance refused connection")),
          "Fly PC01: the Machine refused the connection; the app is not listening on "
          "0.0.0.0/:: at the internal port.",
          steps=("Listen on `0.0.0.0` (or `::`) at fly.toml's `internal_port`, not 127.0.0.1.",)),
    _rule("fly_refused", "fly", _O, 502, (_F,),
          _cs(_fly("PC02|PC04|PC07")),
          "Fly PC02/PC04/PC07: the connection to the Machine was refused, aborted, or failed "
          "after all retries."),
    _rule("fly_reset", "fly", _O, 502, (_P,),
          _cs(_fly("PC03")),
          "Fly PC03: the Machine reset the connection."),
    _rule("fly_connect_timeout", "fly", _W, 502, (_T, _F),
          _cs(_fly("PC05")),
          "Fly PC05: connecting to the Machine timed out; it is overloaded or at its "
          "concurrency limit."),
    _rule("fly_upstream_protocol", "fly", _P, 502, (_O,),
          _cs(_fly("PU0[12]")),
          "Fly PU01/PU02: the HTTP exchange with the instance failed (h2c handshake or an "
          "incomplete response)."),
    _rule("fly_machine", "fly", _O, 502, (),
          _cs(_fly("PM0[569]|PM13")),
          "Fly PM05/PM06/PM09/PM13: the proxy could not connect to or start the Machine."),
    _rule("fly_no_healthy", "fly", _O, 502, (_F,),
          _cs(_fly("PR01", r"no known healthy instances found for route")),
          "Fly PR01: no healthy instance is known for the app."),
    _rule("fly_no_candidate", "fly", _W, 502, (_O,),
          _cs(_fly("PR0[34]", r"could not find a good candidate within \d{1,5} attempts")),
          "Fly PR03/PR04: every instance is at its concurrency hard limit or unavailable."),
    _rule("fly_edge_tls", "fly", _S, None, (),
          _cs(_fly("PT0[3-8]")),
          "Fly PT03-PT08: the client's TLS handshake with Fly's edge failed (certificate or "
          "SNI at the edge)."),
    _rule("fly_replay", "fly", _U, None, (),
          _cs(_fly("PA0[2-5]")),
          "Fly PA02-PA05: a fly-replay configuration problem, not an origin failure."),
)

_RENDER_NETLIFY = (
    _rule("render_no_server", "render", _O, 404, (),
          r"x-render-routing:\s{0,3}no-server",
          "Render has no running instance for the service (stopped, deleted, or a free "
          "instance spun down)."),
    _rule("render_wake_error", "render", _O, 503, (_T,),
          r"hibernate-wake-error",
          "Render could not wake the sleeping instance in time (cold start failed or too "
          "slow)."),
    _rule("netlify_function_timeout", "netlify", _T, 502, (),
          r"Sandbox\.Timedout|Task timed out after [\d.]{1,10} seconds",
          "The Netlify (AWS Lambda) function ran past its time limit."),
)

# ---------------------------------------------------------------------------------------------
# Cloudflare (2.1): codes in context, Tunnel and DNS 1xxx codes before 530.

_CLOUDFLARE = (
    _rule("cloudflare_1016", "cloudflare", _D, 530, (),
          _cloudflare("1016", "Origin DNS error"),
          "Cloudflare 1016: Cloudflare cannot resolve the origin's host name."),
    _rule("cloudflare_1033", "cloudflare", _O, 530, (),
          _cloudflare("1033", "Argo Tunnel error"),
          "Cloudflare 1033: the Cloudflare Tunnel is down (cloudflared not running).",
          steps=("Check `systemctl status cloudflared` and `cloudflared tunnel info <name>`.",)),
    _rule("cloudflare_520", "cloudflare", _P, 520, (_O,),
          _cloudflare("520", "Web server is returning an unknown error|Origin Error"),
          "Cloudflare 520: the origin returned an empty, unknown or malformed response (or "
          "crashed mid-request)."),
    _rule("cloudflare_521", "cloudflare", _O, 521, (_F,),
          _cloudflare("521", "Web server is down|Origin Down"),
          "Cloudflare 521: the origin refused Cloudflare's connection (server down, or "
          "Cloudflare IPs blocked)."),
    _rule("cloudflare_522", "cloudflare", _F, 522, (_W, _O),
          _cloudflare("522", "Connection timed out|Origin Connection Time-?out"),
          "Cloudflare 522: the origin did not answer Cloudflare's TCP handshake within 19 s "
          "(blocked Cloudflare IPs or an overloaded origin)."),
    _rule("cloudflare_523", "cloudflare", _F, 523, (_D,),
          _cloudflare("523", "Origin is unreachable|Origin Unreachable"),
          "Cloudflare 523: Cloudflare has no route to the origin IP (wrong DNS record or "
          "routing)."),
    _rule("cloudflare_524", "cloudflare", _T, 524, (_W,),
          _cloudflare("524", "A timeout occurred|Origin Time-?out"),
          "Cloudflare 524: the origin accepted the connection but sent no response within "
          "120 s."),
    _rule("cloudflare_525", "cloudflare", _S, 525, (),
          _cloudflare("525", "SSL handshake failed|Origin SSL Handshake Error"),
          "Cloudflare 525: the TLS handshake between Cloudflare and the origin failed."),
    _rule("cloudflare_526", "cloudflare", _S, 526, (),
          _cloudflare("526", "Invalid SSL certificate"),
          "Cloudflare 526: the origin certificate is invalid (expired, self-signed or wrong "
          "name) under Full (strict)."),
    _rule("cloudflare_530", "cloudflare", _D, 530, (_O,),
          _cloudflare("530"),
          "Cloudflare 530: read the 1xxx code on the page; 1016 means origin DNS, 1033 a "
          "tunnel that is down."),
    _rule("cloudflare_origin_timeout_page", "cloudflare", _T, 524, (_W,),
          r"(?P<m>Origin Time-out)",
          "Cloudflare's older 524 page (\"Origin Time-out\"): the origin accepted the connection "
          "but sent no response within 100 s."),
    _rule("cloudflare_origin_502", "cloudflare", _U, 502, (_O, _T, _P),
          r"The web server reported a bad gateway error",
          "Cloudflare's branded 502 page: the origin itself returned 502, Cloudflare only "
          "relayed it."),
    _rule("cloudflare_origin_504", "cloudflare", _T, 504, (_F,),
          r"The web server reported a gateway time-?out error",
          "Cloudflare's branded 504 page: the origin itself returned 504."),
)

# ---------------------------------------------------------------------------------------------
# AWS (2.2-2.5).

_ALB_TIMES = r"\s(?:-1|\d{1,6}\.\d{1,6})\s-1\s-1\s"

_AWS = (
    _rule("alb_502_target_no_response", "aws_alb", _P, 502, (_O, _S, _F),
          rf"{_ALB_TIMES}(?P<m>502\s-)\s"
          r'|elb_status_code"?\s{0,3}[:=]\s{0,3}"?502\b[^\n]{0,80}?target_status_code"?\s{0,3}[:=]'
          r'\s{0,3}"?-',
          "The ALB generated this 502 and the target never answered (target_status_code -): "
          "most often the target closed an idle keep-alive connection the ALB reused (its "
          "keep-alive timeout is below the ALB's 60 s idle timeout); else refused, malformed, "
          "or a TLS failure to the target.",
          advice="keepalive_race"),
    _rule("alb_504_target_no_response", "aws_alb", _T, 504, (_F,),
          rf"{_ALB_TIMES}(?P<m>504\s-)\s"
          r'|elb_status_code"?\s{0,3}[:=]\s{0,3}"?504\b[^\n]{0,80}?target_status_code"?\s{0,3}[:=]'
          r'\s{0,3}"?-',
          "The ALB generated this 504: the target did not answer within the idle timeout, or "
          "the connect (10 s) timed out."),
    _rule("alb_503_no_targets", "aws_alb", _O, 503, (),
          r"\s-1\s-1\s-1\s(?P<m>503\s-)\s",
          "The ALB generated this 503 without dispatching: the target group has no "
          "registered targets."),
    _rule("alb_target_passthrough", "origin", _U, None, (_O, _T, _P),
          r"\s(?:-1|\d{1,6}\.\d{1,6})\s(?:-1|\d{1,6}\.\d{1,6})\s(?:-1|\d{1,6}\.\d{1,6})\s"
          r"(?P<m>(5\d\d)\s\2)\s",
          "elb_status_code equals target_status_code: the target generated this 5xx and the "
          "ALB only relayed it."),
    _rule("alb_lambda_unhandled", "aws_alb", _O, 502, (),
          r"\bLambdaUnhandled\b",
          "The Lambda target threw an unhandled error."),
    _rule("alb_lambda_invalid", "aws_alb", _P, 502, (),
          r"\bLambda(?:InvalidResponse|ResponseTooLarge)\b",
          "The Lambda target's response was malformed or larger than 1 MB."),
    _rule("alb_lambda_throttling", "aws_alb", _W, 502, (),
          r"\bLambdaThrottling\b",
          "The Lambda target was throttled (concurrency limit)."),
    _rule("elb_at_capacity", "aws_elb", _W, 503, (_O,),
          r"Back-end server is at capacity",
          "The Classic ELB's surge queue is full: the instances cannot keep up."),
    _rule("apigw_timeout", "aws_api_gateway", _T, 504, (),
          r"Endpoint request timed out|\bINTEGRATION_TIMEOUT\b",
          "API Gateway's integration did not answer within 29 s."),
    _rule("apigw_integration_failure", "aws_api_gateway", _O, 504, (_F, _S),
          r"\bINTEGRATION_FAILURE\b",
          "API Gateway could not reach or use the integration backend."),
    _rule("cloudfront_connect_error", "cloudfront", _O, 502, (_F, _S),
          _token("OriginConnectError") + r"|CloudFront wasn't able to connect to the origin",
          "CloudFront could not connect to the origin (refused, wrong port, or a TLS "
          "failure)."),
    _rule("cloudfront_dns_error", "cloudfront", _D, 502, (),
          _token("(?:NonS3)?OriginDnsError")
          + r"|CloudFront wasn't able to resolve the origin domain name",
          "CloudFront could not resolve the origin's domain name."),
    _rule("cloudfront_comm_error", "cloudfront", _F, 504, (_T,),
          _token("OriginCommError"),
          "CloudFront timed out connecting to the origin or reading from it."),
    _rule("cloudfront_read_error", "cloudfront", _O, 502, (_P, _T, _S),
          _token("Origin(?:Read|Write)Error")
          + r"|CloudFront attempted to establish a connection with the origin, but either the "
          r"attempt failed or the origin closed the connection",
          "The connection to the origin failed or the origin closed it mid-exchange."),
    _rule("cloudfront_invalid_response", "cloudfront", _P, 502, (),
          _token(
          "Origin(?:InvalidResponseError|HeaderTooBigError|ContentRangeLengthError"
          "|ZeroSizeObjectError)"
          ),
          "The origin's response was invalid for CloudFront (malformed, headers too big, or "
          "a body that does not match its length)."),
)

# ---------------------------------------------------------------------------------------------
# Google Cloud (2.10) and Azure Front Door (2.11).

_GOOGLE = (
    _rule("gclb_failed_to_pick_backend", "google", _O, 502, (_F,),
          _token("failed_to_pick_backend"),
          "The Google load balancer found no healthy backend."),
    _rule("gclb_failed_to_connect", "google", _O, 502, (_F,),
          _token("failed_to_connect_to_backend"),
          "The Google load balancer could not connect to the backend (refused, or a connect "
          "timeout)."),
    _rule("gclb_backend_timeout", "google", _T, 502, (_W,),
          _token("backend_timeout"),
          "The backend did not answer within the backend service timeout (30 s by default)."),
    _rule("gclb_closed_before_data", "google", _P, 502, (_O,),
          _token("backend_connection_closed_before_data_sent_to_client"),
          "The backend closed the connection before answering, usually a keep-alive timeout "
          "shorter than the load balancer's 600 s.",
          advice="keepalive_race"),
    _rule("gclb_closed_after_partial", "google", _O, None, (_P,),
          _token("backend_connection_closed_after_partial_response_sent"),
          "The backend closed the connection mid-response, so the client got a truncated "
          "body."),
    _rule("gclb_bad_response", "google", _P, 502, (),
          _token(
          "backend_response_corrupted|backend_response_headers_too_long"
          "|backend_early_response_with_non_error_status|backend_interim_response_not_supported"
          "|error_uncompressing_gzipped_body"
          ),
          "The backend's response was invalid for the Google load balancer (bad chunking, "
          "headers too long, or broken gzip)."),
    _rule("gclb_alpn", "google", _P, 502, (_S,),
          _token("failed_to_negotiate_alpn"),
          "The load balancer and backend could not agree on HTTP/2 (ALPN)."),
    _rule("gclb_ssl_verification", "google", _S, 502, (),
          _token(r"ssl_certificate_\w{1,40}_verification_failed|server_cert_\w{1,60}"),
          "The backend's certificate failed the load balancer's verification."),
    _rule("gclb_config", "google", _U, 502, (),
          _token("request_loop_detected|serverless_neg_routing_failed"),
          "A Google load-balancer routing configuration problem, not a backend failure."),
    _rule("cloud_run_no_instance", "google", _W, 503, (_O,),
          r"no available instance",
          "Cloud Run had no instance free to take the request (max instances or concurrency "
          "reached)."),
)

_AFD_CONTEXT = r"(?i:ErrorInfo)(?:_s)?[\"'\s:=]{1,6}"

_AZURE = (
    _rule("afd_connection_refused", "azure_front_door", _O, 503, (_F,),
          _cs(_token("OriginConnectionRefused")),
          "Azure Front Door's connection to the origin was refused."),
    _rule("afd_connection_error", "azure_front_door", _F, 503, (_O,),
          _cs(_token("OriginConnectionError")),
          "Azure Front Door could not connect to the origin."),
    _rule("afd_connection_aborted", "azure_front_door", _P, 503, (_O,),
          _cs(_token("OriginConnectionAborted")),
          "The origin aborted the connection to Azure Front Door mid-exchange."),
    _rule("afd_timeout", "azure_front_door", _T, 504, (_W,),
          _cs(_AFD_CONTEXT + r"(?P<m>OriginTimeout)\b"),
          "The origin did not answer Azure Front Door within the origin response timeout (30 "
          "s by default)."),
    _rule("afd_invalid_response", "azure_front_door", _P, 503, (),
          _cs(_token("OriginInvalidResponse|ResponseHeaderTooBig")),
          "The origin's response was invalid for Azure Front Door (malformed or headers too "
          "big)."),
    _rule("afd_tls", "azure_front_door", _S, 503, (),
          _cs(_token("SSLHandshakeError|SSLInvalidRootCA|SSLInvalidCipher|CertificateNameCheckFailed")
              + "|"
              + _AFD_CONTEXT
              + r"(?P<m2>CertificateError)\b"),
          "Azure Front Door's TLS connection to the origin failed (handshake, untrusted CA, "
          "cipher or name)."),
    _rule("afd_dns", "azure_front_door", _D, 503, (),
          _cs(_token("DNSNameNotResolved") + "|" + _AFD_CONTEXT
              + r"(?P<m2>DNSFailure|DNSTimeout)\b"),
          "Azure Front Door could not resolve the origin's host name."),
)

# ---------------------------------------------------------------------------------------------
# Akamai (2.9) and RFC 9209 Proxy-Status error tokens (2.18).

_OTHER = (
    _rule("akamai_read_timeout", "akamai", _T, None, (),
          _cs(_token("ERR_READ_TIMEOUT")),
          "Akamai timed out reading from the origin."),
    _rule("akamai_connect_fail", "akamai", _O, None, (_F,),
          _cs(_token("ERR_CONNECT_FAIL")),
          "Akamai could not connect to the origin."),
    _rule("akamai_read_write_error", "akamai", _P, None, (_O,),
          _cs(_token("ERR_(?:READ|WRITE)_ERROR")),
          "Akamai's exchange with the origin failed mid-way (the origin closed or reset it)."),
    _rule("proxy_status_refused", None, _O, None, (_F,),
          r"\berror=\"?(?P<m>connection_refused|destination_unavailable)\b",
          "Proxy-Status: the proxy's connection to the upstream was refused or it was "
          "unavailable."),
    _rule("proxy_status_unreachable", None, _F, None, (_W,),
          r"\berror=\"?(?P<m>connection_timeout|destination_ip_unroutable)\b",
          "Proxy-Status: the proxy could not reach the upstream (connect timeout or no "
          "route)."),
    _rule("proxy_status_dns", None, _D, None, (),
          r"\berror=\"?(?P<m>dns_error|dns_timeout|destination_not_found)\b",
          "Proxy-Status: resolving the upstream name failed."),
    _rule("proxy_status_read_timeout", None, _T, None, (),
          r"\berror=\"?(?P<m>connection_read_timeout|http_response_timeout)\b",
          "Proxy-Status: the upstream did not answer in time."),
    _rule("proxy_status_terminated", None, _P, None, (_O,),
          r"\berror=\"?(?P<m>connection_terminated|http_protocol_error|http_response_incomplete)\b",
          "Proxy-Status: the upstream closed the connection or broke the protocol."),
    _rule("proxy_status_limit", None, _W, None, (),
          r"\berror=\"?(?P<m>connection_limit_reached)\b",
          "Proxy-Status: the proxy's connection limit to the upstream was reached."),
    _rule("proxy_status_tls", None, _S, None, (),
          r"\berror=\"?(?P<m>tls_protocol_error|tls_certificate_error|tls_alert_received)\b",
          "Proxy-Status: the TLS connection to the upstream failed."),
)

# ---------------------------------------------------------------------------------------------
# Application servers: the lines people paste beside the proxy's, which say why the proxy failed.

_APP_SERVERS = (
    _rule("gunicorn_worker_timeout", "gunicorn", _T, 502, (_W, _O),
          r"(?P<m>WORKER TIMEOUT) \(pid:\s?\d{1,10}\)",
          "gunicorn's arbiter killed a worker that handled one request for longer than "
          "`--timeout` (30 s by default); the proxy sees the connection close without an "
          "answer (nginx `upstream prematurely closed`, 502).",
          advice="worker_timeout"),
    _rule("gunicorn_worker_killed", "gunicorn", _O, 502, (_T, _W),
          r"Worker \(pid:\s?\d{1,10}\) was sent (?P<m>SIGKILL|SIGTERM|code \d{1,5})",
          "A gunicorn worker died mid-request: killed after a timeout, or by the kernel's OOM "
          "killer (\"Perhaps out of memory?\").",
          advice="worker_killed"),
    _rule("gunicorn_boot_failed", "gunicorn", _O, 502, (),
          r"Worker failed to boot|Reason: (?P<m>App failed to load)",
          "gunicorn cannot start its workers (an import or configuration error), so nothing "
          "serves the port.",
          steps=("Run the app's import by hand to see the error: `gunicorn --check-config "
                 "<module>:<app>` or `python -c 'import <module>'`.",)),
    _rule("php_fpm_max_children", "php_fpm", _W, None, (_T,),
          r"server reached (?P<m>(?:pm\.)?max_children) setting",
          "PHP-FPM has started `pm.max_children` workers and all are busy: new requests wait "
          "in the listen queue until the proxy gives up (502 on a full unix socket, 504 on a "
          "timeout).",
          advice="pool_full"),
    _rule("php_fpm_busy", "php_fpm", _W, None, (_T,),
          r"seems busy \(you may need to increase (?:pm\.)?start_servers",
          "PHP-FPM is spawning workers as fast as it can: the pool is close to full.",
          advice="pool_full"),
    _rule("php_fpm_execution_timeout", "php_fpm", _T, 502, (_W,),
          r"execution timed out \([\d.]{1,20} sec\), terminating",
          "PHP-FPM killed a child whose script ran past `request_terminate_timeout`; the proxy "
          "sees the FastCGI connection close (nginx `upstream prematurely closed FastCGI "
          "stdout`, 502).",
          advice="worker_timeout"),
    _rule("php_fpm_child_signal", "php_fpm", _O, 502, (_T,),
          r"child \d{1,10} exited on signal (?P<m>\d{1,2}(?: \(SIG[A-Z]{2,10}[^)\n]{0,20}\))?)",
          "A PHP-FPM child died on a signal mid-request (SIGSEGV: a crashing extension; "
          "SIGKILL: the OOM killer or `request_terminate_timeout`).",
          advice="worker_killed"),
    _rule("uwsgi_listen_queue", "uwsgi", _W, None, (_T,),
          r"(?P<m>listen queue of socket) [^\n]{1,300}? full",
          "uWSGI's listen queue is full: every worker is busy and the backlog (`--listen`, 100 "
          "by default) has overflowed, so the proxy's connections are refused or time out.",
          advice="listen_queue"),
    _rule("uwsgi_harakiri", "uwsgi", _T, 502, (_W,),
          r"(?P<m>HARAKIRI)(?: ON WORKER \d{1,5}| triggered)",
          "uWSGI's harakiri killed a worker whose request ran past `harakiri` seconds; the "
          "proxy sees the connection close without an answer.",
          advice="worker_timeout"),
)

# h2o's proxy logs `[lib/core/proxy.c] in request:<path>:<error>` and answers 502 "Gateway Error".
_H2O_LOG = r"\[lib/core/proxy\.c\] in request:[^\n]{0,300}?:"

_H2O = (
    _rule("h2o_connection_refused", "h2o", _O, 502, (_F,),
          _H2O_LOG + r"(?P<m>connection refused)",
          "h2o's connection to the upstream was refused: nothing listens there."),
    _rule("h2o_timeout", "h2o", _T, 502, (_F, _W),
          _H2O_LOG + r"(?P<m>(?:I/O|network|first byte|connection) timeout)",
          "h2o timed out connecting to or reading from the upstream."),
    _rule("h2o_io_error", "h2o", _P, 502, (_O,),
          _H2O_LOG + r"(?P<m>I/O error(?: \([^)\n]{1,40}\))?|(?:unexpected )?end of stream)",
          "The upstream closed the connection under h2o before a complete response: on a "
          "pooled connection this is the keep-alive race, otherwise a worker killed "
          "mid-request.",
          advice="keepalive_race"),
    _rule("h2o_bad_response", "h2o", _P, 502, (),
          _H2O_LOG + r"(?P<m>failed to parse the response|invalid response from upstream)",
          "The upstream's response was not valid HTTP for h2o.",
          advice="bad_response"),
)

_KEEPALIVE = (
    _rule("alb_elb_502", "aws_alb", _P, 502, (_O, _S, _F),
          r"\b(?P<m>HTTPCode_ELB_502_Count)\b|\b(?P<m2>502)\b[\s\S]{0,300}?\bawselb/2\.0\b"
          r"|\bawselb/2\.0\b[\s\S]{0,300}?\b(?P<m3>502)\b",
          "A 502 the ALB generated itself (its page or `HTTPCode_ELB_502_Count`, not the "
          "target's): most often the target closed an idle keep-alive connection the ALB "
          "reused; else the target refused, reset, sent a malformed response or failed TLS.",
          advice="keepalive_race"),
    _rule("alb_elb_504", "aws_alb", _T, 504, (_F,),
          r"\b(?P<m>HTTPCode_ELB_504_Count)\b"
          r"|\b(?P<m2>504)\b[\s\S]{0,300}?\bawselb/2\.0\b"
          r"|\bawselb/2\.0\b[\s\S]{0,300}?\b(?P<m3>504)\b",
          "A 504 the ALB generated itself: the target did not answer within the idle timeout "
          "(60 s by default), or the connect (10 s) timed out."),
    _rule("alb_keepalive_documented", "aws_alb", _P, 502, (_O,),
          r"closed the connection with a TCP RST or a TCP FIN while the load balancer had an "
          r"outstanding request",
          "AWS's own description of the keep-alive race: the target closed a connection the "
          "ALB was still using, because its keep-alive timeout is shorter than the ALB's idle "
          "timeout (60 s).",
          advice="keepalive_race"),
)

# Generic socket and TLS errors from any client library (Node, Python, Java, curl), last so that a
# product-specific rule always wins. Nobody in particular writes them, so the source is None.
_GENERIC = (
    _rule("generic_refused", None, _O, None, (_F,),
          r"\bECONNREFUSED\b|\bconnection refused\b",
          "The connection was refused: nothing listens at that address and port."),
    _rule("generic_unreachable", None, _F, None, (_O,),
          r"\bE(?:HOSTUNREACH|NETUNREACH)\b|\bno route to host\b|\bnetwork is unreachable\b",
          "There is no route to the address: the host is down or a firewall or routing rule "
          "blocks it."),
    _rule("generic_connect_timeout", None, _F, None, (_W, _T),
          r"\bETIMEDOUT\b|\bconnection timed out\b|\bconnect timeout\b",
          "The connection attempt timed out: packets are dropped on the way, or the server's "
          "accept queue is full."),
    _rule("generic_reset", None, _O, None, (_P,),
          r"\bECONNRESET\b|\bconnection reset by peer\b|\bsocket hang up\b",
          "The peer reset the connection: the process died mid-request, or a keep-alive "
          "connection was closed under the client.",
          advice="premature_close"),
    _rule("generic_dns", None, _D, None, (),
          r"\bENOTFOUND\b|\bEAI_AGAIN\b|\bNXDOMAIN\b|\bSERVFAIL\b|\bName or service not known\b"
          r"|\bTemporary failure in name resolution\b",
          "The host name did not resolve."),
    _rule("generic_tls", None, _S, None, (),
          r"\bCERT_HAS_EXPIRED\b|\bcertificate has expired\b|\bself[- ]signed certificate\b"
          r"|\bunable to verify the first certificate\b|\bERR_TLS_CERT_ALTNAME_INVALID\b"
          r"|\bCERTIFICATE_VERIFY_FAILED\b|\bhostname mismatch\b|\bwrong version number\b",
          "The TLS connection failed: the certificate was rejected (expired, self-signed, "
          "untrusted issuer or wrong name), or TLS met a plain-HTTP port."),
)
# fmt: on

RULES: tuple[Rule, ...] = (
    _KUBERNETES
    + _KONG
    + _NGINX_TLS
    + _NGINX_CONNECT
    + _NGINX_TIMEOUT
    + _NGINX_OTHER
    + _ENVOY
    + _HAPROXY
    + _APACHE
    + _GO
    + _VARNISH
    + _FASTLY
    + _VERCEL
    + _HEROKU
    + _FLY
    + _RENDER_NETLIFY
    + _CLOUDFLARE
    + _AWS
    + _GOOGLE
    + _AZURE
    + _APP_SERVERS
    + _H2O
    + _KEEPALIVE
    + _OTHER
    + _GENERIC
)
"""Every fingerprint, most specific first; the first match wins."""
