"""A stub DNS server on 127.0.0.1 (UDP and TCP, same OS-chosen port) for resolver tests.

It answers from a small zone and can be told to fail for chosen names, so a resolver (dnspython
in check502, or nginx's ``resolver`` directive) meets a real NXDOMAIN, SERVFAIL, REFUSED, an
empty NOERROR or silence::

    with DnsStub({"shop.test": ["127.0.0.1"]}, nxdomain={"gone.test"}) as dns:
        resolver.nameservers = [dns.host]; resolver.port = dns.port

Rules, first match wins (names are case-insensitive, trailing dot optional):
``silent`` → no answer at all (the client times out); ``servfail`` → SERVFAIL; ``refused`` →
REFUSED; ``nxdomain`` → NXDOMAIN; a zone name → NOERROR with the A/AAAA records matching the
question (none → empty NOERROR, "NODATA"); any other name → ``unknown`` (NXDOMAIN by default,
``"empty"`` for NOERROR with no records).

``delay`` holds every answer that many seconds (a slow resolver, so DNS time is measurable).
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, Self

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord

HOST = "127.0.0.1"
_STOP_TIMEOUT = 10.0
_TCP_READ_TIMEOUT = 1.0

Record = str | tuple[str, int]
"""An address (``"127.0.0.1"``, ``"::1"``) or ``(address, ttl)``."""


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class DnsStub:
    """Stub DNS server; see the module docstring for the answering rules.

    ``address`` is ``127.0.0.1:PORT`` (nginx ``resolver`` syntax); ``queries`` records
    ``(transport, name, qtype)`` for every question received. ``set_records`` changes the zone
    while running (to simulate a DNS change).
    """

    def __init__(
        self,
        zone: Mapping[str, Sequence[Record]] | None = None,
        *,
        nxdomain: Iterable[str] = (),
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        refused: Iterable[str] = (),
        unknown: Literal["nxdomain", "empty"] = "nxdomain",
        ttl: int = 60,
        tcp: bool = True,
        delay: float = 0.0,
    ) -> None:
        if not 0 <= delay <= 5:
            raise ValueError("delay is 0 to 5 seconds")
        self.delay = delay
        self.ttl = ttl
        self.unknown = unknown
        self.nxdomain = {_norm(n) for n in nxdomain}
        self.servfail = {_norm(n) for n in servfail}
        self.silent = {_norm(n) for n in silent}
        self.refused = {_norm(n) for n in refused}
        self._zone: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()
        for name, records in (zone or {}).items():
            self.set_records(name, records)
        self.queries: list[tuple[str, str, str]] = []
        self.port = 0
        self._tcp_enabled = tcp
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{HOST}:{self.port}"

    def set_records(self, name: str, records: Sequence[Record]) -> None:
        """Replace the records of ``name`` (thread-safe; takes effect for the next query)."""
        parsed = [(r, self.ttl) if isinstance(r, str) else (r[0], r[1]) for r in records]
        for address, _ in parsed:
            ipaddress.ip_address(address)  # fail early on a typo
        with self._lock:
            self._zone[_norm(name)] = parsed

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind UDP (and TCP on the same port number) on 127.0.0.1 and start serving."""
        for _ in range(20):  # the TCP port may be taken; try another UDP port (bounded)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            if not self._tcp_enabled:
                break
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                tcp.bind((HOST, port))
            except OSError:
                tcp.close()
                udp.close()
                continue
            tcp.listen(16)
            tcp.setblocking(False)
            self._tcp = tcp
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        udp.setblocking(False)
        self._udp, self.port = udp, port
        self._thread = threading.Thread(target=self._run, name="DnsStub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (≤10 s) and close every socket."""
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError("DnsStub thread did not stop")
            self._thread = None
        for sock in [self._udp, self._tcp, *self._held, self._wake_r, self._wake_w]:
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None
        self._held.clear()

    def _run(self) -> None:
        assert self._udp is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._wake_r, selectors.EVENT_READ)
            sel.register(self._udp, selectors.EVENT_READ)
            if self._tcp is not None:
                sel.register(self._tcp, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    if key.fileobj is self._udp:
                        self._serve_udp()
                    else:
                        self._serve_tcp()

    def _serve_udp(self) -> None:
        assert self._udp is not None
        try:
            data, peer = self._udp.recvfrom(4096)
        except BlockingIOError:
            return
        reply = self.answer(data, "udp")
        if reply is not None and self.delay:
            time.sleep(self.delay)  # bounded (≤ 5 s); this thread serves one query at a time
        if reply is not None:
            with contextlib.suppress(OSError):
                self._udp.sendto(reply, peer)

    def _serve_tcp(self) -> None:
        assert self._tcp is not None
        try:
            conn, _ = self._tcp.accept()
        except BlockingIOError:
            return
        conn.settimeout(_TCP_READ_TIMEOUT)
        try:
            (length,) = struct.unpack("!H", _recv_exact(conn, 2))
            reply = self.answer(_recv_exact(conn, length), "tcp")
            if reply is None:
                self._held.append(conn)  # silent: keep it open so the client times out
                return
            conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass
        conn.close()

    def answer(self, data: bytes, transport: str = "udp") -> bytes | None:
        """The wire-format reply to query ``data``, or None to stay silent."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - any malformed packet: a real server ignores it
            return None
        question = request.q
        name = _norm(str(question.qname))
        qtype = QTYPE.get(question.qtype, str(question.qtype))
        self.queries.append((transport, name, qtype))
        reply = request.reply()
        with self._lock:
            records = self._zone.get(name)
        if name in self.silent:
            return None
        if name in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif name in self.refused:
            reply.header.rcode = RCODE.REFUSED
        elif name in self.nxdomain or (records is None and self.unknown == "nxdomain"):
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for address, ttl in records or ():
                version = ipaddress.ip_address(address).version
                if qtype == "A" and version == 4:
                    reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=ttl))
                elif qtype == "AAAA" and version == 6:
                    reply.add_answer(RR(question.qname, QTYPE.AAAA, rdata=AAAA(address), ttl=ttl))
        packed: bytes = reply.pack()
        return packed


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("short read")
        data += chunk
    return data
