"""Notification targets beyond the chat: which alerts each gets, as outbox rows of its own.

A target (a signed webhook, PagerDuty, email: :mod:`adapters.notify`) is configured from the
environment; the core knows it only as a :class:`Notifier`: a name, the alert kinds it takes,
and ``send``. When an alert is queued for a monitor's chat, the same transaction queues one
more outbox row per target that takes that kind and that the monitor alerts (its ``targets``:
every configured target by default, the ones it names, or none). The row's ``target`` column
names the target; its key is ``<target>:<the chat row's key>``, unique and stable, which the
target turns into the receiver's de-duplication key (webhook-id, Message-ID) so a retry is
recognisable. :class:`bot.outbox.Sender` delivers those rows with the chat's retries and
backoff.

An incident's rows for one target go in order (an acknowledge or resolve never overtakes its
trigger). Acknowledging in chat queues an ``acknowledged`` row (no chat message) for targets
that take it (PagerDuty's acknowledge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.codec import alert_to_dict
from bot.model import Alert, Channel
from bot.storage import Store

__all__ = ["Notice", "Notifier", "fan_out", "target_key"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One alert for one target to send."""

    key: str
    """The outbox key (``<target>:<event>``): the same on every retry, never reused."""
    channel: Channel
    """The chat the monitor belongs to."""
    alert: Alert
    escalates: bool = False
    """The monitor has an escalation time (``escalate=``): the pager triggers on escalation."""
    status_url: str | None = None
    """The channel's public status page, when it has one and the bot has a public URL."""


class Notifier(Protocol):
    """A notification target: renders a core alert into its document and sends it."""

    @property
    def name(self) -> str:
        """One of :data:`bot.commands.TARGET_NAMES`."""

    def wants(self, kind: str, *, escalates: bool) -> bool:
        """Whether an alert of ``kind`` (an :class:`bot.model.AlertKind` value, or the
        ``escalation`` the core queues for a monitor with ``escalate=``) goes to this target."""

    async def send(self, notice: Notice) -> str:
        """Deliver ``notice``; the receiver's reference for it (an id, a dedup key).

        Raises :class:`bot.errors.DeliveryError` (``permanent`` when retrying cannot help,
        ``retry_after`` when the receiver said when). Bounded in time.
        """


def target_key(target: str, key: str) -> str:
    """The outbox key of ``target``'s row for the chat row keyed ``key``."""
    return f"{target}:{key}"


def fan_out(
    store: Store,
    notifiers: Sequence[Notifier],
    channel: Channel,
    alert: Alert,
    *,
    key: str,
    now: float,
    not_before: float | None = None,
    escalates: bool = False,
) -> int:
    """Queue ``alert`` for every target that takes it and that its monitor alerts; how many
    rows were inserted. Call inside the transaction that queued (or stood for) the chat row.

    A monitor with an escalation time (``escalate=``) escalates to the pager: a target that
    triggers on escalation (PagerDuty) takes the ``escalation`` row, not the DOWN one."""
    if not notifiers or alert.monitor_id is None:
        return 0
    row = store.row("SELECT targets, escalate FROM monitors WHERE id = ?", (alert.monitor_id,))
    if row is None:
        return 0
    escalates = escalates or row["escalate"] is not None
    chosen = None if row["targets"] is None else set(row["targets"].split(","))
    payload = alert_to_dict(alert)
    inserted = 0
    for notifier in notifiers:
        if chosen is not None and notifier.name not in chosen:
            continue
        if not notifier.wants(alert.kind.value, escalates=escalates):
            continue
        row_key = target_key(notifier.name, key)
        if store.enqueue(
            channel, alert, key=row_key, now=now, payload=payload, target=notifier.name
        ):
            inserted += 1
            if not_before is not None and not_before > now:
                store.execute(
                    "UPDATE outbox SET not_before = ? WHERE key = ?", (not_before, row_key)
                )
    return inserted
