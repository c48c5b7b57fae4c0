"""The quick HTTP/1.1 path: it reads only plainly healthy answers, reads them exactly as h11
does, sends the bytes h11 would send, and leaves everything else to h11."""

from __future__ import annotations

import asyncio

import h11
import pytest

from checks._exchange import Exchange, Outcome
from checks._http1 import _quick, _request_bytes, exchange_http1

HEADERS = (
    (b"Host", b"shop.test:8080"),
    (b"User-Agent", b"check502/0.1"),
    (b"Accept", b"*/*"),
    (b"Accept-Encoding", b"identity"),
)

TAKEN = {
    "nginx": b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\n\r\nok\n",
    "spaces around values": b"HTTP/1.1 503 Busy Now\r\nX-A:  a b \t\r\nContent-Length: 0\r\n\r\n",
    "empty value": b"HTTP/1.1 502 Bad Gateway\r\nX-Empty:\r\nContent-Length: 2\r\n\r\nno",
    "bytes after the body": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE",
    "latin-1": b"HTTP/1.1 200 \xc9t\xe9\r\nX-N: caf\xe9\r\nContent-Length: 1\r\n\r\nx",
}
LEFT_TO_H11 = {
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "chunked with a length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    ),
    "close-delimited": b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nok",
    "body not all here": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
    "head not all here": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",
    "two lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "signed length": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    "204": b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    "304": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
    "100 continue first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "bare LF": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "folded header": b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
    "space before colon": b"HTTP/1.1 200 OK\r\nServer : x\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "no reason": b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    "empty reason": b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok",
    "control character": b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nok",
    "not HTTP": b"\x00\x01garbage\r\n\r\n",
}


def _by_h11(data: bytes) -> tuple[object, ...]:
    """What h11 alone reads from ``data``: (status, version, reason, headers, body)."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=b"GET", target=b"/", headers=list(HEADERS)))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    event = conn.next_event()
    while isinstance(event, h11.InformationalResponse):
        event = conn.next_event()
    assert isinstance(event, h11.Response)
    body = b""
    while True:
        part = conn.next_event()
        if isinstance(part, h11.Data):
            body += part.data
        else:
            break
    headers = tuple(
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()
    )
    reason = event.reason.decode("latin-1") or None
    return event.status_code, "HTTP/1.1", reason, headers, body


def _read(out: Outcome) -> tuple[object, ...]:
    return out.status, out.http_version, out.reason, out.headers, bytes(out.kept)


@pytest.mark.parametrize("data", TAKEN.values(), ids=TAKEN.keys())
def test_a_plain_answer_is_read_as_h11_reads_it(data: bytes) -> None:
    out = Outcome()
    assert _quick(data, out)
    assert out.ttfb_at is not None
    assert _read(out) == _by_h11(data)


@pytest.mark.parametrize("data", LEFT_TO_H11.values(), ids=LEFT_TO_H11.keys())
def test_anything_else_is_left_to_h11_untouched(data: bytes) -> None:
    out = Outcome()
    assert not _quick(data, out)
    assert out == Outcome()


class _Sink:
    """Stands in for asyncio's StreamWriter: keeps what is written."""

    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data


@pytest.mark.parametrize(
    "data",
    [TAKEN["nginx"], LEFT_TO_H11["chunked"], LEFT_TO_H11["100 continue first"]],
    ids=["quick", "chunked", "100 continue"],
)
async def test_the_exchange_gives_the_same_outcome_either_way(data: bytes) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    sink = _Sink()
    out = Outcome()
    await exchange_http1(reader, sink, Exchange(b"http", b"/", HEADERS), out)  # type: ignore[arg-type]
    assert _read(out) == _by_h11(data)
    conn = h11.Connection(h11.CLIENT)
    expected = conn.send(h11.Request(method=b"GET", target=b"/", headers=list(HEADERS)))
    assert sink.sent == expected + conn.send(h11.EndOfMessage())


def test_the_request_is_what_h11_would_send() -> None:
    extra = (*HEADERS, (b"X-Api-Key", b"a b\tc"), (b"Authorization", b"Bearer t0k3n"))
    exchange = Exchange(b"https", b"/cart?id=7&x=%20", extra)
    conn = h11.Connection(h11.CLIENT)
    sent = conn.send(h11.Request(method=b"GET", target=exchange.target, headers=list(extra)))
    assert _request_bytes(exchange) == sent + conn.send(h11.EndOfMessage())


@pytest.mark.parametrize(
    "exchange",
    [
        Exchange(b"http", b"/", HEADERS, method=b"POST", body=b"x=1"),
        Exchange(b"http", b"/", HEADERS, method=b"HEAD"),
        Exchange(b"http", b"/", (*HEADERS, (b"X-Pad", b" leading space"))),
        Exchange(b"http", b"/", (*HEADERS, (b"Bad Name", b"x"))),
        Exchange(b"http", b"/a b", HEADERS),
    ],
    ids=["post", "head", "leading space", "bad name", "space in target"],
)
def test_other_requests_are_sent_by_h11(exchange: Exchange) -> None:
    assert _request_bytes(exchange) is None
