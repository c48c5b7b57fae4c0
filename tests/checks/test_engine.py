"""diagnose() as a whole: fan-out over addresses, origin bypass, redirects, runs, safety."""

from __future__ import annotations

import time

import pytest

from checks import AddressPolicy, Cause, ErrorKind, Hop, TargetRefused, UsageError, diagnose
from checks.jsonout import diagnosis_to_dict
from tests.checks.conftest import LOOPBACK, origin, public, run
from tests.support import (
    DnsStub,
    closed_port,
    h2_broken_server,
    ok_server,
    redirect_server,
    stall_server,
    tls_server,
)


async def test_every_resolved_address_is_probed_and_partial_failure_shown() -> None:
    # The server listens on 127.0.0.1 only: the same port on 127.0.0.2 refuses.
    with ok_server() as server, DnsStub({"shop.test": ["127.0.0.1", "127.0.0.2"]}) as dns:
        d = await run(f"http://shop.test:{server.port}/", resolver=dns.address)
    probes = public(d)
    assert {p.ip for p in probes} == {"127.0.0.1", "127.0.0.2"}
    assert {p.ip: p.status for p in probes}["127.0.0.1"] == 200
    failing = next(p for p in probes if p.ip == "127.0.0.2")
    assert failing.error is not None and failing.error.kind is ErrorKind.CONNECT_REFUSED
    assert any("1 of 2 addresses fail (127.0.0.2)" in e for e in d.verdict.evidence)
    assert d.verdict.cause is Cause.ORIGIN_DOWN
    assert d.verdict.summary.startswith("1 of 2 addresses of shop.test return connect_refused")
    assert "--resolve" in d.verdict.reproduce[0] and "127.0.0.2" in d.verdict.reproduce[0]


async def test_origin_bypass_keeps_path_host_and_sni() -> None:
    with (
        tls_server("valid") as edge,
        tls_server("valid", ca=edge.ca) as origin_server,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        d = await run(
            f"https://shop.test:{edge.port}/cart?id=7",
            origin=f"127.0.0.1:{origin_server.port}",
            resolver=dns.address,
            ca_bundle=edge.ca_pem_path,
        )
        head = origin_server.requests[-1].decode()
    assert d.verdict.cause is Cause.OK
    (o,) = origin(d)
    assert o.status == 200 and o.tls is not None and o.tls.verified
    assert head.startswith("GET /cart?id=7 HTTP/1.1")
    assert f"host: shop.test:{edge.port}" in head.lower()
    assert origin_server.server_names == ["shop.test"]
    assert any(
        f"--connect-to shop.test:{edge.port}:127.0.0.1:{origin_server.port}" in line
        for line in d.verdict.reproduce
    )


async def test_origin_bypass_over_another_scheme_uses_a_host_header() -> None:
    with ok_server() as edge, ok_server() as backend:
        d = await run(edge.url, origin=f"http://127.0.0.1:{backend.port}")
    assert d.verdict.cause is Cause.OK
    assert origin(d)[0].status == 200


async def test_public_and_origin_run_concurrently() -> None:
    with ok_server(delay=1.0) as edge, ok_server(delay=1.0) as backend:
        start = time.monotonic()
        d = await run(edge.url, origin=f"127.0.0.1:{backend.port}")
        elapsed = time.monotonic() - start
    totals = [p.timings.total or 0.0 for p in d.probes]
    assert len(totals) == 2 and min(totals) >= 990
    # One after the other would take at least 2 s; side by side takes about 1 s.
    assert elapsed < 1.9


async def test_redirects_are_reported_not_followed_by_default() -> None:
    with redirect_server("/elsewhere") as server:
        d = await run(server.url)
    (p,) = public(d)
    assert p.status == 302 and p.location == "/elsewhere"
    assert d.verdict.cause is Cause.OK


async def test_follow_walks_redirects_and_rechecks_each_hop() -> None:
    with ok_server(body=b"final") as final, redirect_server(final.url) as first:
        d = await run(first.url, follow=True)
    (p,) = public(d)
    assert p.status == 200 and p.body_excerpt == "final"
    assert p.redirects == (first.url,)


async def test_redirect_to_a_private_address_is_refused() -> None:
    with closed_port() as internal, redirect_server(f"http://127.0.0.2:{internal.port}/") as first:
        policy = AddressPolicy.allowing("127.0.0.1/32")
        d = await run(first.url, follow=True, policy=policy)
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.BLOCKED_ADDRESS
    assert "127.0.0.2 is a loopback address" in p.error.message


async def test_redirect_to_a_metadata_name_is_refused() -> None:
    with redirect_server("http://metadata.google.internal/computeMetadata/v1/") as first:
        d = await run(first.url, follow=True)
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.BLOCKED_ADDRESS


@pytest.mark.parametrize(
    "location", ["ftp://files.example.com/", "http://exa mple.com/", "https://[v1.x]/"]
)
async def test_a_hostile_redirect_location_is_a_probe_error_not_a_crash(location: str) -> None:
    with redirect_server(location) as first:
        d = await run(first.url, follow=True)
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.INVALID_RESPONSE
    assert "bad redirect Location" in p.error.message


async def test_redirect_loops_stop_after_five() -> None:
    with redirect_server("/again") as loop:
        d = await run(loop.url, follow=True)
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.TOO_MANY_REDIRECTS
    assert len(p.redirects) == 5
    assert len(loop.requests) == 6


async def test_loopback_is_refused_unless_allowed() -> None:
    with ok_server() as server, DnsStub({"sneaky.test": ["127.0.0.1"]}) as dns:
        with pytest.raises(TargetRefused, match="loopback"):
            await diagnose(server.url)
        with pytest.raises(TargetRefused, match="loopback"):
            await diagnose(f"http://sneaky.test:{server.port}/", resolver=dns.address)
        assert len(server.requests) == 0


async def test_origin_bypass_to_a_metadata_ip_is_refused() -> None:
    with ok_server() as server:
        with pytest.raises(TargetRefused, match="metadata"):
            await run(server.url, origin="169.254.169.254:80", policy=LOOPBACK)
        with pytest.raises(TargetRefused, match="metadata"):
            await run(server.url, origin="metadata.google.internal:80")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"runs": 0}, "runs"),
        ({"runs": 1000}, "runs"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"origin": "ftp://x"}, "origin"),
        ({"resolver": "not-an-ip"}, "--resolver"),
    ],
)
async def test_bad_arguments_are_usage_errors(kwargs: dict, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError, match=fragment):
        await run("http://127.0.0.1:9/", **kwargs)


async def test_runs_report_the_status_mix_and_addresses_seen() -> None:
    with ok_server() as server:
        d = await run(server.url, runs=4, concurrency=2)
    assert len(public(d)) == 4
    assert dict(d.status_mix) == {"200": 4}
    assert d.ips_seen == ("127.0.0.1",)
    assert {p.run for p in d.probes} == {0, 1, 2, 3}


async def test_http2_failing_where_http1_works_is_a_protocol_mismatch() -> None:
    with h2_broken_server() as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        d = await run(
            f"https://shop.test:{server.port}/", resolver=dns.address, ca_bundle=server.ca_pem_path
        )
    assert "h2" in server.negotiated and "http/1.1" in server.negotiated
    retry = [p for p in d.probes if p.protocol_retry]
    assert len(retry) == 1 and retry[0].status == 200 and retry[0].http_version == "HTTP/1.1"
    assert d.verdict.cause is Cause.PROTOCOL
    assert any("HTTP/2" in e and "HTTP/1.1" in e for e in d.verdict.evidence)


async def test_origin_down_behind_a_healthy_public_name_is_not_an_outage() -> None:
    with ok_server() as edge, closed_port() as dead:
        d = await run(edge.url, origin=f"127.0.0.1:{dead.port}")
    assert d.verdict.cause is Cause.OK
    assert "origin bypass fails" in d.verdict.summary


async def test_edge_hanging_while_the_origin_answers_fast_points_at_the_path() -> None:
    with stall_server() as edge, ok_server(delay=0.05) as backend:
        d = await run(edge.url, origin=f"127.0.0.1:{backend.port}", timeout=1.0)
    assert d.verdict.cause is Cause.FIREWALL
    assert d.verdict.hop is Hop.EDGE_TO_ORIGIN


async def test_origin_about_as_slow_as_the_edge_waits_is_a_timeout() -> None:
    with stall_server() as edge, ok_server(delay=0.8) as backend:
        d = await run(edge.url, origin=f"127.0.0.1:{backend.port}", timeout=1.0)
    assert d.verdict.cause is Cause.TIMEOUT
    assert d.verdict.hop is Hop.ORIGIN


async def test_json_document_has_the_stable_names() -> None:
    with ok_server() as server:
        d = await run(server.url, origin=f"127.0.0.1:{server.port}")
    doc = diagnosis_to_dict(d)
    assert set(doc) >= {"url", "checked_at", "verdict", "probes"}
    assert set(doc["verdict"]) >= {
        "cause",
        "generated_by",
        "hop",
        "confidence",
        "summary",
        "evidence",
        "next_steps",
        "reproduce",
    }
    probe = doc["probes"][0]
    assert set(probe) >= {
        "target",
        "url",
        "ip",
        "port",
        "resolved",
        "status",
        "http_version",
        "timings_ms",
        "error",
        "headers",
        "body_excerpt",
        "tls",
    }
    assert set(probe["timings_ms"]) == {"dns", "connect", "tls", "ttfb", "total"}
    assert [p["target"] for p in doc["probes"]] == ["public", "origin"]


@pytest.mark.gateways
async def test_http2_success_path_through_real_nginx_is_healthy() -> None:
    """Most CDN URLs answer over TLS with h2: the success path speaks HTTP/2 end to end."""
    from tests.support.gateways import NginxH2

    with NginxH2(body="hello over h2") as site, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        d = await run(site.url, resolver=dns.address, ca_bundle=site.ca_pem_path)
        log = site.wait_for_log('HTTP/1.1 200 "GET / HTTP/1.1"', 5)
    assert d.healthy and d.verdict.cause is Cause.OK
    # The engine's HTTP/1.1 comparison ran and agrees: no protocol mismatch is claimed.
    (retry,) = [p for p in d.probes if p.protocol_retry]
    assert (retry.status, retry.http_version) == (200, "HTTP/1.1")
    assert not any("negotiates HTTP/2" in e for e in d.verdict.evidence)
    assert any("over HTTP/2" in e for e in d.verdict.evidence)
    (p,) = public(d)
    assert (p.status, p.http_version, p.error) == (200, "HTTP/2", None)
    assert p.http2_attempted
    assert p.tls is not None and p.tls.verified and p.tls.alpn == "h2"
    assert p.body_excerpt == "hello over h2"
    assert log.count('"GET / HTTP/2.0"') == 1 and log.count('"GET / HTTP/1.1"') == 1
