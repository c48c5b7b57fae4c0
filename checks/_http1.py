"""One HTTP/1.1 exchange on an open connection, parsed by h11 (the parser httpx uses).

The common healthy answer (a GET answered in one read by a plain ``HTTP/1.1`` head with one
``Content-Length`` and the whole body) is read by a short, strict parser first: it accepts
only what h11 would accept the same way, and hands anything else (a partial read, chunked or
close-delimited bodies, 1xx, odd spacing, a bare LF, duplicate lengths...) to h11 with every
byte received so far, so h11 decides every case that is not plainly healthy, as before. h11's
state machine costs about a fifth of a healthy check's CPU.
"""

from __future__ import annotations

import asyncio
import re
import time

import h11

from checks._exchange import BODY_DRAIN, READ_SIZE, Exchange, Outcome

HEAD_LIMIT = 100 * 1024
"""h11 refuses a response head larger than this ("Receive buffer too long"), as httpcore does."""


async def exchange_http1(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Exchange, out: Outcome
) -> None:
    """Send the request, read the head into ``out``, then at most ``BODY_DRAIN`` bytes of body.

    Raises h11 or OS errors for a broken head; errors in the body are raised too, with what was
    read so far already in ``out`` (the caller maps them with ``Phase.BODY``).
    """
    plain = _request_bytes(request)
    if plain is not None:
        writer.write(plain)
        first = await reader.read(READ_SIZE)
        if _quick(first, out):
            return
        conn = _sent(request)  # h11 takes over from the first byte
        if not first:
            raise h11.RemoteProtocolError("Server disconnected without sending a response.")
        conn.receive_data(first)
    else:
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
        head = h11.Request(
            method=request.method, target=request.target, headers=list(request.headers)
        )
        sent = conn.send(head)
        if request.body:
            sent += conn.send(h11.Data(data=request.body))
        writer.write(sent + conn.send(h11.EndOfMessage()))
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            if not data and conn.their_state is h11.SEND_RESPONSE:
                raise h11.RemoteProtocolError("Server disconnected without sending a response.")
            conn.receive_data(data)
        elif isinstance(event, h11.Response):
            break
        elif not isinstance(event, h11.InformationalResponse):
            raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} before a response")
    out.head(
        time.perf_counter(),
        event.status_code,
        "HTTP/" + event.http_version.decode("ascii"),
        event.reason.decode("latin-1") or None,
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()),
    )
    while out.read < BODY_DRAIN:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Data):
            out.body_chunk(event.data)
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return


_STATUS = re.compile(rb"HTTP/1\.1 ([2-9][0-9][0-9]) ([\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*)")
"""``HTTP/1.1 200 OK``: a final status (1xx goes to h11) and a reason phrase."""
_FIELD = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*"
    rb"((?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?)[ \t]*"
)
"""``Name: value`` as h11 accepts it: a token, then a value whose outer spaces are dropped."""
_DIGITS = re.compile(rb"[0-9]{1,12}")
_NO_BODY = frozenset({204, 304})


_TARGET = re.compile(rb"[\x21-\x7e]+")


def _request_bytes(request: Exchange) -> bytes | None:
    """What h11 sends for a GET without a body (checked against h11 in the tests); None for
    any other request, or one whose target or headers h11 should judge (it refuses some)."""
    if request.method != b"GET" or request.body or not _TARGET.fullmatch(request.target):
        return None
    lines = [b"GET " + request.target + b" HTTP/1.1"]
    for name, value in request.headers:
        line = name + b": " + value
        field = _FIELD.fullmatch(line)
        if field is None or field[2] != value:
            return None
        lines.append(line)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _sent(request: Exchange) -> h11.Connection:
    """An h11 connection that has sent ``request`` (its bytes already went out)."""
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
    conn.send(
        h11.Request(method=request.method, target=request.target, headers=list(request.headers))
    )
    conn.send(h11.EndOfMessage())
    return conn


def _quick(data: bytes, out: Outcome) -> bool:
    """Read a complete, plain answer (head and whole ``Content-Length`` body in ``data``) into
    ``out``; False, with ``out`` untouched, for anything h11 should read instead."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    lines = data[:end].split(b"\r\n")
    status = _STATUS.fullmatch(lines[0])
    if status is None:
        return False
    code = int(status[1])
    if code in _NO_BODY:
        return False
    headers: list[tuple[str, str]] = []
    length: int | None = None
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None:
            return False
        name = field[1].lower()
        if name == b"content-length":
            if length is not None or not _DIGITS.fullmatch(field[2]):
                return False
            length = int(field[2])
        elif name == b"transfer-encoding":
            return False
        headers.append((field[1].decode("latin-1"), field[2].decode("latin-1")))
    body = data[end + 4 :]
    if length is None or len(body) < length:
        return False
    out.head(time.perf_counter(), code, "HTTP/1.1", status[2].decode("latin-1"), tuple(headers))
    if length:
        out.body_chunk(body[:length])
    return True
