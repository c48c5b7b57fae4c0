"""``check502-bot`` as a process, and the one web server it starts (or does not).

* Slack in HTTP mode and a Telegram webhook in one process, on one port: the real Bolt and PTB
  code paths, each against its fake platform API, then SIGTERM.
* The console-only default binds no port at all; ``CHECK502_WEB=on`` binds exactly one.
* ``/readyz`` says whether a surface is connected: a Discord gateway up, or down at start.

The listening sockets are read from ``/proc``: the process's socket inodes, matched against the
kernel's TCP tables in the LISTEN state. Everything binds 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.slack.app import EVENTS_PATH
from tests.support import free_port, stall_server
from tests.support.discord_fake import TOKEN as DISCORD_TOKEN
from tests.support.discord_fake import FakeDiscord
from tests.support.entrypoint import bot_env, kill, spawn
from tests.support.slack_fake import SECRET, FakeSlack, command_form, error, signed
from tests.support.telegram_fake import GROUP, FakeTelegram
from tests.support.telegram_fake import TOKEN as TELEGRAM_TOKEN

WEBHOOK_SECRET = "webhook-secret_0123456789-abcdef"
_LISTEN = "0A"
"""The TCP state LISTEN in /proc/net/tcp."""


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == _LISTEN and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def _ready(
    http: httpx.AsyncClient, base: str, proc: asyncio.subprocess.Process, timeout: float = 10.0
) -> dict[str, Any]:
    """Poll ``/readyz`` until it is 200 (bounded); its body."""
    deadline = time.monotonic() + timeout
    last: object = "no answer"
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            _, err = await proc.communicate()
            raise AssertionError(f"check502-bot exited {proc.returncode}: {err.decode()}")
        with contextlib.suppress(httpx.TransportError):
            r = await http.get(f"{base}/readyz")
            last = r.json()
            if r.status_code == 200:
                return dict(r.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready: {last}")


async def _stop(proc: asyncio.subprocess.Process) -> str:
    """SIGTERM; the process must end cleanly (exit 0) within 5 s. Its output."""
    proc.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(proc.communicate(), 5.0)
    assert proc.returncode == 0, err.decode()
    return out.decode() + err.decode()


async def test_slack_events_and_the_telegram_webhook_share_one_port_in_one_process(
    tmp_path: Path,
) -> None:
    slack_token = "xoxb-1234-5678-one-port-token"
    port, telegram_port = free_port(), free_port()
    async with FakeSlack() as slack, FakeTelegram() as telegram:
        env = bot_env(
            tmp_path,
            SLACK_BOT_TOKEN=slack_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.api_url,
            TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
            TELEGRAM_API_URL=telegram.api_url,
            TELEGRAM_WEBHOOK_URL="https://bot.example.com/telegram",
            TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PORT=str(port),
            CHECK502_TELEGRAM_PORT=str(telegram_port),
        )
        proc = await spawn(env)
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(timeout=5) as http:
                ready = await _ready(http, base, proc)
                assert ready["checks"] == {
                    "database": "ok",
                    "scheduler": "ok",
                    "shards": "ok",
                    "slack": "ok",
                    "telegram": "ok",
                }
                assert listening_ports(proc.pid) == {port, telegram_port}
                (hook,) = telegram.of("setWebhook")
                assert hook.params["url"] == "https://bot.example.com/telegram"

                # Slack: a signed /check502 list, answered through its response URL.
                response_url = slack.response_url("one-port")
                body, headers = signed(command_form("list", response_url))
                r = await http.post(f"{base}{EVENTS_PATH}", content=body, headers=headers)
                assert r.status_code == 200, r.text
                (listing,) = await slack.wait(response_url.removeprefix(slack.url))
                assert "No monitors in this channel" in listing.body["text"]

                # Telegram: an update with the secret, on the same port; answered in the chat.
                update = telegram.typed("/check502 list", chat_id=GROUP)
                secret = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
                r = await http.post(f"{base}/telegram", json=update, headers=secret)
                assert r.status_code == 200
                (reply,) = await telegram.wait("sendMessage")
                assert reply.params["chat_id"] == GROUP
                assert "No monitors in this chat" in reply.text

                # The older CHECK502_TELEGRAM_PORT still receives the webhook too.
                again = telegram.typed("/help", chat_id=GROUP)
                r = await http.post(
                    f"http://127.0.0.1:{telegram_port}/telegram", json=again, headers=secret
                )
                assert r.status_code == 200
                await telegram.wait("sendMessage", 2)
            output = await _stop(proc)
            assert slack_token not in output and SECRET not in output
            assert TELEGRAM_TOKEN.partition(":")[2] not in output
            assert WEBHOOK_SECRET not in output
        finally:
            await kill(proc)


async def test_readyz_follows_slack_socket_mode_and_telegram_polling(tmp_path: Path) -> None:
    """Neither needs the server; with ``PORT`` set it runs, and ``/readyz`` says whether the
    Socket Mode WebSocket is connected: ready, then not once Slack drops it (and refuses new
    connections), and the dropped WebSocket is named."""
    port = free_port()
    async with FakeSlack() as slack, FakeTelegram() as telegram:
        env = bot_env(
            tmp_path,
            SLACK_APP_TOKEN="xapp-1-A1-ready-token",
            SLACK_BOT_TOKEN="xoxb-2222-3333-ready-token",
            SLACK_API_URL=slack.api_url,
            TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
            TELEGRAM_API_URL=telegram.api_url,
            PORT=str(port),
        )
        proc = await spawn(env)
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(timeout=5) as http:
                ready = await _ready(http, base, proc)
                assert ready["checks"] == {
                    "database": "ok",
                    "scheduler": "ok",
                    "shards": "ok",
                    "slack": "ok",
                    "telegram": "ok",
                }
                await telegram.wait("getUpdates")
                slack.script["apps.connections.open"] = [error("internal_error")] * 50
                await slack.sockets[-1].close()
                body = await _settled(proc, base, until=lambda b: not b["ready"])
                assert body["checks"] == {
                    "database": "ok",
                    "scheduler": "ok",
                    "shards": "ok",
                    "slack": "Socket Mode not connected",
                    "telegram": "ok",
                }
            await _stop(proc)
        finally:
            await kill(proc)


async def test_web_off_with_slack_http_is_one_line_before_the_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    token = "xoxb-4444-5555-web-off-token"
    env = bot_env(home, SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=SECRET, CHECK502_WEB="off")
    proc = await spawn(env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 10.0)
    finally:
        await kill(proc)
    assert proc.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("check502-bot: CHECK502_WEB=off, but slack receives over HTTP")
    assert token not in out.decode() + err.decode()
    assert list(home.iterdir()) == []  # no database, no lock file


async def _console(tmp_path: Path, **extra: str) -> asyncio.subprocess.Process:
    """``check502-bot`` with no tokens (the console), its input kept open; once it shows its
    banner (the bot has started)."""
    proc = await spawn(bot_env(tmp_path, **extra), stdin=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 10.0)
    assert line.startswith(b"check502 console"), line
    return proc


async def test_the_console_only_default_binds_no_port(tmp_path: Path) -> None:
    proc = await _console(tmp_path)
    try:
        assert proc.returncode is None  # running (and /proc/<pid>/fd is read: it exists)
        assert listening_ports(proc.pid) == set()
        assert proc.stdin is not None
        proc.stdin.close()  # the end of the input ends the console, and the bot
        await asyncio.wait_for(proc.wait(), 5.0)
        assert proc.returncode == 0
    finally:
        await kill(proc)


async def test_web_on_with_the_console_binds_one_port_is_ready_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    proc = await _console(tmp_path, CHECK502_WEB="on", PORT=str(port))
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            ready = await _ready(http, f"http://127.0.0.1:{port}", proc)
            alive = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert alive.text == "ok\n"
        assert ready == {
            "ready": True,
            "checks": {"database": "ok", "scheduler": "ok", "shards": "ok", "console": "ok"},
        }
        assert listening_ports(proc.pid) == {port}
        await _stop(proc)
    finally:
        await kill(proc)


@pytest.mark.parametrize(
    "gateway", ["up", "stalled", "refused"], ids=["gateway-up", "gateway-down", "gateway-refused"]
)
async def test_readyz_says_whether_the_discord_gateway_is_connected(
    tmp_path: Path, gateway: str
) -> None:
    """Down: the gateway accepts the connection and never answers the WebSocket handshake, or
    refuses the connection (which discord.py 2.7 alone cannot retry: its reconnect reads
    ``self.ws.sequence`` of a WebSocket it never had; the surface retries it), and the bot waits
    for it, logging one line per attempt, never a traceback."""
    port = free_port()
    gateway_up = gateway == "up"
    async with FakeDiscord() as fake:
        with stall_server() as stalled:
            gateway_url = {
                "up": fake.gateway_url,
                "stalled": stalled.url.replace("http", "ws", 1),
                "refused": f"ws://127.0.0.1:{free_port()}",
            }[gateway]
            env = bot_env(
                tmp_path,
                DISCORD_TOKEN=DISCORD_TOKEN,
                DISCORD_API_URL=fake.api_url,
                DISCORD_GATEWAY_URL=gateway_url,
                PORT=str(port),
            )
            proc = await spawn(env)
            try:
                base = f"http://127.0.0.1:{port}"
                if gateway_up:
                    async with httpx.AsyncClient(timeout=5) as http:
                        body = await _ready(http, base, proc)
                else:
                    await _settled(proc, base)
                    await asyncio.sleep(1.0)  # not a moment on the way: it stays so
                    body = await _settled(proc, base)
                discord = "ok" if gateway_up else "gateway not ready"
                assert body == {
                    "ready": gateway_up,
                    "checks": {
                        "database": "ok",
                        "scheduler": "ok",
                        "shards": "ok",
                        "discord": discord,
                    },
                }
                output = await _stop(proc)
                assert "Traceback" not in output
            finally:
                await kill(proc)


async def _settled(
    proc: asyncio.subprocess.Process,
    base: str,
    until: Callable[[dict[str, Any]], bool] = lambda body: True,
) -> dict[str, Any]:
    """``/readyz`` once no part is starting any more and ``until`` holds (bounded); checks
    ``/healthz`` too."""
    body: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=5) as http:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(httpx.TransportError):
                r = await http.get(f"{base}/readyz")
                body = r.json()
                if (
                    "starting" not in body["checks"].values()
                    and body["checks"]["scheduler"] == "ok"
                ):
                    assert r.status_code == (200 if body["ready"] else 503)
                    assert (await http.get(f"{base}/healthz")).status_code == 200
                    return body
            await asyncio.sleep(0.1)
    raise AssertionError(f"readyz never settled (exit {proc.returncode}): {body}")


async def test_the_one_server_serves_the_status_page_a_console_turns_on_and_outlives_its_input(
    tmp_path: Path,
) -> None:
    port = free_port()
    proc = await _console(tmp_path, CHECK502_WEB="on", PORT=str(port))
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"status on\n")
        await proc.stdin.drain()
        path = ""
        deadline = time.monotonic() + 10.0
        while not path and time.monotonic() < deadline:
            line = await asyncio.wait_for(proc.stdout.readline(), 10.0)
            found = re.search(rb"/status/[A-Za-z0-9_-]{20,}", line)
            path = found.group().decode() if found else ""
        assert path, "the console never said the status page's path"
        proc.stdin.close()  # the console's input ends (as on a platform): the web home stays
        async with httpx.AsyncClient(timeout=5) as http:
            await _ready(http, f"http://127.0.0.1:{port}", proc)
            page = await http.get(f"http://127.0.0.1:{port}{path}")
            unknown = await http.get(f"http://127.0.0.1:{port}/status/{'x' * 32}")
        assert page.status_code == 200
        assert "<h1" in page.text
        assert unknown.status_code == 404
        assert proc.returncode is None
        await _stop(proc)
    finally:
        await kill(proc)
