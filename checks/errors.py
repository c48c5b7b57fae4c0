"""The one error tree of the diagnosis engine.

::

    Check502Error                 anything the engine raises on purpose
    ├── UsageError                the caller's input is wrong; say so in one line (exit code 2)
    │   ├── InvalidURL            not an http(s) URL with a host
    │   ├── InvalidOrigin         the --origin value cannot be parsed
    │   ├── InvalidRequest        a request spec the engine will not send (method, header, size)
    │   └── TargetRefused         the address policy refuses the URL or origin (private, metadata...)
    └── ProbeFailure              a probe got no usable HTTP response; carries an ErrorKind
        ├── DNSFailure            dns_nxdomain, dns_servfail, dns_timeout, dns_no_records
        ├── ConnectFailure        connect_refused, connect_timeout, connect_unreachable
        ├── TLSFailure            tls_expired, tls_hostname_mismatch, tls_untrusted, tls_handshake
        └── ResponseFailure       read_timeout, premature_close, invalid_response,
                                  headers_too_large, body_truncated, too_many_redirects

Foreign exceptions (h11, httpcore, ssl, OSError, timeouts) are translated into this tree in one
place, :func:`map_exception`, to the most specific kind the evidence allows. A ``ProbeFailure``
never escapes :func:`checks.diagnose`: it becomes the ``error`` of the probe that met it.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import sys
from collections.abc import Iterator
from types import ModuleType

import h11

from checks.model import ErrorKind, ProbeError


class Check502Error(Exception):
    """Base of every error the engine raises on purpose."""


class UsageError(Check502Error):
    """The caller's input is wrong. The message is one sentence meant for the user."""


class InvalidURL(UsageError):
    pass


class InvalidOrigin(UsageError):
    pass


class InvalidRequest(UsageError):
    """A request spec the engine will not send (unknown method, forbidden header, too large)."""


class TargetRefused(UsageError):
    """Every address of the URL (or the origin) is refused by the address policy."""


class ProbeFailure(Check502Error):
    """A probe got no usable HTTP response."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def as_value(self) -> ProbeError:
        return ProbeError(kind=self.kind, message=self.message)


class DNSFailure(ProbeFailure):
    pass


class ConnectFailure(ProbeFailure):
    pass


class TLSFailure(ProbeFailure):
    pass


class ResponseFailure(ProbeFailure):
    pass


_FAMILY: dict[ErrorKind, type[ProbeFailure]] = {
    ErrorKind.DNS_NXDOMAIN: DNSFailure,
    ErrorKind.DNS_SERVFAIL: DNSFailure,
    ErrorKind.DNS_TIMEOUT: DNSFailure,
    ErrorKind.DNS_NO_RECORDS: DNSFailure,
    ErrorKind.CONNECT_REFUSED: ConnectFailure,
    ErrorKind.CONNECT_TIMEOUT: ConnectFailure,
    ErrorKind.CONNECT_UNREACHABLE: ConnectFailure,
    ErrorKind.TLS_EXPIRED: TLSFailure,
    ErrorKind.TLS_HOSTNAME_MISMATCH: TLSFailure,
    ErrorKind.TLS_UNTRUSTED: TLSFailure,
    ErrorKind.TLS_HANDSHAKE: TLSFailure,
}


def failure(kind: ErrorKind, message: str) -> ProbeFailure:
    """Build the most specific ``ProbeFailure`` subclass for ``kind``."""
    return _FAMILY.get(kind, ResponseFailure)(kind, message)


# OpenSSL X509_V_ERR_* codes carried by ssl.SSLCertVerificationError.verify_code.
_X509_EXPIRED = {9, 10}  # not yet valid, has expired
_X509_HOSTNAME = {62}  # hostname mismatch
_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


class Phase:
    """Where a probe was when it failed; decides how a timeout is named."""

    CONNECT = "connect"
    TLS = "tls"
    RESPONSE = "response"
    BODY = "body"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Walk an exception, its causes, contexts and exception-group members, each once."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
        if current.__context__ is not None:
            stack.append(current.__context__)


def _tls_failure(exc: ssl.SSLError) -> ProbeFailure:
    if isinstance(exc, ssl.SSLCertVerificationError):
        message = exc.verify_message or str(exc)
        if exc.verify_code in _X509_EXPIRED:
            return failure(ErrorKind.TLS_EXPIRED, f"certificate {message}")
        if exc.verify_code in _X509_HOSTNAME:
            return failure(ErrorKind.TLS_HOSTNAME_MISMATCH, message)
        return failure(ErrorKind.TLS_UNTRUSTED, message)
    reason = exc.reason or str(exc)
    return failure(ErrorKind.TLS_HANDSHAKE, f"TLS handshake failed: {reason}")


def _timeout(phase: str) -> ProbeFailure:
    if phase == Phase.CONNECT:
        return failure(ErrorKind.CONNECT_TIMEOUT, "timed out connecting (no SYN-ACK)")
    if phase == Phase.TLS:
        return failure(ErrorKind.TLS_HANDSHAKE, "timed out during the TLS handshake")
    if phase == Phase.BODY:
        return failure(ErrorKind.READ_TIMEOUT, "timed out reading the response body")
    return failure(ErrorKind.READ_TIMEOUT, "connected, but no complete response headers in time")


def _protocol_failure(text: str, phase: str) -> ProbeFailure:
    lowered = text.lower()
    if "receive buffer too long" in lowered:
        return failure(ErrorKind.HEADERS_TOO_LARGE, "response headers exceed 100 KiB")
    if "without sending complete message body" in lowered or "incomplete chunked" in lowered:
        return failure(ErrorKind.BODY_TRUNCATED, f"body cut short: {text}")
    if (
        "disconnected without sending a response" in lowered
        or "server disconnected" in lowered
        or "connectionterminated" in lowered
    ):
        return failure(ErrorKind.PREMATURE_CLOSE, "server closed the connection without a response")
    if phase == Phase.BODY:
        return failure(ErrorKind.BODY_TRUNCATED, f"body broken: {text}")
    return failure(ErrorKind.INVALID_RESPONSE, f"not a valid HTTP response: {text}")


def map_exception(exc: BaseException, phase: str) -> ProbeFailure:
    """Translate a foreign exception met in ``phase`` into the most specific ``ProbeFailure``.

    Sources: ``ssl`` and ``OSError`` from asyncio's connect and TLS, h11's protocol errors,
    httpcore's (HTTP/2), and ``TimeoutError`` from the probe's deadline.
    """
    if isinstance(exc, ProbeFailure):
        return exc
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, ssl.SSLError):
            return _tls_failure(item)
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return failure(ErrorKind.CONNECT_REFUSED, "connection refused (nothing listening)")
        if isinstance(item, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return _closed(phase, "reset")
        if isinstance(item, OSError) and item.errno in _UNREACHABLE_ERRNOS:
            return failure(ErrorKind.CONNECT_UNREACHABLE, f"{item.strerror or 'unreachable'}")
    hc = _httpcore()
    if isinstance(exc, TimeoutError) or (hc and isinstance(exc, hc.TimeoutException)):
        return _timeout(phase)
    if isinstance(exc, h11.ProtocolError) or (hc and isinstance(exc, hc.ProtocolError)):
        return _protocol_failure(str(exc), phase)
    if isinstance(exc, asyncio.IncompleteReadError | EOFError) or (
        hc and isinstance(exc, hc.NetworkError)
    ):
        return _closed(phase, "closed")
    if isinstance(exc, OSError):
        if phase == Phase.CONNECT:
            return failure(ErrorKind.CONNECT_REFUSED, f"could not connect: {exc.strerror or exc}")
        return _closed(phase, "closed")
    return failure(ErrorKind.INVALID_RESPONSE, f"{type(exc).__name__}: {exc}")


def _httpcore() -> ModuleType | None:
    """httpcore when loaded, else None: it is imported by the first HTTP/2 exchange only (see
    :mod:`checks.probe`), and none of its exceptions can exist before it is."""
    return sys.modules.get("httpcore")


def _closed(phase: str, how: str) -> ProbeFailure:
    """The peer closed or reset the connection in ``phase``."""
    if phase == Phase.CONNECT:
        return failure(ErrorKind.CONNECT_REFUSED, f"connection {how} while connecting")
    if phase == Phase.TLS:
        return failure(ErrorKind.TLS_HANDSHAKE, f"connection {how} during the TLS handshake")
    if phase == Phase.BODY:
        return failure(ErrorKind.BODY_TRUNCATED, f"connection {how} mid-body")
    return failure(ErrorKind.PREMATURE_CLOSE, f"connection {how} before a response")
