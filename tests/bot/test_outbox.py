"""The outbox sender and the conditional flip, each property measured rather than assumed.

Backoff and Retry-After are read off the row the sender writes (``not_before``), with the
sender's injected clock, so the figures are exact. The claim lease and the "second writer"
run against one database file through two connections, as two processes would.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.codec import alert_to_dict
from bot.commands import Expect, Watch
from bot.errors import DeliveryError
from bot.model import Alert, AlertKind, Channel, Delivery, MessageRef
from bot.monitoring import Monitoring, classify
from bot.outbox import LEASE, Sender
from bot.settings import Settings
from bot.storage import Store
from checks import Diagnosis
from tests.support.replies import diagnosis

T0 = 1_800_000_000.0


class Clock:
    """A clock the test moves by hand (the sender's ``clock`` seam)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Refusing:
    """A surface that refuses every delivery the same way."""

    name = "console"

    def __init__(self, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        self.keys: list[str] = []

    async def deliver(self, delivery: Delivery) -> MessageRef:
        self.keys.append(delivery.key)
        raise DeliveryError("unavailable", retry_after=self.retry_after)


class Recording:
    """A surface that accepts after a short await (so concurrent senders interleave)."""

    name = "console"

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.keys: list[str] = []
        self.lock = threading.Lock()

    async def deliver(self, delivery: Delivery) -> MessageRef:
        await asyncio.sleep(self.delay)
        with self.lock:
            self.keys.append(delivery.key)
            return MessageRef(f"m{len(self.keys)}")


class Hanging:
    """A surface that never answers: its sender dies holding the claim."""

    name = "console"

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def deliver(self, delivery: Delivery) -> MessageRef:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "db_path": str(tmp_path / "bot.db"),
        "coalesce": 0.0,
        "group_window": 0.0,
        "delivery_attempts": 50,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def queue(store: Store, n: int, *, channels: int = 1, now: float = T0) -> None:
    """``n`` certificate warnings (alerts that go alone, never grouped) over ``channels``."""
    with store.transaction():
        for i in range(n):
            channel = Channel("console", "local", f"c{i % channels}")
            alert = Alert(AlertKind.CERT_EXPIRING, datetime.fromtimestamp(now, UTC), days_left=i)
            store.enqueue(channel, alert, key=f"cert:{i}", now=now, payload=alert_to_dict(alert))


def wait_of(store: Store, clock: Clock) -> float:
    row = store.row("SELECT not_before FROM outbox")
    assert row is not None
    return float(row["not_before"]) - clock.now


# ------------------------------------------------------------------------------ backoff


async def test_backoff_doubles_from_two_seconds_within_ten_percent(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    clock = Clock()
    surface = Refusing()
    sender = Sender(store, {"console": surface}, settings(tmp_path), clock=clock)
    queue(store, 1)
    waits = []
    for attempt in range(1, 11):
        assert await sender.deliver_due() == 0
        assert len(surface.keys) == attempt  # due again only when the wait is over
        waits.append(wait_of(store, clock))
        clock.now += waits[-1] - 0.01
        assert await sender.deliver_due() == 0
        assert len(surface.keys) == attempt  # not a moment early
        clock.now += 0.02
    for attempt, wait in enumerate(waits, start=1):
        base = min(300.0, 2.0**attempt)
        assert base * 0.9 <= wait <= base * 1.1, (attempt, wait)
    row = store.row("SELECT attempts, last_error FROM outbox")
    assert row == {"attempts": 10, "last_error": "unavailable"}
    assert set(surface.keys) == {surface.keys[0]}  # every retry carries the same key
    store.close()


async def test_delivery_gives_up_after_the_configured_attempts(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    clock = Clock()
    surface = Refusing()
    sender = Sender(
        store, {"console": surface}, settings(tmp_path, delivery_attempts=3), clock=clock
    )
    queue(store, 1)
    for _ in range(5):
        await sender.deliver_due()
        clock.now += 400
    assert len(surface.keys) == 3
    row = store.row("SELECT failed_at, sent_at FROM outbox")
    assert row is not None and row["failed_at"] is not None and row["sent_at"] is None
    store.close()


@pytest.mark.parametrize("retry_after", [0.5, 30.0])
async def test_retry_after_replaces_the_backoff(tmp_path: Path, retry_after: float) -> None:
    """Backoff at attempt 1 is 1.8-2.2 s; the platform's 0.5 s or 30 s is what is waited."""
    store = Store.open(tmp_path / "bot.db")
    clock = Clock()
    sender = Sender(store, {"console": Refusing(retry_after)}, settings(tmp_path), clock=clock)
    queue(store, 1)
    await sender.deliver_due()
    assert wait_of(store, clock) == pytest.approx(retry_after, abs=1e-6)
    store.close()


async def test_retry_after_is_observed_in_real_time(tmp_path: Path) -> None:
    """``run()`` with the real clock: a 0.3 s Retry-After is retried after 0.3 s, well before
    the 1.8 s the backoff would have waited."""

    class LimitedOnce:
        name = "console"

        def __init__(self) -> None:
            self.at: list[float] = []

        async def deliver(self, delivery: Delivery) -> MessageRef:
            self.at.append(asyncio.get_running_loop().time())
            if len(self.at) == 1:
                raise DeliveryError("rate limited", retry_after=0.3)
            return MessageRef("m1")

    store = Store.open(tmp_path / "bot.db")
    surface = LimitedOnce()
    sender = Sender(store, {"console": surface}, settings(tmp_path))
    queue(store, 1, now=0.0)
    task = asyncio.create_task(sender.run())
    try:
        for _ in range(100):
            if len(surface.at) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(surface.at) == 2
    gap = surface.at[1] - surface.at[0]
    assert 0.3 <= gap < 1.7, gap  # the backoff would have waited at least 1.8 s
    store.close()


# --------------------------------------------------------------------------- the lease


async def test_two_senders_on_one_database_deliver_each_row_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    first, second = Store.open(path), Store.open(path)  # two connections, as two processes
    queue(first, 30, channels=3)
    surface = Recording()
    clock = Clock()
    senders = [
        Sender(store, {"console": surface}, settings(tmp_path), clock=clock)
        for store in (first, second)
    ]
    for _ in range(40):
        sent = await asyncio.gather(*(s.deliver_due() for s in senders))
        if not first.pending(clock.now) and sum(sent) == 0:
            break
    assert sorted(surface.keys) == sorted({*surface.keys})  # nothing twice
    assert len(surface.keys) == 30  # nothing lost
    assert first.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0] == 0
    first.close()
    second.close()


async def test_a_dead_senders_claim_passes_to_another_once_the_lease_ends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    dying, living = Store.open(path), Store.open(path)
    queue(dying, 1)
    clock = Clock()
    hanging = Hanging()
    doomed = asyncio.create_task(
        Sender(dying, {"console": hanging}, settings(tmp_path), clock=clock).deliver_due()
    )
    await asyncio.wait_for(hanging.started.wait(), 5)
    doomed.cancel()  # the process dies mid-delivery: its claim stays in the file
    await asyncio.gather(doomed, return_exceptions=True)
    dying.close()

    surface = Recording(delay=0)
    sender = Sender(living, {"console": surface}, settings(tmp_path), clock=clock)
    clock.now = T0 + LEASE - 1
    assert await sender.deliver_due() == 0
    assert surface.keys == []  # still leased to the dead sender
    clock.now = T0 + LEASE + 1
    assert await sender.deliver_due() == 1
    clock.now += LEASE * 2
    assert await sender.deliver_due() == 0
    assert surface.keys == ["check502:1"]
    living.close()


# ----------------------------------------------------------------- the conditional flip


def test_two_writers_applying_one_failure_alert_once(tmp_path: Path) -> None:
    """Two ``Monitoring``s (two connections) read the monitor as up, then both apply the
    confirming failure at the same moment: one incident, one DOWN row."""
    path = tmp_path / "bot.db"
    setup = Store.open(path)
    channel = Channel("console", "local", "c")
    mid = setup.add_monitor(
        channel, Watch("https://shop.example.com/", every=30, confirm=1), created_by="u", now=T0
    ).id
    setup.close()
    failing = classify(diagnosis(), Expect.default())
    assert not failing.ok
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    async def never(_: object) -> Diagnosis:
        raise AssertionError("apply only")

    def writer() -> None:
        store = Store.open(path)
        try:
            monitoring = Monitoring(store, settings(tmp_path), never, health=None)
            monitor = store.monitor(mid)
            assert monitor is not None and monitor.state != "down"
            barrier.wait()
            monitoring.apply(monitor, failing)
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    store = Store.open(path)
    assert store.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'down'").fetchone()[0] == 1
    assert store.execute("SELECT COUNT(*) FROM incidents").fetchone()[0] == 1
    assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 2  # both recorded
    store.close()
