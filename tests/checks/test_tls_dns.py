"""Certificates and name resolution, against real TLS servers and a real stub DNS server."""

from __future__ import annotations

import pytest

from checks import Cause, DnsResolver, ErrorKind, Hop
from tests.checks.conftest import public, run
from tests.support import DnsStub, tls_server

ZONE = {"shop.test": ["127.0.0.1"]}


async def test_valid_certificate_is_described_and_sni_is_sent() -> None:
    with tls_server("valid") as server, DnsStub(ZONE) as dns:
        d = await run(
            f"https://shop.test:{server.port}/", resolver=dns.address, ca_bundle=server.ca_pem_path
        )
    (p,) = public(d)
    assert d.verdict.cause is Cause.OK, d.verdict
    assert p.tls is not None and p.tls.verified
    assert "shop.test" in p.tls.sans
    assert p.tls.days_left is not None and p.tls.days_left > 300
    assert p.tls.version and p.tls.version.startswith("TLS")
    assert server.server_names == ["shop.test"]
    t = p.timings
    assert t.connect is not None and t.tls is not None and t.ttfb is not None
    assert t.connect <= t.tls <= t.ttfb


@pytest.mark.parametrize(
    ("kind", "error", "shown"),
    [
        ("expired", ErrorKind.TLS_EXPIRED, "expired"),
        ("wrong_name", ErrorKind.TLS_HOSTNAME_MISMATCH, "other.test"),
        ("self_signed", ErrorKind.TLS_UNTRUSTED, "self"),
    ],
)
async def test_bad_certificates_are_named_and_still_shown(
    kind: str, error: ErrorKind, shown: str
) -> None:
    with tls_server(kind) as server, DnsStub(ZONE) as dns:  # type: ignore[arg-type]
        d = await run(
            f"https://shop.test:{server.port}/", resolver=dns.address, ca_bundle=server.ca_pem_path
        )
    (p,) = public(d)
    assert p.error is not None and p.error.kind is error, p.error
    # The certificate was fetched again without verifying, to show why it failed.
    assert p.tls is not None and not p.tls.verified
    assert p.tls.verify_error
    assert shown in " ".join(d.verdict.evidence) + p.error.message
    if kind == "expired":
        assert p.tls.days_left is not None and p.tls.days_left < 0
    if kind == "wrong_name":
        assert p.tls.sans == ("other.test",)
    assert (d.verdict.cause, d.verdict.hop) == (Cause.TLS, Hop.EDGE)


async def test_tls_spoken_to_a_plain_http_port_is_a_handshake_failure() -> None:
    from tests.support import ok_server

    with ok_server() as server:
        d = await run(f"https://127.0.0.1:{server.port}/")
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.TLS_HANDSHAKE
    assert d.verdict.cause is Cause.TLS


@pytest.mark.parametrize(
    ("stub", "name", "kind"),
    [
        ({"nxdomain": {"gone.test"}}, "gone.test", ErrorKind.DNS_NXDOMAIN),
        ({"servfail": {"broken.test"}}, "broken.test", ErrorKind.DNS_SERVFAIL),
        ({"refused": {"refused.test"}}, "refused.test", ErrorKind.DNS_SERVFAIL),
        ({"silent": {"slow.test"}}, "slow.test", ErrorKind.DNS_TIMEOUT),
        ({"zone": {"empty.test": []}}, "empty.test", ErrorKind.DNS_NO_RECORDS),
    ],
)
async def test_dns_failures_are_told_apart(stub: dict, name: str, kind: ErrorKind) -> None:  # type: ignore[type-arg]
    with DnsStub(**stub) as dns:
        d = await run(f"http://{name}/", resolver=dns.address, timeout=1.0)
    (p,) = public(d)
    assert p.error is not None and p.error.kind is kind, p.error
    assert dns.address in p.error.message
    assert (d.verdict.cause, d.verdict.hop, d.verdict.generated_by) == (Cause.DNS, Hop.EDGE, None)
    assert d.dns is not None and d.dns.resolver == dns.address


async def test_every_record_is_kept_with_its_ttl() -> None:
    zone = {"multi.test": [("127.0.0.1", 300), ("127.0.0.2", 300), ("::1", 120)]}
    with DnsStub(zone) as dns:
        result = await DnsResolver(dns.address, timeout=2).resolve("multi.test")
    assert result.error is None
    assert {(r.ip, r.family, r.ttl) for r in result.records} == {
        ("127.0.0.1", 4, 300),
        ("127.0.0.2", 4, 300),
        ("::1", 6, 120),
    }
    assert result.duration_ms > 0


async def test_literals_and_localhost_need_no_server() -> None:
    resolver = DnsResolver(timeout=1.0, hosts_file=None)
    literal = await resolver.resolve("192.0.2.7")
    assert literal.resolver == "literal" and literal.ips == ("192.0.2.7",)
    local = await DnsResolver(timeout=1.0).resolve("localhost")
    assert "127.0.0.1" in local.ips


@pytest.mark.parametrize("bad", ["nonsense", "1.2.3.4:99999", "[::1]:x"])
def test_resolver_option_is_validated(bad: str) -> None:
    from checks import UsageError

    with pytest.raises(UsageError, match="--resolver"):
        DnsResolver(bad)
