"""Healthy results written in batches: within the bound, in order with every state change,
exact in the rollups and counters, kept across a failed flush, written at stop."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot import histogram
from bot.commands import Watch
from bot.errors import StorageError
from bot.model import Context, WatchReply
from bot.stats import CheckOutcome
from bot.storage import BATCH_LIMIT, BATCH_SECONDS, Store
from checks import Cause
from tests.bot.conftest import fast_settings, until
from tests.support import OkServer, build_response, ok_server
from tests.support.disk import fill, small_disk

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
ME = Context(CONSOLE, "tester")


async def by_hand(chat: ConsoleHarness, url: str, confirm: int = 1) -> int:
    """A monitor checked only when the test says so; its first check made it up."""
    reply = await chat.bot.execute(ME, Watch(url, every=3600, confirm=confirm))
    assert isinstance(reply, WatchReply), reply
    chat.bot.schedule.remove(reply.monitor.id)
    return reply.monitor.id


def results(store: Store, mid: int | None = None) -> list[int]:
    """The monitor ids of the results rows, in the order they were written."""
    rows = store.rows("SELECT monitor_id FROM results ORDER BY id")
    return [r["monitor_id"] for r in rows if mid is None or r["monitor_id"] == mid]


def ok_count(chat: ConsoleHarness) -> int:
    snapshot = chat.bot.stats.snapshot()
    return sum(n for o, c, n in snapshot.checks if (o, c) == (CheckOutcome.OK, Cause.OK))


async def test_healthy_results_land_within_the_bound_exactly_counted(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            store = chat.bot.store
            mid = await by_hand(chat, site.url)
            counted = ok_count(chat)
            for _ in range(4):
                assert await chat.bot.monitoring.check(mid) is not None
            done = time.monotonic()
            assert len(results(store, mid)) == 1 and store.pending_results == 4  # batched
            assert ok_count(chat) == counted  # counted once written, not before
            await until(lambda: len(results(store, mid)) == 5, 5)
            assert time.monotonic() - done < BATCH_SECONDS + 0.5  # a loaded machine's slack
            assert ok_count(chat) == counted + 4
            # The hour's rollup holds every check, each latency in its histogram.
            (rollup,) = store.rows("SELECT checks, failures, latency FROM rollups")
            assert (rollup["checks"], rollup["failures"]) == (5, 0)
            assert sum(histogram.merge([rollup["latency"]]).values()) == 5
            monitor = store.monitor(mid)
            last = store.row("SELECT MAX(at) AS at FROM results")
            assert monitor is not None and last is not None
            assert monitor.last_checked is not None
            assert abs(monitor.last_checked.timestamp() - last["at"]) < 1e-3


async def test_pending_results_survive_stop(tmp_path: Path, control: OkServer) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            mid = await by_hand(chat, site.url)
            for _ in range(3):
                assert await chat.bot.monitoring.check(mid) is not None
            assert chat.bot.store.pending_results == 3
        again = Store.open(settings.db_path)
        try:
            assert len(results(again, mid)) == 4
            (rollup,) = again.rows("SELECT checks FROM rollups")
            assert rollup["checks"] == 4
        finally:
            again.close()


async def test_a_down_is_committed_after_the_pending_rows_before_its_alert_goes(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as healthy, ok_server() as failing:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            store = chat.bot.store
            up = await by_hand(chat, healthy.url)
            down = await by_hand(chat, failing.url)
            for _ in range(3):
                await chat.bot.monitoring.check(up)
            assert store.pending_results == 3
            failing.response = BAD
            applied = await chat.bot.monitoring.check(down)
            assert applied is not None and applied.alerts == 1
            # Committed as the check returned, after the healthy rows queued before it.
            assert store.pending_results == 0
            assert results(store)[-4:] == [up, up, up, down]
            (row,) = store.rows("SELECT kind, sent_at FROM outbox")
            assert row["kind"] == "down"
            posted = await chat.pop(timeout=10)
            assert posted.delivery.alert.monitor_id == down


async def test_a_failed_flush_keeps_the_rows_and_loses_no_state_change() -> None:
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(4))
        control = stack.enter_context(ok_server(body=b"control"))
        site = stack.enter_context(ok_server())
        async with ConsoleHarness(fast_settings(disk, control.url)) as chat:
            store = chat.bot.store
            mid = await by_hand(chat, site.url)
            filler = fill(disk)
            for _ in range(3):
                await chat.bot.monitoring.check(mid)
            await asyncio.sleep(BATCH_SECONDS + 0.3)  # a flush was tried, and failed
            assert store.pending_results == 3
            assert len(results(store, mid)) == 1
            site.response = BAD  # the outage cannot be recorded either: the check is dropped
            with pytest.raises(StorageError):  # dropped whole, as a full disk drops any check
                await chat.bot.monitoring.check(mid)
            assert store.monitor(mid).state == "up"  # type: ignore[union-attr]
            filler.unlink()  # room again: the next check writes the held rows, then the DOWN
            applied = await chat.bot.monitoring.check(mid)
            assert applied is not None and applied.alerts == 1
            assert store.pending_results == 0
            ok = [r["ok"] for r in store.rows("SELECT ok FROM results ORDER BY id")]
            assert ok == [1, 1, 1, 1, 0]
            assert store.monitor(mid).state == "down"  # type: ignore[union-attr]
            (rollup,) = store.rows("SELECT checks, failures FROM rollups")
            assert (rollup["checks"], rollup["failures"]) == (5, 1)


def test_beyond_the_limit_the_oldest_healthy_rows_go_and_are_counted(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    try:
        for i in range(BATCH_LIMIT + 5):
            store.record_later(
                1,
                float(i),
                outcome="200",
                cause="ok",
                status=200,
                http_version="1.1",
                ip="127.0.0.1",
                generated_by=None,
                hop=None,
                dns_ms=None,
                connect_ms=None,
                tls_ms=None,
                ttfb_ms=None,
                total_ms=1.0,
            )
        assert store.pending_results == BATCH_LIMIT and store.batch_dropped == 5
        assert store.flush() == BATCH_LIMIT
        first = store.row("SELECT MIN(at) AS at, COUNT(*) AS n FROM results")
        assert first == {"at": 5.0, "n": BATCH_LIMIT}  # the oldest five went
    finally:
        store.close()


def _stored_last(store: Store, mid: int) -> tuple[float | None, str | None]:
    row = store.row("SELECT last_checked, last_outcome FROM monitors WHERE id = ?", (mid,))
    assert row is not None
    return row["last_checked"], row["last_outcome"]


async def test_a_healthy_last_check_waits_in_memory_and_every_read_sees_it(
    tmp_path: Path, control: OkServer
) -> None:
    """``last_checked`` of a healthy batched check: not written to the row until due (LAST_
    SECONDS) or the bot stops, yet a monitor read (here or in a status page's reader thread)
    shows it at once; once due, a flush writes it."""
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            store = chat.bot.store
            mid = await by_hand(chat, site.url)
            first = _stored_last(store, mid)  # written by the first check (new -> up)
            for _ in range(2):
                assert await chat.bot.monitoring.check(mid) is not None
            await until(lambda: store.pending_results == 0, 5)
            newest = store.row("SELECT MAX(at) AS at FROM results WHERE monitor_id = ?", (mid,))
            assert newest is not None and newest["at"] > (first[0] or 0)
            assert _stored_last(store, mid) == first  # not yet written
            for read in (store.monitor(mid), store.monitors_in(CONSOLE)[0]):
                assert read is not None and read.last_checked is not None
                assert read.last_checked.timestamp() == pytest.approx(newest["at"], abs=1e-3)
            reader = store.reader()
            assert reader is not None
            try:
                seen = await asyncio.to_thread(reader.monitor, mid)
            finally:
                reader.close()  # a reader never writes them
            assert seen is not None and seen.last_checked == store.monitor(mid).last_checked  # type: ignore[union-attr]
            assert _stored_last(store, mid) == first
        again = Store.open(settings.db_path)
        try:
            last = again.row("SELECT MAX(at) AS at FROM results WHERE monitor_id = ?", (mid,))
            assert last is not None
            assert _stored_last(again, mid) == (pytest.approx(last["at"]), "200")
        finally:
            again.close()


async def test_a_kept_last_check_is_written_by_the_first_flush_after_it_is_due(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            store = chat.bot.store
            store.last_seconds = 0.0  # due at once: the next flush writes it
            mid = await by_hand(chat, site.url)
            first = _stored_last(store, mid)
            assert await chat.bot.monitoring.check(mid) is not None
            await until(lambda: store.pending_results == 0, 5)
            kept = store.row("SELECT MAX(at) AS at FROM results WHERE monitor_id = ?", (mid,))
            assert kept is not None and kept["at"] != first[0]
            assert _stored_last(store, mid) == first  # kept by that flush, not yet written
            assert await chat.bot.monitoring.check(mid) is not None
            await until(lambda: store.pending_results == 0, 5)
            assert _stored_last(store, mid) == (kept["at"], "200")  # due: written


async def test_a_kept_last_check_never_hides_or_overwrites_a_later_failure(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            store = chat.bot.store
            mid = await by_hand(chat, site.url)
            assert await chat.bot.monitoring.check(mid) is not None  # healthy: kept in memory
            await until(lambda: store.pending_results == 0, 5)
            site.response = BAD
            applied = await chat.bot.monitoring.check(mid)  # confirm 1: down at once
            assert applied is not None and applied.alerts == 1
            failed = _stored_last(store, mid)
            assert failed[1] == "502"
            down = store.monitor(mid)
            assert down is not None and down.state == "down" and down.last_outcome == "502"
            assert down.last_checked is not None
            assert down.last_checked.timestamp() == pytest.approx(failed[0], abs=1e-3)
        again = Store.open(settings.db_path)  # the kept healthy check was written at stop: no-op
        try:
            assert _stored_last(again, mid) == failed
        finally:
            again.close()


async def test_a_kept_last_check_never_takes_a_row_back_in_time(
    tmp_path: Path, control: OkServer
) -> None:
    """Kept healthy at t1, one failure counted (confirm 2), then up again at t3 (written at
    once, with the streak reset): writing the kept t1 at stop would go back in time."""
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            store = chat.bot.store
            mid = await by_hand(chat, site.url, confirm=2)
            assert await chat.bot.monitoring.check(mid) is not None  # kept in memory
            await until(lambda: store.pending_results == 0, 5)
            site.response = BAD
            assert await chat.bot.monitoring.check(mid) is not None  # counted, not down
            site.response = build_response(200, b"ok")
            assert await chat.bot.monitoring.check(mid) is not None  # written: streak reset
            latest = _stored_last(store, mid)
            monitor = store.monitor(mid)
            assert monitor is not None and (monitor.state, monitor.fail_streak) == ("up", 0)
        again = Store.open(settings.db_path)
        try:
            assert _stored_last(again, mid) == latest
            newest = again.row("SELECT MAX(at) AS at FROM results WHERE monitor_id = ?", (mid,))
            assert newest is not None and latest[0] == pytest.approx(newest["at"])
        finally:
            again.close()
