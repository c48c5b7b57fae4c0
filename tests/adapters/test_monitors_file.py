"""The monitors file in a real ``check502-bot`` (the console): loaded before the surfaces start,
an invalid file stops the start with one line naming file, line and key (exit 2); SIGHUP
(``os.kill``) adds, changes and removes the file's monitors, leaves the chat's alone, and a
broken file on reload keeps the running monitors with one log line."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import ok_server
from tests.support.entrypoint import bot_env, kill, spawn

WAIT = 20.0
HEAD = '[[channel]]\nplatform = "console"\nchannel = "terminal"\n'


def monitor(url: str, *lines: str) -> str:
    return "\n".join(["", "[[channel.monitor]]", f'url = "{url}"', *lines]) + "\n"


def rows(db: Path) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    raw.row_factory = sqlite3.Row
    try:
        found = raw.execute("SELECT id, url, every, source FROM monitors ORDER BY id")
        return [dict(r) for r in found]
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        raw.close()


async def reached(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"not reached: {what}"
        await asyncio.sleep(0.05)


async def test_an_invalid_file_stops_the_start_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "check502.toml"
    path.write_text(HEAD + monitor("https://a.test/", 'every = "1s"'), encoding="utf-8")
    env = bot_env(tmp_path, CHECK502_MONITORS_FILE=str(path))
    proc = await spawn(env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30.0)
    finally:
        await kill(proc)
    assert proc.returncode == 2, (out, err)
    lines = err.decode().splitlines()
    assert lines == [
        f"check502-bot: {path}:7: channel[1].monitor[1].every: every= must be from 30s to 24h."
    ]
    assert not (tmp_path / "bot.db").exists()  # nothing opened
    assert "check502 console" not in out.decode()


async def test_sighup_adds_changes_and_removes_the_files_monitors_and_keeps_the_chats(
    tmp_path: Path,
) -> None:
    path = tmp_path / "check502.toml"
    db = tmp_path / "bot.db"
    with ok_server() as a, ok_server() as b, ok_server() as c, ok_server() as mine:
        path.write_text(HEAD + monitor(a.url) + monitor(b.url, 'every = "1m"'), encoding="utf-8")
        env = bot_env(tmp_path, CHECK502_MONITORS_FILE=str(path), CHECK502_LOG_LEVEL="WARNING")
        proc = await spawn(env, stdin=asyncio.subprocess.PIPE)
        assert proc.stdin is not None and proc.stderr is not None and proc.stdout is not None
        try:
            await reached(lambda: len(rows(db)) == 2, "the file's two monitors")
            first = {r["url"]: r for r in rows(db)}
            assert {r["source"] for r in first.values()} == {"check502.toml"}
            proc.stdin.write(f"watch {mine.url}\n".encode())
            await proc.stdin.drain()
            await reached(lambda: len(rows(db)) == 3, "the chat's monitor")

            # a changes in place, b leaves the file, c joins it.
            path.write_text(HEAD + monitor(a.url, 'every = "2m"') + monitor(c.url), "utf-8")
            os.kill(proc.pid, signal.SIGHUP)
            await reached(
                lambda: [r["url"] for r in rows(db)] == [a.url, mine.url, c.url],
                "b removed, c added",
            )
            now = {r["url"]: r for r in rows(db)}
            assert now[a.url]["id"] == first[a.url]["id"] and now[a.url]["every"] == 120
            assert now[mine.url]["source"] is None

            # A broken file on reload: one line naming file, line and key; nothing changes.
            path.write_text(HEAD + monitor(a.url, 'every = "forever"'), "utf-8")
            os.kill(proc.pid, signal.SIGHUP)
            line = await asyncio.wait_for(proc.stderr.readline(), WAIT)
            while b"added" in line:  # the reload before it said what it did
                line = await asyncio.wait_for(proc.stderr.readline(), WAIT)
            text = line.decode()
            assert f"{path}:7: channel[1].monitor[1].every:" in text, text
            assert "the running monitors are kept" in text
            await asyncio.sleep(0.5)
            assert rows(db) == list(now.values())
            assert proc.returncode is None  # still running

            proc.stdin.write(b"list\nquit\n")
            await proc.stdin.drain()
            out = await asyncio.wait_for(proc.stdout.read(), WAIT)
            listing = out.decode()
            assert listing.count("from check502.toml") == 2
        finally:
            await kill(proc)
