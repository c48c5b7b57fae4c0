"""The SQLite store on a real file: schema versioning, WAL, pruning, the outbox's guarantees."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import Expect, Watch
from bot.errors import StorageError
from bot.model import Alert, AlertKind, Channel, Monitor
from bot.storage import SCHEMA_VERSION, Store

CHANNEL = Channel("console", "w1", "ops")
DAY = 86400.0
NOW = 1_750_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "bot.db")
    try:
        yield opened
    finally:
        opened.close()


def _monitor(store: Store, url: str = "https://shop.example.com/") -> Monitor:
    watch = Watch(url, every=60, confirm=2, expect=Expect.default(), timeout=4.0)
    return store.add_monitor(CHANNEL, watch, created_by="ann", now=NOW - 40 * DAY)


def _result(store: Store, monitor_id: int, at: float, ok: bool = True) -> None:
    store.record(
        monitor_id,
        at,
        ok=ok,
        outcome="200" if ok else "502",
        cause="ok",
        status=200 if ok else 502,
        total_ms=12.5,
    )


def _incident(store: Store, monitor_id: int, opened: float, closed: float | None) -> int:
    cursor = store.execute(
        "INSERT INTO incidents (monitor_id, opened_at, closed_at, cause, first_failure_at,"
        " last_failure_at, last_notified_at) VALUES (?,?,?,?,?,?,?)",
        (monitor_id, opened, closed, "origin_down", opened, opened, opened),
    )
    return int(cursor.lastrowid or 0)


def _alert(monitor_id: int, kind: AlertKind = AlertKind.DOWN) -> Alert:
    return Alert(kind, datetime.fromtimestamp(NOW, UTC), monitor_id=monitor_id, url="https://x/")


def _outbox(store: Store) -> dict[str, dict[str, object]]:
    return {row["key"]: row for row in store.rows("SELECT * FROM outbox ORDER BY id")}


# ------------------------------------------------------------------------------------- schema


def test_a_new_file_gets_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = Store.open(path)
    try:
        assert path.exists()
        assert store.version == SCHEMA_VERSION
        assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            r["name"] for r in store.rows("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {"monitors", "results", "incidents", "outbox", "meta"} <= tables
    finally:
        store.close()


def test_reopening_keeps_the_data_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    first = Store.open(path)
    try:
        monitor = _monitor(first)
        _result(first, monitor.id, NOW)
        first.set_meta("k", "v")
    finally:
        first.close()
    for _ in range(2):
        again = Store.open(path)
        try:
            assert again.version == SCHEMA_VERSION
            assert again.monitor(monitor.id) == monitor
            assert again.uptime(monitor.id, 0) == (1, 1)
            assert again.get_meta("k") == "v"
        finally:
            again.close()


def test_a_file_from_a_newer_check502_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StorageError, match="newer") as raised:
        Store.open(path)
    assert "upgrade check502" in raised.value.line()
    # Nothing was changed in the newer file.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert raw.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    raw.close()


def test_memory_store_for_throwaway_use() -> None:
    store = Store.open(":memory:")
    try:
        assert store.version == SCHEMA_VERSION
        assert _monitor(store).id == 1
    finally:
        store.close()


# -------------------------------------------------------------------------------------- prune


def test_prune_drops_only_what_is_old_and_settled(store: Store) -> None:
    monitor = _monitor(store)
    before = NOW - 30 * DAY
    old, recent = before - DAY, before + DAY
    _result(store, monitor.id, old)
    _result(store, monitor.id, old - 1, ok=False)
    _result(store, monitor.id, recent)
    closed_old = _incident(store, monitor.id, old - DAY, closed=old)
    open_old = _incident(store, monitor.id, old - DAY, closed=None)
    closed_recent = _incident(store, monitor.id, old, closed=recent)
    for key in ("sent-old", "failed-old", "pending-old", "sent-recent"):
        created = recent if key.endswith("recent") else old
        assert store.enqueue(CHANNEL, _alert(monitor.id), key=key, now=created, payload={})
    store.execute("UPDATE outbox SET sent_at = ? WHERE key LIKE 'sent-%'", (NOW,))
    store.execute("UPDATE outbox SET failed_at = ? WHERE key = 'failed-old'", (NOW,))

    assert store.prune_results(before, limit=100) == 2
    assert store.prune(before) == 1

    assert [r["at"] for r in store.rows("SELECT at FROM results")] == [recent]
    remaining = {r["id"] for r in store.rows("SELECT id FROM incidents")}
    assert remaining == {open_old, closed_recent}
    assert closed_old not in remaining
    assert set(_outbox(store)) == {"pending-old", "sent-recent"}
    assert store.monitor(monitor.id) == monitor
    # Pruning again finds nothing more.
    assert store.prune_results(before, limit=100) == 0
    assert store.prune(before) == 0


# ------------------------------------------------------------------------------------- outbox


def test_enqueue_with_the_same_key_inserts_once(store: Store) -> None:
    monitor = _monitor(store)
    assert store.enqueue(CHANNEL, _alert(monitor.id), key="down:1", now=NOW, payload={"a": 1})
    assert not store.enqueue(CHANNEL, _alert(monitor.id), key="down:1", now=NOW + 5, payload={})
    rows = store.rows("SELECT * FROM outbox")
    assert len(rows) == 1
    (row,) = rows
    assert row["payload"] == '{"a": 1}' and row["created_at"] == NOW
    assert (row["platform"], row["workspace"], row["channel"]) == ("console", "w1", "ops")
    assert row["kind"] == "down" and row["monitor_id"] == monitor.id
    assert [r["key"] for r in store.pending(NOW)] == ["down:1"]
    assert store.pending(NOW - 1) == []
    assert store.next_due() == NOW


def test_deleting_a_monitor_cancels_its_undelivered_alerts_only(store: Store) -> None:
    gone, kept = (
        _monitor(store, "https://a.example.com/"),
        _monitor(store, "https://b.example.com/"),
    )
    store.enqueue(CHANNEL, _alert(gone.id), key="gone-pending", now=NOW, payload={})
    store.enqueue(CHANNEL, _alert(gone.id), key="gone-sent", now=NOW, payload={})
    store.enqueue(CHANNEL, _alert(kept.id), key="kept-pending", now=NOW, payload={})
    store.execute("UPDATE outbox SET sent_at = ? WHERE key = 'gone-sent'", (NOW,))
    _result(store, gone.id, NOW)
    _result(store, kept.id, NOW)
    _incident(store, gone.id, NOW, closed=None)

    store.delete_monitor(gone.id, NOW + 10)

    rows = _outbox(store)
    assert rows["gone-pending"]["failed_at"] == NOW + 10
    assert rows["gone-pending"]["last_error"] == "monitor removed"
    assert rows["gone-sent"]["failed_at"] is None and rows["gone-sent"]["sent_at"] == NOW
    assert rows["kept-pending"]["failed_at"] is None
    assert [r["key"] for r in store.pending(NOW + 10)] == ["kept-pending"]
    assert store.monitor(gone.id) is None and store.monitor(kept.id) == kept
    assert store.uptime(gone.id, 0) == (0, 0) and store.uptime(kept.id, 0) == (1, 1)
    assert store.incidents_of(gone.id) == ()


def test_a_monitor_is_found_only_in_its_own_channel(store: Store) -> None:
    monitor = _monitor(store)
    assert store.monitor(monitor.id, CHANNEL) == monitor
    for other in (
        Channel("console", "w1", "dev"),
        Channel("console", "w2", "ops"),
        Channel("slack", "w1", "ops"),
    ):
        assert store.monitor(monitor.id, other) is None
        assert store.monitors_in(other) == ()
    assert store.monitors_in(CHANNEL) == (monitor,)
