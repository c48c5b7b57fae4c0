"""One HTTP/1.1 exchange on an open connection, parsed by h11 (the parser httpx uses)."""

from __future__ import annotations

import asyncio
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
    conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_LIMIT)
    head = h11.Request(method=request.method, target=request.target, headers=list(request.headers))
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
