"""``Monitoring.receive``: a diagnosis made elsewhere (a shard, a region) applied as a local
check's would be: recorded, the health gate for failures with no HTTP answer, state, alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.commands import Watch
from bot.model import Context, WatchReply
from checks import Diagnosis, diagnose
from tests.bot.conftest import LOOPBACK, fast_settings
from tests.bot.test_monitors import Unreachable
from tests.support import OkServer, build_response, closed_port, ok_server

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
ME = Context(CONSOLE, "tester")


async def elsewhere(url: str) -> Diagnosis:
    """A check made outside the bot's monitoring path, as a shard or a region makes it."""
    return await diagnose(url, policy=LOOPBACK, timeout=3.0)


async def by_hand(chat: ConsoleHarness, url: str) -> int:
    reply = await chat.bot.execute(ME, Watch(url, every=3600, confirm=1))
    assert isinstance(reply, WatchReply), reply
    chat.bot.schedule.remove(reply.monitor.id)
    return reply.monitor.id


async def test_a_received_failure_is_recorded_and_alerts(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await by_hand(chat, site.url)
            site.response = BAD
            diagnosis = await elsewhere(site.url)
            before = len(site.requests)
            applied = await chat.bot.monitoring.receive(mid, diagnosis, checked_at=1_900_000_000.5)
            assert applied is not None and applied.outcome.label == "502" and applied.alerts
            assert len(site.requests) == before  # applied, not checked again
            chat.bot.monitoring.flush()
            rows = chat.bot.store.rows(
                "SELECT at, ok, status FROM results WHERE monitor_id = ? ORDER BY id", (mid,)
            )
            assert rows[-1] == {"at": 1_900_000_000.5, "ok": 0, "status": 502}
            assert chat.bot.store.monitor(mid).state == "down"  # type: ignore[union-attr]
            kinds = [r["kind"] for r in chat.bot.store.rows("SELECT kind FROM outbox")]
            assert kinds == ["down"]
            assert await chat.bot.monitoring.receive(mid + 1, diagnosis) is None  # no such one


async def test_a_received_failure_with_no_answer_is_gated_on_the_bots_health(
    tmp_path: Path,
) -> None:
    with closed_port() as site, Unreachable() as control:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            # confirm=2: the watch's own first check counts one failure, opens nothing.
            reply = await chat.bot.execute(ME, Watch(site.url, every=3600, confirm=2))
            assert isinstance(reply, WatchReply)
            mid = reply.monitor.id
            chat.bot.schedule.remove(mid)
            diagnosis = await elsewhere(site.url)  # refused: no HTTP answer
            applied = await chat.bot.monitoring.receive(mid, diagnosis)
            assert applied is not None and not applied.outcome.ok
            kinds = [r["kind"] for r in chat.bot.store.rows("SELECT kind FROM outbox")]
            assert "down" not in kinds and "degraded" in kinds
            assert chat.bot.store.rows("SELECT id FROM incidents") == []
            control.broken = False
            await asyncio.sleep(0.6)  # past the health cache
            applied = await chat.bot.monitoring.receive(mid, diagnosis)
            assert applied is not None
            kinds = [r["kind"] for r in chat.bot.store.rows("SELECT kind FROM outbox")]
            assert "down" in kinds and "restored" in kinds
