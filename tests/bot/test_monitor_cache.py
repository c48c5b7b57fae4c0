"""The monitor cache: checks read monitors from memory, and every writer is seen at once.

Each test warms the cache with a check, changes the monitor through the public API (a command,
the monitors file), and asserts that the very next check acts on the change.
"""

from __future__ import annotations

from pathlib import Path

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.commands import Maintenance, Mute, Notify, Unwatch, Watch
from bot.commands.mentions import mentions_from_text
from bot.model import Context, TextReply, WatchReply
from bot.monitorsfile import load
from bot.storage import Store
from tests.bot.conftest import fast_settings
from tests.support import OkServer, build_response, ok_server

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
ME = Context(CONSOLE, "tester")
HEAD = '[[channel]]\nplatform = "console"\nchannel = "terminal"\n'


async def by_hand(chat: ConsoleHarness, url: str) -> int:
    """A monitor checked only when the test says so, its cache entry warm."""
    reply = await chat.bot.execute(ME, Watch(url, every=3600, confirm=1))
    assert isinstance(reply, WatchReply), reply
    chat.bot.schedule.remove(reply.monitor.id)
    assert await chat.bot.monitoring.check(reply.monitor.id) is not None
    assert await chat.bot.monitoring.check(reply.monitor.id) is not None
    return reply.monitor.id


def kinds(chat: ConsoleHarness) -> list[str]:
    return [r["kind"] for r in chat.bot.store.rows("SELECT kind FROM outbox ORDER BY id")]


def selects_of_monitors(store: Store) -> list[str]:
    """Start counting the statements that read a monitor row (the list it fills)."""
    seen: list[str] = []

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "FROM MONITORS" in sql.upper():
            seen.append(sql)

    store.db.conn.set_trace_callback(trace)
    return seen


async def test_healthy_checks_read_no_monitor_row(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await by_hand(chat, site.url)
            cached = chat.bot.store.cached_monitor(mid)
            seen = selects_of_monitors(chat.bot.store)
            for _ in range(5):
                assert await chat.bot.monitoring.check(mid) is not None
            chat.bot.store.db.conn.set_trace_callback(None)
            assert seen == []
            assert chat.bot.store.cached_monitor(mid) is cached  # the same value, kept


async def test_a_mute_is_seen_by_the_next_check(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await by_hand(chat, site.url)
            reply = await chat.bot.execute(ME, Mute(mid, 600))
            assert isinstance(reply, TextReply)
            site.response = BAD
            applied = await chat.bot.monitoring.check(mid)
            assert applied is not None and not applied.outcome.ok
            assert chat.bot.store.monitor(mid).state == "down"  # type: ignore[union-attr]
            assert "down" not in kinds(chat)  # held by the mute the check read


async def test_a_maintenance_window_is_seen_by_the_next_check(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await by_hand(chat, site.url)
            await chat.bot.execute(ME, Maintenance(mid, 600))
            site.response = BAD
            assert await chat.bot.monitoring.check(mid) is not None
            assert "down" not in kinds(chat)


async def test_notify_is_seen_by_the_next_check(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await by_hand(chat, site.url)
            mentions = mentions_from_text("@oncall")
            await chat.bot.execute(ME, Notify(mid, mentions, None))
            site.response = BAD
            assert await chat.bot.monitoring.check(mid) is not None
            (row,) = chat.bot.store.rows("SELECT payload FROM outbox WHERE kind = 'down'")
            assert "oncall" in row["payload"]


async def test_unwatch_is_seen_by_the_next_check(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await by_hand(chat, site.url)
            await chat.bot.execute(ME, Unwatch(mid))
            before = len(site.requests)
            assert await chat.bot.monitoring.check(mid) is None
            assert len(site.requests) == before  # nothing was sent for a monitor that is gone


async def test_a_monitors_file_reload_is_seen_by_the_next_check(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site, ok_server() as moved:
        site.response = BAD
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            path = tmp_path / "check502.toml"
            entry = f'\n[[channel.monitor]]\nurl = "{site.url}"\nexpect = "502"\n'
            path.write_text(HEAD + entry, encoding="utf-8")
            assert chat.bot.load_monitors(load(path)) == (1, 0, 0)
            (mid,) = [m.id for m in chat.bot.store.file_monitors()]
            chat.bot.schedule.remove(mid)
            applied = await chat.bot.monitoring.check(mid)
            assert applied is not None and applied.outcome.ok  # 502 is what it expects
            path.write_text(HEAD + entry.replace('"502"', '"200"'), encoding="utf-8")
            assert chat.bot.load_monitors(load(path)) == (0, 1, 0)
            chat.bot.schedule.remove(mid)
            applied = await chat.bot.monitoring.check(mid)
            assert applied is not None and not applied.outcome.ok  # the new expect, at once
            assert not moved.requests


def test_a_rolled_back_change_leaves_the_cache_behind_the_database(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    try:
        made = store.add_monitor(
            CONSOLE, Watch("https://a.example/", every=60), created_by="t", now=1.0
        )
        assert store.cached_monitor(made.id) is not None
        try:
            with store.transaction():
                store.execute(
                    "UPDATE monitors SET url = 'https://b.example/' WHERE id = ?", (made.id,)
                )
                inside = store.cached_monitor(made.id)
                assert inside is not None and inside.url == "https://b.example/"
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        after = store.cached_monitor(made.id)
        assert after is not None and after.url == "https://a.example/"
        # A write outside any transaction is seen too.
        store.execute("UPDATE monitors SET confirm = 5 WHERE id = ?", (made.id,))
        assert store.cached_monitor(made.id).confirm == 5  # type: ignore[union-attr]
        store.execute("DELETE FROM monitors WHERE id = ?", (made.id,))
        assert store.cached_monitor(made.id) is None
    finally:
        store.close()
