"""Ask the origin "the other way": which protocols it speaks on one address and port.

When the public side fails fast while the origin bypass answers, the likeliest break is that the
proxy and the origin speak different protocols (the seed's TLS and protocol-mismatch causes):
``proxy_pass http://`` to an origin that speaks TLS, ``https://`` to one that speaks plain HTTP,
HTTP/2 (``grpc_pass``, ``proto h2``) to an HTTP/1.1-only origin. Four small questions tell them
apart, asked at once on fresh connections:

* plain HTTP/1.1: a ``GET`` in plain text; does an HTTP/1.x status line come back?
* h2c: the HTTP/2 connection preface in plain text; does a SETTINGS frame come back?
* TLS + HTTP/1.1: a handshake offering only ``http/1.1``, then a ``GET``;
* TLS + h2: a handshake offering only ``h2``; is it picked, and does SETTINGS come back?

Only the TLS handshake's success matters, not the certificate (the bypass probe already judged
that), so these handshakes do not verify. Everything ends by ``deadline`` (the run's own), reads
at most ``_READ_LIMIT`` bytes per question, and sends nothing but these requests.
"""

from __future__ import annotations

import asyncio
import functools
import ssl

from checks.model import OriginProtocols

__all__ = ["ask_origin"]

_READ_LIMIT = 4096
_LINGER = 0.2
"""Seconds to wait for more of an answer once its head has come (its body names a refusal)."""
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 0x4
_ACK = 0x1
_PLAIN_ON_TLS_PORT = (b"plain http request was sent to https port", b"speaking plain http to")
"""How TLS servers word their answer to plain HTTP (nginx; Go's net/http)."""


@functools.lru_cache(maxsize=2)
def _context(alpn: str) -> ssl.SSLContext:
    """An unverifying client context offering only ``alpn``; no CA store is loaded (that costs
    tens of milliseconds), since only the handshake's success is asked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols([alpn])
    return context


def _request(host: str) -> bytes:
    return (
        f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: check502/0.1\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")


async def _read_some(reader: asyncio.StreamReader, want: int) -> bytes:
    """Up to ``want`` bytes: fewer when the peer closes first, or when a whole response head
    has come and nothing more follows within ``_LINGER`` seconds (a server that keeps the
    connection open after a short answer)."""
    data = b""
    while len(data) < want:
        read = reader.read(min(_READ_LIMIT, want - len(data)))
        if b"\r\n\r\n" in data:
            try:
                async with asyncio.timeout(_LINGER):  # unlike wait_for, never eats a cancel
                    chunk = await read
            except TimeoutError:
                break
        else:
            chunk = await read
        if not chunk:
            break
        data += chunk
    return data


def _is_http1(answer: bytes) -> bool:
    """An HTTP/1.x status line, and not a TLS server's refusal of plain HTTP."""
    if not answer.startswith(b"HTTP/1."):
        return False
    return not any(phrase in answer.lower() for phrase in _PLAIN_ON_TLS_PORT)


def _is_settings(head: bytes) -> bool:
    """A server's HTTP/2 connection preface: a SETTINGS frame on stream 0, not an ACK."""
    return (
        len(head) == 9
        and head[3] == _SETTINGS
        and not head[4] & _ACK
        and int.from_bytes(head[0:3], "big") % 6 == 0
        and int.from_bytes(head[5:9], "big") & 0x7FFFFFFF == 0
    )


async def _ask(
    ip: str,
    port: int,
    send: bytes,
    *,
    tls: ssl.SSLContext | None,
    server_name: str | None,
    http2: bool,
    deadline: float,
) -> tuple[bool | None, bool | None, str]:
    """One question: (handshake done, speaks it, what came back in words).

    ``handshake done`` is None on plain text; ``speaks it`` is None when nothing came back
    before the deadline.
    """
    writer: asyncio.StreamWriter | None = None
    handshake: bool | None = None
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(ip, port, limit=_READ_LIMIT)
            if tls is not None:
                try:
                    await writer.start_tls(tls, server_hostname=server_name)
                except (ssl.SSLError, OSError, EOFError) as exc:
                    return False, False, f"no TLS handshake ({_reason(exc)})"
                handshake = True
                ssl_object = writer.get_extra_info("ssl_object")
                chosen = ssl_object.selected_alpn_protocol() if ssl_object else None
                if http2 and chosen != "h2":
                    return True, False, f"TLS, but ALPN h2 not picked ({chosen or 'none'})"
            writer.write(send)
            await writer.drain()
            answer = await _read_some(reader, 9 if http2 else 256)
    except TimeoutError:
        return handshake, None, "no answer before the deadline"
    except (OSError, ssl.SSLError, EOFError) as exc:
        return handshake, False, f"closed ({_reason(exc)})"
    finally:
        if writer is not None:
            writer.transport.abort()
    if not answer:
        return handshake, False, "closed without answering"
    speaks = _is_settings(answer) if http2 else _is_http1(answer)
    shown = repr(answer[:16])[2:-1]
    return handshake, speaks, f"{'answered' if speaks else 'answered otherwise'}: {shown}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return exc.reason.lower().replace("_", " ")
    return str(exc) or type(exc).__name__


async def ask_origin(
    ip: str, port: int, *, host: str, server_name: str | None, deadline: float
) -> OriginProtocols:
    """What the origin at ``ip:port`` speaks: plain HTTP/1.1, h2c, TLS with HTTP/1.1, TLS with h2.

    ``host`` is the Host header and ``server_name`` the SNI (the public name's, None for an IP).
    Ends by ``deadline`` (``loop.time()`` seconds); a question with no answer by then is None.
    Never raises for network trouble.
    """
    sni = server_name
    request = _request(host)
    asks = await asyncio.gather(
        _ask(ip, port, request, tls=None, server_name=None, http2=False, deadline=deadline),
        _ask(
            ip,
            port,
            _H2_PREFACE + _EMPTY_SETTINGS,
            tls=None,
            server_name=None,
            http2=True,
            deadline=deadline,
        ),
        _ask(
            ip,
            port,
            request,
            tls=_context("http/1.1"),
            server_name=sni,
            http2=False,
            deadline=deadline,
        ),
        _ask(
            ip,
            port,
            _H2_PREFACE + _EMPTY_SETTINGS,
            tls=_context("h2"),
            server_name=sni,
            http2=True,
            deadline=deadline,
        ),
    )
    (
        (_, plain, plain_note),
        (_, h2c, h2c_note),
        (tls1, tls_h1, tls1_note),
        (tls2, tls_h2, tls2_note),
    ) = asks
    handshakes = [h for h in (tls1, tls2) if h is not None]
    tls = True if any(handshakes) else (False if handshakes else None)
    return OriginProtocols(
        ip=ip,
        port=port,
        plain_http1=plain,
        h2c=h2c,
        tls=tls,
        tls_http1=tls_h1 if tls1 else (False if tls1 is False else tls_h1),
        tls_h2=tls_h2 if tls2 else (False if tls2 is False else tls_h2),
        notes=(
            f"plain HTTP/1.1: {plain_note}",
            f"h2c (HTTP/2 in plain text): {h2c_note}",
            f"TLS + HTTP/1.1: {tls1_note}",
            f"TLS + h2: {tls2_note}",
        ),
    )
