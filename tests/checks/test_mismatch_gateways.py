"""Proxy and origin speak different protocols, with real Debian nginx, HAProxy and Caddy.

Each gateway is configured the wrong way round for an origin that works (plain HTTP to a TLS
origin, TLS to a plain one, HTTP/2 to an HTTP/1.1-only one): the gateway fails within
milliseconds while the origin bypass answers 200. The check must ask the origin the other way,
name the mismatch in words, give the generating gateway's config line first, and not call it a
firewall. A path that really is blocked (the proxy waits, then times out) stays a firewall, and
a healthy check never asks.
"""

from __future__ import annotations

import pytest

from checks import Cause, Diagnosis, Hop
from tests.checks.conftest import origin, run
from tests.support import (
    DnsStub,
    caddy,
    closed_port,
    haproxy,
    nginx,
    ok_server,
    syn_drop_server,
    tls_server,
)

pytestmark = pytest.mark.gateways


def assert_mismatch(d: Diagnosis, kind: str, sentence: str, fix: str, generated_by: str) -> None:
    """The named mismatch is the verdict's first, in the summary, with its fix line first."""
    v = d.verdict
    assert v.hop is Hop.EDGE_TO_ORIGIN, v
    assert v.generated_by == generated_by, v
    assert v.cause is not Cause.FIREWALL, v
    assert v.mismatch is not None and v.mismatch.kind == kind, v
    assert v.mismatch.sentence == sentence
    assert v.cause is v.mismatch.cause
    assert sentence in v.summary, v.summary
    assert fix in v.next_steps[0], v.next_steps
    assert d.origin_protocols is not None


def assert_possible(d: Diagnosis, kind: str, sentence: str, fix: str) -> None:
    """A mismatch the origin's answers leave possible beside the first: named, with its fix."""
    v = d.verdict
    found = [m for m in (v.mismatch, *v.other_mismatches) if m is not None]
    named = next(m for m in found if m.kind == kind)
    assert named.sentence == sentence
    assert named.cause is v.cause or named.cause in v.alternatives, v
    assert sentence in v.summary, v.summary
    assert any(fix in step for step in v.next_steps), v.next_steps


async def test_nginx_plain_http_to_a_tls_origin() -> None:
    with (
        tls_server() as app,
        nginx(f"http://{app.address}") as gw,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        d = await run(
            f"http://shop.test:{gw.port}/",
            origin=f"https://{app.address}",
            resolver=dns.address,
            ca_bundle=app.ca_pem_path,
        )
    assert d.probes[0].status == 502
    assert d.origin_protocols is not None
    assert (d.origin_protocols.tls, d.origin_protocols.plain_http1) == (True, False)
    assert_mismatch(
        d,
        "plain_to_tls",
        f"the proxy speaks plain HTTP to an origin that speaks TLS on {app.port}",
        f"`proxy_pass https://127.0.0.1:{app.port};` with `proxy_ssl_server_name on;`",
        "nginx",
    )
    assert d.verdict.cause is Cause.TLS
    assert "HAProxy" not in d.verdict.next_steps[0]  # the generating gateway's line alone


async def test_nginx_https_to_a_plain_origin() -> None:
    with ok_server() as app, nginx(app.url, upstream_tls=True) as gw:
        d = await run(gw.url, origin=app.address)
        gw.wait_for_log("wrong version number")
    assert d.origin_protocols is not None
    assert (d.origin_protocols.tls, d.origin_protocols.plain_http1) == (False, True)
    assert_mismatch(
        d,
        "tls_to_plain",
        f"the proxy speaks HTTPS to an origin that speaks plain HTTP on {app.port}",
        f"`proxy_pass http://127.0.0.1:{app.port};`",
        "nginx",
    )
    assert d.verdict.cause is Cause.TLS


async def test_nginx_grpc_pass_to_an_http1_only_origin() -> None:
    """HTTP/2 in plain text to an HTTP/1.1 origin. From outside this looks the same as TLS to a
    plain port (both fail at once, both origins speak only plain HTTP/1.1), so the verdict names
    both, each with its fix line."""
    with ok_server() as app, nginx(app.url, grpc=True) as gw:
        d = await run(gw.url, origin=app.address)
    assert d.probes[0].status == 502
    assert d.origin_protocols is not None and d.origin_protocols.h2c is False
    assert_possible(
        d,
        "h2_to_http1",
        f"the proxy speaks HTTP/2 to an HTTP/1.1-only origin on {app.port}",
        f"replace `grpc_pass` with `proxy_pass http://127.0.0.1:{app.port};`",
    )
    assert d.verdict.hop is Hop.EDGE_TO_ORIGIN and d.verdict.cause is not Cause.FIREWALL


async def test_caddy_h2c_to_an_http1_only_origin() -> None:
    with ok_server() as app, caddy(f"http://{app.address}", versions=["h2c"]) as gw:
        d = await run(gw.url, origin=app.address)
    assert d.verdict.generated_by == "caddy"
    assert_possible(
        d,
        "h2_to_http1",
        f"the proxy speaks HTTP/2 to an HTTP/1.1-only origin on {app.port}",
        "Caddy: `transport http { versions 1.1 }`",
    )
    assert not any("nginx:" in step for step in d.verdict.next_steps)


async def test_haproxy_proto_h2_to_an_http1_only_origin() -> None:
    with (
        ok_server() as app,
        haproxy("127.0.0.1", app.port, retries=0, server_options="proto h2") as gw,
    ):
        d = await run(gw.url, origin=app.address)
    assert d.verdict.generated_by == "haproxy"
    assert_possible(
        d,
        "h2_to_http1",
        f"the proxy speaks HTTP/2 to an HTTP/1.1-only origin on {app.port}",
        f"HAProxy: drop `proto h2` from `server app 127.0.0.1:{app.port}`",
    )


async def test_haproxy_ssl_to_a_plain_origin() -> None:
    with (
        ok_server() as app,
        haproxy("127.0.0.1", app.port, retries=0, server_options="ssl verify none") as gw,
    ):
        d = await run(gw.url, origin=app.address)
    assert d.probes[0].status == 503
    assert_mismatch(
        d,
        "tls_to_plain",
        f"the proxy speaks HTTPS to an origin that speaks plain HTTP on {app.port}",
        f"HAProxy: `server app 127.0.0.1:{app.port}` without `ssl`",
        "haproxy",
    )


async def test_haproxy_plain_to_a_tls_origin() -> None:
    with (
        tls_server() as app,
        haproxy("127.0.0.1", app.port, retries=0) as gw,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        d = await run(
            f"http://shop.test:{gw.port}/",
            origin=f"https://{app.address}",
            resolver=dns.address,
            ca_bundle=app.ca_pem_path,
        )
    assert_mismatch(
        d,
        "plain_to_tls",
        f"the proxy speaks plain HTTP to an origin that speaks TLS on {app.port}",
        f"HAProxy: `server app 127.0.0.1:{app.port} ssl verify required ca-file",
        "haproxy",
    )


async def test_a_proxy_dialing_the_wrong_port_is_not_a_firewall() -> None:
    """The proxy dials a port nothing listens on while the origin answers on its own: it failed
    at once, so not a firewall; the wrong address stays among the causes and the steps."""
    with closed_port() as wrong, nginx(wrong.url) as gw, ok_server() as app:
        d = await run(gw.url, origin=app.address)
    v = d.verdict
    assert d.origin_protocols is not None and d.origin_protocols.plain_http1 is True
    assert v.cause is not Cause.FIREWALL and v.hop is Hop.EDGE_TO_ORIGIN, v
    assert Cause.ORIGIN_DOWN in v.alternatives
    assert any("check the address the proxy dials" in step for step in v.next_steps)


async def test_a_blocked_path_stays_a_firewall_and_asks_nothing_more() -> None:
    with syn_drop_server() as blocked, nginx(blocked.url) as gw, ok_server() as app:
        d = await run(gw.url, origin=app.address)
    assert (d.verdict.cause, d.verdict.hop) == (Cause.FIREWALL, Hop.EDGE_TO_ORIGIN), d.verdict
    assert d.origin_protocols is None
    assert len(app.accepted_at) == len(origin(d)) == 1  # only the bypass probe reached it


async def test_a_healthy_check_costs_nothing_extra() -> None:
    with ok_server() as app, nginx(app.url) as gw:
        d = await run(gw.url, origin=app.address)
    assert d.verdict.cause is Cause.OK
    assert d.origin_protocols is None and d.verdict.mismatch is None
    assert len(app.accepted_at) == 2  # one through the proxy, one bypass; nothing asked more
