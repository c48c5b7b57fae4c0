"""What the HTTP/1.1 and HTTP/2 exchanges share: the request to send and the outcome so far."""

from __future__ import annotations

from dataclasses import dataclass, field

BODY_EXCERPT = 16 * 1024
"""Body bytes kept for the diagnosis (error pages are small; 16 KiB holds them all)."""
BODY_DRAIN = 4 * 1024 * 1024
"""Body bytes read at most, to notice a truncated body without reading an endless one."""
READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request: the target (path and query), its headers (Host first), method and body."""

    scheme: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    method: bytes = b"GET"
    body: bytes = b""


@dataclass(slots=True)
class Outcome:
    """What an exchange has learned so far; filled in as the response arrives."""

    ttfb_at: float | None = None
    status: int | None = None
    http_version: str | None = None
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    kept: bytearray = field(default_factory=bytearray)
    read: int = 0
    needles: tuple[bytes, ...] = ()
    """Keywords looked for in the whole body read (not only the kept excerpt)."""
    found: list[bool] = field(default_factory=list)
    _tail: bytes = b""

    def head(
        self,
        at: float,
        status: int,
        version: str,
        reason: str | None,
        headers: tuple[tuple[str, str], ...],
    ) -> None:
        self.ttfb_at = at
        self.status = status
        self.http_version = version
        self.reason = reason
        self.headers = headers

    def body_chunk(self, chunk: bytes) -> None:
        room = BODY_EXCERPT - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]
        self.read += len(chunk)
        if self.needles:
            self._scan(chunk)

    def _scan(self, chunk: bytes) -> None:
        """Look for each needle in the body so far, across chunk boundaries."""
        if not self.found:
            self.found = [False] * len(self.needles)
        data = self._tail + chunk
        for index, needle in enumerate(self.needles):
            if not self.found[index] and needle in data:
                self.found[index] = True
        keep = max(len(n) for n in self.needles) - 1
        self._tail = data[-keep:] if keep else b""
