"""What a channel's public status page shows, as frozen values (``/check502 status on``).

The web adapter (:mod:`adapters.web.pages`) renders these; nothing here knows of HTML. The
figures come from the hourly rollups (:mod:`bot.storage`) in a few aggregate queries for the
whole channel, never one query per monitor, so a channel of 1,000 monitors loads at once.

Windows count whole hours, the current one included: "24 h" is the current hour and the 23
before it. Badges (:func:`uptime`) use the same windows as the page, so the two agree.

Nothing private is shown: a monitor is named by its URL without user name, password, query or
fragment (:func:`display_url`), never by its ``origin=`` address, and the page leaves out who
created a monitor or acknowledged an incident.
"""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot import histogram
from bot.model import Channel, IncidentRecord
from bot.storage import Store

HOUR = 3600
RECENT_DAYS = 30
"""Closed incidents stay on the page this long (the retention's default)."""
MAX_INCIDENTS = 50


@dataclass(frozen=True, slots=True)
class WindowSpec:
    key: str
    """As badges name it: ``24h``, ``7d``, ``30d``."""
    title: str
    bucket_hours: int
    buckets: int

    @property
    def hours(self) -> int:
        return self.bucket_hours * self.buckets


WINDOWS: tuple[WindowSpec, ...] = (
    WindowSpec("24h", "24 hours", 1, 24),
    WindowSpec("7d", "7 days", 6, 28),
    WindowSpec("30d", "30 days", 24, 30),
)
WINDOW_BY_KEY = {w.key: w for w in WINDOWS}


def level(checks: int, failures: int) -> str:
    """A bar's colour in words: ``none`` (no checks), ``up`` (no failure), ``down`` (all
    failed) or ``partial``."""
    if checks == 0:
        return "none"
    if failures == 0:
        return "up"
    return "down" if failures >= checks else "partial"


@dataclass(frozen=True, slots=True)
class Window:
    """One uptime strip: bar ``i`` covers ``spec.bucket_hours`` hours from ``starts[i]``.

    Counts are kept as flat tuples of ints, not an object per bar: a page of 1,000 monitors
    would otherwise allocate some 80,000 objects that live long enough for a full garbage
    collection, a pause of the whole process (the event loop too) of a tenth of a second."""

    spec: WindowSpec
    starts: tuple[datetime, ...]
    """Shared by every monitor's window of this spec."""
    bar_checks: tuple[int, ...]
    bar_failures: tuple[int, ...]

    @property
    def levels(self) -> list[str]:
        return [level(c, f) for c, f in zip(self.bar_checks, self.bar_failures, strict=True)]

    @property
    def checks(self) -> int:
        return sum(self.bar_checks)

    @property
    def uptime(self) -> float | None:
        """The fraction of checks that were up; None when there were none."""
        checks = self.checks
        if checks == 0:
            return None
        return (checks - sum(self.bar_failures)) / checks


@dataclass(frozen=True, slots=True)
class MonitorStatus:
    id: int
    name: str
    """The URL as shown: no user name, password, query or fragment."""
    state: str
    """``up``, ``down`` or ``new`` (not checked yet)."""
    last_checked: datetime | None
    windows: tuple[Window, ...]
    """One per :data:`WINDOWS`, in that order."""
    latency: tuple[float | None, ...]
    """p95 of the total time, in ms, per hour over the 24-hour window (None: no response)."""


@dataclass(frozen=True, slots=True)
class IncidentStatus:
    monitor_id: int
    monitor_name: str
    incident: IncidentRecord


@dataclass(frozen=True, slots=True)
class StatusPage:
    generated_at: datetime
    first_hour: datetime
    """Start of the 24-hour window (its sparkline's first point)."""
    monitors: tuple[MonitorStatus, ...]
    incidents: tuple[IncidentStatus, ...]
    """Open ones first, then those closed in the last :data:`RECENT_DAYS` days, newest first."""


def display_url(url: str) -> str:
    """``url`` without user name, password, query or fragment: what a public page may show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path or '/'}"


def first_hour(now: float, hours: int) -> int:
    """The first hour (epoch hours) of a window of ``hours`` whole hours ending with ``now``'s."""
    return math.floor(now / HOUR) - hours + 1


def uptime(store: Store, monitor_id: int, spec: WindowSpec, now: float) -> float | None:
    """One monitor's uptime over a window, as the page counts it (for badges)."""
    checks, up = store.uptime(monitor_id, first_hour(now, spec.hours) * HOUR)
    return up / checks if checks else None


class StatusPages:
    """Loads pages off the event loop: in a worker thread, on a read-only connection of its
    own (:meth:`Store.reader`), so that a channel of 1,000 monitors never delays a check. The
    token is looked up on the bot's own connection first: a revoked one is refused at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._reader: Store | None = None
        self._lock = threading.Lock()

    async def page(self, token: str, now: float) -> StatusPage | None:
        """The page ``token`` opens; None for an unknown or revoked token."""
        channel = self.store.status_channel(token)
        if channel is None:
            return None
        if self.store.path == ":memory:":  # one connection only: read it here
            return load(self.store, channel, now)
        return await asyncio.to_thread(self._load, channel, now)

    def _load(self, channel: Channel, now: float) -> StatusPage:
        with self._lock:
            if self._reader is None:
                self._reader = self.store.reader()
            assert self._reader is not None
            return load(self._reader, channel, now)

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


def load(store: Store, channel: Channel, now: float) -> StatusPage:
    """Everything the channel's page shows, in a handful of queries whatever its size."""
    monitors = store.monitors_in(channel)
    names = {m.id: display_url(m.url) for m in monitors}
    windows: dict[int, list[Window]] = {m.id: [] for m in monitors}
    for spec in WINDOWS:
        start = first_hour(now, spec.hours)
        bars = {m: ([0] * spec.buckets, [0] * spec.buckets) for m in windows}
        for monitor_id, bucket, checks, failures in store.rollup_buckets(
            channel, start, spec.bucket_hours
        ):
            found = bars.get(monitor_id)
            if found is not None and 0 <= bucket < spec.buckets:
                found[0][bucket] = checks
                found[1][bucket] = failures
        starts = tuple(
            datetime.fromtimestamp((start + b * spec.bucket_hours) * HOUR, UTC)
            for b in range(spec.buckets)
        )
        for monitor_id, (checks_, failures_) in bars.items():
            windows[monitor_id].append(Window(spec, starts, tuple(checks_), tuple(failures_)))
    day = WINDOWS[0]
    start = first_hour(now, day.hours)
    latency: dict[int, list[float | None]] = {m.id: [None] * day.hours for m in monitors}
    for monitor_id, hour, blob in store.latency_hours(channel, start):
        series = latency.get(monitor_id)
        if series is not None and 0 <= hour - start < day.hours:
            series[hour - start] = histogram.percentile(histogram.decode(blob), 0.95)
    incidents = tuple(
        IncidentStatus(monitor_id, names.get(monitor_id, f"#{monitor_id}"), incident)
        for monitor_id, incident in store.channel_incidents(
            channel, now - RECENT_DAYS * 86400, MAX_INCIDENTS
        )
    )
    return StatusPage(
        generated_at=datetime.fromtimestamp(now, UTC),
        first_hour=datetime.fromtimestamp(start * HOUR, UTC),
        monitors=tuple(
            MonitorStatus(
                id=m.id,
                name=names[m.id],
                state=m.state,
                last_checked=m.last_checked,
                windows=tuple(windows[m.id]),
                latency=tuple(latency[m.id]),
            )
            for m in monitors
        ),
        incidents=incidents,
    )
