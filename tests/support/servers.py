"""Real misbehaving servers on 127.0.0.1, for tests that probe or proxy to them.

Every server here is a plain synchronous context manager. It runs in a daemon thread (an asyncio
loop of its own, or a selector loop for the blocking ones), so it works the same from sync and
async tests::

    with stall_server() as origin:
        httpx.get(origin.url, timeout=0.5)  # -> ReadTimeout

Each one exposes ``.port`` and ``.url`` (``http://127.0.0.1:PORT/``, or ``https://`` for TLS).
Each imitates one real way an origin lets a gateway down, so a gateway in front of it produces a
genuine 502/504 (see ``tests.support.gateways``). Everything binds 127.0.0.1 with an OS-chosen
port; every wait is bounded; ``stop()`` (or leaving the ``with``) closes every socket and joins
the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http
import selectors
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
TLS_HOSTNAME = "shop.test"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_HANDSHAKE_TIMEOUT = 5.0
_REQUEST_TIMEOUT = 5.0
_MAX_HEAD = 1 << 20

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
TlsKind = Literal["valid", "expired", "wrong_name", "self_signed"]


class _NotHttpError(Exception):
    """The peer did not speak HTTP/1.x; we answered like a real server and hung up."""


_PEER_GONE = (OSError, EOFError, asyncio.LimitOverrunError, ValueError, _NotHttpError)


def build_response(
    status: int = 200,
    body: bytes = b"",
    headers: Headers | None = None,
    *,
    content_length: int | None = None,
) -> bytes:
    """Serialise an HTTP/1.1 response head + body.

    ``Content-Length`` (``content_length`` or ``len(body)``), ``Content-Type`` and
    ``Connection: close`` are added unless ``headers`` already names them.
    """
    items = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    names = {name.lower() for name, _ in items}
    if "content-type" not in names:
        items.append(("Content-Type", "text/plain"))
    if "content-length" not in names and "transfer-encoding" not in names:
        items.append(
            ("Content-Length", str(len(body) if content_length is None else content_length))
        )
    if "connection" not in names:
        items.append(("Connection", "close"))
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items)
    return head.encode("latin-1") + b"\r\n" + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


# --------------------------------------------------------------------------------------------
# asyncio-based servers
# --------------------------------------------------------------------------------------------


class LoopServer:
    """Base class: an asyncio TCP server on 127.0.0.1:0 in its own daemon thread.

    Subclasses implement :meth:`handle` for one connection. The base records each request head
    in ``requests`` (newest 10 000), optionally wraps the connection in TLS first, and on stop
    cancels every handler and aborts every connection it still holds.
    """

    scheme = "http"

    def __init__(self, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.port = 0
        self.requests: deque[bytes] = deque(maxlen=10_000)
        self.accepted_at: deque[float] = deque(maxlen=10_000)
        """``time.monotonic()`` of each accepted connection: when a client's check reached us."""
        self._tls_context = tls_context
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123/``."""
        return f"{self.scheme}://{HOST}:{self.port}/"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form gateways want for an upstream."""
        return f"{HOST}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the thread and wait (≤10 s) until the port is listening."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or self._error is not None:
            error = self._error
            self.stop()
            raise RuntimeError(f"{type(self).__name__} failed to start") from error

    def stop(self) -> None:
        """Close the listener and every connection, then join the thread (≤10 s)."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(stopping.set)
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{type(self).__name__} thread did not stop")
        self._thread = None
        self._cleanup()

    def _cleanup(self) -> None:
        """Remove files the server created; runs after the thread has stopped."""

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
        finally:
            self._ready.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._accept, HOST, 0, backlog=1024, limit=_MAX_HEAD)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            await asyncio.sleep(0)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()
            await server.wait_closed()
            await asyncio.sleep(0)  # let connection_lost callbacks run before the loop closes

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain (non-coroutine) callback, so the writer is tracked before any await: stop()
        # can then abort connections whose handler has not started yet.
        self.accepted_at.append(time.monotonic())
        self._writers.add(writer)
        task = asyncio.get_running_loop().create_task(self._client(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            context = self.tls_context_for_connection()
            if context is not None:
                await writer.start_tls(context, ssl_handshake_timeout=_HANDSHAKE_TIMEOUT)
            await self.handle(reader, writer)
        except _PEER_GONE:
            pass  # the peer gave up or broke the protocol; misbehaving is our job, not theirs
        finally:
            if not writer.transport.is_closing():
                writer.close()
            # A closed transport with unsent bytes lingers until the peer reads them; keep it
            # tracked so stop() can abort it.
            if writer.transport.get_write_buffer_size() == 0:
                self._writers.discard(writer)

    def tls_context_for_connection(self) -> ssl.SSLContext | None:
        """The TLS context for the connection being set up (the server's, unless overridden)."""
        return self._tls_context

    async def read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        """Read one request head (and its Content-Length body); record and return the head.

        A TLS ClientHello on a plain port gets ``400 Bad Request`` and a close, as real HTTP
        servers do, so a client or gateway speaking TLS to it fails fast ("wrong version
        number") instead of timing out.
        """
        first = await asyncio.wait_for(reader.readexactly(1), _REQUEST_TIMEOUT)
        if first == b"\x16" and self._tls_context is None:
            writer.write(build_response(400, b"Bad Request"))
            await writer.drain()
            raise _NotHttpError("TLS ClientHello on a plain HTTP port")
        head = first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT)
        self.requests.append(head)
        length = _content_length(head)
        if length:
            await asyncio.wait_for(reader.readexactly(length), _REQUEST_TIMEOUT)
        return head

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection. Subclasses override."""
        raise NotImplementedError


class OkServer(LoopServer):
    """A well-formed HTTP/1.1 origin: ``status``/``body``/``headers`` after ``delay`` seconds.

    The healthy baseline, the "slow origin" (``delay`` past a gateway's read timeout) and the
    bench origin (many concurrent connections, each answered after ``delay``). Every response
    carries ``Connection: close``.
    """

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"ok",
        headers: Headers | None = None,
        delay: float = 0.0,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls_context=tls_context)
        self.delay = delay
        self.response = build_response(status, body, headers)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        writer.write(self.response)
        await writer.drain()


class _CannedServer(LoopServer):
    """Reads the request, writes fixed bytes, closes (or, with ``reset``, sends an RST).

    ``pause`` seconds pass between the bytes and the close: a proxy that streams has begun
    passing the response on by then, so a cut body reaches the client as a cut body.
    """

    def __init__(self, payload: bytes, *, reset: bool = False, pause: float = 0.0) -> None:
        super().__init__()
        self.payload = payload
        self.reset = reset
        self.pause = pause

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        if self.payload:
            writer.write(self.payload)
            await writer.drain()
        if self.pause > 0:
            await asyncio.sleep(self.pause)
        if self.reset:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class StallServer(LoopServer):
    """Accepts, reads the request, never answers until stopped.

    A hung application (deadlock, stuck DB query): gateways hit their read timeout → 504.
    """

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        await asyncio.Event().wait()  # forever; cancelled by stop()


class DripServer(LoopServer):
    """Sends a valid response one byte every ``interval`` seconds (hostile slow headers).

    A client with only a per-read timeout never times out; only a total deadline stops it.
    """

    def __init__(self, interval: float = 1.0, response: bytes | None = None) -> None:
        super().__init__()
        self.interval = interval
        self.response = response or build_response(200, b"ok")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        for i in range(len(self.response)):
            writer.write(self.response[i : i + 1])
            await writer.drain()
            await asyncio.sleep(self.interval)


class EndlessBodyServer(LoopServer):
    """Valid 200 headers, then a body that never ends, written as fast as the peer reads.

    ``chunked=True`` streams chunks; ``False`` sends an unsized body (no Content-Length,
    ``Connection: close``). A client must cap what it reads. Ends when the peer closes or on stop.
    """

    def __init__(self, chunked: bool = True, chunk_size: int = 16 * 1024) -> None:
        super().__init__()
        self.chunked = chunked
        self.chunk_size = chunk_size

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        framing = "Transfer-Encoding: chunked" if self.chunked else "Connection: close"
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{framing}\r\n\r\n".encode())
        data = b"x" * self.chunk_size
        piece = f"{len(data):x}\r\n".encode() + data + b"\r\n" if self.chunked else data
        while True:  # bounded by the peer closing (drain raises) or stop() cancelling us
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0)  # stay cooperative when the peer reads as fast as we write


class EndlessHeadersServer(LoopServer):
    """A status line, then header lines forever; the head never ends.

    Gateways fail with "too big header" (nginx) or a header-size error; clients must cap it.
    """

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        n = 0
        while True:  # bounded by the peer closing (drain raises) or stop()
            batch = "".join(f"X-Endless-{n + i}: {'y' * 64}\r\n" for i in range(64))
            n += 64
            writer.write(batch.encode())
            await writer.drain()  # one write per drain: never keep writing to a dead peer
            await asyncio.sleep(0)


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


def _self_signed_pem(hostname: str) -> tuple[bytes, bytes]:
    """A self-signed leaf (cert PEM, key PEM) for ``hostname``; no CA issued it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class TlsServer(OkServer):
    """HTTPS origin on 127.0.0.1 answering 200 ``ok``, with a certificate chosen by ``kind``.

    * ``valid``: leaf for ``shop.test`` issued by ``self.ca`` (a trustme CA); with
      ``valid_days``, its notAfter is that many days from now.
    * ``expired``: same CA and name, but notAfter is yesterday.
    * ``wrong_name``: valid leaf from the CA, but for ``other.test``.
    * ``self_signed``: self-signed leaf for ``shop.test``; the CA did not issue it.

    ``ca_pem_path`` is the CA to trust (a ca_bundle); ``cert_pem_path`` the served chain.
    Clients must send SNI / verify against ``shop.test`` while connecting to 127.0.0.1.
    ``server_names`` records the SNI each handshake asked for (None when absent) and
    ``negotiated`` the ALPN protocol each connection selected.
    """

    scheme = "https"
    hostname = TLS_HOSTNAME

    def __init__(
        self,
        kind: TlsKind = "valid",
        *,
        ca: trustme.CA | None = None,
        alpn: Sequence[str] = ("http/1.1",),
        status: int = 200,
        body: bytes = b"ok",
        delay: float = 0.0,
        valid_days: float | None = None,
    ) -> None:
        self.kind = kind
        self.valid_days = valid_days
        self.ca = ca or trustme.CA()
        self.server_names: list[str | None] = []
        self.negotiated: list[str | None] = []
        self._dir = Path(tempfile.mkdtemp(prefix="check502-tls-"))
        self.ca_pem_path = str(self._dir / "ca.pem")
        self.cert_pem_path = str(self._dir / "chain.pem")
        self.key_pem_path = str(self._dir / "key.pem")
        self.ca.cert_pem.write_to_path(self.ca_pem_path)
        self._write_leaf(kind)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_pem_path, self.key_pem_path)
        context.set_alpn_protocols(list(alpn))
        context.sni_callback = self._on_sni
        super().__init__(status, body, delay=delay, tls_context=context)

    def _write_leaf(self, kind: TlsKind) -> None:
        if kind == "self_signed":
            cert_pem, key_pem = _self_signed_pem(TLS_HOSTNAME)
            Path(self.cert_pem_path).write_bytes(cert_pem)
            Path(self.key_pem_path).write_bytes(key_pem)
            return
        now = dt.datetime.now(dt.UTC)
        if kind == "valid" and self.valid_days is not None:  # a certificate close to expiry
            leaf = self.ca.issue_cert(
                TLS_HOSTNAME,
                not_before=now - dt.timedelta(days=30),
                not_after=now + dt.timedelta(days=self.valid_days),
            )
        elif kind == "valid":
            leaf = self.ca.issue_cert(TLS_HOSTNAME)
        elif kind == "expired":
            leaf = self.ca.issue_cert(
                TLS_HOSTNAME,
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            )
        elif kind == "wrong_name":
            leaf = self.ca.issue_cert("other.test")
        else:
            raise ValueError(f"unknown TLS kind {kind!r}")
        Path(self.cert_pem_path).write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(self.key_pem_path)

    def _on_sni(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.server_names.append(name)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.negotiated.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        await super().handle(reader, writer)

    def _cleanup(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


class H2BrokenServer(TlsServer):
    """TLS origin (valid ``shop.test`` cert) offering ALPN ``h2`` but unable to speak it.

    If the client negotiates ``h2`` the server closes at once (``on_h2="close"``) or sends
    garbage (``"garbage"``); with ``http/1.1`` (or no ALPN) it answers 200 ``ok``. Models a
    protocol mismatch: a proxy or client that prefers HTTP/2 breaks, HTTP/1.1 works.
    """

    def __init__(
        self, *, on_h2: Literal["close", "garbage"] = "close", ca: trustme.CA | None = None
    ) -> None:
        super().__init__("valid", ca=ca, alpn=("h2", "http/1.1"))
        self.on_h2 = on_h2

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            await super().handle(reader, writer)
            return
        self.negotiated.append("h2")
        if self.on_h2 == "garbage":
            writer.write(b"\x00\x01garbage\r\n\r\n")
            await writer.drain()
        writer.transport.abort()


# --------------------------------------------------------------------------------------------
# socket-level servers (no event loop needed)
# --------------------------------------------------------------------------------------------


class ClosedPort:
    """A 127.0.0.1 port nothing listens on: bound to get a free number, then closed.

    Connecting gets ECONNREFUSED at once, as with a crashed origin. A context manager only for
    symmetry with the servers; there is nothing to stop.
    """

    scheme = "http"

    def __init__(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            self.port: int = sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def stop(self) -> None:
        return None


class SynDropServer:
    """A listener whose accept queue is full, so the kernel drops further SYNs.

    ``listen(0)`` and never ``accept()``; the server itself holds connections until a probe
    connect times out. A client's connect then times out (not refused), as behind a firewall
    that drops packets, or an origin whose accept queue overflowed. Verified on Linux loopback.
    """

    scheme = "http"

    def __init__(self, probe_timeout: float = 0.2, max_fill: int = 16) -> None:
        self.port = 0
        self._probe_timeout = probe_timeout
        self._max_fill = max_fill
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen with backlog 0 and fill the accept queue with our own connections."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener = listener
        listener.bind((HOST, 0))
        listener.listen(0)
        self.port = listener.getsockname()[1]
        for _ in range(self._max_fill):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(self._probe_timeout)
            try:
                probe.connect((HOST, self.port))
            except TimeoutError:
                probe.close()
                return
            except OSError:
                probe.close()
                self.stop()
                raise
            self._held.append(probe)
        self.stop()
        raise RuntimeError("accept queue never filled: this kernel does not drop SYNs here")

    def stop(self) -> None:
        for sock in self._held:
            sock.close()
        self._held.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None


class BusyServer:
    """One-worker HTTP origin with a tiny listen backlog, like an exhausted PHP-FPM pool.

    Serves one request at a time, spending ``work`` seconds on each, with ``listen(backlog)``.
    On a unix socket, Linux refuses connects beyond the queue with EAGAIN, so nginx logs
    ``(11: Resource temporarily unavailable)`` and answers fast 502s while the queued requests
    succeed slowly. With ``family="tcp"`` the overflow SYNs are dropped instead (timeouts).
    ``path`` defaults to a fresh temp dir; ``nginx_upstream`` is ready for ``proxy_pass``.
    """

    def __init__(
        self,
        path: str | None = None,
        work: float = 0.5,
        *,
        backlog: int = 1,
        family: Literal["unix", "tcp"] = "unix",
        body: bytes = b"ok",
    ) -> None:
        self.work = work
        self.backlog = backlog
        self.family = family
        self.response = build_response(200, body)
        self.served = 0
        self.port = 0
        self._own_dir: Path | None = None
        if family == "unix" and path is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="check502-busy-"))
            path = str(self._own_dir / "app.sock")
        self.path = path
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """For tcp: ``http://127.0.0.1:PORT/``; for unix: a nominal URL (use a uds transport)."""
        return f"http://{HOST}:{self.port}/" if self.family == "tcp" else "http://localhost/"

    @property
    def nginx_upstream(self) -> str:
        """The ``proxy_pass`` target: ``http://unix:/path:`` or ``http://127.0.0.1:PORT``."""
        if self.family == "unix":
            return f"http://unix:{self.path}:"
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.family == "unix":
            assert self.path is not None
            Path(self.path).unlink(missing_ok=True)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.path)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind((HOST, 0))
            self.port = listener.getsockname()[1]
        listener.listen(self.backlog)
        listener.setblocking(False)
        self._listener = listener
        self._thread = threading.Thread(target=self._run, name="BusyServer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError("BusyServer thread did not stop")
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._wake_r.close()
        self._wake_w.close()
        if self.family == "unix" and self.path:
            Path(self.path).unlink(missing_ok=True)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def _run(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, _ = self._listener.accept()
                    except BlockingIOError:
                        continue
                    with conn:
                        self._serve_one(conn)

    def _serve_one(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        data = b""
        deadline = time.monotonic() + _REQUEST_TIMEOUT
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            if self._stop.is_set():
                return
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            data += chunk
        if self._stop.wait(self.work):  # the "request" takes this long; stop() interrupts
            return
        with contextlib.suppress(OSError):
            conn.settimeout(_REQUEST_TIMEOUT)
            conn.sendall(self.response)
            self.served += 1


# --------------------------------------------------------------------------------------------
# factories (the names tests use)
# --------------------------------------------------------------------------------------------


def ok_server(
    status: int = 200, body: bytes = b"ok", headers: Headers | None = None, delay: float = 0.0
) -> OkServer:
    """Well-formed HTTP/1.1 origin answering after ``delay`` seconds (see :class:`OkServer`)."""
    return OkServer(status, body, headers, delay)


def redirect_server(location: str, status: int = 302) -> OkServer:
    """Answers every request with ``status`` (302) and ``Location: location``, empty body."""
    return OkServer(status, b"", {"Location": location})


def closed_port() -> ClosedPort:
    """A port nothing listens on → connection refused (a crashed origin)."""
    return ClosedPort()


def syn_drop_server() -> SynDropServer:
    """A port whose SYNs are dropped → connect timeout (firewall DROP / full accept queue)."""
    return SynDropServer()


def stall_server() -> StallServer:
    """Reads the request and never answers → read timeout, gateway 504."""
    return StallServer()


def garbage_server(payload: bytes = b"\x00\x01garbage\r\n\r\n") -> LoopServer:
    """Answers with non-HTTP bytes then closes (a TLS/binary/h2c service on the wrong port).

    nginx relays it as an HTTP/0.9 200 ("upstream sent no valid HTTP/1.0 header").
    """
    return _CannedServer(payload)


def bad_header_server(line: bytes = b"Bad Header Without Colon") -> LoopServer:
    """A valid status line followed by a malformed header line → nginx "invalid header" 502."""
    return _CannedServer(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + line + b"\r\nConnection: close\r\n\r\nok"
    )


def huge_headers_server(size: int = 70 * 1024) -> LoopServer:
    """A 200 whose head is about ``size`` bytes of ``X-Filler-N`` lines → "too big header"."""
    filler = []
    total = 0
    n = 0
    while total < size:
        line = f"X-Filler-{n}: {'f' * 100}"
        filler.append((f"X-Filler-{n}", "f" * 100))
        total += len(line) + 2
        n += 1
    return _CannedServer(build_response(200, b"ok", filler))


def close_without_byte_server() -> LoopServer:
    """Reads the request and closes without sending a byte → "prematurely closed" 502.

    Like a worker killed mid-request (OOM, app-server timeout) or a keep-alive race.
    """
    return _CannedServer(b"")


def reset_server() -> LoopServer:
    """Reads the request and resets the connection (RST) → "Connection reset by peer" 502."""
    return _CannedServer(b"", reset=True)


def cut_body_server(
    declared: int = 1000, sent: int = 100, *, pause: float = 0.0, reset: bool = False
) -> LoopServer:
    """``Content-Length: declared`` but only ``sent`` body bytes, then close (crash mid-body).

    ``pause`` waits that long before closing (or, with ``reset``, sending an RST).
    """
    return _CannedServer(
        build_response(200, b"x" * sent, content_length=declared), pause=pause, reset=reset
    )


def long_header_server(length: int = 9000) -> LoopServer:
    """A 200 with one ``X-Long`` header line of ``length`` bytes (Apache refuses over 8192)."""
    return _CannedServer(build_response(200, b"ok", [("X-Long", "a" * length)]))


def reset_in_headers_server() -> LoopServer:
    """Sends part of a status line and headers, then an RST (a crash while writing the head)."""
    return _CannedServer(b"HTTP/1.1 200 OK\r\nContent-Le", reset=True)


def drip_server(interval: float = 1.0) -> DripServer:
    """Sends a valid 200 one byte per ``interval`` seconds (slowloris-style response)."""
    return DripServer(interval)


def endless_body_server(chunked: bool = True) -> EndlessBodyServer:
    """Valid headers, then an endless body as fast as the peer reads."""
    return EndlessBodyServer(chunked)


def endless_headers_server() -> EndlessHeadersServer:
    """A status line, then header lines forever."""
    return EndlessHeadersServer()


def tls_server(kind: TlsKind = "valid", *, ca: trustme.CA | None = None) -> TlsServer:
    """HTTPS origin for ``shop.test`` with a ``valid``/``expired``/``wrong_name``/``self_signed``
    certificate (see :class:`TlsServer`); pass ``ca`` to share one trustme CA between servers."""
    return TlsServer(kind, ca=ca)


def h2_broken_server(
    *, on_h2: Literal["close", "garbage"] = "close", ca: trustme.CA | None = None
) -> H2BrokenServer:
    """TLS origin that offers ALPN h2 but drops h2 connections (see :class:`H2BrokenServer`)."""
    return H2BrokenServer(on_h2=on_h2, ca=ca)


def unix_busy_server(path: str | None = None, work: float = 0.5) -> BusyServer:
    """Single-worker unix-socket origin with backlog 1 (see :class:`BusyServer`)."""
    return BusyServer(path, work)


def tcp_busy_server(work: float = 0.5) -> BusyServer:
    """TCP variant of :func:`unix_busy_server`: overflow connects time out instead."""
    return BusyServer(None, work, family="tcp")


# --------------------------------------------------------------------------------------------
# hostile servers: each tries to keep a client busy (or its memory growing) for ever
# --------------------------------------------------------------------------------------------


class NoHandshakeServer(LoopServer):
    """An ``https://`` port that accepts TCP, reads the ClientHello and never answers it.

    The TLS handshake never finishes: only a client's overall deadline ends the wait, and a
    re-fetch of the certificate would hang the same way.
    """

    scheme = "https"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.read(_MAX_HEAD))  # the ClientHello
        await asyncio.Event().wait()  # forever; cancelled by stop()


class NeverReadsServer(LoopServer):
    """Accepts the connection, then never reads the request and never answers."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # forever; cancelled by stop()


class DripBodyServer(LoopServer):
    """Sends a whole 200 head at once, then its ``size``-byte body one byte per ``interval``."""

    def __init__(self, interval: float = 1.0, size: int = 1000) -> None:
        super().__init__()
        self.interval = interval
        self.size = size

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        writer.write(build_response(200, b"", content_length=self.size))
        for _ in range(self.size):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(self.interval)


class H2GarbageServer(TlsServer):
    """TLS origin (valid ``shop.test`` certificate) that picks ``h2`` by ALPN, then, after
    ``delay`` seconds, sends bytes that are not HTTP/2 and keeps the connection open; over
    HTTP/1.1 it answers 200 ``ok`` (or, with ``stall_http1``, never answers). ``garbage`` may
    be any bytes, such as a frame header that breaks one rule of the HTTP/2 preface.

    The garbage looks like the start of a 359-byte frame, so an HTTP/2 client that only parses
    whole frames waits for the rest until its deadline; the server's first frame must be
    SETTINGS, which these bytes already are not.
    """

    GARBAGE = b"\x00\x01garbage\r\n\r\n"

    def __init__(
        self,
        *,
        delay: float = 0.0,
        stall_http1: bool = False,
        garbage: bytes = GARBAGE,
        ca: trustme.CA | None = None,
    ) -> None:
        super().__init__("valid", ca=ca, alpn=("h2", "http/1.1"))
        self.garbage_delay = delay
        self.stall_http1 = stall_http1
        self.garbage = garbage

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if writer.get_extra_info("ssl_object").selected_alpn_protocol() != "h2":
            if self.stall_http1:
                await asyncio.Event().wait()  # forever; cancelled by stop()
            await super().handle(reader, writer)
            return
        self.negotiated.append("h2")
        await asyncio.sleep(self.garbage_delay)
        writer.write(self.garbage)
        await writer.drain()
        await asyncio.Event().wait()  # forever; cancelled by stop()


class H2StallServer(TlsServer):
    """TLS origin (valid ``shop.test`` certificate) offering ``h2``, then silent whatever the
    protocol: an HTTP/2 try and an HTTP/1.1 retry would each wait for their whole timeout."""

    def __init__(self, *, ca: trustme.CA | None = None) -> None:
        super().__init__("valid", ca=ca, alpn=("h2", "http/1.1"))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.negotiated.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        await asyncio.Event().wait()  # forever; cancelled by stop()


class UntrustedThenSilentServer(LoopServer):
    """An ``https://`` port that alternates: odd-numbered connections get a self-signed
    certificate (a client's verification fails); even-numbered ones never get past the
    ClientHello. A client that checks and then re-fetches the certificate without verifying
    meets a failure, then a hang."""

    scheme = "https"

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="check502-untrusted-"))
        cert_pem, key_pem = _self_signed_pem(TLS_HOSTNAME)
        (self._dir / "cert.pem").write_bytes(cert_pem)
        (self._dir / "key.pem").write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._dir / "cert.pem", self._dir / "key.pem")
        super().__init__(tls_context=context)

    def tls_context_for_connection(self) -> ssl.SSLContext | None:
        return None if len(self.accepted_at) % 2 == 0 else super().tls_context_for_connection()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # forever (or, TLS refused by the client, until it closes)

    def _cleanup(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


def gzip_bomb(size: int = 256 * 1024 * 1024) -> bytes:
    """A valid gzip stream of ``size`` zero bytes that is about a thousand times smaller.

    Built from one fully flushed deflate segment of 1 MiB repeated (a full flush resets the
    compressor, so each copy decodes on its own), so building it costs milliseconds.
    """
    mib = 1024 * 1024
    zeros = bytes(mib)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    copies = size // mib
    tail = compressor.flush()  # an empty final block and a trailer for the 2 MiB so far
    crc = 0
    for _ in range(copies):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return first + again * (copies - 1) + tail[: -len(trailer)] + trailer


class GzipBombServer(OkServer):
    """A 200 whose ``Content-Encoding: gzip`` body is small but decompresses to ``size`` bytes.

    Sent although the client asked for ``identity``, as misconfigured servers do; a client that
    decompresses what it reads without a bound runs out of memory.
    """

    def __init__(self, size: int = 256 * 1024 * 1024) -> None:
        headers = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
        super().__init__(200, gzip_bomb(size), headers)
        self.size = size


class RedirectServer(OkServer):
    """Answers every request, after ``delay`` seconds, with ``status`` and ``Location:
    location``; the location may be changed while running (to point two at each other)."""

    def __init__(self, location: str = "/", status: int = 302, delay: float = 0.0) -> None:
        super().__init__(status, b"", delay=delay)
        self.status = status
        self.location = location

    @property
    def location(self) -> str:
        return self._location

    @location.setter
    def location(self, value: str) -> None:
        self._location = value
        self.response = build_response(self.status, b"", {"Location": value})


def no_handshake_server() -> NoHandshakeServer:
    """``https://`` port whose TLS handshake never finishes (see :class:`NoHandshakeServer`)."""
    return NoHandshakeServer()


def never_reads_server() -> NeverReadsServer:
    """Accepts, never reads the request, never answers."""
    return NeverReadsServer()


def drip_body_server(interval: float = 1.0) -> DripBodyServer:
    """A 200 head at once, then the body one byte per ``interval`` seconds."""
    return DripBodyServer(interval)


def h2_garbage_server(
    *,
    delay: float = 0.0,
    stall_http1: bool = False,
    garbage: bytes = H2GarbageServer.GARBAGE,
    ca: trustme.CA | None = None,
) -> H2GarbageServer:
    """h2 by ALPN, then garbage on an open connection (see :class:`H2GarbageServer`)."""
    return H2GarbageServer(delay=delay, stall_http1=stall_http1, garbage=garbage, ca=ca)


def untrusted_then_silent_server() -> UntrustedThenSilentServer:
    """Self-signed handshakes alternating with handshakes that never finish."""
    return UntrustedThenSilentServer()


def gzip_bomb_server(size: int = 256 * 1024 * 1024) -> GzipBombServer:
    """A small gzip body that decompresses to ``size`` bytes (see :class:`GzipBombServer`)."""
    return GzipBombServer(size)


def h2_stall_server(*, ca: trustme.CA | None = None) -> H2StallServer:
    """h2 by ALPN, then silence over HTTP/2 and HTTP/1.1 (see :class:`H2StallServer`)."""
    return H2StallServer(ca=ca)


def self_redirect_server(delay: float = 0.0) -> RedirectServer:
    """Redirects every request to itself (``Location: /``), after ``delay`` seconds."""
    return RedirectServer("/", delay=delay)


@contextlib.contextmanager
def redirect_loop() -> Iterator[tuple[RedirectServer, RedirectServer]]:
    """Two servers redirecting to each other, A → B → A, both started."""
    with RedirectServer() as a, RedirectServer() as b:
        a.location, b.location = b.url, a.url
        yield a, b


class ApiServer(LoopServer):
    """An API that cares what it is sent: one real HTTP/1.1 origin with a route per rule.

    - ``/private``: 200 ``welcome`` with ``Authorization: Bearer <token>`` (or basic
      ``user:password``), 401 without or with another;
    - ``/submit``: 200 ``accepted`` for a POST whose body is the JSON ``want``, 405 for another
      method, 400 for another body;
    - ``/echo``: 200 with the request's ``Authorization`` in its body and an ``X-Echo`` header;
    - ``/page``: 200 with ``page`` as the body (the keyword tests change it while running);
    - ``/slow``: 200 after ``delay`` seconds (bounded by the test's value);
    - ``/moved``: 302 to ``/page``; ``/see-other``: 303 to ``/submit``; ``/away``: 302 to
      ``away`` (another server: credentials must not follow).

    Every request is kept in ``seen``: ``(method, path, headers (lower-cased names), body)``.
    """

    def __init__(
        self,
        *,
        token: str = "",
        basic: tuple[str, str] | None = None,
        want: object = None,
        page: bytes = b"all systems ok",
        delay: float = 0.0,
        away: str = "",
    ) -> None:
        super().__init__()
        self.token = token
        self.basic = basic
        self.want = want
        self.page = page
        self.delay = delay
        self.away = away
        self.seen: deque[tuple[str, str, dict[str, str], bytes]] = deque(maxlen=1000)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import base64
        import json

        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_TIMEOUT)
        self.requests.append(first)
        lines = first.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        length = int(headers.get("content-length", "0") or 0)
        body = await asyncio.wait_for(reader.readexactly(length), _REQUEST_TIMEOUT)
        self.seen.append((method, path, headers, body))
        auth = headers.get("authorization", "")
        status, payload, extra = 200, b"", {}
        if path == "/private":
            good = {f"Bearer {self.token}"} if self.token else set()
            if self.basic is not None:
                pair = f"{self.basic[0]}:{self.basic[1]}".encode()
                good.add("Basic " + base64.b64encode(pair).decode())
            status, payload = (200, b"welcome") if auth in good else (401, b"unauthorized")
        elif path == "/submit":
            if method != "POST":
                status, payload = 405, b"method not allowed"
            else:
                try:
                    ok = json.loads(body) == self.want
                except ValueError:
                    ok = False
                status, payload = (200, b"accepted") if ok else (400, b"bad body")
        elif path == "/echo":  # a debug endpoint that shows what it was sent
            payload = f"you sent: {auth}".encode()
            extra = {"X-Echo": auth}
        elif path == "/page":
            payload = self.page
        elif path == "/slow":
            await asyncio.sleep(min(self.delay, 5.0))
            payload = b"finally"
        elif path == "/moved":
            status, extra = 302, {"Location": "/page"}
        elif path == "/see-other":
            status, extra = 303, {"Location": "/submit"}
        elif path == "/away":
            status, extra = 302, {"Location": self.away}
        else:
            status, payload = 404, b"not found"
        if method == "HEAD":
            writer.write(build_response(status, b"", extra, content_length=len(payload)))
        else:
            writer.write(build_response(status, payload, extra))
        await writer.drain()
