"""A worker's handling of one job, in-process against a real Redis: a job is checked and its
result written once; a stale job (its round is over), another region's job or garbage is
dropped unrun, and nothing is written for it."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from adapters.worker.probe import Prober
from bot.commands import Expect
from bot.regions.jobs import RESULTS_STREAM, Job, Result
from checks import RequestSpec
from tests.bot.conftest import LOOPBACK, fast_settings
from tests.support import ok_server
from tests.support.redis import RedisServer


async def test_a_job_is_checked_once_and_stale_or_foreign_ones_are_dropped(
    tmp_path, redis: RedisServer
) -> None:
    client = Redis.from_url(redis.url)
    settings = fast_settings(tmp_path, None, policy=LOOPBACK)
    prober = Prober(settings, "eu", client, name="test", environ={})
    try:
        with ok_server() as server:
            job = Job(
                "7:1000",
                "eu",
                7,
                server.url,
                None,
                2.0,
                RequestSpec(),
                True,
                Expect.default(),
                time.time() + 30,
            )
            await prober(job.to_dict())
            stale = Job(
                "7:2000",
                "eu",
                7,
                server.url,
                None,
                2.0,
                RequestSpec(),
                True,
                Expect.default(),
                time.time() - 1,
            )
            await prober(stale.to_dict())
            foreign = Job(
                "7:3000",
                "us",
                7,
                server.url,
                None,
                2.0,
                RequestSpec(),
                True,
                Expect.default(),
                time.time() + 30,
            )
            await prober(foreign.to_dict())
            await prober({"key": "7:4000", "region": "eu"})
            assert len(server.requests) == 1
        entries = await client.xrange(RESULTS_STREAM)
        assert len(entries) == 1
        result = Result.from_fields(entries[0][1])
        assert (result.key, result.region, result.control_ok) == ("7:1000", "eu", None)
        assert result.diagnosis.healthy
        assert (prober.done, prober.stale, prober.refused) == (1, 1, 2)
    finally:
        await client.aclose()
