"""The seven causes of a 502, produced by real Debian nginx, HAProxy and Caddy on loopback.

Each scenario puts a genuine gateway in front of an origin that fails in one way, then asks
check502 twice: from the outside only, and with ``--origin`` (the bypass). From the outside a
generic gateway page cannot tell every cause apart, and the verdict must say so (low confidence,
the true cause among the alternatives, and a next step asking for ``--origin``); with the bypass
it must name the cause.
"""

from __future__ import annotations

import pytest

from checks import Cause, Diagnosis, Hop
from tests.checks.conftest import run
from tests.support import (
    DnsStub,
    bad_header_server,
    caddy,
    closed_port,
    h2_broken_server,
    haproxy,
    huge_headers_server,
    nginx,
    ok_server,
    stall_server,
    syn_drop_server,
    tcp_busy_server,
    tls_server,
    unix_busy_server,
)

pytestmark = pytest.mark.gateways


def assert_verdict(d: Diagnosis, cause: Cause, generated_by: str | None, hop: Hop | None) -> None:
    v = d.verdict
    assert (v.cause, v.generated_by, v.hop) == (cause, generated_by, hop), v
    assert v.summary and v.evidence and v.next_steps and v.reproduce


def assert_ambiguous(d: Diagnosis, truth: Cause, generated_by: str) -> None:
    """Outside-only view of a generic gateway page: honest about what it cannot know."""
    v = d.verdict
    assert v.generated_by == generated_by, v
    assert truth is v.cause or truth in v.alternatives, v
    assert v.confidence <= 0.5, v
    assert "--origin" in v.next_steps[0]


# --- 1. origin down -------------------------------------------------------------------------


async def test_nginx_origin_down() -> None:
    with closed_port() as dead, nginx(dead.url) as gw:
        outside = await run(gw.url)
        bypass = await run(gw.url, origin=dead.address)
    assert outside.probes[0].status == 502
    assert_verdict(outside, Cause.ORIGIN_DOWN, "nginx", Hop.ORIGIN)
    assert "--origin" in outside.verdict.next_steps[0]
    assert_verdict(bypass, Cause.ORIGIN_DOWN, "nginx", Hop.ORIGIN)
    assert bypass.verdict.confidence > outside.verdict.confidence


async def test_haproxy_origin_down() -> None:
    with closed_port() as dead, haproxy("127.0.0.1", dead.port, retries=0) as gw:
        outside = await run(gw.url)
        bypass = await run(gw.url, origin=dead.address)
    assert outside.probes[0].status == 503
    assert_verdict(outside, Cause.ORIGIN_DOWN, "haproxy", Hop.ORIGIN)
    assert_verdict(bypass, Cause.ORIGIN_DOWN, "haproxy", Hop.ORIGIN)


async def test_caddy_origin_down() -> None:
    with closed_port() as dead, caddy(f"http://{dead.address}") as gw:
        outside = await run(gw.url)
        bypass = await run(gw.url, origin=dead.address)
    assert outside.probes[0].status == 502
    assert_verdict(outside, Cause.ORIGIN_DOWN, "caddy", Hop.ORIGIN)
    assert_verdict(bypass, Cause.ORIGIN_DOWN, "caddy", Hop.ORIGIN)


# --- 2. workers exhausted -------------------------------------------------------------------


async def test_nginx_workers_exhausted_fast_502s_beside_slow_successes() -> None:
    with unix_busy_server(work=0.3) as busy, nginx(busy.nginx_upstream) as gw:
        d = await run(gw.url, runs=10, concurrency=10, timeout=5.0)
    outcomes = dict(d.status_mix)
    assert outcomes.get("502", 0) >= 1 and outcomes.get("200", 0) >= 1, outcomes
    assert_verdict(d, Cause.WORKERS_EXHAUSTED, "nginx", Hop.ORIGIN)


async def test_nginx_workers_exhausted_with_origin_bypass() -> None:
    with (
        unix_busy_server(work=0.3) as busy,
        nginx(busy.nginx_upstream) as gw,
        tcp_busy_server(work=0.3) as app_port,
    ):
        d = await run(
            gw.url, origin=f"127.0.0.1:{app_port.port}", runs=10, concurrency=10, timeout=5.0
        )
    assert_verdict(d, Cause.WORKERS_EXHAUSTED, "nginx", Hop.ORIGIN)
    assert any(p.target == "origin" for p in d.probes)


# --- 3. firewall ----------------------------------------------------------------------------


async def test_nginx_firewall_drop() -> None:
    with syn_drop_server() as blackhole, nginx(blackhole.url) as gw:
        outside = await run(gw.url)
        bypass_dropped = await run(gw.url, origin=blackhole.address, timeout=1.5)
    assert outside.probes[0].status == 504
    # 504 after proxy_connect_timeout looks like a slow origin from outside.
    assert outside.verdict.cause is Cause.TIMEOUT
    assert Cause.FIREWALL in outside.verdict.alternatives
    assert_verdict(bypass_dropped, Cause.FIREWALL, "nginx", Hop.ORIGIN)


async def test_nginx_blocked_from_an_origin_that_answers_us() -> None:
    """The proxy's own path is blocked while the origin is up (a security group change)."""
    with syn_drop_server() as blocked_path, nginx(blocked_path.url) as gw, ok_server() as app:
        d = await run(gw.url, origin=app.address)
    assert_verdict(d, Cause.FIREWALL, "nginx", Hop.EDGE_TO_ORIGIN)


# --- 4. DNS ---------------------------------------------------------------------------------


async def test_nginx_upstream_name_does_not_resolve() -> None:
    with (
        DnsStub(nxdomain={"app.test"}) as dns,
        ok_server() as app,
        nginx(f"http://app.test:{app.port}", resolver=dns.address) as gw,
    ):
        outside = await run(gw.url, resolver=dns.address)
        bypass = await run(gw.url, origin=f"app.test:{app.port}", resolver=dns.address)
        gw.wait_for_log("could not be resolved")
    assert outside.probes[0].status == 502
    assert_ambiguous(outside, Cause.DNS, "nginx")
    assert_verdict(bypass, Cause.DNS, "nginx", Hop.EDGE_TO_ORIGIN)


# --- 5. timeout -----------------------------------------------------------------------------


async def test_nginx_slow_origin_times_out() -> None:
    with ok_server(delay=2.0) as slow, nginx(slow.url, proxy_read_timeout="1s") as gw:
        outside = await run(gw.url)
        bypass = await run(gw.url, origin=slow.address, timeout=5.0)
    assert outside.probes[0].status == 504
    assert_verdict(outside, Cause.TIMEOUT, "nginx", Hop.ORIGIN)
    assert_verdict(bypass, Cause.TIMEOUT, "nginx", Hop.ORIGIN)
    assert bypass.verdict.confidence > outside.verdict.confidence


async def test_haproxy_and_caddy_slow_origin() -> None:
    with stall_server() as stalled:
        with haproxy("127.0.0.1", stalled.port) as hap:
            d = await run(hap.url)
        assert_verdict(d, Cause.TIMEOUT, "haproxy", Hop.ORIGIN)
        with caddy(f"http://{stalled.address}") as cad:
            d = await run(cad.url)
        assert_verdict(d, Cause.TIMEOUT, "caddy", Hop.ORIGIN)


# --- 6. TLS ---------------------------------------------------------------------------------


async def test_nginx_origin_certificate_expired() -> None:
    with (
        tls_server("expired") as origin,
        nginx(
            origin.url,
            verify_upstream_tls=True,
            trusted_ca=origin.ca_pem_path,
            upstream_sni="shop.test",
        ) as gw,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        public_url = f"http://shop.test:{gw.port}/"
        outside = await run(public_url, resolver=dns.address)
        bypass = await run(
            public_url,
            origin=f"https://127.0.0.1:{origin.port}",
            resolver=dns.address,
            ca_bundle=origin.ca_pem_path,
        )
        gw.wait_for_log("certificate has expired")
    assert_ambiguous(outside, Cause.TLS, "nginx")
    assert_verdict(bypass, Cause.TLS, "nginx", Hop.ORIGIN)
    assert any("expired" in e for e in bypass.verdict.evidence)


# --- 7. protocol ----------------------------------------------------------------------------


async def test_nginx_upstream_sends_an_invalid_header() -> None:
    with bad_header_server() as broken, nginx(broken.url) as gw:
        outside = await run(gw.url)
        bypass = await run(gw.url, origin=broken.address)
        gw.wait_for_log("upstream sent invalid header")
    assert_ambiguous(outside, Cause.PROTOCOL, "nginx")
    assert_verdict(bypass, Cause.PROTOCOL, "nginx", Hop.ORIGIN)


async def test_nginx_upstream_headers_too_big_for_the_proxy_buffer() -> None:
    with huge_headers_server(size=20 * 1024) as big, nginx(big.url) as gw:
        bypass = await run(gw.url, origin=big.address)
        gw.wait_for_log("upstream sent too big header")
    assert_verdict(bypass, Cause.PROTOCOL, "nginx", Hop.EDGE_TO_ORIGIN)


async def test_haproxy_blocks_an_invalid_response() -> None:
    with bad_header_server() as broken, haproxy("127.0.0.1", broken.port) as gw:
        d = await run(gw.url)
    assert d.probes[0].status == 502
    assert_verdict(d, Cause.PROTOCOL, "haproxy", Hop.ORIGIN)


async def test_caddy_speaks_http2_to_an_origin_that_cannot() -> None:
    with (
        h2_broken_server() as origin,
        caddy(
            f"https://{origin.address}",
            trusted_ca=origin.ca_pem_path,
            tls_server_name="shop.test",
        ) as gw,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        public_url = f"http://shop.test:{gw.port}/"
        outside = await run(public_url, resolver=dns.address)
        bypass = await run(
            public_url,
            origin=f"https://127.0.0.1:{origin.port}",
            resolver=dns.address,
            ca_bundle=origin.ca_pem_path,
        )
    assert outside.probes[0].status == 502
    assert outside.verdict.generated_by == "caddy"
    assert bypass.verdict.cause is Cause.PROTOCOL, bypass.verdict
    assert bypass.verdict.hop is Hop.ORIGIN
