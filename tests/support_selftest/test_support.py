"""Self-tests for ``tests.support``.

Each fixture is checked to misbehave exactly as documented, using httpx, raw sockets, ``ssl`` and
dnspython directly (never check502 code); then the real gateways are shown to answer those
origins the way ``reference/fingerprints.md`` says. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.resolver
import httpx
import pytest

from tests.support import (
    TLS_HOSTNAME,
    Caddy,
    DnsStub,
    GatewayStartError,
    Haproxy,
    Nginx,
    bad_header_server,
    build_response,
    caddy,
    close_without_byte_server,
    closed_port,
    cut_body_server,
    drip_server,
    endless_body_server,
    endless_headers_server,
    garbage_server,
    h2_broken_server,
    haproxy,
    huge_headers_server,
    nginx,
    ok_server,
    redirect_server,
    reset_server,
    stall_server,
    syn_drop_server,
    tcp_busy_server,
    tls_server,
    unix_busy_server,
)

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/"
)
NGINX_504 = b"<html>\r\n<head><title>504 Gateway Time-out</title></head>"
HAPROXY_503 = (
    b"<html><body><h1>503 Service Unavailable</h1>\n"
    b"No server is available to handle this request.\n</body></html>\n"
)
HAPROXY_504 = (
    b"<html><body><h1>504 Gateway Time-out</h1>\n"
    b"The server didn't respond in time.\n</body></html>\n"
)
HAPROXY_502 = (
    b"<html><body><h1>502 Bad Gateway</h1>\n"
    b"The server returned an invalid or incomplete response.\n</body></html>\n"
)


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Every server joins its thread on stop: a test must end with the threads it began with."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads still running after the test: {leaked}"


def _client(timeout: float = 5.0, **kwargs: Any) -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=timeout, **kwargs)


def _get(url: str, timeout: float = 5.0) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    with _client(timeout=timeout) as client:
        response = client.get(url)
    return response, time.monotonic() - start


def _raw(
    port: int, *, want: bytes = b"\r\n\r\n", limit: int = 1 << 20, timeout: float = 2.0
) -> bytes:
    """Send a GET over a plain socket; read until ``want`` appears, EOF or ``limit`` bytes."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        while want not in data and len(data) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


# --------------------------------------------------------------------------------------------
# origins, probed directly
# --------------------------------------------------------------------------------------------


def test_ok_server_answers_and_records_the_request() -> None:
    with ok_server(status=201, body=b"hello", headers={"X-Test": "1"}) as origin:
        response, _ = _get(origin.url)
    assert (response.status_code, response.content) == (201, b"hello")
    assert response.headers["x-test"] == "1"
    assert response.headers["connection"] == "close"
    assert origin.requests[0].startswith(b"GET / HTTP/1.1\r\n")


def test_ok_server_delay_applies_to_100_concurrent_requests() -> None:
    async def burst(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(trust_env=False, timeout=5.0, limits=limits) as client:
            responses = await asyncio.gather(*(client.get(url) for _ in range(100)))
        return [r.status_code for r in responses]

    with ok_server(delay=0.3) as origin:
        start = time.monotonic()
        statuses = asyncio.run(burst(origin.url))
        elapsed = time.monotonic() - start
    assert statuses == [200] * 100
    assert 0.3 <= elapsed < 10.0  # concurrent: serially it would take 30 s


def test_redirect_server() -> None:
    with redirect_server("https://example.test/next") as origin:
        response, _ = _get(origin.url)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.test/next"


def test_closed_port_refuses() -> None:
    with closed_port() as origin, pytest.raises(httpx.ConnectError, match="Connection refused"):
        _get(origin.url)


def test_syn_drop_connect_times_out_instead_of_refusing() -> None:
    with syn_drop_server() as origin:
        with socket.socket() as sock:
            sock.settimeout(1.0)
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                sock.connect(("127.0.0.1", origin.port))
            assert time.monotonic() - start >= 0.9
        with pytest.raises(httpx.ConnectTimeout):
            _get(origin.url, timeout=0.5)


def test_stall_server_never_answers() -> None:
    with stall_server() as origin:
        with pytest.raises(httpx.ReadTimeout):
            _get(origin.url, timeout=0.5)
        assert origin.requests  # the request was read, just never answered


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (garbage_server, "illegal status line"),
        (bad_header_server, "illegal header line"),
        (close_without_byte_server, "Server disconnected without sending a response"),
        (cut_body_server, "received 100 bytes, expected 1000"),
    ],
)
def test_broken_responses_fail_in_httpx(factory: object, message: str) -> None:
    with factory() as origin, pytest.raises(httpx.RemoteProtocolError, match=message):  # type: ignore[operator]
        _get(origin.url)


def test_garbage_and_bad_header_bytes() -> None:
    with garbage_server() as origin:
        assert _raw(origin.port) == b"\x00\x01garbage\r\n\r\n"
    with bad_header_server() as origin:
        head = _raw(origin.port)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nBad Header Without Colon\r\n" in head


def test_reset_server_sends_rst() -> None:
    with reset_server() as origin, pytest.raises(httpx.ReadError):
        _get(origin.url)


def test_huge_headers_are_about_70_kib() -> None:
    with huge_headers_server() as origin:
        head = _raw(origin.port).partition(b"\r\n\r\n")[0]
        response, _ = _get(origin.url)  # httpcore allows up to 100 KiB of head
    assert 70 * 1024 <= len(head) < 72 * 1024
    assert head.count(b"\r\nX-Filler-") > 600
    assert response.status_code == 200


def test_drip_server_sends_one_byte_per_interval() -> None:
    with drip_server(interval=0.3) as origin:
        start = time.monotonic()
        data = _raw(origin.port, want=b"HTTP")
        elapsed = time.monotonic() - start
    assert data == b"HTTP"
    assert 0.8 <= elapsed < 3.0  # 4 bytes, 3 intervals


def test_drip_server_default_is_one_byte_per_second() -> None:
    with drip_server() as origin:
        start = time.monotonic()
        assert _raw(origin.port, want=b"HT") == b"HT"
    assert 0.9 <= time.monotonic() - start < 3.0


@pytest.mark.parametrize("chunked", [True, False])
def test_endless_body_streams_past_any_cap(chunked: bool) -> None:
    received = 0
    with (
        endless_body_server(chunked=chunked) as origin,
        _client() as client,
        client.stream("GET", origin.url) as response,
    ):
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= 4 * 1024 * 1024:
                break
    assert response.status_code == 200
    assert received >= 4 * 1024 * 1024


def test_endless_headers_never_end() -> None:
    with endless_headers_server() as origin:
        data = _raw(origin.port, limit=512 * 1024)
    assert data.startswith(b"HTTP/1.1 200 OK\r\nX-Endless-0: ")
    assert len(data) >= 512 * 1024
    assert b"\r\n\r\n" not in data


def test_unix_busy_server_serves_one_slowly() -> None:
    with unix_busy_server(work=0.2) as origin:
        transport = httpx.HTTPTransport(uds=origin.path)
        with _client(transport=transport) as client:
            start = time.monotonic()
            response = client.get("http://localhost/")
        assert (response.status_code, response.content) == (200, b"ok")
        assert 0.2 <= time.monotonic() - start < 3.0
        assert origin.nginx_upstream == f"http://unix:{origin.path}:"


def test_unix_busy_server_refuses_with_eagain_when_queue_is_full() -> None:
    with unix_busy_server(work=1.0) as origin:
        assert origin.path is not None
        held = []
        try:
            with pytest.raises(BlockingIOError):  # EAGAIN (11), what nginx logs
                for _ in range(10):
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    held.append(sock)
                    sock.setblocking(False)
                    sock.connect(origin.path)
                    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        finally:
            for sock in held:
                sock.close()


def test_tcp_busy_server_overflow_times_out() -> None:
    with tcp_busy_server(work=1.0) as origin:
        held = []
        try:
            with pytest.raises(TimeoutError):
                for _ in range(10):
                    sock = socket.create_connection(("127.0.0.1", origin.port), timeout=0.3)
                    held.append(sock)
                    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        finally:
            for sock in held:
                sock.close()


# --------------------------------------------------------------------------------------------
# TLS origins
# --------------------------------------------------------------------------------------------


def _tls_get(url: str, ca_pem_path: str, **kwargs: Any) -> httpx.Response:
    context = ssl.create_default_context(cafile=ca_pem_path)
    with _client(verify=context, **kwargs) as client:
        return client.get(url, extensions={"sni_hostname": TLS_HOSTNAME})


def test_tls_valid_verifies_with_the_ca() -> None:
    with tls_server("valid") as origin:
        response = _tls_get(origin.url, origin.ca_pem_path)
    assert (response.status_code, response.content) == (200, b"ok")
    assert origin.url.startswith("https://127.0.0.1:")
    assert origin.server_names == [TLS_HOSTNAME]
    assert origin.negotiated == ["http/1.1"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("expired", "certificate has expired"),
        ("wrong_name", "Hostname mismatch, certificate is not valid for 'shop.test'"),
        ("self_signed", "self-signed certificate"),
    ],
)
def test_tls_bad_certificates_fail_verification(kind: str, reason: str) -> None:
    with tls_server(kind) as origin:  # type: ignore[arg-type]
        with pytest.raises(httpx.ConnectError, match=reason):
            _tls_get(origin.url, origin.ca_pem_path)
        context = ssl.create_default_context(cafile=origin.ca_pem_path)
        with (
            socket.create_connection(("127.0.0.1", origin.port), timeout=2) as sock,
            pytest.raises(ssl.SSLCertVerificationError) as info,
        ):
            context.wrap_socket(sock, server_hostname=TLS_HOSTNAME)
    assert reason in info.value.verify_message or reason in str(info.value)


def test_tls_servers_can_share_one_ca() -> None:
    with tls_server("valid") as first, tls_server("valid", ca=first.ca) as second:
        assert Path(first.ca_pem_path).read_bytes() == Path(second.ca_pem_path).read_bytes()
        assert _tls_get(second.url, first.ca_pem_path).status_code == 200


def test_h2_broken_server_fails_h2_and_serves_http11() -> None:
    with h2_broken_server() as origin:
        assert _tls_get(origin.url, origin.ca_pem_path).status_code == 200
        # The abort races the client's first write: WriteError or RemoteProtocolError.
        with pytest.raises((httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError)):
            _tls_get(origin.url, origin.ca_pem_path, http2=True)
    assert origin.negotiated == ["http/1.1", "h2"]


# --------------------------------------------------------------------------------------------
# DNS stub
# --------------------------------------------------------------------------------------------


@pytest.fixture
def dns_stub() -> Iterator[DnsStub]:
    zone: dict[str, list[str | tuple[str, int]]] = {
        "shop.test": ["127.0.0.1", ("::1", 30)],
        "v4only.test": ["127.0.0.2"],
        "empty.test": [],
    }
    with DnsStub(
        zone, nxdomain={"gone.test"}, servfail={"broken.test"}, silent={"black.hole"}, ttl=5
    ) as stub:
        yield stub


def _resolver(stub: DnsStub, lifetime: float = 1.0) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [stub.host]
    resolver.port = stub.port
    resolver.lifetime = resolver.timeout = lifetime
    return resolver


def test_dns_stub_answers_records_with_ttl(dns_stub: DnsStub) -> None:
    resolver = _resolver(dns_stub)
    a = resolver.resolve("shop.test", "A")
    aaaa = resolver.resolve("shop.test", "AAAA")
    assert [r.address for r in a] == ["127.0.0.1"]
    assert a.rrset is not None and a.rrset.ttl == 5
    assert [r.address for r in aaaa] == ["::1"]
    assert aaaa.rrset is not None and aaaa.rrset.ttl == 30
    assert dns_stub.address == f"127.0.0.1:{dns_stub.port}"
    assert ("udp", "shop.test", "AAAA") in dns_stub.queries


def test_dns_stub_failures(dns_stub: DnsStub) -> None:
    resolver = _resolver(dns_stub)
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("gone.test", "A")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("never-configured.test", "A")
    with pytest.raises(dns.resolver.NoNameservers, match="SERVFAIL"):
        resolver.resolve("broken.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("empty.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve("v4only.test", "AAAA")
    with pytest.raises(dns.resolver.LifetimeTimeout):
        _resolver(dns_stub, lifetime=0.3).resolve("black.hole", "A")


def test_dns_stub_tcp_and_live_changes(dns_stub: DnsStub) -> None:
    query = dns.message.make_query("shop.test", "A")
    reply = dns.query.tcp(query, dns_stub.host, port=dns_stub.port, timeout=1.0)
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.address for r in reply.answer[0]] == ["127.0.0.1"]
    dns_stub.set_records("shop.test", ["127.0.0.9"])
    reply = dns.query.udp(query, dns_stub.host, port=dns_stub.port, timeout=1.0)
    assert [r.address for r in reply.answer[0]] == ["127.0.0.9"]


# --------------------------------------------------------------------------------------------
# real gateways
# --------------------------------------------------------------------------------------------

gateways = pytest.mark.gateways
needs_nginx = pytest.mark.skipif(not Path(Nginx.NGINX).exists(), reason="nginx not installed")
needs_haproxy = pytest.mark.skipif(not Path(Haproxy.HAPROXY).exists(), reason="no haproxy")
needs_caddy = pytest.mark.skipif(not Path(Caddy.CADDY).exists(), reason="caddy not installed")


def _listening_addresses(pid: int) -> set[str]:
    """Local addresses of the TCP/UDP sockets ``pid`` listens on (via ``ss``)."""
    out = _run_ss()
    return {line.split()[4].rsplit(":", 1)[0] for line in out if f"pid={pid}," in line}


def _run_ss() -> list[str]:
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss not installed")
    result = subprocess.run([ss, "-Hlntup"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


@gateways
@needs_nginx
@needs_haproxy
@needs_caddy
def test_gateways_listen_on_loopback_only() -> None:
    with ok_server() as origin:
        for gateway in (
            nginx(origin.url),
            haproxy("127.0.0.1", origin.port),
            caddy(origin.address),
        ):
            with gateway:
                assert gateway.proc is not None
                assert _listening_addresses(gateway.proc.pid) == {"127.0.0.1"}
                assert _get(gateway.url)[0].status_code == 200


@gateways
@needs_nginx
def test_gateway_start_failure_carries_stderr() -> None:
    with (
        pytest.raises(GatewayStartError, match=r"unknown directive \"no_such_directive\""),
        nginx("http://127.0.0.1:9", extra_http="no_such_directive on;"),
    ):
        pass


# nginx ---------------------------------------------------------------------------------------


@gateways
@needs_nginx
def test_nginx_closed_port_502_connection_refused() -> None:
    with closed_port() as origin, nginx(origin.url) as gw:
        response, elapsed = _get(gw.url)
        log = gw.error_log_text()
    assert response.status_code == 502
    assert response.content.startswith(NGINX_502)
    assert response.headers["server"].startswith("nginx")
    assert elapsed < 1.0
    assert "connect() failed (111: Connection refused) while connecting to upstream" in log


@gateways
@needs_nginx
def test_nginx_stall_504_after_read_timeout() -> None:
    with stall_server() as origin, nginx(origin.url, proxy_read_timeout="1s") as gw:
        response, elapsed = _get(gw.url)
        log = gw.error_log_text()
    assert response.status_code == 504
    assert response.content.startswith(NGINX_504)
    assert 0.9 <= elapsed < 3.0
    assert (
        "upstream timed out (110: Connection timed out) while reading response header from upstream"
    ) in log


@gateways
@needs_nginx
def test_nginx_syn_drop_504_while_connecting() -> None:
    with syn_drop_server() as origin, nginx(origin.url, proxy_connect_timeout="1s") as gw:
        response, elapsed = _get(gw.url)
        log = gw.error_log_text()
    assert response.status_code == 504
    assert 0.9 <= elapsed < 3.0
    assert "upstream timed out (110: Connection timed out) while connecting to upstream" in log


@gateways
@needs_nginx
@pytest.mark.parametrize(
    ("factory", "phrase"),
    [
        (bad_header_server, 'upstream sent invalid header: "Bad\\x20..."'),
        (huge_headers_server, "upstream sent too big header while reading response header"),
        (endless_headers_server, "upstream sent too big header while reading response header"),
        (close_without_byte_server, "upstream prematurely closed connection while reading resp"),
        (reset_server, "recv() failed (104: Connection reset by peer) while reading response"),
    ],
)
def test_nginx_broken_upstream_502(factory: object, phrase: str) -> None:
    with factory() as origin, nginx(origin.url) as gw:  # type: ignore[operator]
        response, _ = _get(gw.url)
        log = gw.error_log_text()
    assert response.status_code == 502
    assert response.content.startswith(NGINX_502)
    assert phrase in log


@gateways
@needs_nginx
def test_nginx_relays_garbage_as_http09() -> None:
    """No 502: nginx relays non-HTTP bytes as an HTTP/0.9 response (a "200" with no head)."""
    with garbage_server() as origin, nginx(origin.url) as gw:
        raw = _raw(gw.port, want=b"garbage")
        # the access line is written after the response has gone out
        access = gw.wait_for_log('"GET / HTTP/1.1"', source=gw.access_log_text)
        log = gw.error_log_text()
    assert raw.startswith(b"\x00\x01garbage")
    assert "upstream sent no valid HTTP/1.0 header while reading response header" in log
    assert access.startswith("009 200 127.0.0.1:")  # $status "009" = HTTP/0.9 relay


@gateways
@needs_nginx
def test_nginx_https_to_plain_port_wrong_version_number() -> None:
    with ok_server() as origin, nginx(origin.url, upstream_tls=True) as gw:
        response, _ = _get(gw.url)
        log = gw.error_log_text()
    assert response.status_code == 502
    assert "wrong version number) while SSL handshaking to upstream" in log


@gateways
@needs_nginx
def test_nginx_variable_upstream_without_resolver() -> None:
    with ok_server() as origin, nginx(origin.url, variable_upstream_host="api.test") as gw:
        response, _ = _get(gw.url)
        log = gw.error_log_text()
    assert response.status_code == 502
    assert "no resolver defined to resolve api.test" in log


@gateways
@needs_nginx
def test_nginx_cut_body_truncates_a_200() -> None:
    with cut_body_server() as origin, nginx(origin.url) as gw:
        with pytest.raises(httpx.RemoteProtocolError, match="received 100 bytes, expected 1000"):
            _get(gw.url)
        log = gw.error_log_text()
    assert "upstream prematurely closed connection while reading upstream" in log


@gateways
@needs_nginx
@pytest.mark.parametrize(
    ("kind", "phrase"),
    [
        ("valid", None),
        ("expired", "upstream SSL certificate verify error: (10:certificate has expired)"),
        ("self_signed", "upstream SSL certificate verify error: (18:self-signed certificate)"),
        ("wrong_name", 'upstream SSL certificate does not match "shop.test"'),
    ],
)
def test_nginx_tls_upstream_verification(kind: str, phrase: str | None) -> None:
    with (
        tls_server(kind) as origin,  # type: ignore[arg-type]
        nginx(
            origin.url,
            verify_upstream_tls=True,
            trusted_ca=origin.ca_pem_path,
            upstream_sni=TLS_HOSTNAME,
        ) as gw,
    ):
        response, _ = _get(gw.url)
        log = gw.error_log_text()
    if phrase is None:
        assert (response.status_code, response.content) == (200, b"ok")
        assert origin.server_names == [TLS_HOSTNAME]
    else:
        assert response.status_code == 502
        assert response.content.startswith(NGINX_502)
        assert f"{phrase} while SSL handshaking to upstream" in log


@gateways
@needs_nginx
def test_nginx_unix_busy_mix_of_fast_502_and_slow_200() -> None:
    with (
        unix_busy_server(work=0.3) as origin,
        nginx(origin.nginx_upstream, proxy_read_timeout="5s") as gw,
    ):
        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda _: _get(gw.url), range(10)))
        access = _access_lines(gw, 10)
        log = gw.error_log_text()
    assert origin.path is not None
    statuses = sorted(r.status_code for r, _ in results)
    assert 200 in statuses and 502 in statuses
    assert set(statuses) == {200, 502}
    # nginx's own $request_time: 502s fail at connect(), 200s wait for the one worker
    times = {status: [float(line.split()[3]) for line in access if line.startswith(status)]
             for status in ("200", "502")}  # fmt: skip
    assert max(times["502"]) < 0.1
    assert min(times["200"]) >= 0.3
    assert "(11: Resource temporarily unavailable) while connecting to upstream" in log
    assert f"connect() to unix:{origin.path} failed" in log


def _access_lines(gw: Nginx, count: int, timeout: float = 3.0) -> list[str]:
    """Wait (bounded) until nginx has logged ``count`` requests; return the access lines."""
    deadline = time.monotonic() + timeout
    while True:
        lines = gw.access_log_text().splitlines()
        if len(lines) >= count or time.monotonic() >= deadline:
            return lines
        time.sleep(0.02)


@gateways
@needs_nginx
def test_nginx_resolver_outcomes() -> None:
    zone = {"api.test": ["127.0.0.1"]}
    with (
        ok_server(body=b"resolved") as origin,
        DnsStub(
            zone, nxdomain={"gone.test"}, servfail={"broken.test"}, silent={"black.hole"}
        ) as stub,
    ):

        def through(host: str) -> tuple[httpx.Response, str]:
            upstream = f"http://{host}:{origin.port}"
            with nginx(upstream, resolver=stub.address, resolver_timeout="1s") as gw:
                response, _ = _get(gw.url)
                return response, gw.error_log_text()

        response, _ = through("api.test")
        assert (response.status_code, response.content) == (200, b"resolved")
        response, log = through("gone.test")
        assert response.status_code == 502
        assert "gone.test could not be resolved (3: Host not found)" in log
        response, log = through("broken.test")
        assert response.status_code == 502
        assert "broken.test could not be resolved (2: Server failure)" in log
        response, log = through("black.hole")
        assert response.status_code == 502
        assert "black.hole could not be resolved (110: Operation timed out)" in log
        assert ("udp", "api.test", "A") in stub.queries


# haproxy -------------------------------------------------------------------------------------


def _haproxy_log_line(gw: Haproxy) -> str:
    """The session log line of the test request (written when the session closes)."""
    logs = gw.wait_for_log('"GET / HTTP/1.1"')
    return [line for line in logs.splitlines() if '"GET / HTTP/1.1"' in line][-1]


@gateways
@needs_haproxy
def test_haproxy_closed_port_503_after_retries() -> None:
    with closed_port() as origin, haproxy("127.0.0.1", origin.port, retries=1) as gw:
        response, _ = _get(gw.url)
        line = _haproxy_log_line(gw)
    assert response.status_code == 503
    assert response.content == HAPROXY_503
    assert "server" not in response.headers
    assert " 503 " in line and " SC-- " in line


@gateways
@needs_haproxy
def test_haproxy_stall_504() -> None:
    with stall_server() as origin, haproxy("127.0.0.1", origin.port, timeout_server="1s") as gw:
        response, elapsed = _get(gw.url)
        line = _haproxy_log_line(gw)
    assert response.status_code == 504
    assert response.content == HAPROXY_504
    assert 0.9 <= elapsed < 3.0
    assert " sH-- " in line


@gateways
@needs_haproxy
def test_haproxy_bad_header_502() -> None:
    with bad_header_server() as origin, haproxy("127.0.0.1", origin.port) as gw:
        response, _ = _get(gw.url)
        line = _haproxy_log_line(gw)
    assert response.status_code == 502
    assert response.content == HAPROXY_502
    assert " PH-- " in line


@gateways
@needs_haproxy
def test_haproxy_health_check_marks_server_down() -> None:
    with closed_port() as origin, haproxy("127.0.0.1", origin.port, check=True) as gw:
        gw.wait_for_log("Server be/app is DOWN", timeout=3.0)
        response, elapsed = _get(gw.url)
        log = gw.log_text()
    assert response.status_code == 503
    assert elapsed < 1.0  # no server: no connect attempt, no retries
    assert "Server be/app is DOWN" in log
    assert "backend 'be' has no server available!" in log


# caddy ---------------------------------------------------------------------------------------


def _caddy_errors(gw: Caddy) -> list[dict[str, object]]:
    logs = gw.wait_for_log('"level":"error"')
    entries = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [e for e in entries if e.get("level") == "error"]


@gateways
@needs_caddy
def test_caddy_closed_port_502_empty_body() -> None:
    with closed_port() as origin, caddy(origin.address) as gw:
        response, _ = _get(gw.url)
        errors = _caddy_errors(gw)
    assert response.status_code == 502
    assert response.content == b""
    assert response.headers["server"] == "Caddy"
    assert any("connect: connection refused" in str(e.get("msg")) for e in errors)
    assert errors[-1]["status"] == 502


@gateways
@needs_caddy
def test_caddy_stall_504_with_response_header_timeout() -> None:
    with stall_server() as origin, caddy(origin.address, response_header_timeout="1s") as gw:
        response, elapsed = _get(gw.url)
        errors = _caddy_errors(gw)
    assert response.status_code == 504
    assert response.content == b""
    assert 0.9 <= elapsed < 3.0
    assert errors[-1]["msg"] == "net/http: timeout awaiting response headers"


@gateways
@needs_caddy
def test_caddy_syn_drop_is_502_not_504() -> None:
    """Caddy 2.6 reports a dial timeout as 502 (the Go error is ``i/o timeout``)."""
    with syn_drop_server() as origin, caddy(origin.address, dial_timeout="1s") as gw:
        response, elapsed = _get(gw.url)
        errors = _caddy_errors(gw)
    assert response.status_code == 502
    assert 0.9 <= elapsed < 3.0
    assert str(errors[-1]["msg"]).endswith(": i/o timeout")


@gateways
@needs_caddy
def test_caddy_h2_broken_origin() -> None:
    """Caddy offers h2 to TLS upstreams by default, so an origin that cannot speak it breaks."""
    with h2_broken_server() as origin:
        upstream, ca = f"https://{origin.address}", origin.ca_pem_path
        with caddy(upstream, trusted_ca=ca, tls_server_name=TLS_HOSTNAME) as gw:
            broken, _ = _get(gw.url)
            error = _caddy_errors(gw)[-1]
        with caddy(upstream, trusted_ca=ca, tls_server_name=TLS_HOSTNAME, versions=["1.1"]) as gw:
            fine, _ = _get(gw.url)
    assert broken.status_code == 502
    message = str(error["msg"])  # FIN, RST or EPIPE: the abort races Caddy's h2 preface
    endings = (
        "unexpected EOF",
        "read: connection reset by peer",
        "write: connection reset by peer",
        "write: broken pipe",
    )
    assert message.endswith(endings)
    assert (fine.status_code, fine.content) == (200, b"ok")
    assert origin.negotiated[:1] == ["h2"]


def test_build_response_defaults() -> None:
    assert build_response(404, b"no") == (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nno"
    )
