"""What the engine sets up on first use rather than at import (the check502 command's cold
start): the rule tables' regular expressions, the TLS contexts, the DNS resolver."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checks import Cause, DnsResolver, InvalidURL, Transport, explain
from checks._lazyre import LazyPattern, compile_all
from tests.checks.conftest import run
from tests.support import DnsStub, ok_server, tls_server

ZONE = {"shop.test": ["127.0.0.1"]}


def test_every_pattern_of_the_rule_tables_compiles() -> None:
    """A malformed pattern no longer stops the import: this is where it is caught."""
    assert compile_all() > 400  # the explain and fingerprint tables, and explain's details


def test_a_lazy_pattern_searches_as_the_compiled_one() -> None:
    pattern = LazyPattern(r"connect\(\) failed \((?P<errno>\d+)", re.IGNORECASE)
    found = pattern.search("CONNECT() FAILED (111: Connection refused)")
    assert found is not None and found.group("errno") == "111"
    assert pattern.fullmatch("connect() failed (111") is not None
    assert pattern.match("x connect() failed (111") is None
    assert pattern == LazyPattern(pattern.pattern, re.IGNORECASE) != LazyPattern(pattern.pattern)
    assert explain("upstream timed out (110: Connection timed out)").cause is Cause.TIMEOUT


async def test_a_plain_http_check_never_loads_the_ca_bundle(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-bundle.pem")
    with pytest.raises(OSError):  # made at once: a bad bundle fails where the bot starts
        Transport.create(ca_bundle=missing)
    transport = Transport.on_demand(ca_bundle=missing)
    with ok_server() as server:
        d = await run(server.url, transport=transport)
    assert d.healthy, d.verdict
    with pytest.raises(OSError):  # the first TLS probe would load it
        transport.context(http2=True)


async def test_an_on_demand_transport_makes_its_context_once() -> None:
    with tls_server("valid") as server, DnsStub(ZONE) as dns:
        transport = Transport.on_demand(ca_bundle=server.ca_pem_path)
        url = f"https://shop.test:{server.port}/"
        first = await run(url, transport=transport, resolver=dns.address)
        context = transport.context(http2=True)
        second = await run(url, transport=transport, resolver=dns.address)
        assert transport.context(http2=True) is context
        assert transport.context(http2=False) is not context
    assert first.healthy and second.healthy, (first.verdict, second.verdict)


async def test_a_resolver_set_up_on_first_use_keeps_its_server_and_errors() -> None:
    with pytest.raises(InvalidURL):  # a bad server is still refused where it is given
        DnsResolver("dns.google")
    resolver = DnsResolver("127.0.0.1:9", timeout=1.0)
    literal = await resolver.resolve("127.0.0.1")  # no server asked for a literal
    assert literal.resolver == "literal" and literal.ips == ("127.0.0.1",)
    assert resolver.description == "127.0.0.1:9"
    assert DnsResolver("[::1]:5353").description == "[::1]:5353"
