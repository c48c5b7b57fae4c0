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


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's network-stream interface over an asyncio reader/writer pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await self._reader.read(max_bytes)
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

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
    """Send a GET over HTTP/2 and fill ``out``, as :func:`checks._http1.exchange_http1` does."""
    host = ip.encode("ascii")
    conn = httpcore.AsyncHTTP2Connection(
        httpcore.Origin(request.scheme, host, port), _Stream(reader, writer)
    )
    url = httpcore.URL(scheme=request.scheme, host=host, port=port, target=request.target)
    try:
        response = await conn.handle_async_request(
            httpcore.Request(b"GET", url, headers=list(request.headers))
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
