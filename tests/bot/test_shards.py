"""Shard processes (bot.shards): real ``python -m bot.shards`` children checking real loopback
servers, their results applied in the front; kills, hangs and stops bounded, no orphan left."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from adapters.console import ConsoleHarness
from bot.checkrun import Snapshot
from bot.commands import Watch
from bot.model import AlertKind, Context, WatchReply
from bot.monitorsfile import load
from bot.settings import Settings
from bot.shards import Shards
from checks import Diagnosis
from tests.bot.conftest import LOOPBACK, fast_settings, until
from tests.support import OkServer, closed_port, ok_server
from tests.support.entrypoint import bot_env, kill, spawn
from tests.support.servers import ApiServer

CONSOLE_CONTEXT = "tester"


async def watch(chat: ConsoleHarness, url: str, *, every: int = 1, confirm: int = 2) -> int:
    from adapters.console.harness import CONSOLE

    reply = await chat.bot.execute(
        Context(CONSOLE, CONSOLE_CONTEXT), Watch(url, every, confirm=confirm)
    )
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def results_of(chat: ConsoleHarness, monitor_id: int) -> int:
    return int(
        chat.bot.store.execute(
            "SELECT COUNT(*) FROM results WHERE monitor_id = ?", (monitor_id,)
        ).fetchone()[0]
    )


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def shard_children(parent: int) -> list[int]:
    """The ``bot.shards`` processes whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"bot.shards" in cmdline:
            found.append(int(entry.name))
    return found


async def test_each_monitor_is_checked_on_its_shard_and_alerts_from_the_front(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, shards=2)
    with ok_server() as site, closed_port() as closed:
        async with ConsoleHarness(settings) as chat:
            shards = chat.bot.shards
            assert shards is not None and chat.bot.checking is shards
            await until(lambda: shards.up == 2, timeout=20)
            up = await watch(chat, site.url)
            down = await watch(chat, closed.url)
            assert {up % 2, down % 2} == {0, 1}
            posted = await chat.pop(timeout=15)
            assert posted.delivery.alert.kind is AlertKind.DOWN
            assert posted.delivery.alert.monitor_id == down
            # Results arrived from both shards: the 200s from one, the refusals from the other.
            await until(lambda: results_of(chat, up) >= 3 and results_of(chat, down) >= 3)
            assert shards.results[up % 2] >= 2
            assert shards.results[down % 2] >= 2
            assert shards.metrics.checks >= 4 and len(shards.metrics.lags) >= 4
            ok = chat.bot.store.execute(
                "SELECT COUNT(*) FROM results WHERE monitor_id = ? AND ok = 0", (up,)
            ).fetchone()[0]
            assert ok == 0
            pids = shards.pids
            assert len(pids) == 2 and all(alive(p) for p in pids)
        # Stopped: no shard left behind.
        assert not any(alive(p) for p in pids)
        assert shard_children(os.getpid()) == []


async def test_add_remove_and_recheck_reach_the_monitors_shard(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, shards=2)
    with ok_server() as site, closed_port() as closed:
        async with ConsoleHarness(settings) as chat:
            shards = chat.bot.shards
            assert shards is not None
            await until(lambda: shards.up == 2, timeout=20)
            # Every hour: no scheduled run in the test, so the second failure that opens the
            # incident can only come from the re-check the first one (made by watch) asked for.
            down = await watch(chat, closed.url, every=3600)
            posted = await chat.pop(timeout=15)
            assert posted.delivery.alert.kind is AlertKind.DOWN
            assert shards.results[down % 2] >= 1
            assert shards.results[1 - down % 2] == 0
            # Added: checked each second by its shard. Removed: no more results.
            mid = await watch(chat, site.url)
            await until(lambda: results_of(chat, mid) >= 3)
            reply = await chat.push(f"unwatch {mid}")
            assert f"#{mid}" in reply
            before = shards.results[mid % 2]
            await asyncio.sleep(2.5)
            assert shards.results[mid % 2] == before
            assert results_of(chat, mid) == 0  # its history went with it


async def test_a_killed_shard_is_restarted_and_checks_again(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, shards=2)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            shards = chat.bot.shards
            assert shards is not None
            await until(lambda: shards.up == 2, timeout=20)
            mid = await watch(chat, site.url)
            await until(lambda: results_of(chat, mid) >= 2)
            pid = shards.pid_of(mid % 2)
            assert pid is not None and pid in shard_children(os.getpid())
            os.kill(pid, signal.SIGKILL)
            await until(lambda: shards.restarts >= 1, timeout=10)
            await until(lambda: shards.up == 2 and pid not in shards.pids, timeout=20)
            seen = results_of(chat, mid)
            await until(lambda: results_of(chat, mid) >= seen + 2, timeout=10)
            assert shards.restarts == 1


async def test_a_hung_shard_is_killed_and_replaced(tmp_path: Path) -> None:
    got: list[tuple[int, Diagnosis]] = []
    failed: list[int] = []

    async def receive(monitor_id: int, diagnosis: Diagnosis, at: float) -> None:
        if not failed:  # the first result cannot be applied: logged, and nothing else changes
            failed.append(monitor_id)
            raise RuntimeError("cannot apply this one")
        got.append((monitor_id, diagnosis))

    with ok_server() as site:
        snapshots = [Snapshot(id=1, url=site.url, every=1, timeout=3.0)]
        shards = Shards(
            Settings(db_path=str(tmp_path / "unused.db"), policy=LOOPBACK, min_interval=1),
            count=1,
            load=lambda index, count: snapshots,
            load_one=lambda monitor_id: None,
            receive=receive,
            hang_after=3.0,
        )
        await shards.start()
        try:
            await until(lambda: len(got) >= 2, timeout=20)
            assert got[0][1].probes[0].status == 200
            assert failed == [1] and shards.restarts == 0
            (hung,) = shards.pids
            os.kill(hung, signal.SIGSTOP)
            started = time.monotonic()
            await until(lambda: shards.restarts == 1, timeout=15)
            assert time.monotonic() - started < 3.0 + 2.0 + 1.0  # the bound, a tick, slack
            assert not alive(hung)
            seen = len(got)
            await until(lambda: len(got) >= seen + 2, timeout=20)
        finally:
            pids = shards.pids
            await shards.shutdown()
        assert not any(alive(p) for p in pids)


async def test_a_front_killed_with_sigkill_leaves_no_shard(tmp_path: Path) -> None:
    env = bot_env(tmp_path, CHECK502_SHARDS="2")
    front = await spawn(env, stdin=asyncio.subprocess.PIPE)  # the console keeps reading
    try:
        deadline = time.monotonic() + 30
        while len(shard_children(front.pid)) < 2:
            assert front.returncode is None, "the front exited"
            assert time.monotonic() < deadline, "no shards started"
            await asyncio.sleep(0.1)
        children = shard_children(front.pid)
        front.kill()
        await front.wait()
        killed = time.monotonic()
        while any(alive(p) for p in children):
            assert time.monotonic() - killed < 5, "a shard outlived its front"
            await asyncio.sleep(0.05)
    finally:
        await kill(front)


SECRET = "tok-shard-7c1d2e3f-SECRET"


async def test_a_shard_sends_credentials_and_a_changed_file_monitor_reaches_it(
    tmp_path: Path, control: OkServer
) -> None:
    """The shard reads ``auth=`` from the environment the front reads (the harness's own, not
    the process's), and a monitors-file reload that changes a monitor in place (same URL,
    another keyword) changes what its shard checks."""
    settings = fast_settings(tmp_path, control.url, shards=2, auth_vars=("API_TOKEN",))
    path = tmp_path / "check502.toml"

    def declare(keyword: str) -> None:
        path.write_text(
            '[[channel]]\nplatform = "console"\nworkspace = "local"\nchannel = "terminal"\n'
            f'[[channel.monitor]]\nurl = "{api.url}private"\nevery = "1h"\n'
            f'auth = "bearer:API_TOKEN"\nkeyword = "{keyword}"\n',
            encoding="utf-8",
        )

    with ApiServer(token=SECRET) as api:
        declare("welcome")
        async with ConsoleHarness(settings, environ={"API_TOKEN": SECRET}) as chat:
            shards = chat.bot.shards
            assert shards is not None
            chat.bot.load_monitors(load(path, min_interval=1, policy=LOOPBACK))
            (mid,) = [m.id for m in chat.bot.store.file_monitors()]

            def outcomes() -> list[str]:
                rows = chat.bot.store.rows(
                    "SELECT outcome FROM results WHERE monitor_id = ? ORDER BY at", (mid,)
                )
                return [str(r["outcome"]) for r in rows]

            # Every hour (the file's floor is 30 s): the checks here are the re-checks asked of
            # its shard.
            shards.recheck(mid, 0.0)
            await until(lambda: outcomes().count("200") >= 1, timeout=20)
            shards.recheck(mid, 0.0)
            await until(lambda: outcomes().count("200") >= 2, timeout=20)
            assert shards.results[mid % 2] >= 2 and shards.results[1 - mid % 2] == 0
            assert api.seen and all(
                seen[2].get("authorization") == f"Bearer {SECRET}" for seen in api.seen
            )
            declare("not-on-the-page")
            assert chat.bot.load_monitors(load(path, min_interval=1, policy=LOOPBACK)) == (0, 1, 0)
            shards.recheck(mid, 0.0)
            await until(lambda: "keyword_missing" in outcomes(), timeout=20)
    assert SECRET not in "\n".join(p.text for p in chat.posted)


def test_shards_zero_keeps_the_checks_in_process(tmp_path: Path) -> None:
    assert Settings().shards == 0
    assert Settings.from_env({}).shards == len(os.sched_getaffinity(0))
    settings = Settings.from_env({"CHECK502_SHARDS": "0", "CHECK502_DB": str(tmp_path / "b.db")})
    assert settings.shards == 0
    harness = ConsoleHarness(settings)
    try:
        assert harness.bot.shards is None and harness.bot.checking is harness.bot.schedule
    finally:
        harness.bot.close()
