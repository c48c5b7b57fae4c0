"""explain(): every fingerprint rule, tested with a realistic line in its product's own shape."""

from __future__ import annotations

import re
import time
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks._explain_rules import RULES
from checks.advice import PHRASE_STEPS, next_steps, phrase_steps
from checks.explain import MAX_INPUT, Explanation, explain, matching_rule
from checks.model import Cause

DOWN = Cause.ORIGIN_DOWN
POOL = Cause.WORKERS_EXHAUSTED
FW = Cause.FIREWALL
DNS = Cause.DNS
SLOW = Cause.TIMEOUT
TLS = Cause.TLS
PROTO = Cause.PROTOCOL
UNK = Cause.UNKNOWN


def nginx(
    message: str,
    upstream: str | None = "http://127.0.0.1:3000/",
    level: str = "error",
) -> str:
    """An nginx error-log line in the real shape."""
    line = (
        f"2026/11/24 01:02:03 [{level}] 1234#1234: *56 {message}, client: 203.0.113.9, "
        'server: shop.example.com, request: "GET / HTTP/1.1"'
    )
    if upstream is not None:
        line += f', upstream: "{upstream}"'
    return line + ', host: "shop.example.com"'


def envoy(status: int, flags: str) -> str:
    """An Envoy access-log line in the default format."""
    return (
        f'[2026-11-24T01:02:03.456Z] "GET /api/cart HTTP/1.1" {status} {flags} 0 91 1 - '
        '"203.0.113.9" "curl/8.5.0" "6c5b1e4a-77d2-4f0e-9a57-0c1d2e3f4a5b" "shop.example.com" '
        '"10.0.0.5:8080"'
    )


def istio(status: int, flags: str, details: str) -> str:
    """An Istio sidecar access-log line (flags followed by response code details)."""
    return (
        f'[2026-11-24T01:02:03.456Z] "GET /productpage HTTP/1.1" {status} {flags} {details} - '
        '"-" 0 91 1 - "-" "curl/8.5.0" "6c5b1e4a" "productpage:9080" "10.0.0.5:9080" '
        "outbound|9080||productpage.default.svc.cluster.local - 10.96.0.10:9080 "
        "10.0.0.9:40000 - default"
    )


ENVOY_BODY = "upstream connect error or disconnect/reset before headers. reset reason: "


def haproxy(timers: str, status: int, state: str, server: str = "srv1") -> str:
    """A HAProxy HTTP-mode log line."""
    return (
        "Nov 24 01:02:03 lb1 haproxy[2345]: 203.0.113.9:51234 [24/Nov/2026:01:02:03.123] "
        f"fe-http px-http/{server} {timers} {status} 217 - - {state} 1/1/0/0/3 0/0 "
        '"GET / HTTP/1.1"'
    )


def haproxy_check(reason: str) -> str:
    return (
        "Nov 24 01:02:03 lb1 haproxy[2345]: [WARNING]  (2345) : Server px-http/srv1 is DOWN, "
        f"reason: {reason}, check duration: 0ms. 0 active and 0 backup servers left. "
        "0 sessions active, 0 requeued, 0 remaining in queue."
    )


def apache(module: str, text: str) -> str:
    return f"[Tue Nov 24 01:02:03.456789 2026] [{module}:error] [pid 1234:tid 140234] {text}"


def heroku(code: str, desc: str) -> str:
    return (
        "2026-11-24T01:02:03.456789+00:00 heroku[router]: at=error "
        f'code={code} desc="{desc}" method=GET path="/" host=shop.herokuapp.com '
        'request_id=5e1f0c2a-8f4b-4d3a-9c1e-2b7a6d5e4f3c fwd="203.0.113.9" dyno=web.1 '
        "connect=0ms service=30000ms status=503 bytes=0 protocol=https"
    )


def fly(code: str, text: str) -> str:
    return f"2026-11-24T01:02:03Z proxy[0801234] ams [error] [{code}] {text}"


def varnish(text: str) -> str:
    return f"-   FetchError     {text}"


def alb(times: str, elb: str, target: str, target_addr: str = "10.0.1.5:8080") -> str:
    return (
        "http 2026-11-24T01:02:03.123456Z app/shop-alb/50dc6c495c0c9188 203.0.113.9:51234 "
        f"{target_addr} {times} {elb} {target} 734 293 "
        '"GET http://shop.example.com:80/ HTTP/1.1" "curl/8.5.0" - - '
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/73e2d6bc24d8a067 "
        '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-11-24T01:02:03.120000Z '
        '"forward" "-" "-" "10.0.1.5:8080" "-" "-" "-"'
    )


def cloudfront(result_type: str) -> str:
    fields = [
        "2026-11-24", "01:02:03", "LHR62-C2", "951", "203.0.113.9", "GET",
        "d111111abcdef8.cloudfront.net", "/", "502", "-", "curl/8.5.0", "-", "-", "Error",
        "Zk3pQ2xv==", "shop.example.com", "https", "78", "0.002", "-", "TLSv1.3",
        "TLS_AES_128_GCM_SHA256", "Error", "HTTP/1.1", "-", "-", "51234", "0.002",
        result_type, "text/html", "951", "-", "-",
    ]  # fmt: skip
    return "\t".join(fields)


def gclb(details: str, status: int = 502) -> str:
    return (
        f'{{"httpRequest": {{"requestMethod": "GET", "status": {status}}}, "jsonPayload": '
        '{"@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry", '
        f'"statusDetails": "{details}"}}, "severity": "WARNING"}}'
    )


def afd(error_info: str) -> str:
    return (
        '{"category": "FrontDoorAccessLog", "properties": {"httpStatusCode": "503", '
        f'"errorInfo": "{error_info}", "trackingReference": "0Ab1cD2eF3gH4iJ5kL6mN=="}}}}'
    )


class Case(NamedTuple):
    rule: str
    cause: Cause
    source: str | None
    status: int | None
    line: str


# fmt: off
CASES: tuple[Case, ...] = (
    # --- Kubernetes, ingress-nginx, Kong --------------------------------------------------
    Case("kube_proxy_no_local_endpoints", FW, "kubernetes", None,
        '-A KUBE-XLB-ABCDEF -m comment --comment "shop/web:http has no local endpoints" -j DROP'),
    Case("kube_proxy_no_endpoints", DOWN, "kubernetes", None,
        '-A KUBE-SERVICES -m comment --comment "shop/web:http has no endpoints" -m tcp -p tcp '
        "-d 10.96.12.34 --dport 80 -j REJECT"),
    Case("ingress_no_active_endpoint", DOWN, "ingress_nginx", 503,
        'W1124 01:02:03.456789       7 controller.go:1214] Service "shop/web" does not have any '
        "active Endpoint."),
    Case("ingress_no_peer", DOWN, "ingress_nginx", 502, nginx(
        "[lua] balancer.lua:335: balance(): no peer was returned, balancer: round_robin "
        "while connecting to upstream",
        upstream=None, level="warn")),
    Case("ingress_no_peer", DOWN, "ingress_nginx", 502, nginx(
        "connect() failed (111: Connection refused) while connecting to upstream",
        upstream="http://0.0.0.1:80/")),
    Case("kong_ring_balancer", DOWN, "kong", 503, nginx(
        "[lua] balancer.lua:1120: failure to get a peer from the ring-balancer",
        upstream=None)),
    Case("kong_name_resolution", DNS, "kong", 503, nginx(
        "[lua] init.lua:401: execute(): [kong] name resolution failed",
        upstream=None)),
    Case("kong_invalid_response", PROTO, "kong", 502,
        '{"message":"An invalid response was received from the upstream server",'
        '"request_id":"2f1e8c4b7a6d5e4f3c2b1a0f"}'),
    Case("kong_unavailable", DOWN, "kong", 503,
        '{"message":"The upstream server is currently unavailable","request_id":"2f1e8c4b"}'),
    Case("kong_timing_out", SLOW, "kong", 504,
        '{"message":"The upstream server is timing out","request_id":"2f1e8c4b"}'),
    # --- nginx: TLS to the upstream -------------------------------------------------------
    Case("nginx_ssl_timeout", TLS, "nginx", 504, nginx(
        "upstream timed out (110: Connection timed out) while SSL handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_expired", TLS, "nginx", 502, nginx(
        "upstream SSL certificate verify error: (10:certificate has expired) while SSL "
        "handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_untrusted", TLS, "nginx", 502, nginx(
        "upstream SSL certificate verify error: (18:self-signed certificate) while SSL "
        "handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_untrusted", TLS, "nginx", 502, nginx(
        "upstream SSL certificate verify error: (20:unable to get local issuer certificate) "
        "while SSL handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_verify", TLS, "nginx", 502, nginx(
        "upstream SSL certificate verify error: (23:certificate revoked) while SSL "
        "handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_mismatch", TLS, "nginx", 502, nginx(
        'upstream SSL certificate does not match "api.internal" while SSL handshaking to '
        "upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_wrong_version", TLS, "nginx", 502, nginx(
        "SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) "
        "while SSL handshaking to upstream",
        upstream="https://127.0.0.1:3000/")),
    Case("nginx_ssl_handshake", TLS, "nginx", 502, nginx(
        "SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake "
        "failure:SSL alert number 40) while SSL handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    Case("nginx_ssl_peer_closed", TLS, "nginx", 502, nginx(
        "peer closed connection in SSL handshake while SSL handshaking to upstream",
        upstream="https://10.0.0.5:443/")),
    # --- nginx: connect() errno variants --------------------------------------------------
    Case("nginx_connect_eagain", POOL, "nginx", 502, nginx(
        "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily "
        "unavailable) while connecting to upstream",
        upstream="fastcgi://unix:/run/php/php8.2-fpm.sock:")),
    Case("nginx_connect_enoent", DOWN, "nginx", 502, nginx(
        "connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) "
        "while connecting to upstream",
        upstream="fastcgi://unix:/run/php/php8.2-fpm.sock:")),
    Case("nginx_connect_eacces", FW, "nginx", 502, nginx(
        "connect() to 127.0.0.1:8080 failed (13: Permission denied) while connecting to "
        "upstream",
        upstream="http://127.0.0.1:8080/", level="crit")),
    Case("nginx_connect_refused", DOWN, "nginx", 502, nginx(
        "connect() failed (111: Connection refused) while connecting to upstream")),
    Case("nginx_connect_refused", DOWN, "nginx", 502, nginx(
        "connect() to 10.0.0.5:8080 failed (111: Connection refused) while connecting to "
        "upstream",
        upstream="http://10.0.0.5:8080/")),
    Case("nginx_connect_no_route", FW, "nginx", 502, nginx(
        "connect() failed (113: No route to host) while connecting to upstream",
        upstream="http://10.0.3.17:8080/")),
    Case("nginx_connect_net_unreachable", FW, "nginx", 502, nginx(
        "connect() failed (101: Network is unreachable) while connecting to upstream",
        upstream="http://[2001:db8::5]:8080/")),
    Case("nginx_connect_timed_out", FW, "nginx", 502, nginx(
        "connect() failed (110: Connection timed out) while connecting to upstream",
        upstream="http://10.0.0.5:8080/")),
    # --- nginx: timeouts ------------------------------------------------------------------
    Case("nginx_timeout_connecting", FW, "nginx", 504, nginx(
        "upstream timed out (110: Connection timed out) while connecting to upstream",
        upstream="http://10.0.0.5:8080/")),
    Case("nginx_timeout_sending", SLOW, "nginx", 504, nginx(
        "upstream timed out (110: Connection timed out) while sending request to upstream")),
    Case("nginx_timeout_reading_header", SLOW, "nginx", 504, nginx(
        "upstream timed out (110: Connection timed out) while reading response header from "
        "upstream")),
    Case("nginx_timeout_reading_header", SLOW, "nginx", 504, nginx(
        "upstream timed out (60: Operation timed out) while reading response header from "
        "upstream")),
    Case("nginx_timeout_reading_body", SLOW, "nginx", None, nginx(
        "upstream timed out (110: Connection timed out) while reading upstream")),
    Case("nginx_timeout", SLOW, "nginx", 504,
        "2026/11/24 01:02:03 [error] 1234#1234: *56 upstream timed out (110: Connection timed "
        "out)"),
    # --- nginx: everything else -----------------------------------------------------------
    Case("nginx_no_live_upstreams", DOWN, "nginx", 502, nginx(
        "no live upstreams while connecting to upstream",
        upstream="http://backend/")),
    Case("nginx_temporarily_disabled", DOWN, "nginx", None, nginx(
        "upstream server temporarily disabled while connecting to upstream",
        level="warn")),
    Case("nginx_premature_close_header", PROTO, "nginx", 502, nginx(
        "upstream prematurely closed connection while reading response header from upstream")),
    Case("nginx_premature_close_header", PROTO, "nginx", 502, nginx(
        "upstream prematurely closed FastCGI stdout while reading response header from "
        "upstream",
        upstream="fastcgi://unix:/run/php/php8.2-fpm.sock:")),
    Case("nginx_premature_close", PROTO, "nginx", None, nginx(
        "upstream prematurely closed connection while reading upstream")),
    Case("nginx_reset_header", DOWN, "nginx", 502, nginx(
        "recv() failed (104: Connection reset by peer) while reading response header from "
        "upstream")),
    Case("nginx_reset", DOWN, "nginx", None, nginx(
        "readv() failed (104: Connection reset by peer) while reading upstream")),
    Case("nginx_send_failed", PROTO, "nginx", 502, nginx(
        "writev() failed (32: Broken pipe) while sending request to upstream")),
    Case("nginx_send_failed", PROTO, "nginx", 502, nginx(
        "send() failed (104: Connection reset by peer) while sending request to upstream")),
    Case("nginx_too_big_header", PROTO, "nginx", 502, nginx(
        "upstream sent too big header while reading response header from upstream")),
    Case("nginx_invalid_header", PROTO, "nginx", 502, nginx(
        'upstream sent invalid header: "X-Debug\\x01..." while reading response header from '
        "upstream")),
    Case("nginx_no_valid_http_header", PROTO, "nginx", 200, nginx(
        "upstream sent no valid HTTP/1.0 header while reading response header from upstream")),
    Case("nginx_invalid_chunked", PROTO, "nginx", None, nginx(
        "upstream sent invalid chunked response while reading upstream")),
    Case("nginx_extra_data", PROTO, "nginx", None, nginx(
        'upstream sent more data than specified in "Content-Length" header while reading '
        "upstream",
        level="warn")),
    Case("nginx_extra_data", PROTO, "nginx", None, nginx(
        "upstream sent data after final chunk while reading upstream",
        level="warn")),
    Case("nginx_trailers", PROTO, "nginx", None, nginx(
        'upstream sent invalid trailer: "X-Checksum\\x00" while reading upstream')),
    Case("nginx_early_hints", PROTO, "nginx", 502, nginx(
        "upstream sent too big early hints while reading response header from upstream")),
    Case("nginx_premature_response", PROTO, "nginx", 502, nginx(
        "upstream prematurely sent response while SSL handshaking to upstream")),
    Case("nginx_resolve_nxdomain", DNS, "nginx", 502, nginx(
        "backend.internal could not be resolved (3: Host not found)",
        upstream=None)),
    Case("nginx_resolve_servfail", DNS, "nginx", 502, nginx(
        "api.shop.svc could not be resolved (2: Server failure)",
        upstream=None)),
    Case("nginx_resolve_failed", DNS, "nginx", 502, nginx(
        "api.shop.svc could not be resolved (110: Operation timed out)",
        upstream=None)),
    Case("nginx_no_resolver", DNS, "nginx", 502, nginx(
        "no resolver defined to resolve backend.internal",
        upstream=None)),
    Case("nginx_host_not_found", DNS, "nginx", None,
        '2026/11/24 01:02:03 [emerg] 1234#1234: host not found in upstream '
        '"backend.internal:8080" in /etc/nginx/conf.d/shop.conf:12'),
    Case("nginx_worker_connections", POOL, "nginx", None, nginx(
        "1024 worker_connections are not enough while connecting to upstream",
        level="alert")),
    # --- Envoy / Istio --------------------------------------------------------------------
    Case("envoy_tls_verify", TLS, "envoy", 503,
        ENVOY_BODY + "connection failure, transport failure reason: TLS error: "
        "268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"),
    Case("envoy_tls_verify", TLS, "envoy", 503, istio(
        503,
        "UF",
        "upstream_reset_before_response_started{connection_failure,TLS_error:|268435581:"
        "SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end}")),
    Case("envoy_tls_wrong_version", TLS, "envoy", 503,
        ENVOY_BODY + "connection failure, transport failure reason: TLS error: "
        "268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"),
    Case("envoy_tls_error", TLS, "envoy", 503,
        ENVOY_BODY + "connection failure, transport failure reason: TLS error: "
        "268436496:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE"),
    Case("envoy_delayed_connect_refused", DOWN, "envoy", 503,
        ENVOY_BODY + "remote connection failure, transport failure reason: delayed connect "
        "error: 111"),
    Case("envoy_delayed_connect_refused", DOWN, "envoy", 503,
        ENVOY_BODY + "connection failure, transport failure reason: delayed connect error: "
        "Connection refused"),
    Case("envoy_delayed_connect_unreachable", FW, "envoy", 503,
        ENVOY_BODY + "remote connection failure, transport failure reason: delayed connect "
        "error: 113"),
    Case("envoy_reset_connection_timeout", FW, "envoy", 503, ENVOY_BODY + "connection timeout"),
    Case("envoy_reset_connection_failure", DOWN, "envoy", 503, ENVOY_BODY + "connection failure"),
    Case("envoy_reset_connection_failure", DOWN, "envoy", 503,
        "14 UNAVAILABLE: " + ENVOY_BODY + "remote connection failure"),
    Case("envoy_reset_termination", PROTO, "envoy", 503, ENVOY_BODY + "connection termination"),
    Case("envoy_reset_remote", DOWN, "envoy", 503, ENVOY_BODY + "remote reset"),
    Case("envoy_reset_overflow", POOL, "envoy", 503, ENVOY_BODY + "overflow"),
    Case("envoy_reset_overflow", POOL, "envoy", 503,
        "HTTP/1.1 503 Service Unavailable\r\nx-envoy-overloaded: true\r\nserver: envoy"),
    Case("envoy_reset_protocol_error", PROTO, "envoy", 502, ENVOY_BODY + "protocol error"),
    Case("envoy_reset_overload_manager", POOL, "envoy", 503, ENVOY_BODY + "overload manager reset"),
    Case("envoy_no_healthy_upstream", DOWN, "envoy", 503, "no healthy upstream"),
    Case("envoy_no_healthy_upstream", DOWN, "envoy", 503, istio(503, "UH", "no_healthy_upstream")),
    Case("envoy_request_timeout", SLOW, "envoy", 504, "upstream request timeout"),
    Case("envoy_request_timeout", SLOW, "envoy", 504, istio(
        504,
        "UT",
        "upstream_response_timeout")),
    Case("envoy_details_connection_failure", DOWN, "envoy", 503, istio(
        503,
        "UF",
        "upstream_reset_before_response_started{connection_failure}")),
    Case("envoy_details_connection_timeout", FW, "envoy", 503, istio(
        503,
        "UF",
        "upstream_reset_before_response_started{connection_timeout}")),
    Case("envoy_details_termination", PROTO, "envoy", 503, istio(
        503,
        "UC",
        "upstream_reset_before_response_started{connection_termination}")),
    Case("envoy_details_overflow", POOL, "envoy", 503, istio(
        503,
        "UO",
        "upstream_reset_before_response_started{overflow}")),
    Case("envoy_details_protocol_error", PROTO, "envoy", 502, istio(
        502,
        "UPE",
        "upstream_reset_before_response_started{protocol_error}")),
    Case("envoy_details_remote_reset", DOWN, "envoy", 503, istio(
        503,
        "UR",
        "upstream_reset_before_response_started{remote_reset}")),
    Case("envoy_flag_uh", DOWN, "envoy", 503, envoy(503, "UH")),
    Case("envoy_flag_uf", DOWN, "envoy", 503, envoy(503, "UF")),
    Case("envoy_flag_uf", DOWN, "envoy", 503, envoy(503, "URX,UF")),
    Case("envoy_flag_uf", DOWN, "envoy", 503,
        '{"response_code": 503, "response_flags": "UF,URX", "upstream_host": "10.0.0.5:8080"}'),
    Case("envoy_flag_uc", PROTO, "envoy", 503, envoy(503, "UC")),
    Case("envoy_flag_ur", DOWN, "envoy", 503, envoy(503, "UR")),
    Case("envoy_flag_uo", POOL, "envoy", 503, envoy(503, "UO")),
    Case("envoy_flag_upe", PROTO, "envoy", 502, envoy(502, "UPE")),
    Case("envoy_flag_ut", SLOW, "envoy", 504, envoy(504, "UT")),
    Case("envoy_flag_df", DNS, "envoy", 503, envoy(503, "DF")),
    Case("envoy_flag_si", SLOW, "envoy", None, envoy(504, "SI")),
    Case("envoy_flag_om", POOL, "envoy", 503, envoy(503, "OM")),
    Case("envoy_flag_urx", UNK, "envoy", None, envoy(503, "URX")),
    # --- HAProxy --------------------------------------------------------------------------
    Case("haproxy_frontend_ssl", UNK, "haproxy", None,
        "Nov 24 01:02:03 lb1 haproxy[2345]: 203.0.113.9:51234 [24/Nov/2026:01:02:03.123] "
        "fe-https/1: SSL handshake failure"),
    Case("haproxy_ssl_error", TLS, "haproxy", 503,
        haproxy("0/0/-1/-1/12", 503, "SC--", server="srv-tls")
        + " bc_err=Server presented an SSL certificate different from the expected one"),
    Case("haproxy_ssl_error", TLS, "haproxy", 503,
        "backend px-https server srv1: Timeout during SSL handshake"),
    Case("haproxy_nosrv", DOWN, "haproxy", 503, haproxy("0/-1/-1/-1/0", 503, "SC--", "<NOSRV>")),
    Case("haproxy_state_sc", DOWN, "haproxy", 503, haproxy("0/0/-1/-1/3001", 503, "SC--")),
    Case("haproxy_state_sc", DOWN, "haproxy", 503,
        "px-http/srv1 3183/-1/-1/-1/11215 503 0 - - SC-- \N{HORIZONTAL ELLIPSIS}"),
    Case("haproxy_state_sc", DOWN, "haproxy", 503,
        "Nov 24 01:02:03 lb1 haproxy[2345]: 203.0.113.9:51234 [24/Nov/2026:01:02:03.123] "
        "fe-tcp be-tcp/srv1 0/-1/3 0 SC 1/1/0/0/3 0/0"),
    Case("haproxy_state_connect_timeout", FW, "haproxy", 503, haproxy(
        "0/0/-1/-1/5001",
        503,
        "sC--")),
    Case("haproxy_state_queue_timeout", POOL, "haproxy", 503, haproxy(
        "0/30000/-1/-1/30001",
        503,
        "sQ--")),
    Case("haproxy_state_server_timeout", SLOW, "haproxy", 504, haproxy(
        "0/0/0/-1/30002",
        504,
        "sH--")),
    Case("haproxy_state_sh", DOWN, "haproxy", 502, haproxy("0/0/0/-1/152", 502, "SH--")),
    Case("haproxy_state_ph", PROTO, "haproxy", 502, haproxy("0/0/0/12/13", 502, "PH--")),
    Case("haproxy_state_pd", PROTO, "haproxy", None, haproxy("0/0/0/12/40", 200, "PD--")),
    Case("haproxy_state_sd_error", DOWN, "haproxy", None, haproxy("0/0/0/3/80", 200, "SD--")),
    Case("haproxy_state_data_timeout", SLOW, "haproxy", None, haproxy(
        "0/0/0/3/30004",
        200,
        "sD--")),
    Case("haproxy_state_pc", POOL, "haproxy", 503, haproxy("0/0/-1/-1/0", 503, "PC--")),
    Case("haproxy_state_rc", POOL, "haproxy", 503, haproxy("0/0/-1/-1/0", 503, "RC--")),
    Case("haproxy_no_server", DOWN, "haproxy", 503,
        "Nov 24 01:02:03 lb1 haproxy[2345]: [ALERT]    (2345) : backend 'px-http' has no server "
        "available!"),
    Case("haproxy_check_l4con_refused", DOWN, "haproxy", 503, haproxy_check(
        'Layer4 connection problem, info: "Connection refused"')),
    Case("haproxy_check_l4con", DOWN, "haproxy", 503, haproxy_check(
        'Layer4 connection problem, info: "General socket error"')),
    Case("haproxy_check_l4con", DOWN, "haproxy", 503, "px-http/srv1 DOWN L4CON in 0ms"),
    Case("haproxy_check_l4con_unreachable", FW, "haproxy", 503, haproxy_check(
        'Layer4 connection problem, info: "No route to host"')),
    Case("haproxy_check_l4tout", FW, "haproxy", 503, haproxy_check("Layer4 timeout")),
    Case("haproxy_check_l4tout", FW, "haproxy", 503, "px-http/srv1 DOWN L4TOUT in 2001ms"),
    Case("haproxy_check_l6", TLS, "haproxy", 503, haproxy_check("Layer6 invalid response")),
    Case("haproxy_check_l6", TLS, "haproxy", 503, "px-http/srv1 DOWN L6TOUT in 2001ms"),
    Case("haproxy_check_l7tout", SLOW, "haproxy", 503, haproxy_check("Layer7 timeout")),
    Case("haproxy_check_l7rsp", PROTO, "haproxy", 503, haproxy_check(
        'Layer7 invalid response, info: "<BADSTATUS>"')),
    Case("haproxy_check_l7sts", DOWN, "haproxy", 503, haproxy_check(
        'Layer7 wrong status, code: 500, info: "Internal Server Error"')),
    # --- Apache httpd ---------------------------------------------------------------------
    Case("apache_connect_refused", DOWN, "apache", 503, apache(
        "proxy",
        "(111)Connection refused: AH00957: http: attempt to connect to 127.0.0.1:8080 "
        "(127.0.0.1:8080) failed")),
    Case("apache_connect_timeout", FW, "apache", 503, apache(
        "proxy",
        "(110)Connection timed out: AH00957: http: attempt to connect to 10.0.0.5:8080 "
        "(backend.internal:8080) failed")),
    Case("apache_connect_no_route", FW, "apache", 503, apache(
        "proxy",
        "(113)No route to host: AH00957: http: attempt to connect to 10.0.3.17:8080 "
        "(10.0.3.17:8080) failed")),
    Case("apache_connect_failed", DOWN, "apache", 503, apache(
        "proxy_http",
        "[client 203.0.113.9:51234] AH01114: HTTP: failed to make connection to backend: "
        "127.0.0.1")),
    Case("apache_worker_disabled", DOWN, "apache", 503, apache(
        "proxy",
        "AH00959: ap_proxy_connect_backend disabling worker for (127.0.0.1:8080) "
        "for 60s")),
    Case("apache_worker_disabled", DOWN, "apache", 503, apache(
        "proxy",
        "AH00940: http: disabled connection for (127.0.0.1:8080)")),
    Case("apache_read_timeout", SLOW, "apache", 502, apache(
        "proxy_http",
        "(70007)The timeout specified has expired: [client 203.0.113.9:51234] AH01102: "
        "error reading status line from remote server 127.0.0.1:8080")),
    Case("apache_read_reset", PROTO, "apache", 502, apache(
        "proxy_http",
        "(104)Connection reset by peer: [client 203.0.113.9:51234] AH01102: error reading "
        "status line from remote server 127.0.0.1:8080")),
    Case("apache_status_line", DOWN, "apache", 502, apache(
        "proxy_http",
        "[client 203.0.113.9:51234] AH01102: error reading status line from remote server "
        "127.0.0.1:8080")),
    Case("apache_dns_failure", DNS, "apache", 500, apache(
        "proxy",
        "[client 203.0.113.9:51234] AH00898: DNS lookup failure for: backend.internal "
        "returned by /api")),
    Case("apache_ssl_handshake", TLS, "apache", 500, apache(
        "proxy",
        "[client 203.0.113.9:51234] AH02003: SSL Proxy connect failed")),
    Case("apache_ssl_handshake", TLS, "apache", 500, apache(
        "proxy",
        "[client 203.0.113.9:51234] AH00898: Error during SSL Handshake with remote server "
        "returned by /")),
    Case("apache_corrupt_status", PROTO, "apache", 502, apache(
        "proxy",
        "[client 203.0.113.9:51234] AH00898: Corrupt status line returned by remote server: "
        "SSH-2.0-OpenSSH_9.6 returned by /")),
    Case("apache_pass_body", PROTO, "apache", None, apache(
        "proxy_http",
        "(32)Broken pipe: [client 203.0.113.9:51234] AH01097: pass request body failed to "
        "127.0.0.1:8080 (127.0.0.1) from 203.0.113.9 ()")),
    Case("apache_read_error", SLOW, "apache", 502, apache(
        "proxy",
        "[client 203.0.113.9:51234] AH00898: Error reading from remote server returned by "
        "/api/report")),
    # --- Go proxies: Traefik, Caddy, httputil ---------------------------------------------
    Case("traefik_no_server", DOWN, "traefik", 503,
        'time="2026-11-24T01:02:03Z" level=debug msg="\'503 Service Unavailable\' caused by: '
        'no available server"'),
    Case("caddy_no_upstreams", DOWN, "caddy", 503,
        '{"level":"error","ts":1795000000.1,"logger":"http.log.error",'
        '"msg":"no upstreams available","status":503,"err_id":"abc123"}'),
    Case("go_lookup_no_such_host", DNS, "go", 502,
        '{"level":"error","logger":"http.log.error","msg":"dial tcp: lookup backend on '
        '127.0.0.11:53: no such host","status":502}'),
    Case("go_lookup_failure", DNS, "go", 502,
        'msg="\'502 Bad Gateway\' caused by: dial tcp: lookup api.internal on 10.96.0.10:53: '
        'read udp 10.0.0.9:43210->10.96.0.10:53: i/o timeout"'),
    Case("go_connection_refused", DOWN, "go", 502,
        'time="2026-11-24T01:02:03Z" level=debug msg="\'502 Bad Gateway\' caused by: dial tcp '
        '10.0.0.5:8080: connect: connection refused"'),
    Case("go_connection_refused", DOWN, "go", 502,
        "2026/11/24 01:02:03 http: proxy error: dial unix /run/app.sock: connect: no such file "
        "or directory"),
    Case("go_dial_timeout", FW, "go", 504,
        'msg="\'504 Gateway Timeout\' caused by: dial tcp 10.0.0.5:8080: i/o timeout"'),
    Case("go_no_route", FW, "go", 502,
        '{"level":"error","msg":"dial tcp 10.0.3.17:8080: connect: no route to host",'
        '"status":502}'),
    Case("go_response_header_timeout", SLOW, "go", 504,
        "2026/11/24 01:02:03 http: proxy error: net/http: timeout awaiting response headers"),
    Case("go_connection_reset", DOWN, "go", 502,
        "2026/11/24 01:02:03 http: proxy error: read tcp 10.0.0.9:43210->10.0.0.5:8080: read: "
        "connection reset by peer"),
    Case("go_broken_pipe", PROTO, "go", 502,
        "2026/11/24 01:02:03 http: proxy error: write tcp 10.0.0.9:43210->10.0.0.5:8080: "
        "write: broken pipe"),
    Case("go_x509_expired", TLS, "go", None,
        '{"level":"error","msg":"tls: failed to verify certificate: x509: certificate has '
        'expired or is not yet valid: current time 2026-11-24T01:02:03Z is after '
        '2026-11-01T00:00:00Z","status":502}'),
    Case("go_x509_unknown_authority", TLS, "go", None,
        'level=error msg="500 Internal Server Error" error="tls: failed to verify certificate: '
        'x509: certificate signed by unknown authority"'),
    Case("go_x509_name_mismatch", TLS, "go", None,
        "tls: failed to verify certificate: x509: certificate is valid for api.internal, "
        "api.internal.svc, not shop.example.com"),
    Case("go_tls_verify", TLS, "go", None,
        "tls: failed to verify certificate: x509: certificate relies on legacy Common Name "
        "field, use SANs instead"),
    Case("go_http_to_https", TLS, "go", None,
        "2026/11/24 01:02:03 http: proxy error: http: server gave HTTP response to HTTPS client"),
    Case("go_http_to_https", TLS, "go", None,
        'msg="\'500 Internal Server Error\' caused by: tls: first record does not look like a '
        'TLS handshake"'),
    Case("go_malformed_response", PROTO, "go", 502,
        'net/http: HTTP/1.x transport connection broken: malformed HTTP response '
        '"SSH-2.0-OpenSSH_9.6"'),
    Case("go_eof", PROTO, "go", 502,
        'time="2026-11-24T01:02:03Z" level=debug msg="\'502 Bad Gateway\' caused by: EOF"'),
    Case("go_eof", PROTO, "go", 502,
        '{"level":"error","logger":"http.log.error","msg":"unexpected EOF","error":"EOF",'
        '"status":502}'),
    Case("go_eof", PROTO, "go", 502,
        '2026/11/24 01:02:03 http: proxy error: Get "http://10.0.0.5:8080/": EOF'),
    # --- Varnish and Fastly ---------------------------------------------------------------
    Case("varnish_backend_unhealthy", DOWN, "varnish", 503, varnish(
        "backend boot.default: unhealthy")),
    Case("varnish_backend_busy", POOL, "varnish", 503, varnish("backend default: busy")),
    Case("varnish_fail_refused", DOWN, "varnish", 503, varnish(
        "backend default: fail errno 111 (Connection refused)")),
    Case("varnish_fail_unreachable", FW, "varnish", 503, varnish(
        "backend default: fail errno 110 (Connection timed out)")),
    Case("varnish_fail_unreachable", FW, "varnish", 503, varnish(
        "backend default: fail errno 113 (No route to host)")),
    Case("varnish_fail", DOWN, "varnish", 503, varnish(
        "backend default: fail errno 24 (Too many open files)")),
    Case("varnish_fail", DOWN, "varnish", 503, varnish("no backend connection")),
    Case("varnish_first_byte_timeout", SLOW, "varnish", 503, varnish("first byte timeout")),
    Case("varnish_write_error", PROTO, "varnish", 503, varnish(
        "backend write error: 32 (Broken pipe) (Broken pipe)")),
    Case("varnish_format_error", PROTO, "varnish", 503, varnish("http format error")),
    Case("varnish_format_error", PROTO, "varnish", 503, varnish("Received junk")),
    Case("varnish_backend_closed", PROTO, "varnish", 503, varnish("backend closed")),
    Case("varnish_timeout", SLOW, "varnish", 503, varnish("timeout")),
    Case("varnish_backend_fetch_failed", UNK, "varnish", 503,
        "<title>503 Backend fetch failed</title>"),
    Case("fastly_all_backends_failed", DOWN, "fastly", 503,
        "<h1>Error 503 All backends failed or unhealthy</h1>"),
    Case("fastly_all_backends_failed", DOWN, "fastly", 503, "Error 503 No healthy backends"),
    Case("fastly_first_byte_timeout", SLOW, "fastly", 503,
        "<title>503 first byte timeout</title> <h3>Guru Mediation:</h3> "
        "<p>Details: cache-fty21322-FTY 1572876932 1094470780</p>"),
    Case("fastly_backend_read_error", SLOW, "fastly", 503, "Error 503 backend read error"),
    Case("fastly_backend_write_error", PROTO, "fastly", 503, "Error 503 backend write error"),
    Case("fastly_max_conn", POOL, "fastly", 503, "Error 503 Backend.max_conn reached"),
    Case("fastly_connection_refused", DOWN, "fastly", 503, "Error 503 Connection refused"),
    Case("fastly_unreachable", FW, "fastly", 503, "Error 503 Network Unreachable"),
    Case("fastly_unreachable", FW, "fastly", 503, "<title>503 Operation now in progress</title>"),
    # --- Vercel ---------------------------------------------------------------------------
    Case("vercel_invocation_failed", DOWN, "vercel", 500,
        "x-vercel-error: FUNCTION_INVOCATION_FAILED"),
    Case("vercel_invocation_failed", DOWN, "vercel", 500,
        "500: INTERNAL_SERVER_ERROR Code: EDGE_FUNCTION_INVOCATION_FAILED ID: hnd1::abcd-123"),
    Case("vercel_invocation_timeout", SLOW, "vercel", 504,
        "504: GATEWAY_TIMEOUT Code: FUNCTION_INVOCATION_TIMEOUT ID: hnd1::iad1::abcd-1795000000"),
    Case("vercel_invocation_timeout", SLOW, "vercel", 504,
        "x-vercel-error: MIDDLEWARE_INVOCATION_TIMEOUT"),
    Case("vercel_no_response", DOWN, "vercel", 502, "x-vercel-error: NO_RESPONSE_FROM_FUNCTION"),
    Case("vercel_bad_response", PROTO, "vercel", 502,
        "502: BAD_GATEWAY Code: BODY_NOT_A_STRING_FROM_FUNCTION"),
    Case("vercel_throttled", POOL, "vercel", 503,
        "503: SERVICE_UNAVAILABLE Code: FUNCTION_THROTTLED"),
    Case("vercel_dns", DNS, "vercel", 502, "502: BAD_GATEWAY Code: DNS_HOSTNAME_RESOLVE_FAILED"),
    Case("vercel_external_connection", DOWN, "vercel", 502,
        "x-vercel-error: ROUTER_EXTERNAL_TARGET_CONNECTION_ERROR"),
    Case("vercel_external_handshake", TLS, "vercel", 502,
        "x-vercel-error: ROUTER_EXTERNAL_TARGET_HANDSHAKE_ERROR"),
    Case("vercel_external_error", PROTO, "vercel", 502,
        "x-vercel-error: ROUTER_EXTERNAL_TARGET_ERROR"),
    Case("vercel_config", UNK, "vercel", None, "503: SERVICE_UNAVAILABLE Code: DEPLOYMENT_PAUSED"),
    # --- Heroku ---------------------------------------------------------------------------
    Case("heroku_h10", DOWN, "heroku", 503, heroku("H10", "App crashed")),
    Case("heroku_h11", POOL, "heroku", 503, heroku("H11", "Backlog too deep")),
    Case("heroku_h12", SLOW, "heroku", 503, heroku("H12", "Request timeout")),
    Case("heroku_h12", SLOW, "heroku", 503,
        "Error H12 (Request timeout) -> GET shop.herokuapp.com/ web=web.1 ok=503 time=30000ms"),
    Case("heroku_h12", SLOW, "heroku", 503, "heroku H12"),
    Case("heroku_h13", PROTO, "heroku", 503, heroku("H13", "Connection closed without response")),
    Case("heroku_h14", DOWN, "heroku", 503, heroku("H14", "No web processes running")),
    Case("heroku_h15", SLOW, "heroku", 503, heroku("H15", "Idle connection")),
    Case("heroku_h17", PROTO, "heroku", 503, heroku("H17", "Poorly formatted HTTP response")),
    Case("heroku_h18", PROTO, "heroku", 503, heroku("H18", "Server Request Interrupted")),
    Case("heroku_h19", FW, "heroku", 503, heroku("H19", "Backend connection timeout")),
    Case("heroku_h20", DOWN, "heroku", 503, heroku("H20", "App boot timeout")),
    Case("heroku_h21", DOWN, "heroku", 503, heroku("H21", "Backend connection refused")),
    Case("heroku_h22", POOL, "heroku", 503, heroku("H22", "Connection limit reached")),
    Case("heroku_h23", UNK, "heroku", 503, heroku("H23", "Endpoint misconfigured")),
    Case("heroku_r10", DOWN, "heroku", 503,
        "2026-11-24T01:02:03.456789+00:00 heroku[web.1]: Error R10 (Boot timeout) -> Web "
        "process failed to bind to $PORT within 60 seconds of launch"),
    # --- Fly.io ---------------------------------------------------------------------------
    Case("fly_pc01", DOWN, "fly", 502, fly(
        "PC01",
        "instance refused connection. is your app listening on 0.0.0.0:8080? make sure it "
        "is not only listening on 127.0.0.1")),
    Case("fly_refused", DOWN, "fly", 502, fly("PC02", "connection refused")),
    Case("fly_refused", DOWN, "fly", 502, "error PC07: connection retries exhausted"),
    Case("fly_reset", DOWN, "fly", 502, fly("PC03", "connection reset by peer")),
    Case("fly_connect_timeout", POOL, "fly", 502, fly(
        "PC05",
        "timed out while connecting to your instance")),
    Case("fly_upstream_protocol", PROTO, "fly", 502, fly(
        "PU02",
        "could not complete HTTP request to instance: connection closed before "
        "message completed")),
    Case("fly_machine", DOWN, "fly", 502, fly(
        "PM05",
        "failed to connect to machine: gave up after 15 attempts (in 8.1s)")),
    Case("fly_no_healthy", DOWN, "fly", 502, fly(
        "PR01",
        "no known healthy instances found for route tcp/443")),
    Case("fly_no_candidate", POOL, "fly", 502, fly(
        "PR04",
        "could not find a good candidate within 40 attempts at load balancing")),
    Case("fly_edge_tls", TLS, "fly", None, fly("PT04", "tls handshake failed")),
    Case("fly_replay", UNK, "fly", None, fly("PA03", "fly-replay target app not found")),
    # --- Render and Netlify ---------------------------------------------------------------
    Case("render_no_server", DOWN, "render", 404,
        "HTTP/2 404\r\nrndr-id: 1a2b3c4d-5e6f\r\nx-render-routing: no-server"),
    Case("render_wake_error", DOWN, "render", 503,
        "HTTP/2 503\r\nx-render-routing: hibernate-wake-error"),
    Case("netlify_function_timeout", SLOW, "netlify", 502,
        '{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 10.00 seconds"}'),
    # --- Cloudflare -----------------------------------------------------------------------
    Case("cloudflare_1016", DNS, "cloudflare", 530, "error code 1016"),
    Case("cloudflare_1016", DNS, "cloudflare", 530,
        "Error 530 <span class=\"code-label\">Error code 1016</span> Origin DNS error"),
    Case("cloudflare_1033", DOWN, "cloudflare", 530, "Error 1033 Ray ID: 8c3d3e17a1b2c3d4"),
    Case("cloudflare_520", PROTO, "cloudflare", 520, "HTTP 520"),
    Case("cloudflare_520", PROTO, "cloudflare", 520,
        "<title>shop.example.com | 520: Web server is returning an unknown error</title>"),
    Case("cloudflare_521", DOWN, "cloudflare", 521, "cloudflare 521"),
    Case("cloudflare_521", DOWN, "cloudflare", 521, "Cloudflare is returning a 521 for our site"),
    Case("cloudflare_522", FW, "cloudflare", 522, "Error 522"),
    Case("cloudflare_522", FW, "cloudflare", 522,
        '<span class="cf-error-code">522</span> Ray ID: 8c3d3e17a1b2c3d4'),
    Case("cloudflare_523", FW, "cloudflare", 523, "523: Origin is unreachable"),
    Case("cloudflare_524", SLOW, "cloudflare", 524,
        "<title>shop.example.com | 524: A timeout occurred</title>"),
    Case("cloudflare_525", TLS, "cloudflare", 525, "Error code 525 SSL handshake failed"),
    Case("cloudflare_526", TLS, "cloudflare", 526, "status=526"),
    Case("cloudflare_530", DNS, "cloudflare", 530, "HTTP/2 530"),
    Case("cloudflare_origin_502", UNK, "cloudflare", 502,
        "<title>shop.example.com | 502: Bad gateway</title> The web server reported a bad "
        "gateway error."),
    Case("cloudflare_origin_504", SLOW, "cloudflare", 504,
        "The web server reported a gateway time-out error."),
    # --- AWS: ALB, Classic ELB, API Gateway, CloudFront -----------------------------------
    Case("alb_502_target_no_response", PROTO, "aws_alb", 502, alb("0.000 -1 -1", "502", "-")),
    Case("alb_502_target_no_response", PROTO, "aws_alb", 502,
        "elb_status_code=502 target_status_code=- target=10.0.1.5:8080"),
    Case("alb_504_target_no_response", SLOW, "aws_alb", 504, alb("0.001 -1 -1", "504", "-")),
    Case("alb_503_no_targets", DOWN, "aws_alb", 503, alb("-1 -1 -1", "503", "-", target_addr="-")),
    Case("alb_target_passthrough", UNK, "origin", None, alb("0.000 0.015 0.000", "502", "502")),
    Case("alb_lambda_unhandled", DOWN, "aws_alb", 502,
        alb("0.000 0.150 -1", "502", "-", target_addr="-") + ' "LambdaUnhandled"'),
    Case("alb_lambda_invalid", PROTO, "aws_alb", 502, 'error_reason="LambdaInvalidResponse"'),
    Case("alb_lambda_throttling", POOL, "aws_alb", 502, 'error_reason="LambdaThrottling"'),
    Case("elb_at_capacity", POOL, "aws_elb", 503,
        "HTTP/1.1 503 Service Unavailable: Back-end server is at capacity"),
    Case("apigw_timeout", SLOW, "aws_api_gateway", 504,
        '{"message": "Endpoint request timed out"}'),
    Case("apigw_integration_failure", DOWN, "aws_api_gateway", 504,
        "x-amzn-ErrorType: INTEGRATION_FAILURE"),
    Case("cloudfront_connect_error", DOWN, "cloudfront", 502, cloudfront("OriginConnectError")),
    Case("cloudfront_connect_error", DOWN, "cloudfront", 502,
        "<H1>502 ERROR</H1> CloudFront wasn't able to connect to the origin."),
    Case("cloudfront_dns_error", DNS, "cloudfront", 502, cloudfront("OriginDnsError")),
    Case("cloudfront_dns_error", DNS, "cloudfront", 502, "x-cache-error: NonS3OriginDnsError"),
    Case("cloudfront_comm_error", FW, "cloudfront", 504, cloudfront("OriginCommError")),
    Case("cloudfront_read_error", DOWN, "cloudfront", 502, cloudfront("OriginReadError")),
    Case("cloudfront_read_error", DOWN, "cloudfront", 502,
        "CloudFront attempted to establish a connection with the origin, but either the attempt "
        "failed or the origin closed the connection."),
    Case("cloudfront_invalid_response", PROTO, "cloudfront", 502, cloudfront(
        "OriginHeaderTooBigError")),
    # --- Google Cloud and Azure Front Door ------------------------------------------------
    Case("gclb_failed_to_pick_backend", DOWN, "google", 502, gclb("failed_to_pick_backend")),
    Case("gclb_failed_to_connect", DOWN, "google", 502, gclb("failed_to_connect_to_backend")),
    Case("gclb_backend_timeout", SLOW, "google", 502, gclb("backend_timeout")),
    Case("gclb_closed_before_data", PROTO, "google", 502, gclb(
        "backend_connection_closed_before_data_sent_to_client")),
    Case("gclb_closed_after_partial", DOWN, "google", None, gclb(
        "backend_connection_closed_after_partial_response_sent",
        status=200)),
    Case("gclb_bad_response", PROTO, "google", 502, gclb("backend_response_headers_too_long")),
    Case("gclb_alpn", PROTO, "google", 502, gclb("failed_to_negotiate_alpn")),
    Case("gclb_ssl_verification", TLS, "google", 502, gclb(
        "ssl_certificate_san_verification_failed")),
    Case("gclb_config", UNK, "google", 502, gclb("request_loop_detected")),
    Case("cloud_run_no_instance", POOL, "google", 503,
        "The request was aborted because there was no available instance."),
    Case("afd_connection_refused", DOWN, "azure_front_door", 503, afd("OriginConnectionRefused")),
    Case("afd_connection_error", FW, "azure_front_door", 503, afd("OriginConnectionError")),
    Case("afd_connection_aborted", PROTO, "azure_front_door", 503, afd("OriginConnectionAborted")),
    Case("afd_timeout", SLOW, "azure_front_door", 504, afd("OriginTimeout")),
    Case("afd_timeout", SLOW, "azure_front_door", 504, "errorInfo_s: OriginTimeout"),
    Case("afd_invalid_response", PROTO, "azure_front_door", 503, afd("OriginInvalidResponse")),
    Case("afd_tls", TLS, "azure_front_door", 503, afd("CertificateNameCheckFailed")),
    Case("afd_tls", TLS, "azure_front_door", 503, afd("CertificateError")),
    Case("afd_dns", DNS, "azure_front_door", 503, afd("DNSNameNotResolved")),
    Case("afd_dns", DNS, "azure_front_door", 503, afd("DNSFailure")),
    # --- Akamai and Proxy-Status ----------------------------------------------------------
    Case("akamai_read_timeout", SLOW, "akamai", None,
        "Reference #97.8c3d3e17.1795000000.2a1b3c4d ERR_READ_TIMEOUT"),
    Case("akamai_connect_fail", DOWN, "akamai", None, "ERR_CONNECT_FAIL"),
    Case("akamai_read_write_error", PROTO, "akamai", None, "ERR_READ_ERROR"),
    Case("proxy_status_refused", DOWN, None, None,
        'proxy-status: envoy; error=connection_refused; received-status=502'),
    Case("proxy_status_unreachable", FW, None, None, "proxy-status: cdn; error=connection_timeout"),
    Case("proxy_status_dns", DNS, None, None,
        "proxy-status: edge; error=dns_error; rcode=SERVFAIL"),
    Case("proxy_status_read_timeout", SLOW, None, None,
        "proxy-status: edge; error=http_response_timeout"),
    Case("proxy_status_terminated", PROTO, None, None,
        "proxy-status: edge; error=connection_terminated"),
    Case("proxy_status_limit", POOL, None, None,
        "proxy-status: edge; error=connection_limit_reached"),
    Case("proxy_status_tls", TLS, None, None, "proxy-status: edge; error=tls_certificate_error"),
    # --- Issue 12: application servers, the keep-alive race, older and rarer wordings --------
    Case("gunicorn_worker_timeout", SLOW, "gunicorn", 502,
        "[2026-11-24 01:02:03 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:12)"),
    Case("gunicorn_worker_killed", DOWN, "gunicorn", 502,
        "[2026-11-24 01:02:04 +0000] [7] [ERROR] Worker (pid:12) was sent SIGKILL! Perhaps out "
        "of memory?"),
    Case("gunicorn_boot_failed", DOWN, "gunicorn", 502,
        "[2026-11-24 01:02:03 +0000] [7] [ERROR] Worker failed to boot."),
    Case("gunicorn_boot_failed", DOWN, "gunicorn", 502,
        "[2026-11-24 01:02:03 +0000] [7] [INFO] Reason: App failed to load."),
    Case("php_fpm_max_children", POOL, "php_fpm", None,
        "[24-Nov-2026 01:02:03] WARNING: [pool www] server reached pm.max_children setting (5), "
        "consider raising it"),
    Case("php_fpm_max_children", POOL, "php_fpm", None,
        "[24-Nov-2026 01:02:03] WARNING: [pool www] server reached max_children setting (50), "
        "consider raising it"),
    Case("php_fpm_busy", POOL, "php_fpm", None,
        "[24-Nov-2026 01:02:03] WARNING: [pool www] seems busy (you may need to increase "
        "pm.start_servers, or pm.min/max_spare_servers), spawning 8 children, there are 0 idle, "
        "and 13 total children"),
    Case("php_fpm_execution_timeout", SLOW, "php_fpm", 502,
        "[24-Nov-2026 01:02:03] WARNING: [pool www] child 4242, script "
        "'/var/www/html/index.php' (request: \"GET /index.php\") execution timed out "
        "(30.012345 sec), terminating"),
    Case("php_fpm_child_signal", DOWN, "php_fpm", 502,
        "[24-Nov-2026 01:02:03] WARNING: [pool www] child 4242 exited on signal 9 (SIGKILL) "
        "after 31.000000 seconds from start"),
    Case("php_fpm_child_signal", DOWN, "php_fpm", 502,
        "[24-Nov-2026 01:02:03] WARNING: [pool www] child 4242 exited on signal 11 (SIGSEGV - "
        "core dumped) after 2.5 seconds from start"),
    Case("uwsgi_listen_queue", POOL, "uwsgi", None,
        'Thu Nov 24 01:02:03 2026 - *** uWSGI listen queue of socket "127.0.0.1:3031" (fd: 3) '
        "full !!! (101/100) ***"),
    Case("uwsgi_listen_queue", POOL, "uwsgi", None,
        "*** uWSGI listen queue of socket 4 full !!! (129/128) ***"),
    Case("uwsgi_harakiri", SLOW, "uwsgi", 502,
        "Thu Nov 24 01:02:03 2026 - *** HARAKIRI ON WORKER 3 (pid: 4242, try: 1) ***"),
    Case("h2o_connection_refused", DOWN, "h2o", 502,
        "[lib/core/proxy.c] in request:/api/cart:connection refused"),
    Case("h2o_timeout", SLOW, "h2o", 502, "[lib/core/proxy.c] in request:/api/cart:I/O timeout"),
    Case("h2o_io_error", PROTO, "h2o", 502,
        "[lib/core/proxy.c] in request:/api/cart:I/O error (head)"),
    Case("h2o_io_error", PROTO, "h2o", 502,
        "[lib/core/proxy.c] in request:/api/cart:unexpected end of stream"),
    Case("h2o_bad_response", PROTO, "h2o", 502,
        "[lib/core/proxy.c] in request:/api/cart:failed to parse the response"),
    Case("alb_keepalive_documented", PROTO, "aws_alb", 502,
        "HTTP 502: Bad gateway. The target closed the connection with a TCP RST or a TCP FIN "
        "while the load balancer had an outstanding request to the target."),
    Case("alb_elb_502", PROTO, "aws_alb", 502,
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
        "Gateway</h1></center>\r\n<hr><center>awselb/2.0</center>\r\n</body>\r\n</html>"),
    Case("alb_elb_502", PROTO, "aws_alb", 502,
        "HTTP/2 502\r\nserver: awselb/2.0\r\ndate: Tue, 24 Nov 2026 01:02:03 GMT"),
    Case("alb_elb_502", PROTO, "aws_alb", 502, "CloudWatch alarm: HTTPCode_ELB_502_Count > 10"),
    Case("alb_elb_504", SLOW, "aws_alb", 504,
        "<title>504 Gateway Time-out</title> ... <center>awselb/2.0</center>"),
    Case("alb_elb_504", SLOW, "aws_alb", 504, "HTTPCode_ELB_504_Count spiked"),
    Case("go_server_closed_idle", PROTO, "go", 502,
        'time="2026-11-24T01:02:03Z" level=debug msg="\'502 Bad Gateway\' caused by: http: '
        'server closed idle connection"'),
    Case("apache_read_reset", PROTO, "apache", 502, apache(
        "proxy_http",
        "(70014)End of file found: [client 203.0.113.9:51234] AH01102: error reading status "
        "line from remote server 127.0.0.1:8080")),
    # Apache 2.2 and early 2.4: the same messages without an AH code.
    Case("apache_read_reset", PROTO, "apache", 502,
        "[Tue Nov 24 01:02:03 2026] [error] [client 203.0.113.9] (104)Connection reset by peer: "
        "proxy: error reading status line from remote server 127.0.0.1:8080"),
    Case("apache_read_timeout", SLOW, "apache", 502,
        "[Tue Nov 24 01:02:03 2026] [error] [client 203.0.113.9] (70007)The timeout specified "
        "has expired: proxy: error reading status line from remote server 127.0.0.1:8080"),
    Case("apache_status_line", DOWN, "apache", 502,
        "[Sat Oct 18 10:52:47 2026] [error] [client 203.0.113.9] proxy: error reading status "
        "line from remote server localhost"),
    Case("apache_connect_refused", DOWN, "apache", 503,
        "[Tue Nov 24 01:02:03 2026] [error] (111)Connection refused: proxy: HTTP: attempt to "
        "connect to 127.0.0.1:8080 (localhost) failed"),
    Case("apache_worker_disabled", DOWN, "apache", 503,
        "[Tue Nov 24 01:02:03 2026] [error] proxy: HTTP: disabled connection for (localhost)"),
    Case("apache_worker_disabled", DOWN, "apache", 503,
        "[Tue Nov 24 01:02:03 2026] [error] ap_proxy_connect_backend disabling worker for "
        "(localhost)"),
    Case("apache_fcgi_timeout", SLOW, "apache", 504, apache(
        "proxy_fcgi",
        "(70007)The timeout specified has expired: [client 203.0.113.9:54876] AH01075: Error "
        "dispatching request to : (polling)")),
    Case("apache_fcgi_reset", DOWN, "apache", 503, apache(
        "proxy_fcgi",
        "(104)Connection reset by peer: [client 203.0.113.9:60048] AH01075: Error dispatching "
        "request to :81:")),
    Case("apache_fcgi_reset", DOWN, "apache", 503, apache(
        "proxy_fcgi",
        "[client 203.0.113.9:60048] AH01067: Failed to read FastCGI header")),
    Case("apache_fcgi_dispatch", DOWN, "apache", 503, apache(
        "proxy_fcgi",
        "[client 203.0.113.9:60048] AH01075: Error dispatching request to :")),
    Case("cloudflare_524", SLOW, "cloudflare", 524, "HTTP/1.1 524 Origin Time-out"),
    Case("cloudflare_522", FW, "cloudflare", 522, "522 Origin Connection Time-out"),
    Case("cloudflare_origin_timeout_page", SLOW, "cloudflare", 524,
        "<title>Origin Time-out</title>"),
    Case("envoy_no_healthy_upstream", DOWN, "envoy", 503,
        "[2026-11-24 01:02:03.456][21][debug][upstream] "
        "[source/common/upstream/cluster_manager_impl.cc:2143] no healthy host for HTTP "
        "connection pool"),
    Case("envoy_no_healthy_upstream", DOWN, "envoy", 503,
        "rpc error: code = Unavailable desc = no healthy upstream"),
    Case("istio_port_name", PROTO, "envoy", None,
        "Info [IST0118] (Service shop/payments) Port name  (port: 8080, targetPort: 8080) "
        "doesn't follow the naming convention of Istio port and may not be able to identify "
        "the protocol. Istio protocol selection is based on port name."),
    # --- Generic client-library errors ----------------------------------------------------
    Case("generic_refused", DOWN, None, None,
        "Error: connect ECONNREFUSED 127.0.0.1:3000 at TCPConnectWrap.afterConnect"),
    Case("generic_unreachable", FW, None, None, "Error: connect EHOSTUNREACH 10.0.3.17:8080"),
    Case("generic_connect_timeout", FW, None, None, "Error: connect ETIMEDOUT 10.0.0.5:443"),
    Case("generic_reset", DOWN, None, None, "Error: socket hang up (code: ECONNRESET)"),
    Case("generic_dns", DNS, None, None, "Error: getaddrinfo ENOTFOUND api.internal"),
    Case("generic_tls", TLS, None, None,
        "requests.exceptions.SSLError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: certificate has expired (_ssl.c:1006)"),
)
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}-{i}" for i, c in enumerate(CASES)])
def test_line_maps_to_cause_source_and_status(case: Case) -> None:
    result = explain(case.line)
    assert (result.cause, result.source, result.status) == (case.cause, case.source, case.status)
    rule = matching_rule(case.line)
    assert rule is not None
    assert rule.id == case.rule
    assert result.matched
    assert result.summary == rule.summary
    assert case.cause not in result.alternatives


def test_every_rule_is_exercised_by_a_test_line() -> None:
    tested = {case.rule for case in CASES}
    assert [rule.id for rule in RULES if rule.id not in tested] == []
    assert tested <= {rule.id for rule in RULES}


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))


def test_rule_table_is_consistent() -> None:
    for rule in RULES:
        assert rule.summary.endswith("."), rule.id
        assert rule.cause is not Cause.OK, rule.id
        assert rule.cause not in rule.alternatives, rule.id
        assert not rule.pattern.search(""), rule.id


def test_nginx_detail_has_upstream_and_errno() -> None:
    result = explain(
        nginx("connect() failed (111: Connection refused) while connecting to upstream")
    )
    assert result.detail == "upstream http://127.0.0.1:3000/; errno 111: Connection refused"
    assert result.matched == "connect() failed (111: Connection refused)"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            nginx("backend.internal could not be resolved (3: Host not found)", upstream=None),
            "host backend.internal",
        ),
        (
            nginx(
                "upstream SSL certificate verify error: (10:certificate has expired) while SSL "
                "handshaking to upstream",
                upstream="https://10.0.0.5:443/",
            ),
            "x509 10:certificate has expired",
        ),
        (
            apache(
                "proxy",
                "(111)Connection refused: AH00957: http: attempt to connect to 127.0.0.1:8080 "
                "(127.0.0.1:8080) failed",
            ),
            "errno 111: Connection refused",
        ),
        (
            "caused by: dial tcp 10.0.0.5:8080: connect: connection refused",
            "upstream 10.0.0.5:8080",
        ),
        (haproxy("0/0/-1/-1/3001", 503, "SC--"), "server px-http/srv1"),
        (varnish("backend default: fail errno 111 (Connection refused)"), "backend default"),
        (varnish("backend default: fail errno 113 (No route to host)"), "errno 113: No route"),
        (
            ENVOY_BODY + "connection failure, transport failure reason: delayed connect error: 111",
            "transport failure delayed connect error: 111",
        ),
    ],
)
def test_detail_is_extracted(line: str, expected: str) -> None:
    detail = explain(line).detail
    assert detail is not None
    assert expected in detail


def test_matched_is_the_code_for_short_codes() -> None:
    assert explain(envoy(503, "URX,UF")).matched == "URX,UF"
    assert explain(haproxy("0/0/0/-1/30002", 504, "sH--")).matched == "sH--"
    assert explain("Error 522").matched == "522"
    assert explain(heroku("H12", "Request timeout")).matched == "H12"


@pytest.mark.parametrize(
    ("code", "rule", "cause"),
    [
        ("H12", "heroku_h12", Cause.TIMEOUT),
        ("EOF", "go_eof", Cause.PROTOCOL),
        ("SC", "haproxy_state_sc", Cause.ORIGIN_DOWN),
        ("SC--", "haproxy_state_sc", Cause.ORIGIN_DOWN),
        ("sC", "haproxy_state_connect_timeout", Cause.FIREWALL),
        ("sH", "haproxy_state_server_timeout", Cause.TIMEOUT),
        ("UF", "envoy_flag_uf", Cause.ORIGIN_DOWN),
        ("URX,UF", "envoy_flag_uf", Cause.ORIGIN_DOWN),
        ("UPE", "envoy_flag_upe", Cause.PROTOCOL),
        ("520", "cloudflare_520", Cause.PROTOCOL),
        ("1016", "cloudflare_1016", Cause.DNS),
        ("PC01", "fly_pc01", Cause.ORIGIN_DOWN),
        ("OriginTimeout", "afd_timeout", Cause.TIMEOUT),
        ("L4TOUT", "haproxy_check_l4tout", Cause.FIREWALL),
        ("FUNCTION_INVOCATION_TIMEOUT", "vercel_invocation_timeout", Cause.TIMEOUT),
    ],
)
def test_a_code_typed_alone_is_recognised(code: str, rule: str, cause: Cause) -> None:
    result = explain(f"  {code}\n")
    assert result.cause is cause
    matched = matching_rule(code)
    assert matched is not None
    assert matched.id == rule
    assert result.matched is not None
    assert result.matched.split(",")[-1].rstrip("-").lower() in code.lower()


@pytest.mark.parametrize("text", ["hello", "502", "OK", "sc", "uf", "h12", "42", "Error"])
def test_a_word_typed_alone_is_not_a_code(text: str) -> None:
    assert explain(text).cause is Cause.UNKNOWN


def test_next_steps_put_line_specific_steps_first() -> None:
    line = nginx("upstream sent too big header while reading response header from upstream")
    rule = matching_rule(line)
    assert rule is not None
    assert rule.steps
    result = explain(line)
    assert result.next_steps[0] == rule.steps[0]
    assert any("proxy_buffer_size" in step for step in result.next_steps)
    assert set(next_steps(Cause.PROTOCOL, "nginx")) & set(result.next_steps)
    assert len(result.next_steps) == len(set(result.next_steps))


@pytest.mark.parametrize(
    "text",
    [
        "The SC team will review the proposal tomorrow.",
        "we shipped 520 items today",
        "Invoice 521 is overdue; reference H12 in the ticket.",
        "UF and UH are abbreviations, as is URX.",
        "PC01 is the name of my laptop",
        "Please see section 530 of the manual.",
        "The EOF marker ends the file.",
        "Order #1016 and #1033 shipped",
        "status 200 OK",
        "GET /index.html HTTP/1.1 200 5120",
        "Hello, world",
        "SCADA systems and SC-- notation",
        "error 404 not found",
        "x509 is a standard",
        "ORIGINAL DNS timeout values are fine",
    ],
)
def test_ordinary_text_is_unknown(text: str) -> None:
    result = explain(text)
    assert result.cause is Cause.UNKNOWN
    assert result.source is None
    assert result.matched is None
    assert result.next_steps == next_steps(Cause.UNKNOWN)


@pytest.mark.parametrize("text", ["", "   ", "\n\t\n", "\x00\x01\x02", "🙂" * 500])
def test_blank_or_garbage_is_unknown_with_help(text: str) -> None:
    result = explain(text)
    assert isinstance(result, Explanation)
    assert result.cause is Cause.UNKNOWN
    assert result.summary
    assert result.next_steps
    assert result.detail is None


def test_blank_and_unmatched_summaries_differ() -> None:
    assert explain("").summary != explain("hello").summary
    assert "paste" in explain("").summary.lower()


def test_non_string_input_does_not_raise() -> None:
    assert explain(None).cause is Cause.UNKNOWN  # type: ignore[arg-type]


ADVERSARIAL = (
    "a" * 1_000_000,
    "upstream timed out " * 60_000,
    "0/0/0/0/0 503 1 - - " * 50_000,
    '" 503 URX,' * 100_000,
    "dial tcp 10.0.0.5:8080 " * 40_000,
    "(111" * 250_000,
    "error code " * 90_000,
    "cloudflare " * 90_000,
    "<NOSRV> " * 120_000,
    "lookup x on y: " * 60_000,
    "-1 " * 300_000,
    "x509: certificate is valid for a, " * 30_000,
    "elb_status_code=502 " * 50_000,
    "\n" * 1_000_000,
    "[lib/core/proxy.c] in request:" * 30_000,
    "1.2.3.4:5 " * 100_000,
    "(104)x: proxy: error reading status line " * 20_000,
    ", server: a.b" * 80_000,
    "uWSGI listen queue of socket " * 30_000,
    "502 " * 200_000,
    "awselb/2.0 " * 100_000,
)


@pytest.mark.parametrize(
    "text", ADVERSARIAL, ids=[f"adversarial-{i}" for i in range(len(ADVERSARIAL))]
)
def test_huge_input_returns_quickly(text: str) -> None:
    start = time.perf_counter()
    explain(text)
    assert time.perf_counter() - start < 1.0


def test_input_is_truncated() -> None:
    late = "x" * MAX_INPUT + " connect() failed (111: Connection refused) while connecting"
    assert explain(late).cause is Cause.UNKNOWN
    early = "connect() failed (111: Connection refused) while connecting " + "x" * 1_000_000
    assert explain(early).cause is Cause.ORIGIN_DOWN


_FRAGMENTS = [
    "connect() failed", "(111: Connection refused)", "upstream", "while", "SC--", "sH--",
    '" 503 ', "UF", "URX,", "0/0/-1/-1/3001", "503", "Error", "522", "code=", "H12", "[PC01]",
    "dial tcp", "lookup", ": EOF", "AH00957", "(70007)", "FetchError", "backend", "x509:",
    "reset reason:", "ErrorInfo:", "OriginTimeout", "\n", " ", '"', "{", "}", "-1",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_explain_never_raises_on_arbitrary_text(text: str) -> None:
    result = explain(text)
    assert isinstance(result.cause, Cause)
    assert result.next_steps


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
def test_explain_never_raises_on_log_like_text(text: str) -> None:
    result = explain(text)
    assert isinstance(result.cause, Cause)
    assert result.cause is not Cause.OK
    assert (result.matched is None) == (matching_rule(text) is None)


# --- Issue 12: the first next step fits the phrase; the line's own address fills the advice ----

ALB_RACE = alb("0.000 -1 -1", "502", "-")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            nginx(
                "upstream prematurely closed connection while reading response header from upstream"
            ),
            "closed the connection without answering",
        ),
        (
            nginx("upstream prematurely closed connection while reading upstream"),
            "closed the connection without answering",
        ),
        (
            nginx("writev() failed (32: Broken pipe) while sending request to upstream"),
            "keep-alive timeout longer",
        ),
        (ALB_RACE, "Keep-alive race"),
        (heroku("H13", "Connection closed without response"), "Keep-alive race"),
        (
            apache(
                "proxy_http",
                "(104)Connection reset by peer: [client 203.0.113.9:51234] "
                "AH01102: error reading status line from remote server 127.0.0.1:8080",
            ),
            "Keep-alive race",
        ),
        (gclb("backend_connection_closed_before_data_sent_to_client"), "Keep-alive race"),
        ("[lib/core/proxy.c] in request:/api/cart:I/O error (head)", "Keep-alive race"),
        ("[2026-11-24 01:02:03 +0000] [7] [CRITICAL] WORKER TIMEOUT (pid:12)", "`--timeout`"),
        (
            "[24-Nov-2026 01:02:03] WARNING: [pool www] server reached pm.max_children setting (5), "
            "consider raising it",
            "`pm.max_children`",
        ),
        (
            '*** uWSGI listen queue of socket "127.0.0.1:3031" (fd: 3) full !!! (101/100) ***',
            "listen queue",
        ),
        (haproxy_check('Layer4 connection problem, info: "Connection refused"'), "firewall REJECT"),
        ("no healthy upstream", "localhost:15000/clusters"),
        (envoy(502, "UPE"), "Service port name"),
        (nginx("upstream sent invalid chunked response while reading upstream"), "raw response"),
        (
            nginx("upstream sent too big header while reading response header from upstream"),
            "proxy_buffer_size",
        ),
    ],
)
def test_the_first_step_fits_the_phrase_that_matched(line: str, expected: str) -> None:
    steps = explain(line).next_steps
    assert expected.lower() in steps[0].lower()
    assert len(steps) == len(set(steps))


def test_only_header_size_lines_lead_with_buffer_advice() -> None:
    leading = {
        case.rule for case in CASES if "proxy_buffer_size" in explain(case.line).next_steps[0]
    }
    assert leading == {"nginx_too_big_header", "nginx_early_hints"}


@pytest.mark.parametrize("case", [c for c in CASES if (r := matching_rule(c.line)) and r.advice])
def test_phrase_steps_come_right_after_the_rules_own(case: Case) -> None:
    rule = matching_rule(case.line)
    assert rule is not None and rule.advice is not None
    steps = explain(case.line).next_steps
    first_phrase_step = phrase_steps(rule.advice)[0]
    # Placeholders sit inside backticks, so the words before the first one are never filled.
    assert steps[len(rule.steps)].split("`")[0] == first_phrase_step.split("`")[0]


def test_every_advice_key_names_phrase_steps() -> None:
    keys = {rule.advice for rule in RULES if rule.advice is not None}
    assert keys <= set(PHRASE_STEPS)
    assert all(PHRASE_STEPS[key] for key in keys)


def test_advice_uses_the_upstream_address_port_and_server_name() -> None:
    steps = explain(
        nginx(
            "upstream SSL certificate verify error: (10:certificate has expired) while SSL "
            "handshaking to upstream",
            upstream="https://10.0.0.5:8443/",
        )
    ).next_steps
    assert any("-connect 10.0.0.5:443 -servername shop.example.com" in step for step in steps)
    assert not any(re.search(r"\b(?:ORIGIN|HOST)\b", step) for step in steps)


def test_advice_uses_the_upstream_port_and_host_for_a_blocked_path() -> None:
    steps = explain(
        nginx(
            "connect() failed (110: Connection timed out) while connecting to upstream",
            upstream="http://10.0.0.5:3000/",
        )
    ).next_steps
    text = "\n".join(steps)
    assert "curl -v http://10.0.0.5:3000/" in text
    assert "ip route get 10.0.0.5" in text
    assert not re.search(r"\bPORT\b|<upstream-host>|ORIGIN_IP", text)


def test_advice_brackets_an_ipv6_upstream_next_to_a_port() -> None:
    text = "\n".join(
        explain(
            nginx(
                "connect() failed (110: Connection timed out) while connecting to upstream",
                upstream="http://[2001:db8::5]:3000/",
            )
        ).next_steps
    )
    assert "curl -v http://[2001:db8::5]:3000/" in text
    assert "ip route get 2001:db8::5`" in text


@pytest.mark.parametrize(
    ("line", "port"),
    [
        (
            apache(
                "proxy_http",
                "(104)Connection reset by peer: [client 203.0.113.9:51234] "
                "AH01102: error reading status line from remote server 127.0.0.1:8080",
            ),
            "8080",
        ),
        ("caused by: dial tcp 10.0.0.5:9000: connect: connection refused", "9000"),
        (ALB_RACE, "8080"),
        (
            nginx(
                "connect() failed (111: Connection refused) while connecting to upstream",
                upstream="http://127.0.0.1:3000/",
            ),
            "3000",
        ),
    ],
)
def test_advice_uses_the_port_the_line_names(line: str, port: str) -> None:
    text = "\n".join(explain(line).next_steps)
    assert f":{port}" in text
    assert not re.search(r"\bPORT\b", text)


def test_a_unix_socket_upstream_leaves_the_placeholders() -> None:
    text = "\n".join(
        explain(
            nginx(
                "connect() to unix:/run/php/php8.2-fpm.sock failed (13: Permission denied) "
                "while connecting to upstream",
                upstream="fastcgi://unix:/run/php/php8.2-fpm.sock:",
            )
        ).next_steps
    )
    assert "curl -v http://<upstream-host>:PORT/" in text


def test_a_line_without_an_address_keeps_the_placeholders() -> None:
    text = "\n".join(explain("Error 522").next_steps)
    assert "ORIGIN" in text or "PORT" in text


@pytest.mark.parametrize(
    ("line", "alternatives"),
    [
        ("no healthy upstream", {DNS, SLOW, FW}),
        (istio(503, "UH", "no_healthy_upstream"), {DNS, SLOW, FW}),
        (haproxy_check('Layer4 connection problem, info: "Connection refused"'), {FW}),
        (heroku("H13", "Connection closed without response"), {DOWN, SLOW}),
        (ALB_RACE, {DOWN}),
    ],
)
def test_ambiguous_lines_name_their_alternatives(line: str, alternatives: set[Cause]) -> None:
    assert alternatives <= set(explain(line).alternatives)


@pytest.mark.parametrize(
    "line",
    [
        "HTTP/1.1 525\r\nServer: cloudflare\r\nCF-RAY: 8c1f2e3d4a5b6c7d-AMS",
        nginx(
            "upstream SSL certificate verify error: (10:certificate has expired) while SSL "
            "handshaking to upstream",
            upstream="https://10.0.0.5:8443/",
        )
        .replace("server: shop.example.com", "server: _")
        .replace('host: "shop.example.com"', 'host: "localhost"'),
    ],
)
def test_a_header_or_a_catch_all_server_is_not_taken_for_the_site(line: str) -> None:
    text = "\n".join(explain(line).next_steps)
    assert "-servername HOST" in text


def test_the_host_header_names_the_site_when_the_server_name_does_not() -> None:
    line = nginx(
        "upstream SSL certificate verify error: (10:certificate has expired) while SSL "
        "handshaking to upstream",
        upstream="https://10.0.0.5:8443/",
    ).replace("server: shop.example.com", "server: _")
    assert any("-servername shop.example.com" in step for step in explain(line).next_steps)


def test_a_rule_that_names_the_keepalive_race_leads_with_it() -> None:
    for rule in RULES:
        if "keep-alive" not in rule.summary.lower():
            continue
        first = (rule.steps + phrase_steps(rule.advice) + next_steps(rule.cause, rule.source))[0]
        assert "keep-alive" in first.lower(), rule.id


def test_a_step_written_for_another_phrase_goes_last() -> None:
    steps = explain(
        nginx("upstream prematurely closed connection while reading upstream")
    ).next_steps
    assert not any("`upstream sent too big header`" in step for step in steps[:-1])
    assert any("keep-alive" in step for step in steps[:3])


def test_a_step_written_for_this_phrase_keeps_its_place() -> None:
    line = nginx(
        "upstream timed out (110: Connection timed out) while connecting to upstream",
        upstream="http://10.0.0.5:3000/",
    )
    steps = explain(line).next_steps
    assert steps[0].startswith("`upstream timed out (110) while connecting to upstream` means")
