"""Hourly rollups and the two-tier retention, on a real SQLite file.

The figures ``history`` shows come from rollups; each test here computes the same figures from
the raw rows of the same synthetic checks and compares: counts and uptime exactly, latency
percentiles within the histogram's bucket error (``bot.histogram.RELATIVE_ERROR``, 2.92 %).
"""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import histogram
from bot.commands import Expect, History, Watch
from bot.core import _PRUNE_BATCH, Bot
from bot.model import Channel, Context, HistoryReply
from bot.settings import Settings
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store

CHANNEL = Channel("console", "w1", "ops")
HOUR = 3600.0
DAY = 86400.0
NOW = 1_750_003_000.0  # 50 minutes into an hour
OLD_INSERT = (
    "INSERT INTO results (monitor_id, at, ok, outcome, status, cause, total_ms, body_excerpt)"
    " VALUES (?,?,?,?,?,?,?,?)"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "bot.db")
    try:
        yield opened
    finally:
        opened.close()


def _monitor(store: Store, n: int = 0) -> int:
    watch = Watch(f"https://m{n}.example.com/", every=30, expect=Expect.default(), timeout=4.0)
    return store.add_monitor(CHANNEL, watch, created_by="ann", now=NOW - 40 * DAY).id


def _checks(seed: int, start: float, end: float, step: float = 97.0) -> list[dict[str, Any]]:
    """Synthetic checks from ``start`` to ``end``: mostly up, some 502s, some without a status."""
    rng = random.Random(seed)
    out = []
    at = start
    while at < end:
        roll = rng.random()
        ms = rng.lognormvariate(math.log(120), 0.7)
        if roll < 0.06:
            out.append({"at": at, "ok": False, "outcome": "502", "status": 502, "total_ms": ms})
        elif roll < 0.08:
            out.append({"at": at, "ok": False, "outcome": "connect_refused", "status": None})
        elif roll < 0.09:  # a total time, but no status (a read timeout): not a latency either
            out.append(
                {"at": at, "ok": False, "outcome": "read_timeout", "status": None, "total_ms": ms}
            )
        elif roll < 0.10:  # a status, but no total time: not a latency
            out.append({"at": at, "ok": True, "outcome": "200", "status": 200})
        else:
            out.append({"at": at, "ok": True, "outcome": "200", "status": 200, "total_ms": ms})
        at += step * (0.5 + rng.random())
    return out


def _record(store: Store, monitor_id: int, checks: list[dict[str, Any]]) -> None:
    with store.transaction():  # one commit, as a batch (Store.record nests in it)
        for c in checks:
            _record_one(store, monitor_id, c)


def _record_one(store: Store, monitor_id: int, c: dict[str, Any]) -> None:
    store.record(
        monitor_id,
        c["at"],
        ok=c["ok"],
        outcome=c["outcome"],
        cause="ok" if c["ok"] else "origin_down",
        status=c["status"],
        total_ms=c.get("total_ms"),
        body_excerpt=None if c["ok"] else "<html>502 Bad Gateway</html>",
    )


def _raw_figures(
    checks: list[dict[str, Any]], since: float
) -> tuple[int, int, float | None, float | None]:
    """What the raw rows say from the start of ``since``'s hour: checks, up, p50, p95."""
    start = math.floor(since / HOUR) * HOUR
    window = [c for c in checks if c["at"] >= start]
    latencies = sorted(c["total_ms"] for c in window if c["status"] is not None and "total_ms" in c)

    def nearest_rank(q: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, max(0, round(q * (len(latencies) - 1))))]

    up = sum(1 for c in window if c["ok"])
    return len(window), up, nearest_rank(0.50), nearest_rank(0.95)


def _close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is want
    return abs(got - want) <= max(want * histogram.RELATIVE_ERROR, histogram.FLOOR_MS) + 1e-9


# ----------------------------------------------------------------------------- correctness


def test_rollups_give_the_raw_rows_figures(store: Store) -> None:
    a, b = _monitor(store, 1), _monitor(store, 2)
    checks_a = _checks(1, NOW - 8 * DAY, NOW)
    checks_b = _checks(2, NOW - 2 * DAY, NOW, step=31.0)
    _record(store, a, checks_a)
    _record(store, b, checks_b)
    assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == len(checks_a) + len(
        checks_b
    )
    for monitor_id, checks in ((a, checks_a), (b, checks_b)):
        for since in (NOW - DAY, NOW - 7 * DAY, NOW - 3 * HOUR + 1, NOW - 10, 0.0):
            n, up, p50, p95 = _raw_figures(checks, since)
            assert store.uptime(monitor_id, since) == (n, up)
            got50, got95 = store.latency_percentiles(monitor_id, since, (0.50, 0.95))
            assert _close(got50, p50), (since, got50, p50)
            assert _close(got95, p95), (since, got95, p95)
    # Some windows really do hold failures and checks without a latency.
    n, up, _, _ = _raw_figures(checks_a, NOW - 7 * DAY)
    assert 0 < up < n


def test_hour_boundaries(store: Store) -> None:
    m = _monitor(store)
    hour = math.floor(NOW / HOUR) * HOUR
    ok = {"ok": True, "outcome": "200", "status": 200, "total_ms": 10.0}
    bad = {"ok": False, "outcome": "502", "status": 502, "total_ms": 1000.0}
    _record(
        store,
        m,
        [
            {**bad, "at": hour - 0.001},  # the previous hour's last instant
            {**ok, "at": hour},  # this hour's first
            {**ok, "at": hour + HOUR - 0.001},  # this hour's last
        ],
    )
    rollups = store.rows("SELECT hour, checks, failures FROM rollups ORDER BY hour")
    assert [(r["hour"] * HOUR, r["checks"], r["failures"]) for r in rollups] == [
        (hour - HOUR, 1, 1),
        (hour, 2, 0),
    ]
    # A window counts whole hours, from the start of the hour it starts in.
    assert store.uptime(m, hour) == (2, 2)
    assert store.uptime(m, hour + HOUR - 1) == (2, 2)
    assert store.uptime(m, hour - 0.001) == (3, 2)
    assert store.latency_percentiles(m, hour, (1.0,)) == (histogram.value(histogram.bucket(10)),)
    assert store.latency_percentiles(m, hour + HOUR, (0.5,)) == (None,)


def test_a_check_and_its_rollup_are_written_together(store: Store) -> None:
    m = _monitor(store)
    _record_one(store, m, {"at": NOW, "ok": True, "outcome": "200", "status": 200, "total_ms": 5})
    # A rollup that cannot be written takes the raw row with it (its own transaction).
    store.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON rollups BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        _record_one(store, m, {"at": NOW + 1, "ok": True, "outcome": "200", "status": 200})
    assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    assert store.uptime(m, NOW) == (1, 1)


async def test_history_comes_from_the_rollups(tmp_path: Path) -> None:
    """After the raw window has gone, ``history`` still counts every check of the day."""
    settings = Settings(db_path=str(tmp_path / "bot.db"), control_url=None)
    store = Store.open(settings.db_path)
    bot = Bot(settings, store=store, clock=lambda: NOW)
    try:
        m = _monitor(store)
        checks = _checks(3, NOW - 7 * DAY + HOUR, NOW)
        _record(store, m, checks)
        for count, _ in enumerate(
            store.retention_steps(
                before=NOW - 30 * DAY,
                raw_before=NOW - settings.raw_retention,
                batch=500,
                monitors=10,
            )
        ):
            assert count < 1_000, "retention does not end"
        kept = store.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        assert kept < len(checks) / 2  # the healthy raw rows of the earlier days are gone

        reply = await bot.handle(Context(CHANNEL, "ann"), History(m))

        assert isinstance(reply, HistoryReply), reply
        n24, up24, p50, p95 = _raw_figures(checks, NOW - DAY)
        n7, up7, _, _ = _raw_figures(checks, NOW - 7 * DAY)
        assert reply.checks_24h == n24
        assert reply.uptime_24h == up24 / n24
        assert reply.uptime_7d == up7 / n7
        assert _close(reply.p50_ms, p50) and _close(reply.p95_ms, p95)
        latest = sorted((c["at"] for c in checks), reverse=True)[:10]
        assert [c.at.timestamp() for c in reply.checks] == pytest.approx(latest, abs=1e-5)
    finally:
        bot.close()


# ------------------------------------------------------------------------------- retention


def _steps(store: Store, now: float, *, raw: float = 3 * HOUR, batch: int = 3) -> int:
    """Run retention to the end, in steps; fail rather than loop on when it never ends."""
    steps = store.retention_steps(
        before=now - 30 * DAY, raw_before=now - raw, batch=batch, monitors=1
    )
    for count, _ in enumerate(steps):
        assert count < 5_000, "retention does not end"
    return count + 1


def test_retention_keeps_failures_and_incidents_and_drops_old_healthy_rows(store: Store) -> None:
    a, b = _monitor(store, 1), _monitor(store, 2)
    ancient = _checks(4, NOW - 33 * DAY, NOW - 31 * DAY, step=3000)
    older = _checks(5, NOW - 5 * DAY, NOW - 4 * HOUR, step=1500)
    recent = _checks(6, NOW - 2 * HOUR, NOW, step=300)
    edge = [  # just after the retention's edge: its hour's rollup stays
        {"at": NOW - 30 * DAY + 60, "ok": True, "outcome": "200", "status": 200, "total_ms": 9}
    ]
    _record(store, a, ancient + edge + older + recent)
    _record(store, b, _checks(7, NOW - 2 * HOUR, NOW, step=600))
    rows_b = store.rows("SELECT id FROM results WHERE monitor_id = ?", (b,))
    open_old = store.execute(
        "INSERT INTO incidents (monitor_id, opened_at, cause, first_failure_at,"
        " last_failure_at, last_notified_at) VALUES (?,?,?,?,?,?)",
        (a, NOW - 32 * DAY, "origin_down", NOW - 32 * DAY, NOW - 32 * DAY, NOW - 32 * DAY),
    ).lastrowid
    before_uptime = store.uptime(a, NOW - 5 * DAY)

    steps = _steps(store, NOW)

    left = {r["at"]: r for r in store.rows("SELECT * FROM results WHERE monitor_id = ?", (a,))}
    # Past the whole retention: nothing; past the raw window: the failures, body dropped.
    assert not any(at < NOW - 30 * DAY for at in left)
    assert sorted(left) == sorted(
        [c["at"] for c in older if not c["ok"]] + [c["at"] for c in recent]
    )
    assert any(not c["ok"] for c in older)
    for c in older:
        if not c["ok"]:
            assert left[c["at"]]["outcome"] == c["outcome"]
            assert left[c["at"]]["body_excerpt"] is None
    assert all(left[c["at"]]["body_excerpt"] for c in recent if not c["ok"])
    # The other monitor's rows are all recent: untouched.
    assert store.rows("SELECT id FROM results WHERE monitor_id = ?", (b,)) == rows_b
    # Rollups: the hours past the retention are gone, every later one is whole.
    assert store.uptime(a, NOW - 5 * DAY) == before_uptime
    assert store.uptime(a, 0) == store.uptime(a, NOW - 30 * DAY)
    assert store.row("SELECT MIN(hour) AS h FROM rollups")["h"] == math.floor(  # type: ignore[index]
        (NOW - 30 * DAY) / HOUR
    )
    # An open incident stays, however old.
    assert store.incident(int(open_old or 0)) is not None
    # In steps of at most ``batch`` rows each.
    assert steps >= (len(ancient) + len(older)) // 3

    # The next run walks on from where this one stopped: the kept failures are not read
    # again, and the rows that have left the raw window since go.
    assert store.prune_raw(NOW - 3 * HOUR, limit=1000) == 0
    _record(store, a, _checks(8, NOW + 1, NOW + HOUR, step=600))
    later = NOW + 3 * HOUR + 0.5
    _steps(store, later, batch=1000)
    failures = [c["at"] for c in older + recent if not c["ok"]]
    assert sorted(
        r["at"] for r in store.rows("SELECT at FROM results WHERE monitor_id = ?", (a,))
    ) == sorted(failures + [c["at"] for c in _checks(8, NOW + 1, NOW + HOUR, step=600)])


def test_a_step_reads_only_up_to_the_first_row_still_kept(store: Store) -> None:
    m = _monitor(store)
    healthy = {"ok": True, "outcome": "200", "status": 200, "total_ms": 8.0}
    _record(store, m, [{**healthy, "at": NOW - 4 * HOUR + i} for i in range(5)])
    _record(store, m, [{**healthy, "at": NOW - HOUR + i} for i in range(5)])
    assert store.prune_raw(NOW - 3 * HOUR, limit=100) == 5
    assert store.prune_raw(NOW - 3 * HOUR, limit=100) == 0  # nothing more: no re-reading
    assert store.prune_results(NOW - 30 * DAY, limit=100) == 0
    assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 5


def test_rows_written_out_of_time_order_are_pruned_in_a_later_step(store: Store) -> None:
    m = _monitor(store)
    healthy = {"ok": True, "outcome": "200", "status": 200, "total_ms": 8.0}
    _record(store, m, [{**healthy, "at": at} for at in (NOW - 5 * HOUR, NOW, NOW - 4 * HOUR)])
    store.prune_raw(NOW - 3 * HOUR, limit=100)
    # The walk stopped at the row still in the window; the old one after it waits its turn.
    assert [r["at"] for r in store.rows("SELECT at FROM results ORDER BY id")] == [
        NOW,
        NOW - 4 * HOUR,
    ]
    store.prune_raw(NOW + 3 * HOUR + 1, limit=100)
    assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0


def test_a_removed_monitor_leaves_no_history(store: Store) -> None:
    gone, kept = _monitor(store, 1), _monitor(store, 2)
    _record(store, gone, _checks(9, NOW - DAY, NOW, step=900))
    _record(store, kept, _checks(10, NOW - DAY, NOW, step=900))
    kept_figures = store.uptime(kept, 0)

    store.delete_monitor(gone, NOW)

    assert store.uptime(gone, 0) == (0, 0)
    assert store.latency_percentiles(gone, 0, (0.5,)) == (None,)
    assert (
        store.execute("SELECT COUNT(*) FROM rollups WHERE monitor_id = ?", (gone,)).fetchone()[0]
        == 0
    )
    assert store.uptime(kept, 0) == kept_figures
    assert _steps(store, NOW + 40 * DAY, batch=1000) >= 0
    assert store.execute("SELECT COUNT(*) FROM rollups").fetchone()[0] == 0


# ------------------------------------------------------------------------------- migration


def test_a_schema_1_file_is_migrated_in_place_with_its_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    checks = _checks(11, NOW - 3 * DAY, NOW)
    with sqlite3.connect(path) as raw:
        first = _MIGRATIONS[0]
        assert isinstance(first, str)
        raw.executescript(first)
        raw.execute("PRAGMA user_version = 1")
        raw.execute(
            "INSERT INTO monitors (id, platform, workspace, channel, url, every, confirm, expect,"
            " timeout, created_by, created_at) VALUES (7, 'console', 'w1', 'ops',"
            " 'https://a.example.com/', 30, 2, '200-399', 4.0, 'ann', 0)"
        )
        raw.executemany(
            OLD_INSERT,
            [
                (
                    7,
                    c["at"],
                    int(c["ok"]),
                    c["outcome"],
                    c["status"],
                    "ok",
                    c.get("total_ms"),
                    None if c["ok"] else "x" * 300,
                )
                for c in checks
            ],
        )
    raw.close()

    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION  # through 2 (rollups), 3 (status pages) and on
        indexes = {r["name"] for r in store.rows("SELECT name FROM sqlite_master")}
        assert "results_at" not in indexes and "rollups" in indexes
        assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == len(checks)
        for since in (NOW - DAY, NOW - 7 * DAY, NOW - HOUR):
            n, up, p50, p95 = _raw_figures(checks, since)
            assert store.uptime(7, since) == (n, up)
            got50, got95 = store.latency_percentiles(7, since, (0.50, 0.95))
            assert _close(got50, p50) and _close(got95, p95)
        # New checks add to the migrated hour.
        before = store.uptime(7, NOW)
        _record(store, 7, [{"at": NOW, "ok": False, "outcome": "502", "status": None}])
        assert store.uptime(7, NOW) == (before[0] + 1, before[1])
    finally:
        store.close()


# ------------------------------------------------------------------------------- histogram


@given(st.lists(st.floats(0, 200_000, allow_nan=False), min_size=1, max_size=300))
def test_a_histogram_percentile_is_within_its_bucket_error(values: list[float]) -> None:
    blob = None
    for v in values:
        blob = histogram.add(blob, v)
    counts = histogram.decode(blob)
    assert sum(counts.values()) == len(values)
    ordered = sorted(values)
    for q in (0.0, 0.5, 0.95, 0.99, 1.0):
        want = ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
        got = histogram.percentile(counts, q)
        assert got is not None and _close(got, want), (q, got, want)


@given(st.dictionaries(st.integers(0, histogram.BUCKETS - 1), st.integers(1, 10**6)))
def test_histogram_blobs_round_trip_and_merge(counts: dict[int, int]) -> None:
    blob = histogram.encode(counts)
    assert histogram.decode(blob) == counts
    merged = histogram.merge([blob, blob, None])
    assert merged == {k: 2 * v for k, v in counts.items()}


async def test_a_bot_stopped_during_retention_ends_it_quietly(tmp_path: Path) -> None:
    settings = Settings(db_path=str(tmp_path / "bot.db"), control_url=None, retention_days=1)
    bot = Bot(settings)
    await bot.start()
    try:
        m = _monitor(bot.store)
        healthy = {"ok": True, "outcome": "200", "status": 200, "total_ms": 8.0}
        old = bot.clock() - 3 * DAY
        _record(bot.store, m, [{**healthy, "at": old + i} for i in range(3_500)])
        pruning = asyncio.create_task(bot.prune())
        await asyncio.sleep(0.01)  # the first step has run; it now waits before the next
        assert not pruning.done()
    finally:
        await bot.stop()
        bot.close()
    await asyncio.wait_for(pruning, timeout=5)  # no step ran on the closed store
    store = Store.open(settings.db_path)
    try:
        # It stopped part-way (the start-up's own run may have taken a step too).
        left = store.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        assert 3_500 - 2 * _PRUNE_BATCH <= left < 3_500
    finally:
        store.close()
