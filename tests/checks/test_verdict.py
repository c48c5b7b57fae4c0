"""decide() on hand-built probes: the branches that real servers reach only with effort.

``decide`` is pure, so every case here is a few frozen ``Probe`` values and one call. Expected
causes, hops and confidences are written out in the tests, not read back from the engine's tables.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from checks.model import Cause, ErrorKind, Hop, Probe, ProbeError, Timings, Verdict
from checks.target import OriginTarget, TargetURL, parse_origin, parse_url
from checks.verdict import decide, reproduce

URL = parse_url("https://shop.example.com/cart?id=7")
PUBLIC_IP = "198.51.100.7"
OTHER_PUBLIC_IP = "198.51.100.8"
ORIGIN_IP = "203.0.113.10"

NGINX = (("Server", "nginx/1.22.1"), ("Content-Type", "text/html"))
JSON = (("Content-Type", "application/json"),)


def _nginx_page(status_line: str) -> str:
    return (
        f"<html>\r\n<head><title>{status_line}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status_line}</h1></center>\r\n"
        "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
    )


NGINX_502 = _nginx_page("502 Bad Gateway")
NGINX_504 = _nginx_page("504 Gateway Time-out")


def make_probe(**overrides: Any) -> Probe:
    """A healthy public HTTP/1.1 200 from ``PUBLIC_IP`` in 100 ms, with ``overrides`` applied."""
    fields: dict[str, Any] = {
        "target": "public",
        "url": URL.url,
        "host": URL.host,
        "ip": PUBLIC_IP,
        "port": URL.port,
        "resolved": (),
        "status": 200,
        "http_version": "HTTP/1.1",
        "reason": "OK",
        "headers": (("Content-Type", "text/html"),),
        "header_bytes": 180,
        "body_excerpt": "<html>shop</html>",
        "timings": Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=80.0, total=100.0),
        "error": None,
        "tls": None,
    }
    fields.update(overrides)
    return Probe(**fields)


def failed(kind: ErrorKind, message: str = "it failed", **overrides: Any) -> Probe:
    """A probe that got no HTTP response at all."""
    fields: dict[str, Any] = {
        "status": None,
        "http_version": None,
        "reason": None,
        "headers": (),
        "header_bytes": 0,
        "body_excerpt": "",
        "timings": Timings(dns=1.0, connect=10.0, total=50.0),
        "error": ProbeError(kind, message),
    }
    fields.update(overrides)
    return make_probe(**fields)


def answered(status: int, headers: Any = JSON, body: str = "", **overrides: Any) -> Probe:
    fields: dict[str, Any] = {
        "status": status,
        "reason": "Error",
        "headers": headers,
        "body_excerpt": body,
    }
    fields.update(overrides)
    return make_probe(**fields)


def nginx_502(**overrides: Any) -> Probe:
    """nginx's built-in 502 page, answered at once (its upstream failed fast)."""
    fields: dict[str, Any] = {
        "timings": Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=60.0, total=62.0),
    }
    fields.update(overrides)
    return answered(502, NGINX, NGINX_502, **fields)


def nginx_504(**overrides: Any) -> Probe:
    """nginx's built-in 504 page after its 60 s proxy_read_timeout."""
    fields: dict[str, Any] = {
        "timings": Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=60_030.0, total=60_032.0),
    }
    fields.update(overrides)
    return answered(504, NGINX, NGINX_504, **fields)


def origin_probe(base: Probe | None = None, **overrides: Any) -> Probe:
    fields: dict[str, Any] = {"target": "origin", "ip": ORIGIN_IP}
    fields.update(overrides)
    return replace(base or make_probe(), **fields)


def verdict_for(
    public: Sequence[Probe],
    origin_probes: Sequence[Probe] = (),
    retries: Sequence[Probe] = (),
    *,
    origin: OriginTarget | str | None = None,
    url: TargetURL = URL,
) -> Verdict:
    """``decide`` plus the invariants every verdict keeps."""
    target = parse_origin(origin, url) if isinstance(origin, str) else origin
    v = decide(url, target, public, origin_probes, retries)
    assert 0.0 <= v.confidence <= 1.0
    assert v.cause not in v.alternatives
    assert len(set(v.alternatives)) == len(v.alternatives)
    assert v.summary
    assert v.reproduce
    return v


def curl_arg(line: str, flag: str) -> str:
    """The value after ``flag`` in a reproduce line, as the shell would pass it."""
    args = shlex.split(line)
    return args[args.index(flag) + 1]


# --- the public probe got no response ----------------------------------------------------------

KIND_EXPECTATIONS = [
    (ErrorKind.DNS_NXDOMAIN, Cause.DNS, Hop.EDGE, 0.95, ()),
    (ErrorKind.DNS_SERVFAIL, Cause.DNS, Hop.EDGE, 0.9, ()),
    (ErrorKind.DNS_TIMEOUT, Cause.DNS, Hop.EDGE, 0.8, (Cause.FIREWALL,)),
    (ErrorKind.DNS_NO_RECORDS, Cause.DNS, Hop.EDGE, 0.9, ()),
    (ErrorKind.CONNECT_REFUSED, Cause.ORIGIN_DOWN, Hop.EDGE, 0.85, (Cause.FIREWALL,)),
    (
        ErrorKind.CONNECT_TIMEOUT,
        Cause.FIREWALL,
        Hop.EDGE,
        0.6,
        (Cause.WORKERS_EXHAUSTED, Cause.ORIGIN_DOWN),
    ),
    (ErrorKind.CONNECT_UNREACHABLE, Cause.FIREWALL, Hop.EDGE, 0.75, (Cause.ORIGIN_DOWN,)),
    (ErrorKind.TLS_EXPIRED, Cause.TLS, Hop.EDGE, 0.95, ()),
    (ErrorKind.TLS_HOSTNAME_MISMATCH, Cause.TLS, Hop.EDGE, 0.95, ()),
    (ErrorKind.TLS_UNTRUSTED, Cause.TLS, Hop.EDGE, 0.9, ()),
    (ErrorKind.TLS_HANDSHAKE, Cause.TLS, Hop.EDGE, 0.75, (Cause.PROTOCOL,)),
    (ErrorKind.READ_TIMEOUT, Cause.TIMEOUT, Hop.ORIGIN, 0.75, (Cause.WORKERS_EXHAUSTED,)),
    (ErrorKind.PREMATURE_CLOSE, Cause.PROTOCOL, Hop.ORIGIN, 0.55, (Cause.ORIGIN_DOWN,)),
    (ErrorKind.INVALID_RESPONSE, Cause.PROTOCOL, Hop.ORIGIN, 0.85, ()),
    (ErrorKind.HEADERS_TOO_LARGE, Cause.PROTOCOL, Hop.ORIGIN, 0.85, ()),
    (
        ErrorKind.BODY_TRUNCATED,
        Cause.PROTOCOL,
        Hop.ORIGIN,
        0.6,
        (Cause.ORIGIN_DOWN, Cause.TIMEOUT),
    ),
    (ErrorKind.TOO_MANY_REDIRECTS, Cause.UNKNOWN, Hop.ORIGIN, 0.3, ()),
]


def test_the_expectations_cover_every_kind_but_blocked_address() -> None:
    covered = {row[0] for row in KIND_EXPECTATIONS}
    assert covered == set(ErrorKind) - {ErrorKind.BLOCKED_ADDRESS}


@pytest.mark.parametrize(
    ("kind", "cause", "hop", "confidence", "alternatives"),
    KIND_EXPECTATIONS,
    ids=[row[0].value for row in KIND_EXPECTATIONS],
)
def test_each_error_kind_on_the_public_probe(
    kind: ErrorKind, cause: Cause, hop: Hop, confidence: float, alternatives: tuple[Cause, ...]
) -> None:
    v = verdict_for([failed(kind, "what the socket said")])
    assert (v.cause, v.hop, v.confidence) == (cause, hop, confidence)
    assert v.alternatives == alternatives
    assert v.generated_by is None and v.code is None
    assert v.summary.startswith(f"shop.example.com returns {kind.value}: ")
    assert ("probably" in v.summary) == (confidence < 0.6)
    assert any("what the socket said" in e for e in v.evidence)


def test_blocked_address_is_not_checked() -> None:
    v = verdict_for([failed(ErrorKind.BLOCKED_ADDRESS, "10.0.0.5 is a private address")])
    assert v.cause is Cause.UNKNOWN
    assert v.hop is None
    assert v.confidence == 0.0
    assert v.generated_by is None
    assert v.summary.startswith("Not checked")
    assert "10.0.0.5 is a private address" in v.summary


def test_blocked_origin_bypass_keeps_the_public_verdict() -> None:
    alone = verdict_for([failed(ErrorKind.READ_TIMEOUT)])
    v = verdict_for(
        [failed(ErrorKind.READ_TIMEOUT)],
        [origin_probe(failed(ErrorKind.BLOCKED_ADDRESS, "203.0.113.10 is refused"))],
        origin=ORIGIN_IP,
    )
    assert (v.cause, v.hop, v.confidence) == (alone.cause, alone.hop, alone.confidence)


# --- the origin generated the status -------------------------------------------------------------


def test_origin_generated_503_suggests_workers_exhausted() -> None:
    v = verdict_for([answered(503, body='{"error": "busy"}')])
    assert (v.cause, v.hop, v.generated_by) == (Cause.WORKERS_EXHAUSTED, Hop.ORIGIN, "origin")
    assert v.confidence == 0.45
    assert v.alternatives == (Cause.UNKNOWN,)


def test_origin_generated_504_is_a_timeout() -> None:
    v = verdict_for([answered(504, body='{"error": "upstream timeout"}')])
    assert (v.cause, v.hop, v.generated_by) == (Cause.TIMEOUT, Hop.ORIGIN, "origin")
    assert v.confidence == 0.55


def test_origin_generated_502_is_unknown_inside_the_origin() -> None:
    v = verdict_for([answered(502, body='{"error": "db down"}')])
    assert (v.cause, v.hop, v.generated_by) == (Cause.UNKNOWN, Hop.ORIGIN, "origin")
    assert v.confidence == 0.35
    assert v.summary.startswith("The origin itself answered 502")


@pytest.mark.parametrize("status", [404, 500])
def test_origin_application_errors_are_not_gateway_errors(status: int) -> None:
    v = verdict_for([answered(status, body='{"error": "nope"}')])
    assert (v.cause, v.hop, v.generated_by) == (Cause.UNKNOWN, Hop.ORIGIN, "origin")
    assert v.confidence == 0.3
    assert f"The origin answered {status}" in v.summary
    assert "not a gateway error" in v.summary


# --- patterns across runs ------------------------------------------------------------------------


def _slow_ok(run: int, ip: str = PUBLIC_IP) -> Probe:
    return make_probe(
        run=run, ip=ip, timings=Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=1990.0, total=2000.0)
    )


def _fast_ok(run: int, ip: str = PUBLIC_IP) -> Probe:
    return make_probe(run=run, ip=ip)


def test_fast_502s_beside_slow_200s_are_exhausted_workers() -> None:
    public = [_slow_ok(0), nginx_502(run=1), _slow_ok(2), nginx_502(run=3)]
    v = verdict_for(public)
    assert (v.cause, v.hop, v.generated_by) == (Cause.WORKERS_EXHAUSTED, Hop.ORIGIN, "nginx")
    assert v.confidence == 0.75
    assert v.alternatives == (Cause.TIMEOUT,)
    assert any("2 of 4 requests failed" in e for e in v.evidence)


def test_slow_502s_beside_fast_200s_are_not_exhausted_workers() -> None:
    slow = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=4990.0, total=5000.0)
    public = [
        _fast_ok(0),
        nginx_502(run=1, timings=slow),
        _fast_ok(2),
        nginx_502(run=3, timings=slow),
    ]
    v = verdict_for(public)
    assert v.cause is not Cause.WORKERS_EXHAUSTED
    # nginx waited ~5 s before its 502: it gave up on a slow upstream.
    assert v.cause is Cause.TIMEOUT


def test_a_single_run_is_never_exhausted_workers() -> None:
    public = [_slow_ok(0), nginx_502(run=0, ip=OTHER_PUBLIC_IP)]
    assert verdict_for(public).cause is not Cause.WORKERS_EXHAUSTED


def test_one_always_failing_address_is_not_exhausted_workers() -> None:
    public = [
        _slow_ok(0),
        nginx_502(run=0, ip=OTHER_PUBLIC_IP),
        _slow_ok(1),
        nginx_502(run=1, ip=OTHER_PUBLIC_IP),
    ]
    v = verdict_for(public)
    assert v.cause is not Cause.WORKERS_EXHAUSTED
    assert v.summary.startswith("1 of 2 addresses of shop.example.com return 502")


def test_http2_failing_where_http1_works_is_a_protocol_mismatch() -> None:
    h2 = failed(ErrorKind.PREMATURE_CLOSE, http2_attempted=True)
    h1 = make_probe(protocol_retry=True)
    v = verdict_for([h2], retries=[h1])
    assert (v.cause, v.hop, v.confidence) == (Cause.PROTOCOL, Hop.EDGE, 0.85)
    assert v.generated_by is None
    assert any("over HTTP/2 it fails" in e and "over HTTP/1.1 it works" in e for e in v.evidence)


def test_http2_working_where_http1_fails_is_a_protocol_mismatch() -> None:
    h2 = make_probe(http_version="HTTP/2", http2_attempted=True)
    h1 = failed(ErrorKind.INVALID_RESPONSE, protocol_retry=True)
    v = verdict_for([h2], retries=[h1])
    assert (v.cause, v.hop, v.confidence) == (Cause.PROTOCOL, Hop.EDGE, 0.85)
    assert any("over HTTP/1.1 it fails" in e and "over HTTP/2 it works" in e for e in v.evidence)


def test_a_protocol_mismatch_on_the_origin_points_at_the_origin() -> None:
    public = nginx_502()
    h2 = origin_probe(failed(ErrorKind.PREMATURE_CLOSE), http2_attempted=True)
    h1 = origin_probe(protocol_retry=True)
    v = verdict_for([public], [h2], [h1], origin=ORIGIN_IP)
    assert (v.cause, v.hop) == (Cause.PROTOCOL, Hop.ORIGIN)


def test_http2_and_http1_agreeing_is_no_mismatch() -> None:
    h2 = make_probe(http_version="HTTP/2", http2_attempted=True)
    v = verdict_for([h2], retries=[make_probe(protocol_retry=True)])
    assert v.cause is Cause.OK and v.hop is None


# --- the origin bypass ---------------------------------------------------------------------------


def test_gateway_timeout_with_a_slow_origin_is_the_origin_being_slow() -> None:
    slow = Timings(dns=1.0, connect=5.0, tls=15.0, ttfb=44_990.0, total=45_000.0)
    v = verdict_for([nginx_504()], [origin_probe(timings=slow)], origin=ORIGIN_IP)
    assert (v.cause, v.hop, v.generated_by) == (Cause.TIMEOUT, Hop.ORIGIN, "nginx")
    assert v.confidence == 0.8
    assert v.alternatives == (Cause.WORKERS_EXHAUSTED,)


def test_gateway_timeout_with_a_fast_origin_is_the_path() -> None:
    fast = Timings(dns=1.0, connect=5.0, tls=15.0, ttfb=110.0, total=120.0)
    v = verdict_for([nginx_504()], [origin_probe(timings=fast)], origin=ORIGIN_IP)
    assert (v.cause, v.hop, v.generated_by) == (Cause.FIREWALL, Hop.EDGE_TO_ORIGIN, "nginx")
    assert v.confidence == 0.65


def test_origin_with_huge_headers_is_a_protocol_problem() -> None:
    v = verdict_for([nginx_502()], [origin_probe(header_bytes=16 * 1024)], origin=ORIGIN_IP)
    assert (v.cause, v.hop) == (Cause.PROTOCOL, Hop.EDGE_TO_ORIGIN)
    assert v.confidence == 0.75
    assert any("16 KiB" in e for e in v.evidence)


def test_origin_headers_at_exactly_8_kib_are_not_huge() -> None:
    v = verdict_for([nginx_502()], [origin_probe(header_bytes=8 * 1024)], origin=ORIGIN_IP)
    assert v.cause is not Cause.PROTOCOL


def test_origin_name_that_does_not_resolve_is_dns_between_edge_and_origin() -> None:
    o = origin_probe(failed(ErrorKind.DNS_NXDOMAIN, "no such name"), ip=None)
    v = verdict_for([nginx_502()], [o], origin="origin.internal.example:443")
    assert (v.cause, v.hop) == (Cause.DNS, Hop.EDGE_TO_ORIGIN)
    assert v.confidence == 0.85
    assert v.generated_by == "nginx"


def test_origin_refusing_is_the_origin_down() -> None:
    o = origin_probe(failed(ErrorKind.CONNECT_REFUSED, "connection refused"))
    v = verdict_for([nginx_502()], [o], origin=ORIGIN_IP)
    assert (v.cause, v.hop) == (Cause.ORIGIN_DOWN, Hop.ORIGIN)
    assert v.confidence == 0.95


def test_origin_answering_the_same_502_is_at_the_origin() -> None:
    o = origin_probe(answered(502, body='{"error": "db down"}'))
    v = verdict_for([nginx_502()], [o], origin=ORIGIN_IP)
    assert v.hop is Hop.ORIGIN
    # The public body is nginx's own page: nginx generated it, whatever the origin answers.
    assert v.generated_by == "nginx"
    assert "generated by nginx" in v.summary and "from the origin" not in v.summary
    assert any("the origin returns 502 too" in e for e in v.evidence)


def test_origin_answering_nginx_502_page_too_is_at_the_origin() -> None:
    v = verdict_for([nginx_502()], [origin_probe(nginx_502())], origin=ORIGIN_IP)
    assert v.hop is Hop.ORIGIN
    assert v.generated_by == "nginx"


def test_healthy_public_and_failing_origin_bypass_is_ok() -> None:
    o = origin_probe(failed(ErrorKind.CONNECT_REFUSED))
    v = verdict_for([make_probe()], [o], origin=ORIGIN_IP)
    assert v.cause is Cause.OK and v.hop is None
    assert v.summary == (
        "shop.example.com answers 200 in 100 ms; the origin bypass fails (connect_refused),"
        " which is expected if the origin only accepts the edge."
    )


def test_healthy_public_and_healthy_origin_is_ok() -> None:
    v = verdict_for([make_probe()], [origin_probe()], origin=ORIGIN_IP)
    assert v.cause is Cause.OK and v.hop is None
    assert v.summary == "shop.example.com answers 200 in 100 ms."


# --- several addresses ---------------------------------------------------------------------------


def test_partial_failure_across_addresses_names_the_share() -> None:
    good = make_probe()
    bad = failed(ErrorKind.CONNECT_REFUSED, ip=OTHER_PUBLIC_IP)
    v = verdict_for([good, bad])
    assert v.summary.startswith("1 of 2 addresses of shop.example.com return connect_refused")
    assert any(f"1 of 2 addresses fail ({OTHER_PUBLIC_IP})" in e for e in v.evidence)
    assert curl_arg(v.reproduce[0], "--resolve") == f"shop.example.com:443:{OTHER_PUBLIC_IP}"


def test_all_addresses_failing_is_not_partial() -> None:
    v = verdict_for([nginx_502(), nginx_502(ip=OTHER_PUBLIC_IP)])
    assert v.summary.startswith("shop.example.com returns 502")


# --- reproduce -----------------------------------------------------------------------------------


def test_reproduce_pins_the_public_address() -> None:
    (line,) = verdict_for([nginx_502()]).reproduce
    assert line.startswith("curl -sv -o /dev/null -w ")
    assert curl_arg(line, "--resolve") == f"shop.example.com:443:{PUBLIC_IP}"
    assert shlex.split(line)[-1] == "https://shop.example.com/cart?id=7"


def test_reproduce_does_not_pin_when_nothing_resolved() -> None:
    (line,) = verdict_for([failed(ErrorKind.DNS_NXDOMAIN, ip=None)]).reproduce
    assert "--resolve" not in line
    assert shlex.split(line)[-1] == "https://shop.example.com/cart?id=7"


def test_reproduce_does_not_pin_an_ip_literal_url() -> None:
    url = parse_url("http://198.51.100.7:8080/health")
    (line,) = verdict_for([nginx_502(url=url.url, host=url.host, port=8080)], url=url).reproduce
    assert "--resolve" not in line
    assert shlex.split(line)[-1] == "http://198.51.100.7:8080/health"


def test_reproduce_origin_on_the_same_scheme_and_port_uses_resolve() -> None:
    v = verdict_for([nginx_502()], [origin_probe()], origin=ORIGIN_IP)
    assert len(v.reproduce) == 2
    line = v.reproduce[1]
    assert curl_arg(line, "--resolve") == f"shop.example.com:443:{ORIGIN_IP}"
    assert shlex.split(line)[-1] == "https://shop.example.com/cart?id=7"


def test_reproduce_origin_on_another_port_uses_connect_to() -> None:
    o = origin_probe(port=8443)
    v = verdict_for([nginx_502()], [o], origin=f"{ORIGIN_IP}:8443")
    line = v.reproduce[1]
    assert "--resolve" not in line
    assert curl_arg(line, "--connect-to") == f"shop.example.com:443:{ORIGIN_IP}:8443"
    assert shlex.split(line)[-1] == "https://shop.example.com/cart?id=7"


def test_reproduce_origin_on_another_scheme_sends_a_host_header() -> None:
    o = origin_probe(port=80)
    v = verdict_for([nginx_502()], [o], origin=f"http://{ORIGIN_IP}")
    line = v.reproduce[1]
    assert curl_arg(line, "-H") == "Host: shop.example.com"
    assert shlex.split(line)[-1] == f"http://{ORIGIN_IP}:80/cart?id=7"


def test_reproduce_uses_the_address_the_origin_name_resolved_to() -> None:
    v = verdict_for([nginx_502()], [origin_probe(port=8443)], origin="origin.example.net:8443")
    assert curl_arg(v.reproduce[1], "--connect-to") == f"shop.example.com:443:{ORIGIN_IP}:8443"


def test_reproduce_falls_back_to_the_origin_name_without_an_address() -> None:
    o = origin_probe(failed(ErrorKind.DNS_NXDOMAIN), ip=None)
    v = verdict_for([nginx_502()], [o], origin="origin.example.net")
    assert curl_arg(v.reproduce[1], "--resolve") == "shop.example.com:443:origin.example.net"


def test_reproduce_brackets_ipv6_addresses() -> None:
    public = nginx_502(ip="2001:db8::7")
    same = verdict_for([public], [origin_probe(ip="2001:db8::10")], origin="[2001:db8::10]")
    assert curl_arg(same.reproduce[0], "--resolve") == "shop.example.com:443:[2001:db8::7]"
    assert curl_arg(same.reproduce[1], "--resolve") == "shop.example.com:443:[2001:db8::10]"

    other_port = verdict_for(
        [public], [origin_probe(ip="2001:db8::10", port=8443)], origin="[2001:db8::10]:8443"
    )
    assert (
        curl_arg(other_port.reproduce[1], "--connect-to")
        == "shop.example.com:443:[2001:db8::10]:8443"
    )

    other_scheme = verdict_for(
        [public], [origin_probe(ip="2001:db8::10", port=80)], origin="http://[2001:db8::10]"
    )
    assert shlex.split(other_scheme.reproduce[1])[-1] == "http://[2001:db8::10]:80/cart?id=7"


# --- advice --------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\b(HOST|PORT|ORIGIN_IP)\b")


def test_advice_names_the_checked_host() -> None:
    v = verdict_for([failed(ErrorKind.DNS_NXDOMAIN, ip=None)])
    assert any("dig +trace shop.example.com" in s for s in v.next_steps)
    assert not any(re.search(r"\bHOST\b", s) for s in v.next_steps)


def test_advice_names_the_origin_port_and_address() -> None:
    fast = Timings(dns=1.0, connect=5.0, tls=15.0, ttfb=20.0, total=25.0)
    o = origin_probe(port=8443, timings=fast)
    v = verdict_for([nginx_504()], [o], origin=f"{ORIGIN_IP}:8443")
    assert v.cause is Cause.FIREWALL
    steps = "\n".join(v.next_steps)
    assert "network ACL on 8443" in steps
    assert not _PLACEHOLDER.search(steps)


def test_advice_fills_host_and_origin_address_in_the_bypass_step() -> None:
    o = origin_probe(answered(502, body='{"error": "db down"}'))
    v = verdict_for([nginx_502()], [o], origin="origin.example.net")
    assert v.cause is Cause.UNKNOWN
    steps = "\n".join(v.next_steps)
    assert f"--resolve shop.example.com:443:{ORIGIN_IP} https://shop.example.com/" in steps
    assert "grep :443" in steps
    assert not _PLACEHOLDER.search(steps)


def test_advice_without_an_origin_asks_for_one() -> None:
    v = verdict_for([nginx_502()])
    assert v.generated_by == "nginx"
    assert any("--origin" in s for s in v.next_steps)


# --- regressions ---------------------------------------------------------------------------------


ORIGIN_AT_IP = parse_origin(ORIGIN_IP, URL)


@pytest.mark.parametrize(
    "kind", [ErrorKind.DNS_NXDOMAIN, ErrorKind.TLS_EXPIRED, ErrorKind.CONNECT_REFUSED]
)
def test_edge_failure_beside_a_healthy_origin_stays_at_the_edge(kind: ErrorKind) -> None:
    v = decide(URL, ORIGIN_AT_IP, [failed(kind)], [origin_probe()], [])
    assert v.hop is Hop.EDGE
    assert any("the public edge itself" in e for e in v.evidence)


def test_refused_public_address_is_not_called_the_origin() -> None:
    v = decide(URL, None, [failed(ErrorKind.CONNECT_REFUSED)], [], [])
    assert "nothing accepts the connection at the public address" in v.summary
    assert "origin is down" not in v.summary


def test_a_timeout_code_survives_an_origin_that_refuses_us_only() -> None:
    cf = (("Server", "cloudflare"), ("Content-Type", "text/html"))
    page = "<title>shop.example.com | 524: A timeout occurred</title> cloudflare"
    public = make_probe(status=524, headers=cf, body_excerpt=page)
    o = failed(ErrorKind.CONNECT_TIMEOUT, target="origin", ip=ORIGIN_IP)
    v = decide(URL, ORIGIN_AT_IP, [public], [o], [])
    assert (v.cause, v.code) == (Cause.TIMEOUT, "524")
    assert any("only accepts the edge" in e for e in v.evidence)


def test_reproduce_for_an_ipv6_literal_url_uses_bracketed_connect_to() -> None:
    url = parse_url("https://[2001:db8::1]/")
    origin = parse_origin("[2001:db8::10]:8443", url)
    lines = reproduce(url, make_probe(ip="2001:db8::1"), origin, None)
    assert "--resolve" not in lines[0]
    assert "--connect-to '[2001:db8::1]:443:[2001:db8::10]:8443'" in lines[1]


def test_origin_placeholder_is_filled_and_ipv6_bracketed_next_to_a_port() -> None:
    origin = parse_origin("[2001:db8::10]:443", URL)
    tls_fail = failed(ErrorKind.TLS_EXPIRED, target="origin", ip="2001:db8::10")
    v = decide(
        URL, origin, [make_probe(status=502, headers=NGINX, body_excerpt=NGINX_502)], [tls_fail], []
    )
    text = " ".join(v.next_steps)
    assert "ORIGIN" not in text
    assert "[2001:db8::10]:443" in text


def test_addresses_changing_between_runs_are_reported_as_edge_drift() -> None:
    runs = [
        make_probe(run=0, ip=PUBLIC_IP),
        make_probe(run=1, ip=OTHER_PUBLIC_IP),
        make_probe(run=2, ip=PUBLIC_IP),
    ]
    v = decide(URL, None, runs, [], [])
    assert any("edge drift" in e and PUBLIC_IP in e and OTHER_PUBLIC_IP in e for e in v.evidence), (
        v.evidence
    )
    steady = decide(URL, None, [make_probe(run=0), make_probe(run=1)], [], [])
    assert not any("edge drift" in e for e in steady.evidence)
