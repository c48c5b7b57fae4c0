"""Regions on one machine: a real redis-server, real ``check502-worker`` processes (one or two
per region), and the bot's coordinator in the test's own loop, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.core import Bot
from bot.model import Channel, Context
from tests.bot.conftest import fast_settings
from tests.support.entrypoint import REPO
from tests.support.redis import RedisServer, redis_server

WORKER_SCRIPT = Path(sys.executable).with_name("check502-worker")
CHANNEL = Channel("console", "local", "regions")
CONTEXT = Context(CHANNEL, "tester")


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def silent_resolver() -> Iterator[str]:
    """A UDP port on 127.0.0.1 that never answers: a region whose network is cut off."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def worker_env(redis: RedisServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECK502_")}
    env.update(
        {
            "CHECK502_REDIS_URL": redis.url,
            "CHECK502_ALLOW_NETWORKS": "127.0.0.0/8",
            "CHECK502_CONTROL_URL": "off",
            "CHECK502_WORKER_CONCURRENCY": "10",
            "CHECK502_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


class Workers:
    """``check502-worker`` children (their stderr in files); every one is killed when the test
    ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: list[asyncio.subprocess.Process] = []
        self._log_of: dict[int, Path] = {}

    async def start(self, region: str, env: dict[str, str]) -> asyncio.subprocess.Process:
        command = (
            [str(WORKER_SCRIPT)]
            if WORKER_SCRIPT.exists()
            else [sys.executable, "-m", "adapters.worker.main"]
        )
        log = self.logs / f"worker-{region}-{len(self.procs)}.log"
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *command,
                "--region",
                region,
                cwd=REPO,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        self.procs.append(proc)
        self._log_of[proc.pid] = log
        return proc

    def log(self, proc: asyncio.subprocess.Process) -> str:
        return self._log_of[proc.pid].read_text(errors="replace")

    async def ready(self, timeout: float = 30.0) -> None:
        """Wait (bounded) until every worker started says it takes jobs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = 0
            for proc in self.procs:
                if proc.returncode is not None:
                    continue
                text = self.log(proc)
                if "Traceback" in text:
                    raise AssertionError(f"a worker failed: {text[-800:]}")
                if "check502-worker: region" not in text:
                    waiting += 1
            if not waiting:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"workers not taking jobs within {timeout:g} s")

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                await proc.wait()


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Workers]:
    pool = Workers(tmp_path)
    try:
        yield pool
    finally:
        await pool.stop_all()


@asynccontextmanager
async def coordinator_bot(
    tmp_path: Path, redis: RedisServer, regions: tuple[str, ...], **overrides: Any
) -> AsyncIterator[Bot]:
    values: dict[str, Any] = {
        "redis_url": redis.url,
        "regions": regions,
        "region_grace": 2.0,
        "control_url": None,
    }
    values.update(overrides)
    control = values.pop("control_url")
    bot = Bot(fast_settings(tmp_path, control, **values))
    assert bot.regions is not None
    bot.regions.tick = 0.5
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
        bot.close()


def outbox(bot: Bot, kind: str | None = None) -> list[dict[str, Any]]:
    """The alerts queued (no surface is attached: nothing is sent), oldest first."""
    rows = bot.store.rows("SELECT kind, payload FROM outbox ORDER BY id")
    return [
        {"kind": r["kind"], **json.loads(r["payload"])}
        for r in rows
        if kind is None or r["kind"] == kind
    ]


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
