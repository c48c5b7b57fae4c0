"""Asking a real origin on 127.0.0.1 what it speaks: plain or TLS, HTTP/1.1 or HTTP/2."""

from __future__ import annotations

import asyncio
import time

from checks.model import Cause, OriginProtocols
from checks.protocols import ask_origin
from tests.checks.conftest import run
from tests.support import (
    OkServer,
    endless_body_server,
    garbage_server,
    ok_server,
    stall_server,
    tls_server,
)
from tests.support.servers import H2GarbageServer

# A server's HTTP/2 connection preface: an empty SETTINGS frame on stream 0.
SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


async def ask(port: int, deadline_in: float = 3.0) -> OriginProtocols:
    loop = asyncio.get_running_loop()
    return await ask_origin(
        "127.0.0.1",
        port,
        host="shop.test",
        server_name="shop.test",
        deadline=loop.time() + deadline_in,
    )


async def test_a_plain_http1_origin() -> None:
    with ok_server() as app:
        found = await ask(app.port)
    assert found.plain_http1 is True
    assert (found.h2c, found.tls, found.tls_http1, found.tls_h2) == (False,) * 4
    assert b"Host: shop.test" in app.requests[0]
    questions = [note.split(": ", 1)[0] for note in found.notes]
    assert questions == [
        "plain HTTP/1.1",
        "h2c (HTTP/2 in plain text)",
        "TLS + HTTP/1.1",
        "TLS + h2",
    ]


async def test_a_tls_http1_origin() -> None:
    with tls_server() as app:
        found = await ask(app.port)
    assert (found.tls, found.tls_http1, found.tls_h2) == (True, True, False)
    assert (found.plain_http1, found.h2c) == (False, False)
    assert "shop.test" in app.server_names  # SNI is the public name
    assert "TLS + h2: TLS, but ALPN h2 not picked (none)" in found.notes


async def test_a_tls_origin_that_speaks_h2() -> None:
    with H2GarbageServer(garbage=SETTINGS) as app:
        found = await ask(app.port)
    assert (found.tls, found.tls_h2, found.tls_http1) == (True, True, True)


async def test_an_origin_that_offers_h2_but_sends_no_settings_does_not_speak_it() -> None:
    empty_data_frame = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00"  # valid but not SETTINGS
    for garbage in (H2GarbageServer.GARBAGE, empty_data_frame):
        with H2GarbageServer(garbage=garbage) as app:
            found = await ask(app.port)
        assert found.tls is True and found.tls_h2 is False, garbage


async def test_a_tls_servers_refusal_of_plain_http_is_not_plain_http() -> None:
    """nginx answers plain HTTP on a TLS port with an HTTP 400 saying so."""
    refusal = (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n"
        b"<center>The plain HTTP request was sent to HTTPS port</center>"
    )
    with garbage_server(refusal) as app:
        found = await ask(app.port)
    assert found.plain_http1 is False
    with garbage_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") as app:
        found = await ask(app.port)
    assert found.plain_http1 is True


async def test_a_silent_origin_is_unknown_and_the_questions_end_by_the_deadline() -> None:
    with stall_server() as app:
        started = time.monotonic()
        found = await ask(app.port, deadline_in=0.5)
        took = time.monotonic() - started
    assert took < 0.5 + 0.5, took
    assert found.plain_http1 is None and found.h2c is None
    assert any("deadline" in note for note in found.notes)


class AnswersOnceServer(OkServer):
    """Answers its first connection (the bypass probe) with 200, then never says a word."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.accepted_at) == 1:
            await super().handle(reader, writer)
            return
        await asyncio.Event().wait()  # forever; cancelled by stop()


NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


async def test_asking_shares_the_runs_deadline() -> None:
    """A fast gateway 502 beside an origin that answers the bypass, then stalls on every other
    question: the check still ends within its one timeout, and says what it could not learn."""
    headers = [("Server", "nginx/1.22.1"), ("Content-Type", "text/html")]
    with ok_server(502, NGINX_502, headers) as edge, AnswersOnceServer() as app:
        started = time.monotonic()
        d = await run(edge.url, origin=app.address, timeout=1.5)
        took = time.monotonic() - started
    assert took < 1.5 + 0.5, took
    assert len(app.accepted_at) == 5  # the bypass, then the four questions
    found = d.origin_protocols
    assert found is not None and (found.plain_http1, found.h2c) == (None, None)
    assert d.verdict.mismatch is None and d.verdict.cause is not Cause.FIREWALL


async def test_the_origin_is_asked_once_per_check_whatever_the_runs() -> None:
    headers = [("Server", "nginx/1.22.1"), ("Content-Type", "text/html")]
    with ok_server(502, NGINX_502, headers) as edge, ok_server() as app:
        d = await run(edge.url, origin=app.address, runs=3)
    assert d.origin_protocols is not None and d.origin_protocols.plain_http1 is True
    assert len(app.accepted_at) == 3 + 4  # a bypass per run, the four questions once


class KeepsOpenServer(OkServer):
    """A short plain HTTP/1.1 answer, then the connection stays open (no close, no more bytes)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        await asyncio.Event().wait()  # forever; cancelled by stop()


async def test_a_short_answer_on_a_connection_kept_open_is_plain_http() -> None:
    with KeepsOpenServer() as app:
        found = await ask(app.port, deadline_in=2.0)
    assert found.plain_http1 is True


async def test_an_endless_answer_is_read_only_as_far_as_the_question_needs() -> None:
    with endless_body_server() as app:
        started = time.monotonic()
        found = await ask(app.port, deadline_in=3.0)
        took = time.monotonic() - started
    assert found.plain_http1 is True
    assert took < 1.5, took  # it stopped reading: it did not drain the stream until the deadline
