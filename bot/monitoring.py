"""What one scheduled check of a monitor does: probe, record, flip state, queue alerts.

A monitor is **down** on a status outside its ``expect`` codes (default 2xx/3xx) or a probe
error, on any of the public URL's addresses. The first failure asks for a quick re-check
(``Settings.recheck_delay``); ``confirm`` consecutive failures open an incident. Every state
change is a conditional ``UPDATE`` (``... WHERE id = ? AND state != 'down'``) and the alert it
causes is inserted into the outbox in the same transaction, so a crash between the two is
impossible and a second writer cannot alert twice.

Before an incident opens with no HTTP answer from the target (refused, timed out, DNS failed),
the bot's own health is checked (:mod:`bot.health`); while the bot's network is broken no such
monitor alerts, each affected channel gets one "monitoring degraded"
notice, and the failing monitors keep being re-checked. A target that answers (a 502 is an
answer) proves the bot's network works and alerts whatever the control target does.

**Mute holds back noise, never the truth.** While a monitor is muted its checks go on and are
recorded, and:

* an incident that opens is not announced (no DOWN); if it is still down when the mute ends,
  its DOWN goes then (the first failing check after the mute);
* follow-ups (cause changed, reminders) and certificate warnings are not sent;
* an incident that was announced (its DOWN queued) and closes gets its alert message edited to
  RESOLVED at once, buttons removed (a ``resolved:<incident>`` outbox row), and its RECOVERED
  reply is queued due when the mute ends (``recovered:<incident>``, ``not_before`` = the mute's
  end): ``mute`` again moves it to the new end, ``unmute`` makes it due at once;
* an incident that was never announced gets neither, ever: nothing in chat to recover from.

**A maintenance window** (``monitors.maintenance_until``) holds alerts exactly as a mute does
(both are "held": :func:`_held`); it differs in what it means and what it reaches: it silences
every target, not only the chat, it cancels the escalation of an incident already announced,
and when it ends (:meth:`Monitoring.windows_ended`, run by the core's periodic sweep) a monitor
still down with its outage unannounced is checked at once, so its DOWN goes then, not at the
next scheduled check.

**Mentions and escalation.** A DOWN alert carries the monitor's ``notify`` mentions; nothing
else does. :meth:`Monitoring.escalate_due` (the same sweep) queues one ``escalation:<incident>``
row for an open, unacknowledged incident ``escalate`` seconds after its DOWN row was queued,
flipping ``incidents.escalation`` from NULL to ``sent`` in the same transaction; an ack, a
recovery or a window makes a pending one void.

An older check502 closed an announced incident silently when it was muted, leaving its alert
reading DOWN with its buttons. :meth:`Monitoring.mend` finds such incidents (closed, announced,
neither a recovery nor a resolve queued) and queues the resolve edit alone: at start-up, for
all monitors, and on ``unmute``, for that one. Its recovery happened long ago; a reply now
would be stale news, so none is posted.

**What a check costs.** A check reads its monitor from memory (:meth:`Store.cached_monitor`,
kept right by triggers on the monitors table, whoever writes it). A healthy check of a monitor
that stays up (no failure counted, not slow, no certificate news) writes nothing at once: its
results row waits in a batch written in one transaction within ``BATCH_SECONDS`` (or at
``BATCH_ROWS`` rows); every other check opens a transaction, which writes the batch first, so
the database sees every write in the order it was made, and an alert is committed before the
outbox can send it. ``history``, status pages and ``/metrics`` read the database: a healthy
result reaches them up to 250 ms late. :meth:`Monitoring.receive` applies a diagnosis made
elsewhere (a shard, a region) as a local check's.

A user's Re-check (:meth:`Monitoring.recheck`) is a check like a scheduled one, recorded the
same way; it waits for a check of the monitor already in flight, so two checks of one monitor
never apply at once in this process, and the conditional ``UPDATE``s keep even a stale
snapshot from applying a change twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.codec import alert_from_dict, alert_to_dict
from bot.commands import Expect
from bot.commands.mentions import mentions_from_text
from bot.errors import StorageError
from bot.health import Health
from bot.model import Alert, AlertKind, Channel, Monitor, RegionView
from bot.notify import Notifier, fan_out
from bot.settings import Settings
from bot.stats import CheckOutcome, Stats
from bot.storage import BATCH_ROWS, BATCH_SECONDS, FaultLog, Store
from checks import Cause, Diagnosis, Finding, Probe

log = logging.getLogger("check502.monitoring")

DiagnoseMonitor = Callable[[Monitor], Awaitable[Diagnosis]]
_DEGRADED = "degraded_since"
_OUTBOX_PENDING = "sent_at IS NULL AND failed_at IS NULL"


_MENDED = "mended_silent_closes"
"""``meta`` key: the start-up mend (:meth:`Monitoring.mend_once`) has run on this file."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A check's result as the monitor sees it."""

    ok: bool
    label: str
    """The status code or error kind that decided it (``"502"``, ``"connect_refused"``)."""
    probe: Probe | None
    """The public probe that decided it: the first failing one, else the first."""
    diagnosis: Diagnosis
    unexpected_status: bool
    """Down because of a status outside ``expect`` rather than a probe error."""
    slow: bool = False
    """Up (expected status, keywords as asked) but over the monitor's ``slow=`` threshold."""
    regions: tuple[RegionView, ...] = ()
    """A regional monitor's check: every region's result (:func:`bot.regions.quorum.decide`);
    copied into each alert built from this outcome."""

    @property
    def cause(self) -> Cause:
        cause = self.diagnosis.verdict.cause
        if not self.ok and cause is Cause.OK:
            return Cause.UNKNOWN  # e.g. a 404 where expect=200: the engine sees nothing wrong
        return cause


_BODY_FINDINGS = (Finding.KEYWORD_MISSING, Finding.KEYWORD_PRESENT)


def classify(diagnosis: Diagnosis, expect: Expect) -> Outcome:
    """Up only when every public address answered with an expected status and, when the
    monitor asks for keywords, a body that meets them (else down, labelled ``keyword_missing``
    or ``keyword_present``). Up but over ``slow=`` on any address is :attr:`Outcome.slow`."""
    public = [p for p in diagnosis.probes if p.target == "public" and not p.protocol_retry]
    failing = [p for p in public if p.status is None or not expect.matches(p.status)]
    if not public:  # the check did not finish within its deadline, or was not sent
        label = diagnosis.findings[0].value if diagnosis.findings else "deadline"
        return Outcome(False, label, None, diagnosis, False)
    if failing:
        deciding = failing[0]
        label = deciding.error.kind.value if deciding.error else str(deciding.status)
        return Outcome(False, label, deciding, diagnosis, deciding.status is not None)
    wrong = [p for p in public if any(f in _BODY_FINDINGS for f in p.findings)]
    if wrong:
        found = next(f for f in wrong[0].findings if f in _BODY_FINDINGS)
        return Outcome(False, found.value, wrong[0], diagnosis, False)
    slow = [p for p in public if Finding.SLOW in p.findings]
    deciding = slow[0] if slow else public[0]
    label = Finding.SLOW.value if slow else str(deciding.status)
    return Outcome(True, label, deciding, diagnosis, False, slow=bool(slow))


@dataclass(frozen=True, slots=True)
class Applied:
    """What the caller must do after a check was recorded."""

    recheck_after: float | None
    alerts: int
    outcome: Outcome
    """The check's result, as recorded."""


class Monitoring:
    """Runs one check of a monitor and applies its outcome (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        diagnose_monitor: DiagnoseMonitor,
        *,
        health: Health | None,
        notifiers: Sequence[Notifier] = (),
        clock: Callable[[], float] = time.time,
        stats: Stats | None = None,
        faults: FaultLog | None = None,
    ) -> None:
        self.store = store
        self.stats = stats or Stats()
        """Counts every check recorded (:meth:`apply`)."""
        self.notifiers = notifiers
        self.settings = settings
        self.diagnose_monitor = diagnose_monitor
        self.health = health
        self.clock = clock
        self._running: dict[int, asyncio.Event] = {}
        """Monitors being checked now, each with an event set when that check is over."""
        self._episode = store.get_meta(_DEGRADED)
        """The current "monitoring degraded" episode (kept in ``meta``; read once, here)."""
        self.faults = faults
        """Where healthy results dropped after failed flushes are counted (``count``)."""
        self._flush_faults = FaultLog(log, "healthy check results not written yet")
        self._dropped = 0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._certs: dict[int, tuple[str, int | None]] = {}
        """Each monitor's stored ``(cert_not_after, cert_warned)`` as last committed here."""
        self._certs_now: dict[int, tuple[str, int | None]] = {}
        """What the transaction in progress stores (moved to ``_certs`` once committed)."""
        store.on_flush = self._flushed

    @property
    def in_flight(self) -> int:
        """Monitors being checked now."""
        return len(self._running)

    async def check(self, monitor_id: int) -> Applied | None:
        """A scheduled check of a monitor; None when it is gone or already being checked."""
        if monitor_id in self._running:
            return None
        return await self._checked(monitor_id)

    async def recheck(self, monitor_id: int) -> Applied | None:
        """A check a user asked for, recorded like a scheduled one; None when the monitor is gone.

        It waits for a check of the monitor already in flight (bounded by that check's own
        deadline), then runs its own: its result is always newer than the request.
        """
        while (running := self._running.get(monitor_id)) is not None:
            await running.wait()
        return await self._checked(monitor_id)

    async def receive(
        self, monitor_id: int, diagnosis: Diagnosis, *, checked_at: float | None = None
    ) -> Applied | None:
        """Apply a diagnosis made elsewhere (a shard, a region) exactly as a local check's:
        the health gate for a failure with no HTTP answer, then :meth:`apply`. None when the
        monitor is gone. It waits for a check of the monitor in flight here, so two results of
        one monitor never apply at once. ``checked_at``: when the check ran (default: now)."""
        while (running := self._running.get(monitor_id)) is not None:
            await running.wait()
        monitor = self.store.cached_monitor(monitor_id)
        if monitor is None:
            return None
        done = self._running[monitor_id] = asyncio.Event()
        try:
            return await self._received(monitor, diagnosis, None, checked_at)
        finally:
            del self._running[monitor_id]
            done.set()

    async def _checked(self, monitor_id: int) -> Applied | None:
        monitor = self.store.cached_monitor(monitor_id)  # read after any other check of it ended
        if monitor is None:
            return None
        done = self._running[monitor_id] = asyncio.Event()
        try:
            return await self._check(monitor)
        finally:
            del self._running[monitor_id]
            done.set()

    def _might_open(self, monitor: Monitor) -> bool:
        return monitor.state != "down" and monitor.fail_streak + 1 >= monitor.confirm

    async def _check(self, monitor: Monitor) -> Applied:
        health = None
        if self._might_open(monitor) and self.health is not None:
            # Started beside the probe, so confirming an outage costs no extra time.
            health = asyncio.ensure_future(self.health.check())
        diagnosis = await self.diagnose_monitor(monitor)
        return await self._received(monitor, diagnosis, health, None)

    async def _received(
        self,
        monitor: Monitor,
        diagnosis: Diagnosis,
        health: asyncio.Future[str | None] | None,
        checked_at: float | None,
    ) -> Applied:
        """The half of a check after its diagnosis: the health gate, then :meth:`apply`."""
        outcome = classify(diagnosis, monitor.expect)
        gated = health is not None or (
            not outcome.ok and self.health is not None and self._might_open(monitor)
        )
        problem = None
        if gated:
            if outcome.ok or _answered(diagnosis):
                # An HTTP answer from the target proves the bot's network works: only a
                # failure with no answer at all is gated on the bot's own health.
                if health is not None:
                    health.cancel()
            elif health is not None:
                problem = await health
            elif self.health is not None:
                problem = await self.health.check()
        if not outcome.ok and problem is None and gated:
            self.restore()
        return self.apply(monitor, outcome, network_problem=problem, at=checked_at)

    # ----------------------------------------------------------------------------- transitions

    def apply(
        self,
        monitor: Monitor,
        outcome: Outcome,
        *,
        network_problem: str | None = None,
        at: float | None = None,
    ) -> Applied:
        """Record ``outcome`` and make the state change and alerts it calls for, atomically.
        ``at``: when the check ran (default: now)."""
        now = self.clock() if at is None else at
        if self._healthy(monitor, outcome):
            self._record_later(monitor, outcome, now)
            return Applied(None, 0, outcome)
        muted = _held(monitor, now)
        alerts = 0
        recheck: float | None = None
        self._certs_now.clear()
        with self.store.transaction():
            self._record(monitor, outcome, now)
            if outcome.ok and outcome.slow:
                done, recheck = self._slow(monitor, outcome, now, muted)
                alerts += done
            elif outcome.ok:
                alerts += self._up(monitor, outcome, now, muted)
            elif monitor.state == "down":
                alerts += self._still_down(monitor, outcome, now, muted)
            else:
                if monitor.state == "slow":
                    alerts += self._end_slow(monitor, now)
                streak, first = self._failed(monitor, outcome, now)
                if streak >= monitor.confirm and network_problem is None:
                    alerts += self._open(monitor, outcome, now, first, muted)
                else:
                    recheck = self.settings.recheck_delay
                    if network_problem is not None and streak >= monitor.confirm:
                        alerts += self._degraded(monitor.channel, network_problem, now)
        self._certs.update(self._certs_now)
        # Counted once committed: a check dropped by a database fault is not a check recorded.
        self.stats.count_check(
            CheckOutcome.of(
                ok=outcome.ok, label=outcome.label, unexpected_status=outcome.unexpected_status
            ),
            outcome.cause,
        )
        if outcome.ok and self._episode is not None:
            alerts += self.restore()
        return Applied(recheck, alerts, outcome)

    # ------------------------------------------------------------------------ batched writes

    def _healthy(self, monitor: Monitor, outcome: Outcome) -> bool:
        """The common case, written in a batch: up and staying up, nothing to announce (no
        slowness, no failure counted, no degraded episode to end, no certificate news)."""
        if not outcome.ok or outcome.slow or self._episode is not None:
            return False
        if monitor.state != "up" or monitor.fail_streak != 0 or self.store.db.conn.in_transaction:
            return False  # (inside a command's transaction: written with it, or not at all)
        cert = self._cert(monitor, outcome)
        if cert is None:
            return True
        stored, fire, _ = cert
        return not fire and self._certs.get(monitor.id) == stored

    def _record_later(self, monitor: Monitor, outcome: Outcome, now: float) -> None:
        p = outcome.probe
        v = outcome.diagnosis.verdict
        t = p.timings if p else None
        pending = self.store.record_later(
            monitor.id,
            now,
            outcome=outcome.label,
            cause=outcome.cause.value,
            status=p.status if p else None,
            http_version=p.http_version if p else None,
            ip=p.ip if p else None,
            generated_by=v.generated_by,
            hop=v.hop.value if v.hop else None,
            dns_ms=t.dns if t else None,
            connect_ms=t.connect if t else None,
            tls_ms=t.tls if t else None,
            ttfb_ms=t.ttfb if t else None,
            total_ms=t.total if t else None,
        )
        self._count_dropped()
        if pending >= BATCH_ROWS:
            self.flush_quietly()
        elif self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # applied outside any event loop: written now
                self.flush_quietly()
                return
            self._flush_timer = loop.call_later(BATCH_SECONDS, self.flush_quietly)

    def flush(self) -> int:
        """Write the pending healthy results now (one transaction); how many. Raises
        :class:`StorageError` when they cannot be written (they stay pending)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        return self.store.flush()

    def flush_quietly(self) -> None:
        """:meth:`flush`, a fault logged (once a run) and retried in a second."""
        try:
            self.flush()
        except StorageError as exc:
            self._flush_faults.fault(exc)
            if self._flush_timer is None:
                with contextlib.suppress(RuntimeError):  # no loop: the next check retries
                    self._flush_timer = asyncio.get_running_loop().call_later(
                        1.0, self.flush_quietly
                    )
            return
        self._flush_faults.ok()

    def _flushed(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Healthy results committed by a flush: counted as every check is, once recorded."""
        for row in rows:
            self.stats.count_check(CheckOutcome.OK, Cause(row[8]))

    def _count_dropped(self) -> None:
        dropped = self.store.batch_dropped - self._dropped
        if dropped:
            self._dropped = self.store.batch_dropped
            if self.faults is not None:
                self.faults.count += dropped

    def _record(self, monitor: Monitor, outcome: Outcome, now: float) -> None:
        p = outcome.probe
        v = outcome.diagnosis.verdict
        t = p.timings if p else None
        self.store.record(
            monitor.id,
            now,
            ok=outcome.ok,
            outcome=outcome.label,
            cause=outcome.cause.value,
            status=p.status if p else None,
            http_version=p.http_version if p else None,
            ip=p.ip if p else None,
            error_kind=p.error.kind.value if p and p.error else None,
            generated_by=v.generated_by,
            hop=v.hop.value if v.hop else None,
            dns_ms=t.dns if t else None,
            connect_ms=t.connect if t else None,
            tls_ms=t.tls if t else None,
            ttfb_ms=t.ttfb if t else None,
            total_ms=t.total if t else None,
            body_excerpt=None if outcome.ok or p is None else p.body_excerpt[:4096],
        )

    def _up(self, monitor: Monitor, outcome: Outcome, now: float, muted: bool) -> int:
        alerts = self._certificate(monitor, outcome, now, muted)
        # One statement per healthy check: only a monitor read as down takes the conditional
        # flip (which still decides, by its row count, who sends the recovery).
        open_kind = monitor.state in ("down", "slow")
        changed = self.store.execute(
            "UPDATE monitors SET state = 'up', fail_streak = 0, first_failure_at = NULL,"
            " incident_id = NULL, slow_streak = 0,"
            " last_checked = ?, last_outcome = ? WHERE id = ?"
            + (" AND state = ?" if open_kind else ""),
            (now, outcome.label, monitor.id, *((monitor.state,) if open_kind else ())),
        ).rowcount
        if not open_kind or not changed:
            return alerts
        incident = self.store.row("SELECT * FROM incidents WHERE id = ?", (monitor.incident_id,))
        if incident is None:
            return alerts
        iid = incident["id"]
        self.store.execute("UPDATE incidents SET closed_at = ? WHERE id = ?", (now, iid))
        if not incident["alerted"]:
            return alerts  # opened while muted and never announced: nothing to end in chat
        since = datetime.fromtimestamp(incident["first_failure_at"], UTC)
        channel = monitor.channel
        # The alert message is marked resolved at once, muted or not: the truth is not noise.
        kind = incident["kind"]
        resolved = self._alert(
            AlertKind.RESOLVED,
            monitor,
            outcome,
            now,
            incident_id=iid,
            down_since=since,
            incident_kind=kind,
        )
        alerts += self._enqueue(channel, resolved, f"resolved:{iid}", now)
        self._cancel_escalation(iid, now, "recovered")
        # The reply waits for the end of the mute or window, read now: a check may outlast an
        # unmute.
        row = self.store.row(
            "SELECT MAX(COALESCE(muted_until, 0), COALESCE(maintenance_until, 0)) AS held"
            " FROM monitors WHERE id = ?",
            (monitor.id,),
        )
        held = row["held"] if row is not None else None
        recovered = self._alert(
            AlertKind.RECOVERED,
            monitor,
            outcome,
            now,
            incident_id=iid,
            down_since=since,
            incident_kind=kind,
        )
        return alerts + self._enqueue(channel, recovered, f"recovered:{iid}", now, not_before=held)

    # ------------------------------------------------------------------------------------ slow

    def _slow(
        self, monitor: Monitor, outcome: Outcome, now: float, muted: bool
    ) -> tuple[int, float | None]:
        """Up but over ``slow=``: count it; ``confirm`` in a row open a SLOW incident. A slow
        check ends a DOWN incident (the endpoint answers again: RECOVERED), and the slowness
        is counted from there. Returns the alerts queued and when to re-check (None: as usual).
        """
        alerts = 0
        state = monitor.state
        if state == "down":
            alerts += self._up(monitor, outcome, now, muted)
            state = "up"
        else:
            alerts += self._certificate(monitor, outcome, now, muted)
        if state == "slow":
            return alerts + self._still_slow(monitor, outcome, now, muted), None
        row = self.store.execute(
            "UPDATE monitors SET state = CASE WHEN state = 'new' THEN 'up' ELSE state END,"
            " fail_streak = 0, first_failure_at = NULL, slow_streak = slow_streak + 1,"
            " last_checked = ?, last_outcome = ? WHERE id = ? RETURNING slow_streak",
            (now, outcome.label, monitor.id),
        ).fetchone()
        if row is None or int(row[0]) < monitor.confirm:
            return alerts, self.settings.recheck_delay
        changed = self.store.execute(
            "UPDATE monitors SET state = 'slow' WHERE id = ? AND state NOT IN ('down', 'slow')",
            (monitor.id,),
        ).rowcount
        if not changed:
            return alerts, None
        incident_id = self.store.execute(
            "INSERT INTO incidents (monitor_id, opened_at, cause, generated_by, first_failure_at,"
            " last_failure_at, last_notified_at, alerted, kind) VALUES (?,?,?,?,?,?,?,?,'slow')",
            (
                monitor.id,
                now,
                outcome.diagnosis.verdict.cause.value,
                outcome.diagnosis.verdict.generated_by,
                now,
                now,
                now,
                int(not muted),
            ),
        ).lastrowid
        self.store.execute(
            "UPDATE monitors SET incident_id = ? WHERE id = ?", (incident_id, monitor.id)
        )
        log.info("monitor %s slow: incident %s", monitor.id, incident_id)
        if muted:
            return alerts, None
        alert = self._alert(
            AlertKind.DOWN,
            monitor,
            outcome,
            now,
            incident_id=incident_id,
            down_since=datetime.fromtimestamp(now, UTC),
            incident_kind="slow",
        )
        return alerts + self._enqueue(monitor.channel, alert, f"down:{incident_id}", now), None

    def _still_slow(self, monitor: Monitor, outcome: Outcome, now: float, muted: bool) -> int:
        """Still slow: recorded; a SLOW held back by a mute goes once the mute is over. No
        reminders: a slow endpoint is a warning, not an outage."""
        self.store.execute(
            "UPDATE monitors SET last_checked = ?, last_outcome = ? WHERE id = ?",
            (now, outcome.label, monitor.id),
        )
        incident = self.store.row("SELECT * FROM incidents WHERE id = ?", (monitor.incident_id,))
        if incident is None:
            return 0
        self.store.execute(
            "UPDATE incidents SET last_failure_at = ? WHERE id = ?", (now, incident["id"])
        )
        if muted or incident["alerted"]:
            return 0
        self.store.execute("UPDATE incidents SET alerted = 1 WHERE id = ?", (incident["id"],))
        alert = self._alert(
            AlertKind.DOWN,
            monitor,
            outcome,
            now,
            incident_id=incident["id"],
            down_since=datetime.fromtimestamp(incident["first_failure_at"], UTC),
            incident_kind="slow",
        )
        return self._enqueue(monitor.channel, alert, f"down:{incident['id']}", now)

    def _end_slow(self, monitor: Monitor, now: float) -> int:
        """A failing check while slow: the SLOW incident closes (its message is marked
        resolved; no RECOVERED, the endpoint is not better) and the failure counts toward a
        DOWN as any other does, which opens as its own incident after ``confirm`` failures."""
        changed = self.store.execute(
            "UPDATE monitors SET state = 'up', incident_id = NULL, slow_streak = 0"
            " WHERE id = ? AND state = 'slow'",
            (monitor.id,),
        ).rowcount
        incident = self.store.row("SELECT * FROM incidents WHERE id = ?", (monitor.incident_id,))
        if not changed or incident is None:
            return 0
        iid = incident["id"]
        self.store.execute("UPDATE incidents SET closed_at = ? WHERE id = ?", (now, iid))
        if not incident["alerted"]:
            return 0
        alert = Alert(
            AlertKind.RESOLVED,
            datetime.fromtimestamp(now, UTC),
            monitor_id=monitor.id,
            url=monitor.url,
            incident_id=iid,
            down_since=datetime.fromtimestamp(incident["first_failure_at"], UTC),
            detail="It is failing now: a DOWN follows if it keeps failing.",
            incident_kind="slow",
        )
        return self._enqueue(monitor.channel, alert, f"resolved:{iid}", now)

    def _failed(self, monitor: Monitor, outcome: Outcome, now: float) -> tuple[int, float]:
        row = self.store.execute(
            "UPDATE monitors SET slow_streak = 0, fail_streak = fail_streak + 1, first_failure_at ="
            " COALESCE(first_failure_at, ?), last_checked = ?, last_outcome = ? WHERE id = ?"
            " RETURNING fail_streak, first_failure_at",
            (now, now, outcome.label, monitor.id),
        ).fetchone()
        return int(row[0]), float(row[1])

    def _open(
        self, monitor: Monitor, outcome: Outcome, now: float, first: float, muted: bool
    ) -> int:
        changed = self.store.execute(
            "UPDATE monitors SET state = 'down' WHERE id = ? AND state != 'down'", (monitor.id,)
        ).rowcount
        if not changed:
            return 0
        incident_id = self.store.execute(
            "INSERT INTO incidents (monitor_id, opened_at, cause, generated_by, first_failure_at,"
            " last_failure_at, last_notified_at, alerted) VALUES (?,?,?,?,?,?,?,?)",
            (
                monitor.id,
                now,
                outcome.cause.value,
                outcome.diagnosis.verdict.generated_by,
                first,
                now,
                now,
                int(not muted),
            ),
        ).lastrowid
        self.store.execute(
            "UPDATE monitors SET incident_id = ? WHERE id = ?", (incident_id, monitor.id)
        )
        log.info("monitor %s down (%s): incident %s", monitor.id, outcome.label, incident_id)
        if muted:
            return 0
        alert = self._alert(
            AlertKind.DOWN,
            monitor,
            outcome,
            now,
            incident_id=incident_id,
            down_since=datetime.fromtimestamp(first, UTC),
        )
        return self._enqueue(monitor.channel, alert, f"down:{incident_id}", now)

    def _still_down(self, monitor: Monitor, outcome: Outcome, now: float, muted: bool) -> int:
        self.store.execute(
            "UPDATE monitors SET last_checked = ?, last_outcome = ? WHERE id = ?",
            (now, outcome.label, monitor.id),
        )
        incident = self.store.row("SELECT * FROM incidents WHERE id = ?", (monitor.incident_id,))
        if incident is None:
            return 0
        iid = incident["id"]
        self.store.execute("UPDATE incidents SET last_failure_at = ? WHERE id = ?", (now, iid))
        since = datetime.fromtimestamp(incident["first_failure_at"], UTC)
        if muted:
            return 0
        if not incident["alerted"]:  # it opened while muted, and the mute is over
            self.store.execute("UPDATE incidents SET alerted = 1 WHERE id = ?", (iid,))
            alert = self._alert(
                AlertKind.DOWN, monitor, outcome, now, incident_id=iid, down_since=since
            )
            return self._enqueue(monitor.channel, alert, f"down:{iid}", now)
        quiet = incident["acked_at"] is not None
        previous = Cause(incident["cause"])
        calm = now - incident["last_notified_at"] < self.settings.followup_interval
        if outcome.cause is not previous and not calm:
            self.store.execute(
                "UPDATE incidents SET cause = ?, generated_by = ?, last_notified_at = ?"
                " WHERE id = ?",
                (outcome.cause.value, outcome.diagnosis.verdict.generated_by, now, iid),
            )
            if quiet:
                return 0
            alert = self._alert(
                AlertKind.CAUSE_CHANGED,
                monitor,
                outcome,
                now,
                incident_id=iid,
                down_since=since,
                previous_cause=previous,
            )
            return self._enqueue(monitor.channel, alert, f"cause:{iid}:{now:.6f}", now)
        interval = self.settings.reminder_interval
        if quiet or interval is None or now - incident["last_notified_at"] < interval:
            return 0
        self.store.execute("UPDATE incidents SET last_notified_at = ? WHERE id = ?", (now, iid))
        alert = self._alert(
            AlertKind.REMINDER, monitor, outcome, now, incident_id=iid, down_since=since
        )
        return self._enqueue(monitor.channel, alert, f"reminder:{iid}:{now:.6f}", now)

    def _cert(
        self, monitor: Monitor, outcome: Outcome, known: tuple[str, int | None] | None = None
    ) -> tuple[tuple[str, int | None], bool, int] | None:
        """What the check's certificate makes of the stored ``(not_after, warned)`` (``known``,
        else as last committed here): the pair to store and whether a warning fires now; None
        when no public probe saw a certificate's expiry."""
        tls = [
            p.tls
            for p in outcome.diagnosis.probes
            if p.target == "public" and p.tls is not None and p.tls.days_left is not None
        ]
        if not tls:
            return None
        soonest = min(tls, key=lambda t: t.days_left or 0)
        days = soonest.days_left
        assert days is not None
        not_after = soonest.not_after.isoformat() if soonest.not_after else ""
        if known is None:
            known = self._certs.get(monitor.id)
        warned = known[1] if known is not None and known[0] == not_after else None
        crossed = [t for t in self.settings.cert_warn_days if days <= t]
        threshold = min(crossed) if crossed else None
        fire = threshold is not None and (warned is None or threshold < warned)
        return (not_after, threshold if fire else warned), fire, days

    def _certificate(self, monitor: Monitor, outcome: Outcome, now: float, muted: bool) -> int:
        """Warn once per threshold (14, 7, 1 days) before a certificate expires."""
        if not any(p.tls is not None for p in outcome.diagnosis.probes):
            return 0
        row = self.store.row(
            "SELECT cert_not_after, cert_warned FROM monitors WHERE id = ?", (monitor.id,)
        )
        known = None if row is None else (row["cert_not_after"], row["cert_warned"])
        cert = self._cert(monitor, outcome, known or ("", None))
        if cert is None:
            return 0
        stored, fire, days = cert
        if row is None or known != stored:
            self.store.execute(
                "UPDATE monitors SET cert_not_after = ?, cert_warned = ? WHERE id = ?",
                (*stored, monitor.id),
            )
        if row is not None:
            self._certs_now[monitor.id] = stored
        if not fire or muted:
            return 0
        not_after, threshold = stored
        alert = self._alert(AlertKind.CERT_EXPIRING, monitor, outcome, now, days_left=days)
        return self._enqueue(
            monitor.channel, alert, f"cert:{monitor.id}:{not_after}:{threshold}", now
        )

    # ------------------------------------------------------------------------------------ mute

    def set_maintenance(self, monitor_ids: list[int], until: float | None) -> list[int]:
        """Open (``until``) or end (None) the monitors' maintenance window; the monitors to
        check now, whose outage is still unannounced as the window ends.

        A window that begins after an incident's DOWN alert cancels that incident's escalation:
        the team is on it. Held recoveries move with the window, as they do with a mute.
        """
        now = self.clock()
        with self.store.transaction():
            for mid in monitor_ids:
                self.store.execute(
                    "UPDATE monitors SET maintenance_until = ? WHERE id = ?", (until, mid)
                )
                if until is not None:
                    for (iid,) in self.store.execute(
                        "UPDATE incidents SET escalation = 'cancelled' WHERE monitor_id = ?"
                        " AND closed_at IS NULL AND alerted = 1 AND escalation IS NULL"
                        " RETURNING id",
                        (mid,),
                    ).fetchall():
                        self._cancel_escalation(iid, now, "maintenance")
                self._retime_recovery(mid, now)
            return [] if until is not None else self._unannounced(monitor_ids)

    def windows_ended(self) -> list[int]:
        """End the windows that are over (once each: a conditional UPDATE); the monitors to
        check now, as :meth:`set_maintenance` with None returns them."""
        now = self.clock()
        ended: list[int] = []
        with self.store.transaction():
            for mid, until in self.store.execute(
                "SELECT id, maintenance_until FROM monitors WHERE maintenance_until <= ?", (now,)
            ).fetchall():
                changed = self.store.execute(
                    "UPDATE monitors SET maintenance_until = NULL WHERE id = ?"
                    " AND maintenance_until = ?",
                    (mid, until),
                ).rowcount
                if changed:
                    ended.append(int(mid))
            return self._unannounced(ended)

    def _unannounced(self, monitor_ids: list[int]) -> list[int]:
        """Those of the monitors that are down with an incident never announced."""
        return [
            mid
            for mid in monitor_ids
            if self.store.execute(
                "SELECT 1 FROM monitors m JOIN incidents i ON i.id = m.incident_id"
                " WHERE m.id = ? AND m.state = 'down' AND i.closed_at IS NULL AND i.alerted = 0",
                (mid,),
            ).fetchone()
        ]

    def _retime_recovery(self, monitor_id: int, now: float) -> int:
        """A held recovery reply is due when the monitor's mute and window have both ended."""
        # Rows a delivery was tried for keep their backoff or Retry-After.
        return self.store.execute(
            "UPDATE outbox SET not_before = (SELECT MAX(?, COALESCE(muted_until, 0),"
            " COALESCE(maintenance_until, 0)) FROM monitors WHERE id = ?)"
            " WHERE monitor_id = ? AND kind = ?"
            f" AND {_OUTBOX_PENDING} AND attempts = 0 AND claimed_until IS NULL",
            (now, monitor_id, monitor_id, AlertKind.RECOVERED.value),
        ).rowcount

    # ------------------------------------------------------------------------------ escalation

    def escalate_due(self) -> int:
        """Queue the escalation of every open, unacknowledged incident whose DOWN alert went
        ``escalate`` seconds ago or more (once per incident: a conditional UPDATE); outside a
        mute or window, which hold it. Returns how many were queued."""
        now = self.clock()
        queued = 0
        with self.store.transaction():
            due = self.store.rows(
                "SELECT i.id AS incident_id, i.first_failure_at, o.payload, m.* FROM incidents i"
                " JOIN monitors m ON m.id = i.monitor_id JOIN outbox o ON o.key = 'down:' || i.id"
                " WHERE i.closed_at IS NULL AND i.acked_at IS NULL AND i.escalation IS NULL"
                " AND m.escalate IS NOT NULL AND o.failed_at IS NULL"
                " AND o.created_at + m.escalate <= ?1"
                " AND COALESCE(m.muted_until, 0) <= ?1 AND COALESCE(m.maintenance_until, 0) <= ?1",
                (now,),
            )
            for row in due:
                iid = row["incident_id"]
                changed = self.store.execute(
                    "UPDATE incidents SET escalation = 'sent' WHERE id = ? AND escalation IS NULL"
                    " AND acked_at IS NULL AND closed_at IS NULL",
                    (iid,),
                ).rowcount
                if not changed:
                    continue
                down = alert_from_dict(json.loads(row["payload"]))
                alert = Alert(
                    AlertKind.ESCALATION,
                    datetime.fromtimestamp(now, UTC),
                    monitor_id=row["id"],
                    url=row["url"],
                    incident_id=iid,
                    diagnosis=down.diagnosis,
                    down_since=datetime.fromtimestamp(row["first_failure_at"], UTC),
                    mentions=mentions_from_text(row["notify"]),
                    escalate=row["escalate"],
                    incident_kind=down.incident_kind,
                )
                channel = Channel(row["platform"], row["workspace"], row["channel"])
                queued += self._enqueue(channel, alert, f"escalation:{iid}", now)
                log.info("incident %s not acknowledged: escalated", iid)
        return queued

    def cancel_escalation(self, incident_id: int, why: str) -> None:
        """An escalation queued but not yet on its way is dropped (acknowledged, recovered)."""
        self._cancel_escalation(incident_id, self.clock(), why)

    def _cancel_escalation(self, incident_id: int, now: float, why: str) -> None:
        self.store.execute(
            "UPDATE outbox SET failed_at = ?, last_error = ? WHERE incident_id = ? AND kind = ?"
            f" AND {_OUTBOX_PENDING} AND claimed_until IS NULL",
            (now, f"cancelled: {why}", incident_id, AlertKind.ESCALATION.value),
        )

    def set_muted(self, monitor: Monitor, until: float | None) -> int:
        """Mute ``monitor`` until ``until`` (None: unmute); the outbox rows this made due.

        A recovery reply held for the monitor becomes due when this mute ends (at once on
        unmute); unmuting also mends incidents an older check502 closed silently.
        """
        now = self.clock()
        with self.store.transaction():
            self.store.set_muted(monitor.id, until)
            retimed = self._retime_recovery(monitor.id, now)
            mended = self.mend(monitor.id) if until is None else 0
        return retimed + mended

    def mend_once(self) -> int:
        """:meth:`mend` of every monitor, the first time this version opens the database (a
        note in ``meta`` says it ran): the sweep reads every closed incident, so later starts
        skip it (``bench/mend_startup``). Running it twice mends nothing twice."""
        if self.store.get_meta(_MENDED) is not None:
            return 0
        mended = self.mend()
        self.store.set_meta(_MENDED, "1")
        return mended

    def mend(self, monitor_id: int | None = None) -> int:
        """Queue the resolve edit of every announced incident that closed with neither a
        recovery nor a resolve queued (how an older check502 ended a muted incident); how many."""
        only = "" if monitor_id is None else " AND i.monitor_id = ?"
        mended = 0
        with self.store.transaction():
            stale = self.store.rows(
                "SELECT i.id, i.monitor_id, i.closed_at, i.first_failure_at, m.url, m.platform,"
                " m.workspace, m.channel FROM incidents i JOIN monitors m ON m.id = i.monitor_id"
                " WHERE i.closed_at IS NOT NULL AND i.alerted = 1" + only + " AND EXISTS (SELECT 1"
                " FROM outbox o WHERE o.incident_id = i.id AND o.kind = 'down' AND o.failed_at IS"
                " NULL) AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.incident_id = i.id AND"
                " o.kind IN ('recovered', 'resolved'))",
                () if monitor_id is None else (monitor_id,),
            )
            for row in stale:
                alert = Alert(
                    AlertKind.RESOLVED,
                    datetime.fromtimestamp(row["closed_at"], UTC),
                    monitor_id=row["monitor_id"],
                    url=row["url"],
                    incident_id=row["id"],
                    down_since=datetime.fromtimestamp(row["first_failure_at"], UTC),
                )
                channel = Channel(row["platform"], row["workspace"], row["channel"])
                mended += self._enqueue(channel, alert, f"resolved:{row['id']}", self.clock())
        if mended:
            log.info("%s closed incidents' alerts still read DOWN: marking them resolved", mended)
        return mended

    # -------------------------------------------------------------------- the bot's own health

    @property
    def degraded(self) -> bool:
        """A "monitoring degraded" episode is on: the bot's own network was found broken, and
        alerts of monitors that get no answer are held until it works again."""
        return self._episode is not None

    def _degraded(self, channel: Channel, problem: str, now: float) -> int:
        episode = self._episode
        if episode is None:
            episode = self._episode = f"{now:.6f}"
            self.store.set_meta(_DEGRADED, episode)
            log.warning("monitoring degraded: %s", problem)
        alert = Alert(AlertKind.DEGRADED, datetime.fromtimestamp(now, UTC), detail=problem)
        return self._enqueue(channel, alert, f"degraded:{episode}:{_channel_key(channel)}", now)

    def restore(self) -> int:
        """The bot's network works again: tell each channel that was told it was degraded."""
        episode = self._episode
        if episode is None:
            return 0
        now = self.clock()
        alerts = 0
        with self.store.transaction():
            self.store.set_meta(_DEGRADED, None)
            told = self.store.rows(
                "SELECT DISTINCT platform, workspace, channel FROM outbox WHERE key LIKE ?",
                (f"degraded:{episode}:%",),
            )
            for row in told:
                channel = Channel(row["platform"], row["workspace"], row["channel"])
                alert = Alert(AlertKind.RESTORED, datetime.fromtimestamp(now, UTC))
                key = f"restored:{episode}:{_channel_key(channel)}"
                alerts += self._enqueue(channel, alert, key, now)
        self._episode = None  # only once that is committed: a failed write keeps the episode
        log.warning("monitoring restored")
        return alerts

    # ---------------------------------------------------------------------------------- helpers

    def _alert(
        self, kind: AlertKind, monitor: Monitor, outcome: Outcome, now: float, **extra: Any
    ) -> Alert:
        if kind is AlertKind.DOWN:
            extra["mentions"] = monitor.notify
        return Alert(
            kind=kind,
            at=datetime.fromtimestamp(now, UTC),
            monitor_id=monitor.id,
            url=monitor.url,
            diagnosis=outcome.diagnosis,
            expected=str(monitor.expect)
            if outcome.unexpected_status and _custom(monitor)
            else None,
            regions=outcome.regions,
            **extra,
        )

    def _enqueue(
        self,
        channel: Channel,
        alert: Alert,
        key: str,
        now: float,
        *,
        not_before: float | None = None,
    ) -> int:
        inserted = self.store.enqueue(
            channel, alert, key=key, now=now, payload=alert_to_dict(alert)
        )
        if inserted and not_before is not None and not_before > now:
            self.store.execute("UPDATE outbox SET not_before = ? WHERE key = ?", (not_before, key))
        if inserted:
            # The same event for the notification targets, in the same transaction.
            fan_out(
                self.store, self.notifiers, channel, alert, key=key, now=now, not_before=not_before
            )
        return int(inserted)


def _held(monitor: Monitor, now: float) -> bool:
    """Muted, or in a maintenance window: no alert of the monitor leaves now."""
    return any(
        until is not None and until.timestamp() > now
        for until in (monitor.muted_until, monitor.maintenance_until)
    )


def _answered(diagnosis: Diagnosis) -> bool:
    """Some address of the target gave an HTTP answer (any status): the bot's path works."""
    return any(p.status is not None for p in diagnosis.probes if p.target == "public")


def _custom(monitor: Monitor) -> bool:
    """The monitor names its own ``expect`` codes (worth saying in an alert)."""
    return monitor.expect != Expect.default()


def _channel_key(channel: Channel) -> str:
    return f"{channel.platform}:{channel.workspace}:{channel.channel}"
