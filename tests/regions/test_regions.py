"""Monitors checked from several regions: real redis-server, real ``check502-worker`` processes
(separate regions, each its own process and resolver), the coordinator inside a real Bot.

No surface is attached, so alerts stay in the outbox, where the tests read them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

from redis.asyncio import Redis

from bot.commands import Watch
from bot.model import OWN_NETWORK, DiagnosisReply, WatchReply
from bot.regions.jobs import RESULTS_STREAM, Result
from checks import diagnose
from tests.bot.conftest import LOOPBACK
from tests.regions.conftest import (
    CONTEXT,
    Workers,
    coordinator_bot,
    outbox,
    until,
    worker_env,
)
from tests.support import DnsStub, LoopServer, build_response, closed_port, ok_server
from tests.support.redis import RedisServer

REGIONS = ("eu", "us", "ap")


async def _watch(bot: object, command: Watch) -> int:
    reply = await bot.execute(CONTEXT, command)  # type: ignore[attr-defined]
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


async def test_a_target_down_everywhere_is_one_down_alert_with_every_regions_view(
    tmp_path, redis: RedisServer, workers: Workers
) -> None:
    env = worker_env(redis)
    for region in REGIONS:
        await workers.start(region, env)
    with closed_port() as dead:
        async with coordinator_bot(tmp_path, redis, REGIONS) as bot:
            await workers.ready()
            await _watch(bot, Watch(dead.url, every=60, confirm=2, timeout=2, regions=REGIONS))
            await until(lambda: bool(outbox(bot, "down")), 30)
            assert bot.regions is not None
            # The second round opened the incident; the first one only asked for it.
            assert bot.regions.metrics.failed == 2
            assert bot.regions.metrics.incomplete == 0
            (down,) = outbox(bot, "down")
            views = {v["region"]: v for v in down["regions"]}
            assert list(views) == list(REGIONS)
            for view in views.values():
                assert view["label"] == "connect_refused"
                assert view["counted"] and not view["ok"]
                assert view["ip"] == "127.0.0.1"
            # Nothing else was queued: no DOWN of one vantage point, no region notice.
            assert [row["kind"] for row in outbox(bot)] == ["down"]


async def test_a_region_cut_off_is_not_counted_and_alerts_nothing_until_it_stops_answering(
    tmp_path, redis: RedisServer, workers: Workers, silent_resolver: str
) -> None:
    """ap's worker has a resolver that never answers: it cannot resolve the target nor its
    own control target, so its result does not count and eu and us decide (no alert). Once ap
    stops answering at all (its worker killed), its channel hears "region degraded" once, and
    "region back" when a worker of ap answers again; the target never goes DOWN."""
    with ok_server(body=b"control") as control, ok_server() as target:
        zone = {"shop.test": ["127.0.0.1"], "control.test": ["127.0.0.1"]}
        with DnsStub(zone) as dns:
            control_url = f"http://control.test:{control.port}/"
            good = worker_env(
                redis, CHECK502_RESOLVER=dns.address, CHECK502_CONTROL_URL=control_url
            )
            cut = worker_env(
                redis, CHECK502_RESOLVER=silent_resolver, CHECK502_CONTROL_URL=control_url
            )
            await workers.start("eu", good)
            await workers.start("us", good)
            ap = await workers.start("ap", cut)
            async with coordinator_bot(
                tmp_path, redis, REGIONS, resolver=dns.address, region_grace=2.0
            ) as bot:
                assert bot.regions is not None
                await workers.ready()
                url = f"http://shop.test:{target.port}/"
                mid = await _watch(
                    bot, Watch(url, every=1, confirm=1, timeout=1, regions=REGIONS, quorum=2)
                )
                await until(lambda: bot.regions.metrics.ok >= 2, 30)
                key, decision = bot.regions.decisions[0]
                assert key.startswith(f"{mid}:") and decision.state == "ok"
                ap_view = decision.views[2]
                assert ap_view.region == "ap" and not ap_view.counted
                assert ap_view.note == OWN_NETWORK
                assert all(v.counted and v.ok for v in decision.views[:2])
                assert bot.regions.metrics.incomplete == 0
                assert outbox(bot) == []

                ap.send_signal(signal.SIGKILL)
                await ap.wait()
                await until(lambda: bool(outbox(bot, "region_degraded")), 30)
                (notice,) = outbox(bot, "region_degraded")
                assert notice["detail"] == "ap"
                assert bot.regions.metrics.incomplete >= 2

                await workers.start("ap", good)
                await until(lambda: bool(outbox(bot, "region_restored")), 30)
                kinds = [row["kind"] for row in outbox(bot)]
                assert kinds == ["region_degraded", "region_restored"]
                assert bot.store.monitor(mid).state == "up"  # type: ignore[union-attr]


class _HoldFirst(LoopServer):
    """Holds the first request open (never answers it); answers every later one 200."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        self.seen += 1
        if self.seen == 1:
            await asyncio.sleep(60)
        writer.write(build_response(200, b"ok"))
        await writer.drain()


async def test_a_worker_killed_mid_job_is_retried_by_another_and_counted_once(
    tmp_path, redis: RedisServer, workers: Workers
) -> None:
    # The idle timeout is what a running job may take before another worker takes it over
    # (taskiq-redis#101): well above the few hundred ms from the job's start to the kill, so
    # the only takeover is the dead worker's, yet short enough for the round (8 s + 6 s grace).
    env = worker_env(redis, CHECK502_WORKER_IDLE_TIMEOUT="3s")
    procs = {(await workers.start("eu", env)).pid: None, (await workers.start("eu", env)).pid: None}
    by_pid = {p.pid: p for p in workers.procs}
    assert len(procs) == 2
    with _HoldFirst() as target:
        async with coordinator_bot(tmp_path, redis, ("eu",), region_grace=6.0) as bot:
            assert bot.regions is not None
            await workers.ready()
            mid = await _watch(bot, Watch(target.url, every=60, timeout=8, regions=("eu",)))
            await until(lambda: target.seen >= 1, 20)
            client = Redis.from_url(redis.url)
            try:
                pending = await client.xpending_range(
                    "check502:probe:eu", "check502", min="-", max="+", count=10
                )
                # The job's entry (the coordinator's no-op ticks may be pending beside it).
                entries = await client.xrange("check502:probe:eu")
            finally:
                await client.aclose()
            job_ids = set()
            for entry_id, fields in entries:
                args = json.loads(fields[b"data"]).get("args") or [{}]
                if isinstance(args[0], dict) and str(args[0].get("key", "")).startswith(f"{mid}:"):
                    job_ids.add(entry_id)
            (held,) = [p for p in pending if p["message_id"] in job_ids]
            holder = int(held["consumer"].decode().rpartition(":")[2])
            by_pid[holder].send_signal(signal.SIGKILL)
            await by_pid[holder].wait()

            await until(lambda: bool(bot.regions.decisions), 20)
            key, decision = bot.regions.decisions[0]
            assert key.startswith(f"{mid}:") and decision.state == "ok"
            (view,) = decision.views
            assert view.status == 200 and view.counted
            assert target.seen == 2  # the job ran twice: once held, once by the other worker
            assert bot.regions.metrics.results == 1 and bot.regions.metrics.duplicates == 0
            checks = bot.store.row("SELECT COUNT(*) AS n FROM results WHERE monitor_id = ?", (mid,))
            assert checks is not None and checks["n"] == 1

            # The survivor stops on SIGTERM, promptly, and says so by its exit code.
            (survivor,) = [p for pid, p in by_pid.items() if pid != holder]
            started = time.monotonic()
            survivor.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(survivor.wait(), 15) == 0
            assert time.monotonic() - started < 10


async def test_each_regions_result_counts_once_and_a_late_one_is_dropped(
    tmp_path, redis: RedisServer
) -> None:
    """The test plays the workers: it reads the queued jobs from Redis and writes results
    (a real diagnosis of a real server) to the results stream, one of them twice."""
    with ok_server() as server:
        diagnosis = await diagnose(server.url, policy=LOOPBACK, timeout=3.0)
        async with coordinator_bot(tmp_path, redis, ("eu", "us")) as bot:
            assert bot.regions is not None
            mid = await _watch(bot, Watch(server.url, every=60, timeout=5, regions=("eu", "us")))
            client = Redis.from_url(redis.url)
            try:
                entries = []
                deadline = time.monotonic() + 10
                while not entries and time.monotonic() < deadline:
                    entries = await client.xrange("check502:probe:eu")
                    await asyncio.sleep(0.05)
                (_, fields), *_ = entries
                job = json.loads(fields[b"data"])["args"][0]
                key = job["key"]
                assert key.startswith(f"{mid}:") and job["region"] == "eu"

                def result(region: str) -> dict[str, str]:
                    return Result(key, region, diagnosis, None, "test").fields()

                await client.xadd(RESULTS_STREAM, result("eu"))  # type: ignore[arg-type]
                await client.xadd(RESULTS_STREAM, result("eu"))  # type: ignore[arg-type]
                await client.xadd(RESULTS_STREAM, {"key": key, "region": "us", "garbage": "1"})
                await until(lambda: bot.regions.metrics.duplicates == 1, 10)
                await client.xadd(RESULTS_STREAM, result("us"))  # type: ignore[arg-type]
                await until(lambda: bool(bot.regions.decisions), 10)
                await client.xadd(RESULTS_STREAM, result("us"))  # type: ignore[arg-type]
                await until(lambda: bot.regions.metrics.late == 1, 10)
                m = bot.regions.metrics
                assert (m.results, m.duplicates, m.malformed, m.late) == (2, 1, 1, 1)
                assert bot.regions.decisions[0][1].state == "ok"
                checks = bot.store.row(
                    "SELECT COUNT(*) AS n FROM results WHERE monitor_id = ?", (mid,)
                )
                assert checks is not None and checks["n"] == 1
                # The Re-check button shows the front's own check, records nothing, and starts
                # a round of the regions at once.
                reply = await bot.recheck(CONTEXT, mid)
                assert isinstance(reply, DiagnosisReply) and reply.monitor_id == mid

                async def probe_jobs() -> int:
                    found = await client.xrange("check502:probe:us")
                    return sum(
                        json.loads(f[b"data"])["task_name"] == "check502.probe" for _, f in found
                    )

                for _ in range(100):
                    if await probe_jobs() == 2:
                        break
                    await asyncio.sleep(0.05)
                assert await probe_jobs() == 2
                checks = bot.store.row(
                    "SELECT COUNT(*) AS n FROM results WHERE monitor_id = ?", (mid,)
                )
                assert checks is not None and checks["n"] == 1
                # Every result was acknowledged and deleted once its round was over.
                for _ in range(40):
                    if await client.xlen(RESULTS_STREAM) == 0:
                        break
                    await asyncio.sleep(0.1)
                assert await client.xlen(RESULTS_STREAM) == 0
            finally:
                await client.aclose()
