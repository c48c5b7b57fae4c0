"""One HTTP/2 exchange on an open TLS connection, through httpcore's HTTP/2 connection.

check502 opens and times the connection itself (see :mod:`checks.probe`); httpcore then speaks
HTTP/2 over it, through the small stream adapter below, so frames, settings and flow control
stay in the library httpx uses.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import httpcore

from checks._exchange import BODY_DRAIN, Exchange, Outcome

_FRAME_HEAD = 9
_SETTINGS = 0x4
_ACK = 0x1


def _check_preface(head: bytes) -> None:
    """Judge the server's first frame from as much of its 9-byte header as has arrived.

    A server's connection preface is a SETTINGS frame on stream 0 (RFC 9113 section 3.4), so
    bytes that are not one prove at once that the server does not speak HTTP/2; the h2 parser
    would instead wait for the rest of whatever frame length they seem to announce.
    """
    length = int.from_bytes(head[:3], "big") if len(head) >= 3 else 0
    bad = (
        (len(head) >= 4 and head[3] != _SETTINGS)
        or (len(head) >= 5 and head[4] & _ACK)
        or (len(head) >= 3 and length % 6)
        or (len(head) >= _FRAME_HEAD and int.from_bytes(head[5:9], "big") & 0x7FFFFFFF)
    )
    if bad:
        raise httpcore.RemoteProtocolError(
            "the server chose HTTP/2 by ALPN but its first frame is not SETTINGS"
            f" (first bytes {head[:_FRAME_HEAD].hex(' ')}): it does not speak HTTP/2"
        )


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's network-stream interface over an asyncio reader/writer pair, checking that
    the server's first bytes can be an HTTP/2 connection preface."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._head = b""  # the server's first frame header, until all 9 bytes have been seen

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = await self._reader.read(max_bytes)
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc
        if len(self._head) < _FRAME_HEAD and data:
            self._head += data[: _FRAME_HEAD - len(self._head)]
            _check_preface(self._head)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            await self._writer.drain()
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RuntimeError("the probe opened TLS itself; HTTP/2 never upgrades a stream")

    def get_extra_info(self, info: str) -> Any:
        names = {"ssl_object": "ssl_object", "server_addr": "peername", "client_addr": "sockname"}
        if info in names:
            return self._writer.get_extra_info(names[info])
        return False if info == "is_readable" else None


async def exchange_http2(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: Exchange,
    out: Outcome,
    *,
    ip: str,
    port: int,
) -> None:
    """Send the request over HTTP/2 and fill ``out``, as :func:`checks._http1.exchange_http1` does."""
    host = ip.encode("ascii")
    conn = httpcore.AsyncHTTP2Connection(
        httpcore.Origin(request.scheme, host, port), _Stream(reader, writer)
    )
    url = httpcore.URL(scheme=request.scheme, host=host, port=port, target=request.target)
    try:
        response = await conn.handle_async_request(
            httpcore.Request(
                request.method, url, headers=list(request.headers), content=request.body
            )
        )
        out.head(
            time.perf_counter(),
            response.status,
            "HTTP/2",
            None,
            tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers),
        )
        try:
            async for chunk in response.aiter_stream():
                out.body_chunk(chunk)
                if out.read >= BODY_DRAIN:
                    break
        finally:
            await response.aclose()
    finally:
        await conn.aclose()
