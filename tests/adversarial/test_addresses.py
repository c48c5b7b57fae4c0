"""The address guard against every spelling of an internal address, on every chat surface.

Each spelling below (IPv4 numbers as the URL Standard reads them, every IPv6 form that embeds
IPv4, the special-purpose blocks, names the loopback DNS stub resolves to such addresses, and
hosts that end in a number but are no address) goes through the console chat four ways:

(a) ``/check502 <url>``, (b) ``watch <url>`` (no monitor may exist afterwards), (c) ``origin=``
and (d) a redirect from an allowed server to it.

One bot serves the whole module. Its policy allows exactly one address, 127.0.0.2/32, where the
redirecting (and answering) server listens; the trap, a real listener on 127.0.0.1 and ::1 that
counts every connection it accepts, sits on the port every spelling names, so an address the
guard let through would show up there. Two more things watch for a leak:

* a Python audit hook (``sys.addaudithook``, armed only while this module runs) records every
  TCP ``connect()`` the process attempts and stops any to a non-loopback address before it
  leaves the machine (this machine has an IPv6 default route): zero attempts must be seen, not
  merely zero arrivals;
* the DNS stub records every question: a spelling that is an address must never reach DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import selectors
import socket
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import pytest_asyncio

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.model import DiagnosisReply, ErrorReply
from bot.settings import Settings
from checks import AddressPolicy, ErrorKind
from tests.support import DnsStub

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALLOWED_HOST = "127.0.0.2"
"""The one address the bot may reach: the redirecting server. Nothing else listens there."""

# --------------------------------------------------------------------------- the spellings

INVALID = "not a valid"
"""What the reply says for a host that ends in a number but is no IPv4 address."""

# (host as typed in the URL, a word the refusal must contain). Every loopback spelling reaches
# the trap if connected; the others are stopped by the audit hook if ever attempted.
LITERALS = [
    # IPv4 numbers as the URL Standard (and curl, and browsers) read them: all 127.0.0.1.
    pytest.param("127.1", "loopback", id="v4-two-parts"),
    pytest.param("127.0.1", "loopback", id="v4-three-parts"),
    pytest.param("0x7f000001", "loopback", id="v4-hex"),
    pytest.param("0X7F000001", "loopback", id="v4-hex-upper"),
    pytest.param("2130706433", "loopback", id="v4-decimal"),
    pytest.param("017700000001", "loopback", id="v4-octal"),
    pytest.param("0177.0.0.1", "loopback", id="v4-octal-part"),
    pytest.param("0x7f.1", "loopback", id="v4-hex-two-parts"),
    pytest.param("0x7f.0x0.0x0.0x1", "loopback", id="v4-hex-parts"),
    pytest.param("0177.0.0x0.1", "loopback", id="v4-mixed-radix"),
    pytest.param("127.0x0.01", "loopback", id="v4-mixed-three-parts"),
    pytest.param("127.000.000.001", "loopback", id="v4-zero-padded"),
    pytest.param("127.0.0.1.", "loopback", id="v4-trailing-dot"),
    pytest.param("2130706433.", "loopback", id="v4-decimal-trailing-dot"),
    pytest.param("0x7f000001.", "loopback", id="v4-hex-trailing-dot"),
    pytest.param("%31%32%37.0.0.1", "loopback", id="v4-percent-encoded"),
    pytest.param("１２７．０．０．１", "loopback", id="v4-full-width"),
    pytest.param("127.0.0.1", "loopback", id="v4-dotted"),
    pytest.param("127.255.255.254", "loopback", id="v4-loopback-top"),
    pytest.param("0", "unspecified", id="v4-zero"),
    pytest.param("0x0", "unspecified", id="v4-zero-hex"),
    pytest.param("00", "unspecified", id="v4-zero-octal"),
    pytest.param("0.0", "unspecified", id="v4-zero-two-parts"),
    pytest.param("0.1.2.3", "this network", id="v4-this-network"),
    # Other IPv4 special-purpose blocks, some in number spellings.
    pytest.param("0xa9fea9fe", "metadata", id="metadata-hex"),
    pytest.param("2852039166", "metadata", id="metadata-decimal"),
    pytest.param("0251.0376.0251.0376", "metadata", id="metadata-octal"),
    pytest.param("169.254.43518", "metadata", id="metadata-three-parts"),
    pytest.param("100.100.100.200", "metadata", id="metadata-alibaba"),
    pytest.param("192.0.0.192", "metadata", id="metadata-oracle"),
    pytest.param("169.254.1.1", "link-local", id="v4-link-local"),
    pytest.param("10.1", "private", id="private-10-two-parts"),
    pytest.param("0xa000001", "private", id="private-10-hex"),
    pytest.param("0xac100001", "private", id="private-172-hex"),
    pytest.param("192.168.1", "private", id="private-192-three-parts"),
    pytest.param("100.64.1", "shared", id="shared-cgnat"),
    pytest.param("192.0.0.8", "IETF protocol assignment", id="ietf-192.0.0"),
    pytest.param("192.0.2.1", "documentation", id="doc-test-net-1"),
    pytest.param("198.51.100.1", "documentation", id="doc-test-net-2"),
    pytest.param("203.0.113.1", "documentation", id="doc-test-net-3"),
    pytest.param("198.18.0.1", "benchmarking", id="benchmarking-v4"),
    pytest.param("192.88.99.1", "6to4 relay", id="6to4-relay-anycast"),
    pytest.param("224.0.0.1", "multicast", id="multicast-v4"),
    pytest.param("240.0.0.1", "reserved", id="reserved-240"),
    pytest.param("4294967295", "broadcast", id="broadcast-decimal"),
    # IPv6, and every form that embeds or translates to IPv4.
    pytest.param("[::1]", "loopback", id="v6-loopback"),
    pytest.param("[0:0:0:0:0:0:0:1]", "loopback", id="v6-loopback-long"),
    pytest.param("[::]", "unspecified", id="v6-unspecified"),
    pytest.param("[::ffff:127.0.0.1]", "loopback", id="mapped-dotted"),
    pytest.param("[::ffff:7f00:1]", "loopback", id="mapped-hex"),
    pytest.param("[::127.0.0.1]", "loopback", id="compatible-dotted"),
    pytest.param("[::7f00:1]", "loopback", id="compatible-hex"),
    pytest.param("[::ffff:0:7f00:1]", "loopback", id="siit-hex"),
    pytest.param("[::ffff:0:127.0.0.1]", "loopback", id="siit-dotted"),
    pytest.param("[64:ff9b::7f00:1]", "loopback", id="nat64-hex"),
    pytest.param("[64:ff9b::127.0.0.1]", "loopback", id="nat64-dotted"),
    pytest.param("[64:ff9b:1::7f00:1]", "loopback", id="nat64-local-use"),
    pytest.param("[64:ff9b:1::808:808]", "local-use NAT64", id="nat64-local-use-public"),
    pytest.param("[2002:7f00:1::]", "loopback", id="6to4"),
    pytest.param("[2002:7f00:0001:abcd::1]", "loopback", id="6to4-subnet"),
    pytest.param("[2001:0:7f00:1::f7f7:f7f7]", "server is 127.0.0.1", id="teredo-server"),
    pytest.param("[2001:0:808:808::80ff:fffe]", "client is 127.0.0.1", id="teredo-client"),
    pytest.param("[2001::1]", "unspecified", id="teredo-zero-server"),
    pytest.param("[::a9fe:a9fe]", "metadata", id="metadata-compatible"),
    pytest.param("[::ffff:169.254.169.254]", "metadata", id="metadata-mapped"),
    pytest.param("[64:ff9b::a9fe:a9fe]", "metadata", id="metadata-nat64"),
    pytest.param("[2002:a9fe:a9fe::1]", "metadata", id="metadata-6to4"),
    pytest.param("[fd00:ec2::254]", "metadata", id="metadata-aws-v6"),
    pytest.param("[::ffff:10.0.0.1]", "private", id="private-mapped"),
    pytest.param("[::ffff:5db8:d822]", "IPv4-mapped", id="mapped-public"),
    pytest.param("[fe80::1]", "link-local", id="v6-link-local"),
    pytest.param("[fc00::1]", "unique-local", id="v6-unique-local"),
    pytest.param("[fec0::1]", "site-local", id="v6-site-local"),
    pytest.param("[100::1]", "discard-only", id="v6-discard-only"),
    pytest.param("[2001:db8::1]", "documentation", id="v6-doc-2001-db8"),
    pytest.param("[3fff::1]", "documentation", id="v6-doc-3fff"),
    pytest.param("[2001:2::1]", "benchmarking", id="v6-benchmarking"),
    pytest.param("[2001:10::1]", "IETF protocol assignment", id="v6-ietf-orchid"),
    pytest.param("[5f00::1]", "segment-routing", id="v6-srv6"),
    pytest.param("[ff02::1]", "multicast", id="v6-multicast"),
    pytest.param("[4000::1]", "reserved", id="v6-reserved"),
    # Hosts that end in a number but are no IPv4 address: invalid URLs, never DNS names.
    pytest.param("127.0.0.1.1", INVALID, id="invalid-five-parts"),
    pytest.param("0x100000000", INVALID, id="invalid-hex-overflow"),
    pytest.param("4294967296", INVALID, id="invalid-decimal-overflow"),
    pytest.param("256.0.0.1", INVALID, id="invalid-part-over-255"),
    pytest.param("127.0.0.08", INVALID, id="invalid-octal-digit"),
    pytest.param("localhost.0x7f", INVALID, id="invalid-name-then-hex"),
    pytest.param("shop.test.1", INVALID, id="invalid-name-then-number"),
]

# Names the loopback DNS stub answers with internal addresses: refused after the lookup.
ZONE: dict[str, list[str]] = {
    "loop.test": ["127.0.0.1"],
    "both.test": ["127.0.0.1", "::1"],
    "v6loop.test": ["::1"],
    "compat.test": ["::7f00:1"],
    "mapped.test": ["::ffff:7f00:1"],
    "siit.test": ["::ffff:0:7f00:1"],
    "nat64.test": ["64:ff9b::7f00:1"],
    "nat64local.test": ["64:ff9b:1::7f00:1"],
    "sixtofour.test": ["2002:7f00:1::"],
    "teredo.test": ["2001:0:808:808::80ff:fffe"],
    "metadata4.test": ["169.254.169.254"],
    "metadata6.test": ["::a9fe:a9fe"],
    "private.test": ["10.0.0.1"],
    "ula.test": ["fd12::1"],
    "sitelocal.test": ["fec0::1"],
}
NAMES = [
    pytest.param("loop.test", "loopback", id="dns-a-loopback"),
    pytest.param("both.test", "loopback", id="dns-a-aaaa-loopback"),
    pytest.param("v6loop.test", "loopback", id="dns-aaaa-loopback"),
    pytest.param("compat.test", "IPv4-compatible form of 127.0.0.1", id="dns-aaaa-compatible"),
    pytest.param("mapped.test", "IPv4-mapped form of 127.0.0.1", id="dns-aaaa-mapped"),
    pytest.param("siit.test", "SIIT) form of 127.0.0.1", id="dns-aaaa-siit"),
    pytest.param("nat64.test", "NAT64 form of 127.0.0.1", id="dns-aaaa-nat64"),
    pytest.param("nat64local.test", "NAT64 form of 127.0.0.1", id="dns-aaaa-nat64-local"),
    pytest.param("sixtofour.test", "6to4 address of 127.0.0.1", id="dns-aaaa-6to4"),
    pytest.param("teredo.test", "client is 127.0.0.1", id="dns-aaaa-teredo"),
    pytest.param("metadata4.test", "metadata", id="dns-a-metadata"),
    pytest.param("metadata6.test", "metadata", id="dns-aaaa-metadata-compatible"),
    pytest.param("private.test", "private", id="dns-a-private"),
    pytest.param("ula.test", "unique-local", id="dns-aaaa-unique-local"),
    pytest.param("sitelocal.test", "site-local", id="dns-aaaa-site-local"),
]
SPELLINGS = LITERALS + NAMES


def _is_name(host: str) -> bool:
    return host in ZONE


# --------------------------------------------------------------------------- the watchers


@dataclass
class Trap:
    """A real listener on 127.0.0.1:PORT and [::1]:PORT that accepts, counts and closes."""

    port: int = 0
    accepted: list[str] = field(default_factory=list)
    _sockets: list[socket.socket] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _wake: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)

    def start(self) -> None:
        ipv6 = _ipv6_loopback()
        for _ in range(20):  # the same number free on both families (bounded)
            v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            v4.bind(("127.0.0.1", 0))
            self._sockets = [v4]
            if not ipv6:
                break
            v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                v6.bind(("::1", v4.getsockname()[1]))
            except OSError:
                v4.close()
                v6.close()
                continue
            self._sockets.append(v6)
            break
        else:
            raise RuntimeError("no port free on both 127.0.0.1 and ::1")
        for sock in self._sockets:
            sock.listen(64)
            sock.setblocking(False)
        self.port = v4.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="Trap", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> list[str]:
        return [str(sock.getsockname()[0]) for sock in self._sockets]

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake[0], selectors.EVENT_READ)
            for sock in self._sockets:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake[0]:
                        return
                    listener = key.fileobj
                    assert isinstance(listener, socket.socket)
                    with contextlib.suppress(BlockingIOError):
                        conn, peer = listener.accept()
                        self.accepted.append(f"{peer[0]} -> {listener.getsockname()[0]}")
                        conn.close()

    def stop(self) -> None:
        self._wake[1].send(b"x")
        if self._thread is not None:
            self._thread.join(10)
        for sock in (*self._sockets, *self._wake):
            sock.close()


def _ipv6_loopback() -> bool:
    """Whether this machine has ::1 (a CI container may have IPv6 off)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


_ATTEMPTS: list[str] = []
_ARMED = threading.Event()
_LOCAL = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record every TCP connect() while armed; stop any that would leave the machine."""
    if event != "socket.connect" or not _ARMED.is_set():
        return
    sock, address = args
    if getattr(sock, "type", None) != socket.SOCK_STREAM or not isinstance(address, tuple):
        return
    _ATTEMPTS.append(f"{address[0]}:{address[1]}")
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        raise PermissionError("test network is shut: a connect() to a name") from None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    target = mapped or ip
    if not (target.is_unspecified or any(target in net for net in _LOCAL)):
        raise PermissionError(f"test network is shut: connect() to {address[0]} stopped")


_HOOKED = False


def _install_audit_hook() -> None:
    global _HOOKED  # noqa: PLW0603 - an audit hook cannot be removed: add it once per process
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True


class _Redirects(BaseHTTPRequestHandler):
    """``/to?u=URL`` answers 302 to URL (verbatim); ``/ok`` answers 200 and its Host."""

    hosts: list[str]  # set on the server's subclass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.hosts.append(self.headers.get("Host", ""))
        if parts.path == "/to":
            self.send_response(302)
            location = parse_qs(parts.query)["u"][0]
            # Sent as UTF-8 bytes, as a server would (http.server encodes headers as latin-1).
            self.send_header("Location", location.encode("utf-8").decode("latin-1"))
        else:
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Rig:
    chat: ConsoleHarness
    trap: Trap
    dns: DnsStub
    server: ThreadingHTTPServer
    hosts: list[str]

    @property
    def allowed(self) -> str:
        return f"http://{ALLOWED_HOST}:{self.server.server_address[1]}"

    @contextlib.asynccontextmanager
    async def nothing_leaks(self, *, may_resolve: bool = False) -> AsyncIterator[None]:
        """No connection accepted by the trap, no connect() attempted beyond the allowed
        server, a literal address never asked of DNS, and no monitor, during the block.

        A monitor created anyway is deleted again, so one leak fails one test, not the rest.
        """
        accepted, attempts, queries = len(self.trap.accepted), len(_ATTEMPTS), len(self.dns.queries)
        try:
            yield
        finally:
            monitors = self.chat.bot.store.monitors_in(CONSOLE)
            for monitor in monitors:
                await self.chat.push(f"/check502 unwatch {monitor.id}")
        allowed = f"{ALLOWED_HOST}:{self.server.server_address[1]}"
        assert self.trap.accepted[accepted:] == [], "the trap accepted a connection"
        assert [a for a in _ATTEMPTS[attempts:] if a != allowed] == [], "connect() attempted"
        if not may_resolve:
            assert self.dns.queries[queries:] == [], "an address was looked up as a name"
        assert [m.url for m in monitors] == [], "a monitor was created"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    _install_audit_hook()
    trap = Trap()
    trap.start()
    hosts: list[str] = []
    handler = type("Handler", (_Redirects,), {"hosts": hosts})
    server = ThreadingHTTPServer((ALLOWED_HOST, 0), handler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    db = Path(tmp_path_factory.mktemp("guard")) / "bot.db"
    try:
        with DnsStub(ZONE) as dns:
            settings = Settings(
                db_path=str(db),
                policy=AddressPolicy.allowing(f"{ALLOWED_HOST}/32"),
                resolver=dns.address,
                control_url=None,
                min_interval=1,
                rate_user=100_000,
                rate_channel=100_000,
            )
            async with ConsoleHarness(settings) as chat:
                _ARMED.set()
                try:
                    yield Rig(chat, trap, dns, server, hosts)
                finally:
                    _ARMED.clear()
    finally:
        server.shutdown()
        serving.join(10)
        server.server_close()
        trap.stop()


def _url(rig: Rig, host: str) -> str:
    return f"http://{host}:{rig.trap.port}/"


# --------------------------------------------------------------------------- the controls


async def test_the_trap_counts_connections_on_both_families(rig: Rig) -> None:
    """The trap is real: a connection to each address is counted (so zero means zero)."""
    before = len(rig.trap.accepted)
    families = [(socket.AF_INET, "127.0.0.1")]
    if _ipv6_loopback():
        families.append((socket.AF_INET6, "::1"))
    assert len(rig.trap.listening) == len(families)
    for family, host in families:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect((host, rig.trap.port))
    for _ in range(100):  # bounded: up to 5 s for the trap's thread to accept them
        if len(rig.trap.accepted) >= before + len(families):
            break
        await asyncio.sleep(0.05)
    assert len(rig.trap.accepted) == before + len(families)
    del rig.trap.accepted[before:]  # the controls' own connections are not the bot's


async def test_the_bot_reaches_the_allowed_server_with_the_canonical_host(rig: Rig) -> None:
    """The guard refuses by address, not because the bot cannot connect: 0x7f.2 is 127.0.0.2,
    allowed, reached, and asked for with the Host curl and browsers send (127.0.0.2:PORT)."""
    port = rig.server.server_address[1]
    text = await rig.chat.push(f"/check502 http://0x7f.2:{port}/ok")
    reply = rig.chat.last_reply
    assert isinstance(reply, DiagnosisReply), text
    assert [p.status for p in reply.diagnosis.probes if p.target == "public"] == [200]
    assert reply.diagnosis.url == f"http://127.0.0.2:{port}/ok"
    assert rig.hosts[-1] == f"127.0.0.2:{port}"


# --------------------------------------------------------------------------- the surfaces


@pytest.mark.parametrize(("host", "label"), SPELLINGS)
async def test_check_refuses(rig: Rig, host: str, label: str) -> None:
    async with rig.nothing_leaks(may_resolve=_is_name(host)):
        text = await rig.chat.push(f"/check502 {_url(rig, host)}")
    reply = rig.chat.last_reply
    assert isinstance(reply, ErrorReply), text
    assert label in reply.text, reply.text
    assert "Traceback" not in text


@pytest.mark.parametrize(("host", "label"), SPELLINGS)
async def test_watch_refuses_and_creates_no_monitor(rig: Rig, host: str, label: str) -> None:
    async with rig.nothing_leaks(may_resolve=_is_name(host)):
        text = await rig.chat.push(f"/check502 watch {_url(rig, host)} every=30s")
    reply = rig.chat.last_reply
    assert isinstance(reply, ErrorReply), text
    assert label in reply.text, reply.text


@pytest.mark.parametrize(("host", "label"), SPELLINGS)
async def test_origin_refuses(rig: Rig, host: str, label: str) -> None:
    origin = f"{host}:{rig.trap.port}"
    served = len(rig.hosts)
    async with rig.nothing_leaks(may_resolve=_is_name(host)):
        text = await rig.chat.push(f"/check502 {rig.allowed}/ok origin={origin}")
        reply = rig.chat.last_reply
        assert isinstance(reply, ErrorReply), text
        assert label in reply.text, reply.text
        await rig.chat.push(f"/check502 watch {rig.allowed}/ok origin={origin}")
        reply = rig.chat.last_reply
        assert isinstance(reply, ErrorReply), reply
        assert label in reply.text, reply.text
    assert len(rig.hosts) == served  # refused before anything was sent, even to the URL


@pytest.mark.parametrize(("host", "label"), SPELLINGS)
async def test_redirect_refuses(rig: Rig, host: str, label: str) -> None:
    start = f"{rig.allowed}/to?u={quote(_url(rig, host), safe='')}"
    served = len(rig.hosts)
    async with rig.nothing_leaks(may_resolve=_is_name(host)):
        text = await rig.chat.push(f"/check502 {start}")
        reply = rig.chat.last_reply
        assert isinstance(reply, DiagnosisReply), text
        (probe,) = [p for p in reply.diagnosis.probes if p.target == "public"]
        assert probe.error is not None and probe.status is None, probe
        expected = ErrorKind.INVALID_RESPONSE if label == INVALID else ErrorKind.BLOCKED_ADDRESS
        assert probe.error.kind is expected, probe.error
        assert label in probe.error.message, probe.error.message
        assert probe.ip is None and probe.timings.connect is None
        if label != INVALID:  # a bad Location is the target's fault: that monitor may exist
            await rig.chat.push(f"/check502 watch {start}")
            reply = rig.chat.last_reply
            assert isinstance(reply, ErrorReply), reply
            assert label in reply.text, reply.text
    assert len(rig.hosts) == served + (1 if label == INVALID else 2)  # the first hop only


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("127.1:{port}", id="bare-two-parts"),
        pytest.param("2130706433:{port}", id="bare-decimal"),
        pytest.param("0x7f000001:{port}/x", id="bare-hex"),
        pytest.param("[::127.0.0.1]:{port}", id="bare-compatible"),
        pytest.param("<http://127.1:{port}|127.1:{port}>", id="slack-link"),
    ],
)
async def test_spellings_without_a_scheme_are_refused_too(rig: Rig, typed: str) -> None:
    word = typed.format(port=rig.trap.port)
    for command in (f"/check502 {word}", f"/check502 watch {word}"):
        async with rig.nothing_leaks():
            text = await rig.chat.push(command)
        reply = rig.chat.last_reply
        assert isinstance(reply, ErrorReply), text
        assert "loopback" in reply.text, reply.text


@pytest.mark.parametrize(
    "location",
    [
        pytest.param("//2130706433:{port}/", id="scheme-relative-decimal"),
        pytest.param("//[::ffff:0:7f00:1]:{port}/", id="scheme-relative-siit"),
        pytest.param("HTTP://0x7F.1:{port}/", id="upper-case"),
        pytest.param("http://127.0.0.1.:{port}/?next=/admin", id="trailing-dot-query"),
    ],
)
async def test_redirect_location_forms_are_refused(rig: Rig, location: str) -> None:
    start = f"{rig.allowed}/to?u={quote(location.format(port=rig.trap.port), safe='')}"
    async with rig.nothing_leaks():
        text = await rig.chat.push(f"/check502 {start}")
    reply = rig.chat.last_reply
    assert isinstance(reply, DiagnosisReply), text
    (probe,) = [p for p in reply.diagnosis.probes if p.target == "public"]
    assert probe.error is not None and probe.error.kind is ErrorKind.BLOCKED_ADDRESS, probe
    assert "loopback" in probe.error.message
