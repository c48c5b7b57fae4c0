"""The database failing for real: a full disk, a read-only mount or file, a damaged file, a file
from a newer check502, a lock another program holds, and a second bot on the same file.

Each fault is real: a small tmpfs (or loop-mounted ext4) that fills up or is remounted
read-only, an immutable file (``chattr +i``: root ignores permissions, not that), bytes
overwritten or cut off, an exclusive transaction held by another connection, a second
``check502-bot`` process. A fault that cannot be made fails the test (see
:mod:`tests.support.disk`).

What must hold: a command either fully happens or leaves nothing, and says so in one sentence;
checks survive a full disk (their results dropped and counted, the state machine not moved) and
the outage alerts once there is room; at start-up every fault is one line naming the file and
what to do, exit code 2, no traceback; a second bot on one database is refused, naming the PID of
the first, and a ``kill -9`` leaves no stale lock behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.commands import Watch
from bot.errors import StorageError
from bot.model import AlertKind, Context, Delivery, ErrorReply, MessageRef, WatchReply
from bot.storage import SCHEMA_VERSION, Store
from tests.bot.conftest import fast_settings, until
from tests.support import build_response, ok_server
from tests.support.disk import fill, remount, small_disk

ROOT = Path(__file__).resolve().parents[2]
FULL = "The bot's database could not be written (disk full); nothing was changed."


# ---------------------------------------------------------------------------- a full disk


async def _watch(chat: ConsoleHarness, url: str, *, confirm: int) -> None:
    """A 1-second monitor (below the grammar's 30 s floor, as tests may)."""
    command = Watch(url, every=1, confirm=confirm)
    reply = await chat.bot.execute(Context(CONSOLE, "tester"), command)
    assert isinstance(reply, WatchReply), reply


async def test_a_full_disk_keeps_nothing_half_written_and_the_outage_alerts_once_there_is_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(4))
        control = stack.enter_context(ok_server(body=b"control"))
        site = stack.enter_context(ok_server())
        other = stack.enter_context(ok_server())
        async with ConsoleHarness(fast_settings(disk, control.url)) as chat:
            store = chat.bot.store
            await _watch(chat, site.url, confirm=2)
            filler = fill(disk)

            # A command: one sentence, and nothing of it kept (monitor, result, schedule).
            text = await chat.push(f"watch {other.url}")
            assert chat.last_reply == ErrorReply(FULL), chat.last_reply
            assert "Traceback" not in text
            assert [m.id for m in store.monitors_in(CONSOLE)] == [1]
            assert store.rows("SELECT monitor_id FROM results") == [{"monitor_id": 1}]
            assert not chat.bot.schedule.scheduled(2)
            assert other.requests, "the first check ran before the write failed"

            # Checks go on; their results are dropped and counted; the state does not move.
            site.response = build_response(502, b"bad gateway")
            await until(lambda: chat.bot.check_faults.count >= 3, 20)
            monitor = store.monitor(1)
            assert monitor is not None
            assert (monitor.state, monitor.fail_streak) == ("up", 0)
            assert store.rows("SELECT id FROM incidents") == []
            assert store.rows("SELECT id FROM outbox") == []
            assert chat.pending() == []

            # Room again: the outage is confirmed and alerts, once.
            filler.unlink()
            posted = await chat.pop(timeout=20)
            assert posted.delivery.alert.kind is AlertKind.DOWN
            assert posted.delivery.alert.monitor_id == 1
            monitor = store.monitor(1)
            assert monitor is not None and monitor.state == "down"
            await chat.push("list")  # commands write again
            assert not isinstance(chat.last_reply, ErrorReply), chat.last_reply
    # Logged once per kind of work (command, checks), not once per failure, never a traceback.
    full = [r for r in caplog.records if "disk full" in r.getMessage()]
    assert 1 <= len(full) <= 3, [r.getMessage() for r in full]
    assert chat.bot.check_faults.count >= 3
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_at_every_amount_of_free_space_a_watch_is_all_or_nothing() -> None:
    """Free space grows a page at a time: each watch either fails whole (one sentence, no row
    of it anywhere) or succeeds whole; never a monitor without its first result."""
    page = os.sysconf("SC_PAGE_SIZE")
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(4))
        site = stack.enter_context(ok_server())
        settings = fast_settings(disk, None, rate_user=1000, rate_channel=1000)
        async with ConsoleHarness(settings) as chat:
            store = chat.bot.store
            failed = 0
            for pages in range(64):
                filler = fill(disk, leave=pages * page)
                await chat.push(f"watch {site.url} every=24h")
                filler.unlink()
                monitors = store.rows("SELECT id FROM monitors")
                results = store.rows("SELECT monitor_id FROM results")
                if isinstance(chat.last_reply, ErrorReply):
                    assert chat.last_reply.text == FULL, chat.last_reply
                    assert (monitors, results) == ([], []), (pages, monitors, results)
                    assert chat.bot.schedule.jobs == 2  # the prune job and the sweep only
                    failed += 1
                    continue
                assert isinstance(chat.last_reply, WatchReply), chat.last_reply
                assert monitors == [{"id": chat.last_reply.monitor.id}]
                assert results == [{"monitor_id": chat.last_reply.monitor.id}]
                break
            else:
                raise AssertionError("the watch never fitted")
            assert failed >= 1, "the first attempt fitted: no fault was made"


def _chattr(flag: str, files: list[str]) -> None:
    subprocess.run(["chattr", flag, *files], check=True, timeout=10)


async def test_a_database_made_immutable_while_running_refuses_a_command_then_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``chattr +i`` on the file and its WAL under a running bot (root ignores permissions, not
    this): the write fails at the disk, the command says so in one sentence and keeps nothing;
    once the flag is gone the same command works."""
    caplog.set_level(logging.WARNING)
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(8, ext4=True))
        site = stack.enter_context(ok_server())
        async with ConsoleHarness(fast_settings(disk, None)) as chat:
            files = [str(p) for p in disk.glob("bot.db*") if not p.name.endswith(".lock")]
            assert any(f.endswith("-wal") for f in files), files
            _chattr("+i", files)
            try:
                text = await chat.push(f"watch {site.url}")
            finally:
                _chattr("-i", files)
            assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
            assert chat.last_reply.text.startswith("The bot's database could not be written (")
            assert chat.last_reply.text.endswith("); nothing was changed.")
            assert "Traceback" not in text and "\n" not in chat.last_reply.text
            assert chat.bot.store.rows("SELECT id FROM monitors") == []
            await chat.push(f"watch {site.url}")
            assert isinstance(chat.last_reply, WatchReply), chat.last_reply
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


class _FillingSurface:
    """A chat that accepts every message, and fills the disk on the first: the platform has
    the alert, and the bot cannot write down that it sent it."""

    name = "console"

    def __init__(self, disk: Path) -> None:
        self.disk = disk
        self.deliveries: list[Delivery] = []
        self.filler: Path | None = None

    async def deliver(self, delivery: Delivery) -> MessageRef:
        self.deliveries.append(delivery)
        if self.filler is None:
            self.filler = fill(self.disk)
        return MessageRef(f"m{len(self.deliveries)}", None)


async def test_an_alert_the_platform_took_on_a_full_disk_is_marked_later_and_not_sent_again() -> (
    None
):
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(4))
        control = stack.enter_context(ok_server(body=b"control"))
        site = stack.enter_context(ok_server(status=502, body=b"bad gateway"))
        async with ConsoleHarness(fast_settings(disk, control.url)) as chat:
            surface = _FillingSurface(disk)
            chat.bot.attach(surface)
            store = chat.bot.store
            await _watch(chat, site.url, confirm=1)
            await until(lambda: surface.filler is not None, 20)
            # Passes fail while the disk is full; none sends the alert again.
            await until(lambda: chat.bot.sender.faults.count >= 3, 20)
            (row,) = store.rows("SELECT kind, sent_at, message_id FROM outbox")
            assert row == {"kind": "down", "sent_at": None, "message_id": None}
            assert surface.filler is not None
            surface.filler.unlink()
            await until(lambda: store.rows("SELECT sent_at FROM outbox")[0]["sent_at"] is not None)
            (row,) = store.rows("SELECT kind, message_id, claimed_until FROM outbox")
            assert row == {"kind": "down", "message_id": "m1", "claimed_until": None}
            assert len(surface.deliveries) == 1


# ---------------------------------------------------------------------------- at start-up


def _command() -> list[str]:
    beside = Path(sys.executable).with_name("check502-bot")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "adapters.main"]


def _env(db: Path) -> dict[str, str]:
    cleared = ("SLACK_", "DISCORD_", "TELEGRAM_", "CHECK502_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
    env.update(CHECK502_DB=str(db), CHECK502_CONTROL_URL="off", NO_COLOR="1")
    return env


def _bot(db: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(),
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(db),
        cwd=ROOT,
        timeout=30,
        check=False,
    )


def _database(path: Path, results: int = 0) -> None:
    """A real check502 database at ``path``, with ``results`` rows of history, closed (so it
    is all in the main file)."""
    store = Store.open(path)
    try:
        with store.transaction():
            for i in range(results):
                store.execute(
                    "INSERT INTO results (monitor_id, at, ok, outcome, cause, body_excerpt)"
                    " VALUES (1, ?, 1, '200', 'ok', ?)",
                    (i, "x" * 500),
                )
    finally:
        store.close()


def _missing_directory(tmp: Path, stack: ExitStack) -> Path:
    return tmp / "absent" / "bot.db"


def _read_only_mount(tmp: Path, stack: ExitStack) -> Path:
    disk = stack.enter_context(small_disk(4))
    _database(disk / "bot.db")
    remount(disk, "ro")
    return disk / "bot.db"


def _immutable_file(tmp: Path, stack: ExitStack) -> Path:
    disk = stack.enter_context(small_disk(4))
    path = disk / "bot.db"
    _database(path)
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"chattr +i failed: {done.stderr.strip()}")
    stack.callback(subprocess.run, ["chattr", "-i", str(path)], check=False)
    return path


def _immutable_directory(tmp: Path, stack: ExitStack) -> Path:
    """The file and its lock file writable, the directory not: no -wal or -shm can be made."""
    disk = stack.enter_context(small_disk(4))
    where = disk / "data"
    where.mkdir()
    path = where / "bot.db"
    _database(path)
    (where / "bot.db.lock").touch()
    _chattr("+i", [str(where)])
    stack.callback(_chattr, "-i", [str(where)])
    return path


def _not_a_database(tmp: Path, stack: ExitStack) -> Path:
    path = tmp / "bot.db"
    _database(path)
    with open(path, "r+b") as f:
        f.write(os.urandom(100))  # the header, "SQLite format 3\0" and the page size among it
    return path


def _truncated(tmp: Path, stack: ExitStack) -> Path:
    path = tmp / "bot.db"
    _database(path, results=400)
    size = path.stat().st_size
    assert size > 100_000
    os.truncate(path, size // 2)
    return path


def _damaged_page(tmp: Path, stack: ExitStack) -> Path:
    """Garbage over one page in the middle: the file opens, and reads until that page."""
    path = tmp / "bot.db"
    _database(path, results=400)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(b"\xa5" * 4096)
    return path


def _newer_schema(tmp: Path, stack: ExitStack) -> Path:
    path = tmp / "bot.db"
    _database(path)
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    return path


def _held_by_another_program(tmp: Path, stack: ExitStack) -> Path:
    path = tmp / "bot.db"
    _database(path)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("BEGIN EXCLUSIVE")
    stack.callback(raw.close)
    stack.callback(raw.execute, "ROLLBACK")
    return path


Fault = Callable[[Path, ExitStack], Path]


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (_missing_directory, ("does not exist", "create it")),
        (_read_only_mount, ("read-only", "mount it read-write")),
        (_immutable_file, ("read-only", "writable")),
        (_immutable_directory, ("cannot be opened", "directory exists and is writable")),
        (_not_a_database, ("not a database", "restore it from a backup")),
        (_truncated, ("damaged", "restore it from a backup")),
        (_damaged_page, ("damaged", "restore it from a backup")),
        (_newer_schema, (f"schema version {SCHEMA_VERSION + 1}", "upgrade check502")),
        (_held_by_another_program, ("locked by another program", "stop the program")),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_a_database_fault_at_start_up_is_one_line_naming_the_file_and_exit_2(
    tmp_path: Path, fault: Fault, says: tuple[str, str]
) -> None:
    with ExitStack() as stack:
        db = fault(tmp_path, stack)
        before = db.read_bytes() if db.exists() else None
        done = _bot(db, "list\n")
        after = db.read_bytes() if db.exists() else None
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"check502-bot: CHECK502_DB={db}: "), lines[0]
    for phrase in says:
        assert phrase in lines[0], (phrase, lines[0])
    assert "check502 console" not in done.stdout  # no surface started
    assert before == after  # a refused file is left as it was


def test_store_open_refuses_each_fault_before_any_surface_starts(tmp_path: Path) -> None:
    """In-process, :meth:`Store.open` itself refuses each fault with one StorageError (a bot
    whose first write comes after a chat platform connected would otherwise find out late)."""
    cases: list[tuple[Fault, str]] = [
        (_missing_directory, "does not exist"),
        (_not_a_database, "not a database"),
        (_newer_schema, "newer than this check502"),
        (_immutable_file, "read-only"),  # opens and reads: only writing finds it out
        (_truncated, "damaged"),
        (_damaged_page, "damaged"),  # opens and writes: only a check of every page finds it
    ]
    with ExitStack() as stack:
        for fault, reason in cases:
            where = tmp_path / fault.__name__
            where.mkdir()
            with pytest.raises(StorageError) as raised:
                Store.open(fault(where, stack))
            assert reason in raised.value.reason, (fault.__name__, raised.value.reason)
            assert "\n" not in str(raised.value)


# ------------------------------------------------------------------------ a second instance


@pytest.fixture
def first_bot(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A running ``check502-bot`` (the console, waiting for input) on ``tmp_path/bot.db``."""
    proc = subprocess.Popen(
        _command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(tmp_path / "bot.db"),
        cwd=ROOT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        assert proc.stdin is not None
        proc.stdin.close()


def test_a_second_bot_on_the_same_database_is_refused_and_kill_9_leaves_no_stale_lock(
    tmp_path: Path, first_bot: subprocess.Popen[str]
) -> None:
    db = tmp_path / "bot.db"
    lock = tmp_path / "bot.db.lock"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text().strip() == str(first_bot.pid)):
        assert first_bot.poll() is None, "the first bot stopped"
        assert time.monotonic() < deadline, "the first bot never took the lock"
        time.sleep(0.05)

    second = _bot(db, "list\n")
    assert second.returncode == 2, (second.stdout, second.stderr)
    (line,) = second.stderr.splitlines()
    assert line.startswith(f"check502-bot: CHECK502_DB={db}: ")
    assert f"another check502-bot (PID {first_bot.pid}) is using it" in line
    assert "Traceback" not in second.stderr and "check502 console" not in second.stdout
    assert first_bot.poll() is None  # the first one is untouched

    first_bot.kill()  # SIGKILL: no clean-up runs
    first_bot.wait(10)
    third = _bot(db, "list\n")
    assert third.returncode == 0, (third.stdout, third.stderr)
    assert "No monitors in this channel" in third.stdout
    assert shutil.which("chattr")  # (the immutable-file case above relies on it too)
