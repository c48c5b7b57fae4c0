"""CachingResolver against the real loopback DNS stub: TTLs honoured, negative answers kept
briefly, a bound on entries, one query for concurrent lookups; one-off checks report the TTL."""

from __future__ import annotations

import asyncio

import pytest

from checks import CachingResolver, DnsResolver, ErrorKind
from checks.jsonout import diagnosis_to_dict
from tests.checks.conftest import run
from tests.support import DnsStub, ok_server


class Clock:
    """Seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _names(dns: DnsStub) -> list[str]:
    return [name.rstrip(".") for _, name, _ in dns.queries]


async def test_an_answer_is_kept_for_its_ttl_then_asked_again() -> None:
    clock = Clock()
    with DnsStub({"shop.test": [("127.0.0.1", 300)]}) as dns:
        cache = CachingResolver(DnsResolver(dns.address), clock=clock)
        first = await cache.resolve("shop.test")
        asked = len(dns.queries)
        clock.now += 120
        second = await cache.resolve("Shop.Test.")
        assert len(dns.queries) == asked  # within the TTL: no query sent
        clock.now += 181
        third = await cache.resolve("shop.test")
        assert len(dns.queries) == 2 * asked  # expired: asked again
    assert asked == 2  # A and AAAA
    assert first.ttl == 300 and first.resolver == dns.address and first.duration_ms > 0
    assert second.ips == ("127.0.0.1",) and second.resolver == f"{dns.address} (cached)"
    assert second.ttl == 180 and second.duration_ms == 0.0  # counted down
    assert third.ttl == 300 and third.resolver == dns.address
    assert (cache.hits, cache.misses) == (1, 2)


async def test_a_ttl_of_zero_is_kept_one_second() -> None:
    clock = Clock()
    with DnsStub({"shop.test": [("127.0.0.1", 0)]}) as dns:
        cache = CachingResolver(DnsResolver(dns.address), clock=clock)
        await cache.resolve("shop.test")
        await cache.resolve("shop.test")
        assert _names(dns) == ["shop.test", "shop.test"]  # one lookup (A + AAAA)
        clock.now += 0.9
        await cache.resolve("shop.test")
        assert len(dns.queries) == 2
        clock.now += 0.2
        await cache.resolve("shop.test")
        assert len(dns.queries) == 4


async def test_a_long_ttl_is_capped_at_an_hour() -> None:
    clock = Clock()
    with DnsStub({"shop.test": [("127.0.0.1", 86400)]}) as dns:
        cache = CachingResolver(DnsResolver(dns.address), clock=clock)
        await cache.resolve("shop.test")
        clock.now += 3599
        await cache.resolve("shop.test")
        assert len(dns.queries) == 2
        clock.now += 2
        await cache.resolve("shop.test")
        assert len(dns.queries) == 4


async def test_nxdomain_is_kept_briefly_and_servfail_not_at_all() -> None:
    clock = Clock()
    with DnsStub(nxdomain={"gone.test"}, servfail={"broken.test"}) as dns:
        cache = CachingResolver(DnsResolver(dns.address), clock=clock)
        gone = await cache.resolve("gone.test")
        again = await cache.resolve("gone.test")
        assert _names(dns).count("gone.test") == 2
        clock.now += 5.1
        await cache.resolve("gone.test")
        assert _names(dns).count("gone.test") == 4
        await cache.resolve("broken.test")
        await cache.resolve("broken.test")
        assert _names(dns).count("broken.test") == 4  # asked every time
    assert gone.error is not None and gone.error.kind is ErrorKind.DNS_NXDOMAIN
    assert again.error == gone.error and again.resolver.endswith("(cached)")


async def test_entries_are_bounded_least_recently_used_dropped_first() -> None:
    clock = Clock()
    zone = {f"n{i}.test": ["127.0.0.1"] for i in range(3)}
    with DnsStub(zone, ttl=300) as dns:
        cache = CachingResolver(DnsResolver(dns.address), max_entries=2, clock=clock)
        await cache.resolve("n0.test")
        await cache.resolve("n1.test")
        await cache.resolve("n0.test")  # n0 used last: n1 goes first
        await cache.resolve("n2.test")
        assert len(cache) == 2
        before = len(dns.queries)
        await cache.resolve("n0.test")
        assert len(dns.queries) == before  # kept
        await cache.resolve("n1.test")
        assert len(dns.queries) == before + 2  # dropped: asked again
        assert len(cache) == 2


async def test_concurrent_lookups_of_one_name_share_one_query() -> None:
    with DnsStub({"shop.test": ["127.0.0.1"]}, delay=0.3) as dns:
        cache = CachingResolver(DnsResolver(dns.address))
        impatient = asyncio.ensure_future(cache.resolve("shop.test"))
        await asyncio.sleep(0.05)
        impatient.cancel()  # one caller gives up: the shared lookup goes on for the others
        results = await asyncio.gather(*(cache.resolve("shop.test") for _ in range(20)))
    assert len(dns.queries) == 2
    assert all(r.ips == ("127.0.0.1",) for r in results)
    assert impatient.cancelled()


async def test_a_literal_is_kept_for_good_and_localhost_is_never_kept() -> None:
    clock = Clock()
    cache = CachingResolver(DnsResolver(), clock=clock)
    assert cache.peek("127.0.0.1") is None
    literal = await cache.resolve("127.0.0.1")
    local = await cache.resolve("localhost")
    assert literal.resolver == "literal" and local.ttl is None
    assert len(cache) == 1 and (cache.hits, cache.misses) == (0, 2)
    clock.now += 10 * 3600.0  # far past the longest TTL kept: a literal cannot change
    again = cache.peek("127.0.0.1")
    assert again == literal  # served as it came: not marked cached, no TTL to count down
    assert await cache.resolve("127.0.0.1") == literal
    assert cache.peek("localhost") is None
    await cache.resolve("localhost")
    assert (cache.hits, cache.misses) == (2, 3)


async def test_peek_serves_a_kept_answer_at_once_and_nothing_once_it_expired() -> None:
    clock = Clock()
    with DnsStub({"shop.test": [("127.0.0.1", 30)]}) as dns:
        cache = CachingResolver(DnsResolver(dns.address), clock=clock)
        assert cache.peek("shop.test") is None  # never asked: peek sends nothing
        assert dns.queries == []
        await cache.resolve("shop.test")
        clock.now += 10
        kept = cache.peek("SHOP.test.")
        assert kept is not None and kept.ttl == 20 and kept.name == "SHOP.test."
        assert kept.resolver == f"{dns.address} (cached)"
        clock.now += 20
        assert cache.peek("shop.test") is None and len(cache) == 0  # expired: dropped


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        CachingResolver(DnsResolver(), max_entries=0)
    with pytest.raises(ValueError, match="min_ttl"):
        CachingResolver(DnsResolver(), min_ttl=10, max_ttl=5)


async def test_the_monitoring_path_reuses_the_answer_and_one_off_checks_report_the_ttl() -> None:
    with ok_server() as server, DnsStub({"shop.test": [("127.0.0.1", 120)]}) as dns:
        url = f"http://shop.test:{server.port}/"
        cache = CachingResolver(DnsResolver(dns.address))
        first = await run(url, resolver=cache)
        second = await run(url, resolver=cache)
        assert len(dns.queries) == 2
        one_off = await run(url, resolver=dns.address)
        assert len(dns.queries) == 4  # resolved afresh
    assert first.probes[0].status == second.probes[0].status == 200
    assert second.dns is not None and second.dns.resolver.endswith("(cached)")
    assert one_off.dns is not None and one_off.dns.ttl == 120
    assert diagnosis_to_dict(one_off)["dns"]["ttl"] == 120
    assert any("TTL 120 s" in line for line in one_off.verdict.evidence)
