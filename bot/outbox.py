"""Delivering the alert outbox through each channel's surface, once, whatever fails.

Rows are claimed with a lease before delivery and marked sent with the platform's message id
after it, so a crash, a restart or a chat outage loses nothing: an unsent row is simply due
again. Each delivery carries the row's idempotency key. Failures are retried with exponential
backoff, or after the platform's own Retry-After when it gave one.

Ordering and grouping, per channel:

* An incident's follow-ups (cause changed, reminder, recovery) wait for its DOWN alert, and go
  into that alert's thread. Its RESOLVED row (an edit of the alert message, nothing posted)
  waits for the DOWN alert too, and its recovery reply waits for that edit; a RESOLVED row
  with no message to edit (the alert was never posted, or went in a GROUPED message standing
  for several incidents) is settled without calling the surface.
* A DOWN alert waits ``coalesce`` seconds for others of the same channel. DOWN alerts due
  within ``group_window`` of the channel's last one are held until the window ends. Whatever
  is pending then goes as one message: a single DOWN, or one GROUPED alert listing all.
  A group is recorded (``group_id``) before it is sent, so a retry resends the same group.

Rows for a notification target (webhook, PagerDuty, email: :mod:`bot.notify`) carry the
target's name in ``target``; they go to that :class:`bot.notify.Notifier` with the same claims,
retries and backoff, each target on its own, an incident's rows in order (an acknowledge or
resolve never overtakes its trigger). A target the environment no longer configures holds its
rows, as a surface that is not running does.

When the database fails (disk full...), a pass stops where it is and is tried again a second
later; the rows stay pending. A delivery the platform accepted but that could not be marked
sent is remembered in memory and marked as soon as the database takes writes again, never sent
twice while this process lives (a crash before then repeats it once after the restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.codec import alert_from_dict
from bot.errors import DeliveryError, StorageError
from bot.model import Alert, AlertKind, Channel, Delivery, MessageRef
from bot.notify import Notice, Notifier
from bot.settings import Settings
from bot.stats import DeliveryResult, Stats
from bot.storage import FaultLog, Store
from bot.surface import Surface

log = logging.getLogger("check502.outbox")

LEASE = 120.0
"""A claim older than this is void: the process that made it died mid-delivery."""
_UNAVAILABLE_WAIT = 30.0
_ALERTING = (AlertKind.DOWN.value, AlertKind.GROUPED.value)
_PENDING_SQL = "sent_at IS NULL AND failed_at IS NULL AND claimed_until IS NULL"
_CHAT = "target IS NULL"
SEND_LIMIT = 60.0
"""A notification target's send ends within this, whatever the target's own timeouts say."""


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1, 2, ...): 2, 4, 8 ... capped at 5 minutes, ±10 %."""
    base = min(300.0, 2.0**attempt)
    return base * random.uniform(0.9, 1.1)


class Sender:
    """Deliver due outbox rows; ``run()`` until cancelled, or ``deliver_due()`` once."""

    def __init__(
        self,
        store: Store,
        surfaces: Mapping[str, Surface],
        settings: Settings,
        *,
        notifiers: Sequence[Notifier] = (),
        clock: Callable[[], float] = time.time,
        stats: Stats | None = None,
    ) -> None:
        self.store = store
        self.stats = stats or Stats()
        """Counts every delivery attempt by platform and result."""
        self.surfaces = surfaces
        self.notifiers = {n.name: n for n in notifiers}
        self.settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        self._warned: set[str] = set()
        self._unmarked: dict[tuple[int, ...], tuple[float, MessageRef]] = {}
        """Rows delivered but not yet marked sent (the database failed): ids -> (at, ref)."""
        self.faults = FaultLog(log, "alert deliveries paused")

    def wake(self) -> None:
        """New rows were queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            due = None
            try:
                await self.deliver_due()
                due = self.store.next_due()
            except StorageError as exc:
                self.faults.fault(exc)
            except Exception:  # the loop must survive anything; the rows stay pending
                log.exception("outbox pass failed")
            else:
                self.faults.ok()
            wait = 1.0 if due is None else min(1.0, max(0.05, due - self.clock()))
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow a cancel that
            # lands as the wait ends, and the sender would then outlive Bot.stop() for good.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def deliver_due(self) -> int:
        """One pass: deliver what is due, channel by channel (channels side by side)."""
        self._mark_delivered()
        rows = self.store.pending(self.clock())
        by_channel: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            if row["target"] is not None:
                by_target[row["target"]].append(row)
            else:
                by_channel[(row["platform"], row["workspace"], row["channel"])].append(row)
        results = await asyncio.gather(
            *(self._channel(Channel(*key), rows) for key, rows in by_channel.items()),
            *(self._target(name, rows) for name, rows in by_target.items()),
        )
        return sum(results)

    async def _target(self, name: str, rows: list[dict[str, Any]]) -> int:
        """A notification target's due rows, oldest first; an incident's rows in order."""
        notifier = self.notifiers.get(name)
        if notifier is None:
            if f"target:{name}" not in self._warned:
                self._warned.add(f"target:{name}")
                log.warning("the %s notification target is not configured; its alerts wait", name)
            self._hold([r["id"] for r in rows], self.clock() + _UNAVAILABLE_WAIT)
            return 0
        sent = 0
        blocked: set[int] = set()
        for row in rows:
            incident = row["incident_id"]
            if incident is not None and (incident in blocked or self._earlier_pending(row)):
                blocked.add(incident)
                continue
            if await self._notify(notifier, row):
                sent += 1
            elif incident is not None:
                blocked.add(incident)
        return sent

    def _earlier_pending(self, row: dict[str, Any]) -> bool:
        found = self.store.execute(
            "SELECT 1 FROM outbox WHERE incident_id = ? AND target = ? AND id < ?"
            " AND sent_at IS NULL AND failed_at IS NULL",
            (row["incident_id"], row["target"], row["id"]),
        ).fetchone()
        return found is not None

    def _status_url(self, channel: Channel) -> str | None:
        base = self.settings.public_url
        if base is None:
            return None
        token = self.store.status_token(channel)
        return None if token is None else f"{base}/status/{token}"

    async def _notify(self, notifier: Notifier, row: dict[str, Any]) -> bool:
        """Deliver one target row; True when the target accepted it."""
        now = self.clock()
        claimed = self.store.execute(
            "UPDATE outbox SET claimed_until = ? WHERE id = ? AND sent_at IS NULL"
            " AND failed_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)",
            (now + LEASE, row["id"], now),
        ).rowcount
        if claimed != 1:
            return False
        channel = Channel(row["platform"], row["workspace"], row["channel"])
        try:
            alert = alert_from_dict(json.loads(row["payload"]))
        except (KeyError, TypeError, ValueError):
            log.exception("outbox row %s is unreadable; dropped", row["id"])
            self._settle([row["id"]], failed="unreadable payload")
            return False
        notice = Notice(row["key"], channel, alert, status_url=self._status_url(channel))
        try:
            async with asyncio.timeout(SEND_LIMIT):
                ref = await notifier.send(notice)
        except DeliveryError as exc:
            self._retry(None, [row], exc)
            return False
        except TimeoutError:
            self._retry(
                None, [row], DeliveryError(f"{notifier.name}: no answer in {SEND_LIMIT:.0f} s")
            )
            return False
        except Exception as exc:  # a target's bug must not lose the alert either
            log.exception("the %s target failed to send %s", notifier.name, row["key"])
            self._retry(None, [row], DeliveryError(f"{type(exc).__name__}"))
            return False
        self._unmarked[(row["id"],)] = (self.clock(), MessageRef(ref[:200]))
        self._mark_delivered()
        return True

    async def _channel(self, channel: Channel, rows: list[dict[str, Any]]) -> int:
        surface = self.surfaces.get(channel.platform)
        now = self.clock()
        if surface is None:
            if channel.platform not in self._warned:
                self._warned.add(channel.platform)
                log.warning("no %s surface is running; its alerts wait", channel.platform)
            self._hold([r["id"] for r in rows], now + _UNAVAILABLE_WAIT)
            return 0
        sent = 0
        downs = [r for r in rows if r["kind"] == AlertKind.DOWN.value]
        for group in self._groups(channel, downs, now):
            sent += await self._send(surface, channel, group)
        for row in rows:
            if row["kind"] == AlertKind.DOWN.value:
                continue
            if row["incident_id"] is not None and self._alert_pending(row):
                continue  # its DOWN alert is not out yet; follow-ups go after it
            sent += await self._send(surface, channel, [row])
        return sent

    def _groups(
        self, channel: Channel, downs: list[dict[str, Any]], now: float
    ) -> list[list[dict[str, Any]]]:
        """DOWN rows ready to go now, as the messages they make."""
        groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in downs:
            if row["group_id"] is not None:
                groups[row["group_id"]].append(row)  # a group formed before: resend it whole
        # Every ungrouped DOWN of the channel, also those held back and not due yet: a group
        # takes all of them, so none is left to go alone later.
        fresh = self.store.rows(
            f"SELECT * FROM outbox WHERE {_PENDING_SQL} AND kind = 'down' AND group_id IS NULL"
            f" AND {_CHAT} AND platform = ? AND workspace = ? AND channel = ? ORDER BY id",
            (channel.platform, channel.workspace, channel.channel),
        )
        if fresh:
            hold_until = max(
                min(r["created_at"] for r in fresh) + self.settings.coalesce,
                self._last_alert(channel) + self.settings.group_window,
            )
            if hold_until > now:
                self._hold([r["id"] for r in fresh], hold_until)
            else:
                group_id = min(r["id"] for r in fresh)
                self.store.execute(
                    f"UPDATE outbox SET group_id = ? WHERE id IN ({','.join('?' * len(fresh))})",
                    (group_id, *(r["id"] for r in fresh)),
                )
                groups[group_id] = fresh
        return [groups[g] for g in sorted(groups)]

    def _last_alert(self, channel: Channel) -> float:
        row = self.store.execute(
            f"SELECT MAX(sent_at) FROM outbox WHERE {_CHAT} AND platform = ? AND workspace = ?"
            f" AND channel = ? AND kind IN ({','.join('?' * len(_ALERTING))})",
            (channel.platform, channel.workspace, channel.channel, *_ALERTING),
        ).fetchone()
        return float("-inf") if row[0] is None else float(row[0])

    def _alert_pending(self, row: dict[str, Any]) -> bool:
        """The incident's DOWN alert is not out yet (or, for its recovery, the resolve edit)."""
        before = ("down", "resolved") if row["kind"] == AlertKind.RECOVERED.value else ("down",)
        found = self.store.execute(
            f"SELECT 1 FROM outbox WHERE incident_id = ? AND kind IN ({','.join('?' * len(before))})"
            f" AND {_CHAT} AND id < ? AND sent_at IS NULL AND failed_at IS NULL",
            (row["incident_id"], *before, row["id"]),
        ).fetchone()
        return found is not None

    def _thread(self, incident_id: int | None) -> tuple[MessageRef | None, Alert | None]:
        """The message of the incident's DOWN alert, and that alert when it was sent alone
        (a GROUPED message stands for several incidents: it is not re-rendered for one)."""
        if incident_id is None:
            return None, None
        row = self.store.row(
            "SELECT message_id, thread_id, payload, group_id FROM outbox WHERE incident_id = ?"
            f" AND kind = 'down' AND {_CHAT} AND sent_at IS NOT NULL AND message_id IS NOT NULL"
            " ORDER BY id LIMIT 1",
            (incident_id,),
        )
        if row is None:
            return None, None
        ref = MessageRef(row["message_id"], row["thread_id"])
        together = self.store.execute(
            "SELECT COUNT(*) FROM outbox WHERE group_id = ?", (row["group_id"],)
        ).fetchone()[0]
        if row["group_id"] is not None and together > 1:
            return ref, None
        try:
            return ref, alert_from_dict(json.loads(row["payload"]))
        except (KeyError, TypeError, ValueError):
            return ref, None

    def _hold(self, ids: list[int], until: float) -> None:
        self.store.execute(
            f"UPDATE outbox SET not_before = ? WHERE id IN ({','.join('?' * len(ids))})",
            (until, *ids),
        )

    def _delivery(self, channel: Channel, rows: list[dict[str, Any]]) -> Delivery:
        alerts = [alert_from_dict(json.loads(r["payload"])) for r in rows]
        first = rows[0]
        key = f"check502:{first['group_id'] or first['id']}"
        if len(alerts) > 1:
            grouped = Alert(
                AlertKind.GROUPED, datetime.fromtimestamp(self.clock(), UTC), grouped=tuple(alerts)
            )
            return Delivery(key, channel, grouped)
        alert = alerts[0]
        thread, original = (None, None)
        if alert.kind is not AlertKind.DOWN:
            thread, original = self._thread(first["incident_id"])
        if alert.kind is AlertKind.RESOLVED or (
            alert.kind is AlertKind.RECOVERED and not self._has_resolve(first["incident_id"])
        ):
            return Delivery(key, channel, alert, thread=thread, resolves=thread, original=original)
        return Delivery(key, channel, alert, thread=thread)

    def _has_resolve(self, incident_id: int | None) -> bool:
        """The incident has its own RESOLVED row; a recovery queued by an older check502 has
        none, and carries the edit itself."""
        found = self.store.execute(
            f"SELECT 1 FROM outbox WHERE incident_id = ? AND kind = ? AND {_CHAT}",
            (incident_id, AlertKind.RESOLVED.value),
        ).fetchone()
        return found is not None

    async def _send(self, surface: Surface, channel: Channel, rows: list[dict[str, Any]]) -> int:
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        now = self.clock()
        claimed = self.store.execute(
            f"UPDATE outbox SET claimed_until = ? WHERE id IN ({marks}) AND sent_at IS NULL"
            " AND failed_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)",
            (now + LEASE, *ids, now),
        ).rowcount
        if claimed != len(ids):
            return 0  # someone else holds part of it; their delivery settles it
        try:
            delivery = self._delivery(channel, rows)
        except (KeyError, TypeError, ValueError):
            log.exception("outbox rows %s are unreadable; dropped", ids)
            self._settle(ids, failed="unreadable payload")
            self.stats.count_delivery(channel.platform, DeliveryResult.FAILED)
            return 0
        if delivery.edit_only and (delivery.resolves is None or delivery.original is None):
            # Nothing this incident alone can be shown on: settled, the surface not called.
            self.store.execute(
                f"UPDATE outbox SET sent_at = ?, claimed_until = NULL WHERE id IN ({marks})",
                (self.clock(), *ids),
            )
            return 0
        try:
            ref = await surface.deliver(delivery)
        except DeliveryError as exc:
            self._retry(channel, rows, exc)
            return 0
        except Exception as exc:  # a surface bug must not lose the alert either
            log.exception("the %s surface failed to deliver %s", surface.name, delivery.key)
            self._retry(channel, rows, DeliveryError(f"{type(exc).__name__}: {exc}"))
            return 0
        self.stats.count_delivery(channel.platform, DeliveryResult.SENT)
        self._unmarked[tuple(ids)] = (self.clock(), ref)
        self._mark_delivered()
        return len(ids)

    def _mark_delivered(self) -> None:
        """Mark sent what the platforms accepted; raises StorageError while the disk says no
        (the rows stay remembered, and claimed, so no pass sends them again)."""
        while self._unmarked:
            ids, (at, ref) = next(iter(self._unmarked.items()))
            self.store.execute(
                "UPDATE outbox SET sent_at = ?, claimed_until = NULL, message_id = ?,"
                f" thread_id = ? WHERE id IN ({','.join('?' * len(ids))})",
                (at, ref.message_id, ref.thread_id, *ids),
            )
            del self._unmarked[ids]

    def _retry(
        self, channel: Channel | None, rows: list[dict[str, Any]], exc: DeliveryError
    ) -> None:
        """Schedule ``rows`` again, or give up on them; ``channel`` None for a notification
        target's row (the delivery counters count the chat surfaces' only)."""
        ids = [r["id"] for r in rows]
        attempts = max(r["attempts"] for r in rows) + 1
        if exc.permanent or attempts >= self.settings.delivery_attempts:
            log.error("giving up on outbox %s after %s attempts: %s", ids, attempts, exc)
            self._settle(ids, failed=str(exc))
            if channel is not None:
                self.stats.count_delivery(channel.platform, DeliveryResult.FAILED)
            return
        if channel is not None:
            self.stats.count_delivery(channel.platform, DeliveryResult.RETRY)
        wait = max(exc.retry_after or 0.0, backoff(attempts) if exc.retry_after is None else 0.0)
        log.warning("delivery of outbox %s failed (%s); retry in %.1f s", ids, exc, wait)
        self.store.execute(
            "UPDATE outbox SET attempts = ?, claimed_until = NULL, not_before = ?, last_error = ?"
            f" WHERE id IN ({','.join('?' * len(ids))})",
            (attempts, self.clock() + wait, str(exc)[:500], *ids),
        )

    def _settle(self, ids: list[int], *, failed: str) -> None:
        self.store.execute(
            "UPDATE outbox SET failed_at = ?, claimed_until = NULL, last_error = ?"
            f" WHERE id IN ({','.join('?' * len(ids))})",
            (self.clock(), failed[:500], *ids),
        )
