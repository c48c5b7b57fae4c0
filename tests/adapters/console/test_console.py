"""The console surface: the real ``check502-bot`` entry point as a subprocess with piped stdin,
and the harness's rendering of replies and alerts (through the harness only)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleHarness
from bot.commands import USAGE
from bot.model import AlertKind, ErrorReply, ListReply, TextReply, WatchReply
from bot.settings import Settings
from checks import AddressPolicy
from tests.bot.conftest import fast_settings
from tests.support import OkServer, build_response, ok_server

ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 60.0
BANNER = "check502 console: a chat with the bot in this terminal."


def _command() -> list[str]:
    """The installed ``check502-bot`` script (next to this interpreter, else on PATH), or the
    module itself when the project is not installed."""
    beside = Path(sys.executable).with_name("check502-bot")
    script = str(beside) if beside.exists() else shutil.which("check502-bot")
    return [script] if script else [sys.executable, "-m", "adapters.main"]


def _env(db: Path, **extra: str) -> dict[str, str]:
    platform = ("SLACK_", "DISCORD_", "TELEGRAM_", "CHECK502_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(platform)}
    env.update(
        CHECK502_DB=str(db),
        CHECK502_ALLOW_NETWORKS="127.0.0.1",
        CHECK502_CONTROL_URL="off",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def _bot(stdin: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(),
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=DEADLINE,
        check=False,
    )


@pytest.fixture
def server() -> Iterator[OkServer]:
    with ok_server() as running:
        yield running


# --------------------------------------------------------------------------------- the process


def test_a_piped_session_runs_every_command_and_persists(tmp_path: Path, server: OkServer) -> None:
    db = tmp_path / "bot.db"
    session = (
        "help\n"
        "/check502 list\n"
        f"/check502 watch {server.url}\n"
        "list\n"
        f"/check502 {server.url}\n"
        "nonsense-command\n"
    )
    done = _bot(session, _env(db))
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, (done.returncode, out, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    assert out.startswith(BANNER), out[:200]
    for usage in USAGE.values():  # help: the whole grammar
        assert usage in out, usage
    assert "No monitors in this channel" in out  # the first list, before the watch
    assert f"Checking {server.url}" in out
    assert f"Watching #1 {server.url}" in out
    assert "First check: healthy" in out
    monitor_lines = [line for line in out.splitlines() if re.match(r"#1\s", line)]
    assert len(monitor_lines) == 1, out
    assert server.url in monitor_lines[0] and " up " in monitor_lines[0]
    assert "✓ healthy" in out  # the on-demand check
    error_lines = [line for line in out.splitlines() if line.startswith("✗ ")]
    assert len(error_lines) == 1 and "nonsense-command" in error_lines[0], error_lines
    # Replies come in the order of the commands when input is piped.
    order = [
        out.index("No monitors"),
        out.index("Watching #1"),
        out.index(monitor_lines[0]),
        out.index("✓ healthy"),
        out.index(error_lines[0]),
    ]
    assert order == sorted(order)
    assert "\033[" not in out  # NO_COLOR, and not a terminal
    assert len(server.requests) == 2  # the watch's first check, then the on-demand check

    again = _bot("list\n", _env(db))
    assert again.returncode == 0, (again.returncode, again.stdout, again.stderr)
    assert "Traceback" not in again.stderr
    persisted = [line for line in again.stdout.splitlines() if re.match(r"#1\s", line)]
    assert len(persisted) == 1 and server.url in persisted[0], again.stdout


def test_a_slow_check_prints_its_progress_then_the_cut_result(tmp_path: Path) -> None:
    with ok_server(delay=2.5) as slow:
        done = _bot(
            f"/check502 {slow.url} runs=10\n", _env(tmp_path / "bot.db", CHECK502_CHECK_LIMIT="4s")
        )
    out = done.stdout
    assert done.returncode == 0, (done.returncode, out, done.stderr)
    lines = out.splitlines()
    progress = [
        i
        for i, line in enumerate(lines)
        if re.fullmatch(rf"Checking {re.escape(slow.url)}… [1-9]/10 runs", line)
    ]
    cut = [
        i
        for i, line in enumerate(lines)
        if re.search(r"[1-9] of 10 runs finished within 4 s", line)
    ]
    assert len(progress) == 1 and cut and progress[0] < cut[0], out


def test_quit_stops_before_the_remaining_input(tmp_path: Path) -> None:
    done = _bot("help list\nquit\nhelp watch\n", _env(tmp_path / "bot.db"))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert USAGE["list"] in done.stdout
    assert USAGE["watch"] not in done.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHECK502_RETENTION_DAYS", "abc"),
        ("CHECK502_RATE_USER", "0"),
        # Read at start-up to build the bot's resolver: still a bad setting, not an accident.
        ("CHECK502_RESOLVER", "dns.google"),
        ("CHECK502_CHECK_LIMIT", "11m"),
    ],
)
def test_a_bad_setting_exits_2_with_one_line_naming_it(
    tmp_path: Path, name: str, value: str
) -> None:
    done = _bot("help\n", _env(tmp_path / "bot.db", **{name: value}))
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert name in lines[0]
    assert BANNER not in done.stdout


# ----------------------------------------------------------------------- rendering, in-process


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    loopback = {"policy": AddressPolicy.allowing("127.0.0.1"), "coalesce": 0.0}
    return fast_settings(tmp_path, None, **{**loopback, **overrides})


async def test_replies_render_as_plain_lines(tmp_path: Path, server: OkServer) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        text = await chat.push(f"watch {server.url} every=24h confirm=3 expect=2xx")
        assert isinstance(chat.last_reply, WatchReply)
        assert text.startswith(f"Watching #1 {server.url} every 1d")
        assert "alert after 3 failed checks in a row; expect 2xx" in text
        assert "First check: healthy" in text

        text = await chat.push("mute 1 2h")
        assert isinstance(chat.last_reply, TextReply) and chat.last_reply.monitor_id == 1
        assert text == "Muted #1 for 2h: checks go on, alerts are held back.\n"
        text = await chat.push("list")
        assert isinstance(chat.last_reply, ListReply)
        assert re.match(r"#1\s+up\s+every 1d\s+" + re.escape(server.url), text), text
        assert "last 200" in text and "muted until" in text

        text = await chat.push("unwatch 7")
        assert isinstance(chat.last_reply, ErrorReply)
        assert text == f"✗ {chat.last_reply.text}\n"
        assert "\033[" not in text

        text = await chat.push("unwatch 1")
        assert text == f"Stopped watching #1 {server.url}.\n"
        text = await chat.push("list")
        assert text.startswith("No monitors in this channel.")


async def test_an_outage_and_its_recovery_post_in_the_alert_thread(
    tmp_path: Path, server: OkServer
) -> None:
    server.response = build_response(502, b"bad gateway", {"Server": "nginx"})
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push(f"watch {server.url} every=24h confirm=1")
        assert isinstance(chat.last_reply, WatchReply), chat.last_reply
        down = await chat.pop(timeout=10)
        assert down.delivery.alert.kind is AlertKind.DOWN
        assert down.text.startswith(f"[{down.message_id}] 🔴 DOWN #1 {server.url}\n")
        assert "/check502 ack 1" in down.text and "/check502 details 1" in down.text
        assert "Public: HTTP/1.1 502 Bad Gateway" in down.text and "Reproduce" not in down.text

        server.response = build_response(200, b"ok")
        assert await chat.bot.monitoring.check(1) is not None
        resolved = await chat.pop(timeout=10)  # the alert, edited in place
        assert resolved.delivery.alert.kind is AlertKind.RESOLVED
        assert resolved.text.startswith(
            f"[{down.message_id} edited] ✅ RESOLVED #1 {server.url} after "
        )
        recovered = await chat.pop(timeout=10)
        assert recovered.delivery.alert.kind is AlertKind.RECOVERED
        assert recovered.text.startswith(
            f"[{recovered.message_id} ↳ thread of {down.message_id}] ✅ RECOVERED #1 {server.url}"
        )
        assert "marked resolved" not in recovered.text  # the edit went on its own
        assert chat.pending() == []
