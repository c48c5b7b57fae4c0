"""The one web server, in-process, on 127.0.0.1 and a port the kernel picks.

``/healthz`` and ``/readyz`` against a real bot (a real database file, the real scheduler), the
table surfaces mount their endpoints in, the installers' routes, and the bounds on every part
of ``/readyz``. Real faults: a database file and its WAL made immutable (``chattr +i`` on a
small ext4: root ignores permissions, not that), a write lock another connection holds.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from adapters.web.config import WebConfig
from adapters.web.server import (
    CHECK_TIMEOUT,
    PROBE_EVERY,
    PROBE_LOCK_WAIT,
    WebServer,
    always_ready,
)
from bot.core import Bot
from bot.errors import SettingsError
from tests.bot.conftest import fast_settings
from tests.support import free_port
from tests.support.disk import small_disk
from tests.support.web import web_server

MARGIN = 2.5
"""Seconds over a bound a loaded 2-core machine may add before an answer counts as late."""


@asynccontextmanager
async def started_bot(directory: Path) -> AsyncIterator[Bot]:
    bot = Bot(fast_settings(directory, None))
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
        bot.close()


async def _readyz(server: WebServer) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{server.url}/readyz")
    return r.status_code, r.json()


async def test_healthz_is_ok_and_readyz_is_ready_with_the_console(tmp_path: Path) -> None:
    async with started_bot(tmp_path) as bot, web_server(bot, surfaces=["console"]) as server:
        server.readiness("console", always_ready)
        async with httpx.AsyncClient(timeout=10) as http:
            alive = await http.get(f"{server.url}/healthz")
            assert (alive.status_code, alive.text) == (200, "ok\n")
        status, body = await _readyz(server)
        assert status == 200
        checks = {"database": "ok", "scheduler": "ok", "console": "ok"}
        assert body == {"ready": True, "checks": checks}
        # The probe wrote the row; asked again at once, the answer is reused, not written again.
        written = bot.store.get_meta("ready_probe")
        assert written is not None
        assert (await _readyz(server))[0] == 200
        assert bot.store.get_meta("ready_probe") == written


async def test_a_surface_that_has_not_said_it_is_connected_is_starting(tmp_path: Path) -> None:
    async with started_bot(tmp_path) as bot, web_server(bot, surfaces=["slack"]) as server:
        status, body = await _readyz(server)
        assert status == 503
        assert body == {
            "ready": False,
            "checks": {"database": "ok", "scheduler": "ok", "slack": "starting"},
        }

        async def not_connected() -> str:
            return "Socket Mode not connected"

        server.readiness("slack", not_connected)
        status, body = await _readyz(server)
        assert status == 503
        assert body["checks"] == {
            "database": "ok",
            "scheduler": "ok",
            "slack": "Socket Mode not connected",
        }
        server.readiness("slack", always_ready)
        assert (await _readyz(server))[0] == 200


async def test_a_stopped_scheduler_is_not_ready(tmp_path: Path) -> None:
    bot = Bot(fast_settings(tmp_path, None))
    try:
        async with web_server(bot) as server:
            status, body = await _readyz(server)  # built, not started
            assert status == 503
            assert body["checks"] == {"database": "ok", "scheduler": "not running"}
            await bot.start()
            assert await _readyz(server) == (
                200,
                {"ready": True, "checks": {"database": "ok", "scheduler": "ok"}},
            )
            await bot.stop()
            status, body = await _readyz(server)
            assert status == 503
            assert body["checks"] == {"database": "ok", "scheduler": "not running"}
    finally:
        await bot.stop()
        bot.close()


def _chattr(flag: str, files: list[str]) -> None:
    subprocess.run(["chattr", flag, *files], check=True, timeout=10)


async def test_a_database_that_cannot_be_written_is_not_ready_and_named(tmp_path: Path) -> None:
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(8, ext4=True))
        async with started_bot(disk) as bot, web_server(bot) as server:
            assert (await _readyz(server))[0] == 200
            # The file and its WAL (an immutable -shm makes SQLite itself die of SIGBUS).
            files = [str(disk / "bot.db"), str(disk / "bot.db-wal")]
            await asyncio.sleep(PROBE_EVERY)  # the last answer is not reused
            _chattr("+i", files)
            try:
                status, body = await _readyz(server)
            finally:
                _chattr("-i", files)
            assert status == 503
            checks = body["checks"]
            assert isinstance(checks, dict)
            assert checks["database"] in {"not writable (I/O error)", "not writable (read-only)"}
            assert checks["scheduler"] == "ok"
            await asyncio.sleep(PROBE_EVERY)
            assert (await _readyz(server))[0] == 200  # writable again: ready again


async def test_a_database_locked_by_another_program_is_not_ready_within_the_bound(
    tmp_path: Path,
) -> None:
    async with started_bot(tmp_path) as bot, web_server(bot) as server:
        other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the write lock, held
            started = time.monotonic()
            status, body = await _readyz(server)
            took = time.monotonic() - started
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert status == 503
        assert body["checks"] == {
            "database": "not writable (locked by another program)",
            "scheduler": "ok",
        }
        # The probe waits PROBE_LOCK_WAIT for the lock (not the bot's usual 5 s), and holds the
        # event loop no longer than that.
        assert took < PROBE_LOCK_WAIT + MARGIN
        await asyncio.sleep(PROBE_EVERY)
        assert (await _readyz(server))[0] == 200


async def test_a_hook_that_hangs_or_fails_is_not_ready_and_readyz_still_answers(
    tmp_path: Path,
) -> None:
    surfaces = ["discord", "telegram"]
    async with started_bot(tmp_path) as bot, web_server(bot, surfaces=surfaces) as server:

        async def hangs() -> str | None:
            await asyncio.sleep(3600)
            return None

        async def fails() -> str | None:
            raise RuntimeError("a bug in the hook")

        server.readiness("discord", hangs)
        server.readiness("telegram", fails)
        started = time.monotonic()
        status, body = await _readyz(server)
        assert time.monotonic() - started < CHECK_TIMEOUT + MARGIN
        assert status == 503
        assert body["checks"] == {
            "database": "ok",
            "scheduler": "ok",
            "discord": f"no answer within {CHECK_TIMEOUT:g} s",
            "telegram": "check failed (RuntimeError)",
        }


async def test_mounted_endpoints_are_served_after_the_start(tmp_path: Path) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.method} {request.path}")

    async with (
        started_bot(tmp_path) as bot,
        web_server(bot, surfaces=["slack"]) as server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        # Not mounted yet, and a surface still starting: come back, rather than "no such".
        r = await http.post(f"{server.url}/slack/events")
        assert (r.status_code, r.headers["Retry-After"]) == (503, "1")
        server.mount("POST", "/slack/events", hello)
        r = await http.post(f"{server.url}/slack/events")
        assert (r.status_code, r.text) == (200, "hello POST /slack/events")
        r = await http.get(f"{server.url}/slack/events")
        assert (r.status_code, r.headers["Allow"]) == (405, "POST")
        r = await http.post(f"{server.url}/elsewhere")
        assert r.status_code == 503  # slack has not said it is connected: still starting
        server.readiness("slack", always_ready)
        r = await http.post(f"{server.url}/elsewhere")
        assert r.status_code == 404


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/installed", "/slack/events"])
async def test_two_endpoints_on_one_path_are_a_settings_error(tmp_path: Path, path: str) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    def install(app: web.Application, bot: Bot) -> None:
        app.router.add_get("/installed", hello)

    bot = Bot(fast_settings(tmp_path, None))
    try:
        server = WebServer(bot, WebConfig(enabled=True), installers=[install])
        server.mount("POST", "/slack/events", hello)
        with pytest.raises(SettingsError, match=f"two endpoints want POST {path}"):
            server.mount("POST", path, hello)
    finally:
        bot.close()


async def test_installers_add_their_routes_and_are_given_the_bot(tmp_path: Path) -> None:
    given: list[Bot] = []

    def install(app: web.Application, bot: Bot) -> None:
        given.append(bot)

        async def monitors(request: web.Request) -> web.Response:
            return web.Response(text=f"{len(bot.store.schedule_rows())} monitors")

        app.router.add_get("/feature", monitors)

    async with started_bot(tmp_path) as bot, web_server(bot, installers=[install]) as server:
        assert given == [bot]
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{server.url}/feature")
        assert (r.status_code, r.text) == (200, "0 monitors")


async def test_a_port_already_taken_is_a_settings_error_naming_it(tmp_path: Path) -> None:
    bot = Bot(fast_settings(tmp_path, None))
    try:
        async with web_server(bot) as first:
            port = first.addresses[0][1]
            second = WebServer(bot, WebConfig(enabled=True, host="127.0.0.1", port=port))
            with pytest.raises(SettingsError) as raised:
                await second.start()
            assert str(raised.value).startswith(f"CHECK502_LISTEN=127.0.0.1 PORT={port}:")
            assert second.addresses == []  # nothing left half-started
    finally:
        bot.close()


async def test_it_listens_on_each_of_its_ports(tmp_path: Path) -> None:
    bot = Bot(fast_settings(tmp_path, None))
    ports = (free_port(), free_port())
    server = WebServer(
        bot, WebConfig(enabled=True, host="127.0.0.1", port=ports[0], extra_ports=ports[1:])
    )
    try:
        await server.start()
        assert sorted(p for _, p in server.addresses) == sorted(ports)
        async with httpx.AsyncClient(timeout=10) as http:
            for port in ports:
                r = await http.get(f"http://127.0.0.1:{port}/healthz")
                assert r.status_code == 200
    finally:
        await server.stop()
        bot.close()
