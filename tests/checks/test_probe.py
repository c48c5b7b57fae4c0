"""Each way a server can fail, met for real on 127.0.0.1, and named by the right error kind."""

from __future__ import annotations

import time

import pytest

from checks import Cause, ErrorKind, Hop
from tests.checks.conftest import public, run
from tests.support import (
    bad_header_server,
    close_without_byte_server,
    closed_port,
    cut_body_server,
    drip_server,
    endless_body_server,
    endless_headers_server,
    garbage_server,
    huge_headers_server,
    ok_server,
    reset_server,
    stall_server,
    syn_drop_server,
)


async def test_healthy_server_reports_status_version_and_ordered_phases() -> None:
    with ok_server(body=b"hello") as server:
        d = await run(server.url)
    (p,) = public(d)
    assert d.verdict.cause is Cause.OK and d.healthy
    assert d.verdict.hop is None
    assert (p.status, p.http_version, p.ip, p.port) == (200, "HTTP/1.1", "127.0.0.1", server.port)
    assert p.body_excerpt == "hello"
    t = p.timings
    assert t.tls is None  # plain HTTP has no TLS phase
    assert t.dns is not None and t.connect is not None and t.ttfb is not None
    assert t.total is not None
    assert 0 <= t.dns <= t.connect <= t.ttfb <= t.total


async def test_slow_server_shows_in_time_to_first_byte() -> None:
    with ok_server(delay=0.3) as server:
        d = await run(server.url)
    (p,) = public(d)
    assert p.timings.ttfb is not None and p.timings.connect is not None
    assert 290 <= p.timings.ttfb - p.timings.connect < 1500


@pytest.mark.parametrize(
    ("factory", "kind", "cause", "hop"),
    [
        (closed_port, ErrorKind.CONNECT_REFUSED, Cause.ORIGIN_DOWN, Hop.EDGE),
        (garbage_server, ErrorKind.INVALID_RESPONSE, Cause.PROTOCOL, Hop.ORIGIN),
        (bad_header_server, ErrorKind.INVALID_RESPONSE, Cause.PROTOCOL, Hop.ORIGIN),
        (close_without_byte_server, ErrorKind.PREMATURE_CLOSE, Cause.PROTOCOL, Hop.ORIGIN),
        (reset_server, ErrorKind.PREMATURE_CLOSE, Cause.PROTOCOL, Hop.ORIGIN),
        (cut_body_server, ErrorKind.BODY_TRUNCATED, Cause.PROTOCOL, Hop.ORIGIN),
    ],
)
async def test_broken_servers_map_to_one_error_kind(factory, kind, cause, hop) -> None:  # type: ignore[no-untyped-def]
    with factory() as server:
        d = await run(server.url)
    (p,) = public(d)
    assert p.error is not None, p
    assert p.error.kind is kind, p.error
    assert p.error.message
    assert (d.verdict.cause, d.verdict.hop) == (cause, hop)
    assert not d.healthy


async def test_full_accept_queue_is_a_connect_timeout() -> None:
    with syn_drop_server() as server:
        start = time.monotonic()
        d = await run(server.url, timeout=1.0)
        elapsed = time.monotonic() - start
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.CONNECT_TIMEOUT
    assert d.verdict.cause is Cause.FIREWALL
    assert Cause.WORKERS_EXHAUSTED in d.verdict.alternatives
    assert elapsed < 2.5


async def test_stalled_server_is_a_read_timeout_within_the_deadline() -> None:
    with stall_server() as server:
        start = time.monotonic()
        d = await run(server.url, timeout=1.0)
        elapsed = time.monotonic() - start
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.READ_TIMEOUT
    assert p.timings.connect is not None and p.timings.ttfb is None
    assert d.verdict.cause is Cause.TIMEOUT
    assert elapsed < 2.0


async def test_huge_headers_are_reported_with_the_status() -> None:
    with huge_headers_server(size=70 * 1024) as server:
        d = await run(server.url)
    (p,) = public(d)
    assert p.status == 200
    assert p.header_bytes > 64 * 1024
    assert p.error is not None and p.error.kind is ErrorKind.HEADERS_TOO_LARGE
    assert d.verdict.cause is Cause.PROTOCOL


async def test_one_byte_per_second_costs_at_most_the_deadline() -> None:
    with drip_server(interval=0.5) as server:
        start = time.monotonic()
        d = await run(server.url, timeout=1.5)
        elapsed = time.monotonic() - start
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.READ_TIMEOUT
    assert elapsed < 2.5


async def test_endless_headers_are_cut_off() -> None:
    with endless_headers_server() as server:
        start = time.monotonic()
        d = await run(server.url, timeout=5.0)
        elapsed = time.monotonic() - start
    (p,) = public(d)
    assert p.error is not None
    assert p.error.kind in (ErrorKind.HEADERS_TOO_LARGE, ErrorKind.READ_TIMEOUT)
    assert elapsed < 6.0


async def test_endless_body_keeps_only_the_excerpt() -> None:
    with endless_body_server() as server:
        start = time.monotonic()
        d = await run(server.url, timeout=5.0)
        elapsed = time.monotonic() - start
    (p,) = public(d)
    assert p.status == 200
    assert len(p.body_excerpt.encode()) <= 16 * 1024
    assert elapsed < 6.0


async def test_dns_time_is_measured_and_counted_in_every_later_phase() -> None:
    """A resolver that takes 0.15 s per answer: the DNS phase shows it, and the cumulative
    connect, first-byte and total marks all start after it (curl's ``-w`` convention)."""
    from adapters.present import phases, timings_line
    from tests.support import DnsStub

    with ok_server() as server, DnsStub({"shop.test": ["127.0.0.1"]}, delay=0.15) as dns:
        d = await run(f"http://shop.test:{server.port}/", resolver=dns.address)
    (p,) = public(d)
    assert p.status == 200
    t = p.timings
    assert t.dns is not None and t.connect is not None and t.ttfb is not None
    assert t.total is not None
    assert t.dns >= 140  # at least one answer's delay (A and AAAA may overlap)
    assert t.dns <= t.connect <= t.ttfb <= t.total
    assert d.dns is not None and d.dns.duration_ms == t.dns
    dns_phase = dict(phases(p))["DNS"]
    assert dns_phase is not None and dns_phase >= 140
    connect_phase = dict(phases(p))["connect"]
    assert connect_phase is not None and connect_phase < 100  # loopback: the DNS time is not in it
    line = timings_line(p)
    assert line.startswith(f"DNS {dns_phase:.0f} ms (TTL {dns.ttl} s) · connect ")
