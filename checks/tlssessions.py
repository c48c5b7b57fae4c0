"""TLS session resumption for the monitoring path: a healthy HTTPS check without a full handshake.

A full TLS handshake (key exchange, certificate chain, signature checks) is most of what an
HTTPS check costs the checker's CPU. A monitor checked every 60 s meets the same server with the
same certificate each time, so :class:`TlsSessions` keeps the TLS session (TLS 1.3 ticket or
TLS 1.2 session) of each healthy check and offers it on the next one: the server resumes it
with an abbreviated handshake, or declines and a full handshake happens as usual.

* Keyed by (IP, port, SNI name, HTTP/2 offered): a session is offered only to the server that
  issued it, for the name it was verified for, with the same context.
* Every ``refresh`` seconds (10 minutes by default) a check does a full handshake anyway, so
  the certificate facts (issuer, expiry, names) stay fresh; a resumed check reports the facts
  of the last full handshake, days left counted again from its notAfter.
* A check that fails (no answer, or a 5xx) forgets its session: the next one, the confirmation
  of a possible outage, does the full handshake and sees the certificate afresh.
* At most ``max_entries`` sessions, the oldest dropped first.

How the session reaches OpenSSL: asyncio's ``open_connection``/``start_tls`` take no session,
but both event loops build the handshake's ``SSLObject`` with ``context.wrap_bio(...)`` while
running in a copy of the probe task's context (asyncio copies it when ``start_tls`` schedules
the handshake, uvloop when the connection is opened). So :class:`ResumingContext`, an
``SSLContext`` whose ``wrap_bio`` takes the session offered through a ``ContextVar``, which the
probe sets around its connect and handshake. Without an offer it is a plain ``SSLContext``.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from checks.model import TlsInfo

__all__ = ["ResumingContext", "TlsSessions"]

SessionKey = tuple[str, int, str | None, bool]
"""(IP, port, SNI name, whether ``h2`` was offered)."""

_OFFER: ContextVar[ssl.SSLSession | None] = ContextVar("check502_tls_offer", default=None)


class ResumingContext(ssl.SSLContext):
    """An ``SSLContext`` that offers the session set by :func:`offering` to the handshake."""

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        if session is None and not server_side:
            session = _OFFER.get()
        return super().wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session,
        )


@contextlib.contextmanager
def offering(session: ssl.SSLSession | None) -> Iterator[None]:
    """Offer ``session`` to every :class:`ResumingContext` handshake started inside."""
    token = _OFFER.set(session)
    try:
        yield
    finally:
        _OFFER.reset(token)


@dataclass(frozen=True, slots=True)
class Offer:
    """A kept session and the certificate facts of the full handshake it came from."""

    session: ssl.SSLSession
    tls: TlsInfo


@dataclass(slots=True)
class _Kept:
    session: ssl.SSLSession
    context: ssl.SSLContext
    tls: TlsInfo
    full_at: float
    """When (on the clock) the last full handshake with this server happened."""


class TlsSessions:
    """The sessions of healthy HTTPS checks, offered again until ``refresh`` seconds pass.

    ``clock`` returns seconds (``time.monotonic`` by default; tests pass their own). ``full``
    and ``resumed`` count the handshakes of the checks that used it.
    """

    def __init__(
        self,
        *,
        refresh: float = 600.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh <= 0:
            raise ValueError("refresh must be above 0 seconds")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.refresh = refresh
        self._max_entries = max_entries
        self._clock = clock
        self._kept: OrderedDict[SessionKey, _Kept] = OrderedDict()
        self.full = 0
        self.resumed = 0

    def __len__(self) -> int:
        return len(self._kept)

    def offer(self, key: SessionKey, context: ssl.SSLContext) -> Offer | None:
        """The session to offer for ``key`` on ``context``, or None: a full handshake is due
        (none kept, made with another context, or the last full one is ``refresh`` old)."""
        kept = self._kept.get(key)
        if kept is None or kept.context is not context:
            return None
        if self._clock() - kept.full_at >= self.refresh:
            return None
        return Offer(kept.session, kept.tls)

    def keep(
        self,
        key: SessionKey,
        context: ssl.SSLContext,
        ssl_object: Any,
        tls: TlsInfo,
        *,
        resumed: bool,
    ) -> None:
        """After a healthy check: keep the session of a full handshake. A resumed one changes
        nothing: its session stays offered (reading ``SSLObject.session`` copies the session
        through DER, peer certificate included, which costs about as much as the resumption
        saves), until the server declines it (its ticket expired: nginx keeps them 5 minutes)
        and a full handshake brings a fresh one."""
        if resumed:
            self.resumed += 1
            return
        self.full += 1
        session = getattr(ssl_object, "session", None)
        if session is None:
            self._kept.pop(key, None)
            return
        self._kept[key] = _Kept(session, context, tls, self._clock())
        self._kept.move_to_end(key)
        while len(self._kept) > self._max_entries:
            self._kept.popitem(last=False)

    def count(self, *, resumed: bool) -> None:
        """Count a handshake whose session is not kept (the check failed)."""
        if resumed:
            self.resumed += 1
        else:
            self.full += 1

    def forget(self, key: SessionKey) -> None:
        """After a failed check: the next one does a full handshake."""
        self._kept.pop(key, None)
