"""What the core counts about itself, for ``/metrics`` (:mod:`adapters.web.metrics`) to show.

Two kinds of figures, read two ways:

* **Counters and histograms** live in memory and are bumped where the event happens: a check
  recorded (:class:`bot.monitoring.Monitoring`), a check's duration (:class:`bot.core.Bot`), a
  delivery tried (:class:`bot.outbox.Sender`), a run's scheduling lag (:mod:`bot.schedule`).
  A scrape copies them (:meth:`Stats.snapshot`), which is cheap and takes no I/O. They start at
  zero with the process, as Prometheus counters do.
* **Gauges of the database** (each monitor's state and last check, open incidents, the outbox)
  are read by :func:`read_gauges`: three aggregate queries whatever the number of monitors, on
  a read-only connection of its own (:func:`open_reader`), in the metrics worker's process
  while the core writes (WAL lets one writer and readers work at once).

Nothing here imports prometheus_client: the values are plain frozen data, and names, types and
labels are given to them only by the web adapter.
"""

from __future__ import annotations

import bisect
import enum
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from bot.errors import StorageError
from bot.health import Health
from bot.storage import BUSY_TIMEOUT_MS, storage_error
from checks import Cause

CHECK_DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0,
)  # fmt: skip
"""Upper bounds (s) of a monitor check's duration: around the default timeout (4 s) and up to
the longest one a monitor may have (30 s)."""
LAG_BUCKETS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Upper bounds (s) of a scheduled run's lag: bench/scheduler's target is a p99 under 1 s; a
lag of a whole interval (30 s and up) means runs are being dropped."""

PHASES: tuple[str, ...] = ("dns", "connect", "tls", "first_byte", "total")
"""The phases of a check's timing, in order, as :func:`phase_durations` returns them."""


class CheckOutcome(enum.StrEnum):
    """How a monitor's check ended (a small, closed set: a label, unlike the status code)."""

    OK = "ok"
    """Every address answered with an expected status."""
    UNEXPECTED_STATUS = "unexpected_status"
    """An HTTP answer with a status outside the monitor's ``expect`` (a 502, say)."""
    PROBE_ERROR = "probe_error"
    """No usable HTTP answer: DNS, connect, TLS, a timeout reading, a broken response."""
    DEADLINE = "deadline"
    """The whole check did not finish within the monitor's timeout."""

    @classmethod
    def of(cls, *, ok: bool, label: str, unexpected_status: bool) -> CheckOutcome:
        """The outcome of a classified check (:class:`bot.monitoring.Outcome`'s fields)."""
        if ok:
            return cls.OK
        if unexpected_status:
            return cls.UNEXPECTED_STATUS
        return cls.DEADLINE if label == "deadline" else cls.PROBE_ERROR


CHECK_SERIES: tuple[tuple[CheckOutcome, Cause], ...] = (
    (CheckOutcome.OK, Cause.OK),
    *(
        (outcome, cause)
        for outcome in (CheckOutcome.UNEXPECTED_STATUS, CheckOutcome.PROBE_ERROR)
        for cause in Cause
        if cause is not Cause.OK
    ),
    (CheckOutcome.DEADLINE, Cause.TIMEOUT),
)
"""Every (outcome, cause) pair a check can be counted under: a healthy check's cause is
``ok``, a failed one's never is (:attr:`bot.monitoring.Outcome.cause`), and a check past its
deadline is a ``timeout`` (``bot.core._deadline``). Exported as 0 from the
start, so that a rate over the first failure of a kind is not lost."""


class DeliveryResult(enum.StrEnum):
    """What one delivery attempt of the outbox came to."""

    SENT = "sent"
    """The platform accepted it."""
    RETRY = "retry"
    """It failed and will be tried again (backoff, or the platform's Retry-After)."""
    FAILED = "failed"
    """Given up: the platform refused it for good, it failed too often, or it was unreadable."""


class GateState(enum.StrEnum):
    """The health gate (:mod:`bot.health`): may a failing monitor open an incident now?"""

    OFF = "off"
    """No control URL: every failure alerts."""
    UNKNOWN = "unknown"
    """No control check ran in this process yet (one runs only when an incident may open)."""
    OK = "ok"
    """The last control check reached the control target."""
    DEGRADED = "degraded"
    """The bot's own network is broken: alerts of targets that give no answer are held."""


def gate_state(health: Health | None, *, degraded: bool) -> GateState:
    """The gate's state from the control check and the "monitoring degraded" episode."""
    if health is None:
        return GateState.OFF
    last = health.last_problem
    if degraded or (last is not None and last[0] is not None):
        return GateState.DEGRADED
    return GateState.UNKNOWN if last is None else GateState.OK


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """A histogram as Prometheus shows it: cumulative counts per upper bound, ``+Inf`` last."""

    buckets: tuple[tuple[float, int], ...]
    sum: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


class Histogram:
    """Observations counted in fixed buckets (upper bounds, ascending), with their sum."""

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        if list(self.bounds) != sorted(set(self.bounds)):
            raise ValueError("bucket bounds must be ascending and distinct")
        self._counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self._sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self.bounds, value)] += 1
        self._sum += value

    def snapshot(self) -> HistogramSnapshot:
        cumulative: list[tuple[float, int]] = []
        total = 0
        for bound, count in zip((*self.bounds, float("inf")), self._counts, strict=True):
            total += count
            cumulative.append((bound, total))
        return HistogramSnapshot(tuple(cumulative), self._sum)


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """The in-memory figures at one moment (a copy: later events do not change it)."""

    checks: tuple[tuple[CheckOutcome, Cause, int], ...]
    check_duration: HistogramSnapshot
    deliveries: tuple[tuple[str, DeliveryResult, int], ...]


class Stats:
    """The core's counters. Every method runs on the event loop's thread."""

    def __init__(self) -> None:
        self._checks: dict[tuple[CheckOutcome, Cause], int] = dict.fromkeys(CHECK_SERIES, 0)
        self.check_duration = Histogram(CHECK_DURATION_BUCKETS)
        """Seconds each monitor check took (its first check at ``watch`` included)."""
        self._deliveries: dict[tuple[str, DeliveryResult], int] = {}

    def count_check(self, outcome: CheckOutcome, cause: Cause) -> None:
        """A monitor's check was recorded (its result row, state and alerts committed)."""
        self._checks[(outcome, cause)] = self._checks.get((outcome, cause), 0) + 1

    def count_delivery(self, platform: str, result: DeliveryResult) -> None:
        """One delivery attempt of outbox rows through ``platform``'s surface ended."""
        self._deliveries[(platform, result)] = self._deliveries.get((platform, result), 0) + 1

    def snapshot(self, platforms: Iterable[str] = ()) -> StatsSnapshot:
        """A copy of every counter; deliveries of ``platforms`` (the attached surfaces) are
        listed for every result, 0 where none happened yet."""
        deliveries = dict(self._deliveries)
        for platform in platforms:
            for result in DeliveryResult:
                deliveries.setdefault((platform, result), 0)
        return StatsSnapshot(
            checks=tuple((o, c, n) for (o, c), n in self._checks.items()),
            check_duration=self.check_duration.snapshot(),
            deliveries=tuple((p, r, n) for (p, r), n in sorted(deliveries.items())),
        )


# --------------------------------------------------------------------------- database gauges


@dataclass(frozen=True, slots=True)
class MonitorGauge:
    """One monitor as ``/metrics`` shows it."""

    id: int
    platform: str
    up: bool
    """False while an incident is open (the monitor is ``down``), else True."""
    status: int | None
    """The last check's HTTP status; None when it got no answer or never ran."""
    phases: tuple[float, ...]
    """The last check's phase durations in seconds, in :data:`PHASES` order (0 where the
    phase did not happen)."""


@dataclass(frozen=True, slots=True)
class OutboxGauge:
    pending: int
    """Alerts not yet delivered nor given up."""
    oldest_age: float
    """Seconds since the oldest of them was queued (0 when none), leaving out recoveries held
    back on purpose until a mute ends: a growing age means deliveries are failing."""


@dataclass(frozen=True, slots=True)
class StoreGauges:
    monitors: tuple[MonitorGauge, ...]
    incidents_open: dict[Cause, int]
    """Open incidents by their current cause; every cause is present."""
    outbox: dict[str, OutboxGauge]
    """By platform, for the platforms that have pending alerts."""


def phase_durations(
    dns: float | None,
    connect: float | None,
    tls: float | None,
    ttfb: float | None,
    total: float | None,
) -> tuple[float, ...]:
    """Each phase's own duration in seconds from the engine's cumulative milliseconds (curl's
    ``-w`` times): connect is the TCP handshake alone, first_byte the wait after the request
    was sent; total is the whole check. A phase that did not happen is 0."""
    out: list[float] = []
    previous = 0.0
    for mark in (dns, connect, tls, ttfb):
        if mark is None:
            out.append(0.0)
            continue
        out.append(max(0.0, mark - previous) / 1000)
        previous = mark
    out.append(0.0 if total is None else max(0.0, total) / 1000)
    return tuple(out)


_MONITORS_SQL = (
    "SELECT m.id, m.platform, m.state, r.status, r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms,"
    " r.total_ms FROM monitors m LEFT JOIN results r ON r.id = (SELECT id FROM results"
    " WHERE monitor_id = m.id ORDER BY at DESC, id DESC LIMIT 1) ORDER BY m.id"
)
"""Every monitor with its latest raw row: one index seek per monitor (``results_monitor_at``),
about 50 ms at 10,000 monitors."""
_INCIDENTS_SQL = "SELECT cause, COUNT(*) FROM incidents WHERE closed_at IS NULL GROUP BY cause"
_OUTBOX_SQL = (
    "SELECT platform, COUNT(*), MIN(CASE WHEN kind = 'recovered' AND attempts = 0"
    " AND not_before > ? THEN NULL ELSE created_at END) FROM outbox"
    " WHERE sent_at IS NULL AND failed_at IS NULL GROUP BY platform"
)


def open_reader(path: str) -> sqlite3.Connection:
    """A read-only connection to the bot's database (the metrics worker's, in its own process).

    Raises :class:`StorageError` when the file cannot be opened.
    """
    if path == ":memory:":
        raise StorageError(path, "an in-memory database has no second reader", "use a file")
    try:
        conn = sqlite3.connect(
            f"file:{quote(path)}?mode=ro",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise storage_error(exc, path) from exc
    return conn


def read_gauges(conn: sqlite3.Connection, now: float, *, path: str = "") -> StoreGauges:
    """The database's gauges, in one read transaction (a consistent view).

    Raises :class:`StorageError` when the database fails (or :meth:`sqlite3.Connection.
    interrupt` stopped the read).
    """
    own = not conn.in_transaction  # the bot's own connection (":memory:") may be in one
    try:
        if own:
            conn.execute("BEGIN")
        try:
            monitors = tuple(
                MonitorGauge(
                    id=int(mid),
                    platform=str(platform),
                    up=state != "down",
                    status=None if status is None else int(status),
                    phases=phase_durations(dns, connect, tls, ttfb, total),
                )
                for mid, platform, state, status, dns, connect, tls, ttfb, total in conn.execute(
                    _MONITORS_SQL
                )
            )
            incidents = dict.fromkeys(Cause, 0)
            for cause, n in conn.execute(_INCIDENTS_SQL):
                incidents[_cause(cause)] += int(n)
            outbox = {
                str(platform): OutboxGauge(
                    int(n), 0.0 if oldest is None else max(0.0, now - float(oldest))
                )
                for platform, n, oldest in conn.execute(_OUTBOX_SQL, (now,))
            }
        finally:
            if own:
                conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise storage_error(exc, path) from exc
    return StoreGauges(monitors, incidents, outbox)


def _cause(value: str) -> Cause:
    try:
        return Cause(value)
    except ValueError:  # written by a newer check502: counted, not lost
        return Cause.UNKNOWN


@dataclass(frozen=True, slots=True)
class SchedulerSnapshot:
    lag: HistogramSnapshot
    skipped: int
    """Runs skipped because the monitor's previous run had not finished."""
    shed: int
    """Runs dropped because too many waited for a check slot."""


@dataclass(frozen=True, slots=True)
class CoreSnapshot:
    """Everything in memory a scrape shows, copied on the event loop's thread."""

    stats: StatsSnapshot
    scheduler: SchedulerSnapshot
    gate: GateState
    results_dropped: int
    """Checks whose result could not be recorded (the database failed)."""
    in_flight: int
    """Monitor checks running now."""
    platforms: tuple[str, ...] = field(default=())
    """The attached surfaces."""
