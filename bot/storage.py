"""SQLite storage through sqlite-utils: monitors, check results, incidents, the alert outbox.

One database file (WAL), schema versioned with ``PRAGMA user_version``: each entry of
``_MIGRATIONS`` upgrades from its index to the next, inside one transaction. Times are UTC epoch
seconds (REAL). Every method runs on the event loop's thread; SQLite calls here take
microseconds, so they are not worth a thread hop.

History has two tiers. ``results`` holds raw checks: every check for a short window
(``Settings.raw_retention``), failures for the whole retention (past the raw window without
their body excerpt). ``rollups`` holds one row per monitor and hour (checks, failures, a
latency histogram, :mod:`bot.histogram`), upserted in the same transaction as each raw row
(:meth:`Store.record`); uptime and latency percentiles are read from it, so they count whole
hours. Retention runs in short steps (:meth:`Store.retention_steps`) so that the caller can
yield to the event loop between them.

State changes are conditional ``UPDATE``s whose row count says whether this caller made the
change; alerts are inserted into ``outbox`` in the same transaction (see :mod:`bot.monitoring`).

Faults: every ``sqlite3.Error`` leaving this module is a :class:`bot.errors.StorageError`
(:func:`storage_error`, the one mapping). :meth:`Store.open` refuses, with one such error, a
missing directory, a file that is not a database or fails ``PRAGMA quick_check``, a schema newer
than this code, and a file it cannot write (it writes ``meta.opened_at`` to find out). One
process per file: :class:`InstanceLock` holds ``<db>.lock`` for the process's life.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import json
import logging
import math
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot import histogram
from bot.commands import Expect, Watch
from bot.commands.mentions import format_mentions, mentions_from_text
from bot.errors import StorageError
from bot.model import Alert, Channel, CheckRecord, IncidentRecord, Monitor
from checks import Cause, RequestSpec
from checks.jsonout import request_from_dict, request_to_dict
from checks.request import PLAIN

log = logging.getLogger("check502.storage")

HOUR = 3600
_RAW_WATERMARK = "raw_pruned_id"
"""``meta`` key: every healthy raw row with an id up to this one is gone (see ``prune_raw``)."""


def _add_rollups(db: sqlite_utils.Database) -> None:
    """Migration 1 -> 2: the rollups table, filled from the raw rows already stored.

    Raw rows are then pruned in id order, so ``results (at)`` is no longer needed.
    """
    db.execute("DROP INDEX results_at")
    db.execute(
        "CREATE TABLE rollups ("
        " monitor_id INTEGER NOT NULL, hour INTEGER NOT NULL,"
        " checks INTEGER NOT NULL, failures INTEGER NOT NULL, latency BLOB,"
        " PRIMARY KEY (monitor_id, hour)) WITHOUT ROWID"
    )
    rows = db.execute(
        "SELECT monitor_id, CAST(at / 3600 AS INTEGER), ok,"
        " CASE WHEN status IS NOT NULL THEN total_ms END"
        " FROM results ORDER BY monitor_id, at"
    )
    key: tuple[int, int] | None = None
    checks = failures = 0
    counts: dict[int, int] = {}

    def flush() -> None:
        if key is not None:
            db.execute(
                "INSERT INTO rollups (monitor_id, hour, checks, failures, latency)"
                " VALUES (?,?,?,?,?)",
                [*key, checks, failures, histogram.encode(counts) or None],
            )

    for monitor_id, hour, ok, ms in rows:
        if (monitor_id, hour) != key:
            flush()
            key, checks, failures, counts = (monitor_id, hour), 0, 0, {}
        checks += 1
        failures += 0 if ok else 1
        if ms is not None:
            index = histogram.bucket(ms)
            counts[index] = counts.get(index, 0) + 1
    flush()


_MIGRATIONS: tuple[str | Callable[[sqlite_utils.Database], None], ...] = (
    # 0 -> 1: the first schema.
    """
    CREATE TABLE monitors (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        url TEXT NOT NULL, origin TEXT, every INTEGER NOT NULL, confirm INTEGER NOT NULL,
        expect TEXT NOT NULL, timeout REAL NOT NULL,
        created_by TEXT NOT NULL, created_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'new',
        fail_streak INTEGER NOT NULL DEFAULT 0,
        first_failure_at REAL,
        muted_until REAL,
        incident_id INTEGER,
        last_checked REAL, last_outcome TEXT,
        cert_not_after TEXT, cert_warned INTEGER
    );
    CREATE INDEX monitors_channel ON monitors (platform, workspace, channel);
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        monitor_id INTEGER NOT NULL, at REAL NOT NULL, ok INTEGER NOT NULL,
        outcome TEXT NOT NULL, status INTEGER, http_version TEXT, ip TEXT,
        error_kind TEXT, cause TEXT NOT NULL, generated_by TEXT, hop TEXT,
        dns_ms REAL, connect_ms REAL, tls_ms REAL, ttfb_ms REAL, total_ms REAL,
        body_excerpt TEXT
    );
    CREATE INDEX results_monitor_at ON results (monitor_id, at);
    CREATE INDEX results_at ON results (at);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        monitor_id INTEGER NOT NULL,
        opened_at REAL NOT NULL, closed_at REAL,
        cause TEXT NOT NULL, generated_by TEXT,
        first_failure_at REAL NOT NULL, last_failure_at REAL NOT NULL,
        acked_by TEXT, acked_at REAL,
        last_notified_at REAL NOT NULL,
        alerted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX incidents_monitor ON incidents (monitor_id, opened_at);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        kind TEXT NOT NULL, payload TEXT NOT NULL,
        monitor_id INTEGER, incident_id INTEGER,
        created_at REAL NOT NULL, not_before REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_until REAL, group_id INTEGER,
        sent_at REAL, failed_at REAL, last_error TEXT,
        message_id TEXT, thread_id TEXT
    );
    CREATE INDEX outbox_pending ON outbox (sent_at, failed_at, not_before);
    CREATE INDEX outbox_incident ON outbox (incident_id, kind);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    """,
    # 1 -> 2: hourly rollups.
    _add_rollups,
    # 2 -> 3: public status pages, one per channel that opted in (``/check502 status on``).
    """
    CREATE TABLE status_pages (
        platform TEXT NOT NULL, workspace TEXT NOT NULL, channel TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL, created_at REAL NOT NULL,
        PRIMARY KEY (platform, workspace, channel)
    );
    """,
    # 3 -> 4: what a monitor sends and asks of the answer (JSON, credentials by variable name
    # only; NULL is a plain GET that follows redirects), its run of slow checks, and each
    # incident's kind ('down' or 'slow').
    """
    ALTER TABLE monitors ADD COLUMN request TEXT;
    ALTER TABLE monitors ADD COLUMN slow_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE incidents ADD COLUMN kind TEXT NOT NULL DEFAULT 'down';
    """,
    # 4 -> 5: who a monitor's alerts ping (``notify=``, mentions as typed), its escalation time,
    # its maintenance window; whether an incident escalated (``sent``) or never will
    # (``cancelled``: a maintenance window began after its alert).
    """
    ALTER TABLE monitors ADD COLUMN notify TEXT;
    ALTER TABLE monitors ADD COLUMN escalate INTEGER;
    ALTER TABLE monitors ADD COLUMN maintenance_until REAL;
    ALTER TABLE incidents ADD COLUMN escalation TEXT;
    """,
    # 5 -> 6: notification targets beyond the chat (webhook, PagerDuty, email). An outbox row with
    # a ``target`` goes to that target instead of the chat; a monitor's ``targets`` names the
    # ones it alerts (NULL: every configured target, '': none, the chat only).
    """
    ALTER TABLE outbox ADD COLUMN target TEXT;
    ALTER TABLE monitors ADD COLUMN targets TEXT;
    CREATE INDEX outbox_target ON outbox (target, incident_id);
    """,
    # +1: monitors a monitors file owns (``source``: the file's name; NULL: made in chat). A
    # reload updates them in place, or removes them when they leave the file.
    """
    ALTER TABLE monitors ADD COLUMN source TEXT;
    """,
    # +1: monitors checked from probe regions through Redis workers (``regions``: names
    # comma-separated in the order given, NULL: checked locally) and how many must confirm a
    # failure (``quorum``, NULL or 0: a majority).
    """
    ALTER TABLE monitors ADD COLUMN regions TEXT;
    ALTER TABLE monitors ADD COLUMN quorum INTEGER;
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)
BATCH_ROWS = 500
"""Pending healthy results that make the caller flush at once."""
BATCH_SECONDS = 0.25
"""The longest a healthy result waits to be written (the caller's timer)."""
BATCH_LIMIT = 10_000
"""Pending healthy results kept while flushes fail; beyond, the oldest are dropped."""
LAST_SECONDS = 300.0
"""How long a monitor's newest healthy check (``last_checked``/``last_outcome``) waits in memory
before it is written to its row (see :meth:`Store.flush`)."""
WAL_CHECKPOINT_PAGES = 10_000
"""WAL pages (4 KiB each, so about 40 MB) before a commit copies them into the database file.
SQLite's default, 1,000, made nearly every batch of 500 healthy results a checkpoint: each
row dirties a page of its own (its index entry, its rollup, its monitor); pages rewritten
between checkpoints are copied once (the front's CPU per check at 100,000 monitors: 0.159 ms
at 1,000, 0.143 ms at 10,000)."""
_PENDING = "sent_at IS NULL AND failed_at IS NULL"
BUSY_TIMEOUT_MS = 5000
PROBE_KEY = "ready_probe"
"""The ``meta`` row ``/readyz`` writes to prove the database writable."""
"""How long a statement waits for a lock another connection holds before it fails as busy."""
CHECK_WHOLE_FILE = 64 << 20
"""Files up to this size get a whole ``quick_check`` at start-up (about 1 s per 64 MB on a
loaded 2-core machine, bench/db_open); larger ones only their state tables'."""
_STATE_TABLES = ("monitors", "incidents", "outbox", "meta", "status_pages")
_RESTORE = "restore it from a backup, or move it away to start with an empty database"
_WRITABLE = "make the file, its directory and the -wal/-shm files beside it writable"

_SQLITE_ERROR = 1
# SQLite's primary result codes (https://sqlite.org/rescode.html) -> (reason, hint, written).
_CODES: dict[int, tuple[str, str, bool]] = {
    3: ("permission denied", _WRITABLE, True),  # SQLITE_PERM
    5: ("locked by another program", "stop the program that holds it open", True),  # BUSY
    6: ("locked by another program", "stop the program that holds it open", True),  # LOCKED
    8: ("read-only", _WRITABLE, True),  # SQLITE_READONLY
    10: ("I/O error", "check the disk and the file system it is on (dmesg)", True),  # IOERR
    11: ("the file is damaged", _RESTORE, False),  # SQLITE_CORRUPT
    13: ("disk full", "free space on the disk it is on", True),  # SQLITE_FULL
    14: ("cannot be opened", "check that its directory exists and is writable", True),  # CANTOPEN
    26: ("not a database", _RESTORE, False),  # SQLITE_NOTADB
}
_ERRNOS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("disk full", "free space on the disk it is on"),
    errno.EDQUOT: ("disk quota exceeded", "free space or raise the quota"),
    errno.EROFS: ("read-only file system", "mount it read-write or choose another place"),
    errno.EACCES: ("permission denied", _WRITABLE),
    errno.EPERM: ("not permitted (immutable?)", _WRITABLE),
    errno.ENOENT: ("its directory does not exist", "create it"),
    errno.EIO: ("I/O error", "check the disk and the file system it is on (dmesg)"),
}


def storage_error(exc: sqlite3.Error | OSError, path: str) -> StorageError:
    """The one mapping of the database's failures to :class:`StorageError`."""
    if isinstance(exc, OSError):
        reason, hint = _ERRNOS.get(exc.errno or 0, (exc.strerror or type(exc).__name__, _WRITABLE))
        return StorageError(path, reason, hint)
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in _CODES:
        reason, hint, written = _CODES[code & 0xFF]
        return StorageError(path, reason, hint, written=written)
    text = str(exc).lower()  # no code (an older Python, or a library-side error)
    for needle, code in (
        ("disk is full", 13),
        ("readonly", 8),
        ("locked", 5),
        ("malformed", 11),
        ("not a database", 26),
        ("disk i/o", 10),
        ("unable to open", 14),
    ):
        if needle in text:
            reason, hint, written = _CODES[code]
            return StorageError(path, reason, hint, written=written)
    return StorageError(path, f"database error: {str(exc)[:200]}", "see the bot's log")


class InstanceLock:
    """``<db>.lock``, locked (``flock``) for as long as the process runs, holding its PID.

    A second ``check502-bot`` on the same database is refused, naming the first one's PID. The
    kernel drops the lock when the process ends, however it ends, so a ``kill -9`` leaves no
    stale lock behind. The file itself stays (removing it would race with the next start).
    """

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, path: str | Path) -> InstanceLock:
        """Lock ``path``'s lock file, or raise :class:`StorageError` saying who holds it."""
        name = str(path)
        if name == ":memory:":
            return cls(name, None)
        directory = Path(name).parent
        if not directory.is_dir():
            raise StorageError(
                name,
                f"its directory {directory} does not exist",
                "create it, or point CHECK502_DB at a file in an existing directory",
            )
        try:
            fd = os.open(f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise storage_error(exc, name) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise storage_error(exc, name) from exc
            raise StorageError(
                name,
                f"another check502-bot (PID {holder}) is using it",
                "stop that one first, or give this one its own CHECK502_DB",
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, name) from exc
        return cls(name, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class FaultLog:
    """Logs a run of database faults once, with no traceback (then at most once per
    ``every`` seconds, with the count so far), and once more when the database works again.

    ``count`` is every fault ever reported: what a caller dropped because of them.
    """

    def __init__(self, logger: logging.Logger, what: str, *, every: float = 60.0) -> None:
        self.log = logger
        self.what = what
        self.every = every
        self.count = 0
        self._run = 0
        self._logged = float("-inf")

    def fault(self, exc: StorageError) -> None:
        self.count += 1
        self._run += 1
        now = time.monotonic()
        if self._run == 1 or now - self._logged >= self.every:
            self._logged = now
            self.log.warning("%s (%s in a row): %s", self.what, self._run, exc.line())

    def ok(self) -> None:
        if self._run:
            self.log.warning(
                "the database works again after %s failures (%s)", self._run, self.what
            )
            self._run = 0


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _ts(value: datetime) -> float:
    return value.timestamp()


class Store:
    """The bot's database. Open with :meth:`open`; every read returns frozen values."""

    def __init__(self, db: sqlite_utils.Database, path: str = ":memory:") -> None:
        self.db = db
        self.path = path
        db.conn.create_function("check502_latency_add", 2, _latency_add, deterministic=True)
        db.conn.create_function("check502_latency_merge", 2, _latency_merge, deterministic=True)
        self._monitors: dict[int, Monitor] = {}
        """The monitors the checks read (:meth:`cached_monitor`); see :meth:`_watch_monitors`."""
        self._batch: deque[tuple[Any, ...]] = deque()
        """Healthy results not written yet (:meth:`record_later`), oldest first."""
        self.batch_dropped = 0
        """Healthy results dropped because :data:`BATCH_LIMIT` were pending (flushes failed)."""
        self.on_flush: Callable[[Sequence[tuple[Any, ...]]], None] | None = None
        """Called with the rows each flush committed (the caller counts them)."""
        self.last_seconds = LAST_SECONDS
        """:data:`LAST_SECONDS`, the same for the store's life (its queue is in due order)."""
        self._last: dict[int, tuple[float, str]] = {}
        """Monitor id -> (when, outcome) of its newest healthy check written in a batch but not
        yet to its row; shared with :meth:`reader` stores, which read it (never write it)."""
        self._last_due: deque[tuple[float, int]] = deque()
        """(monotonic time it is due, monitor id) of each entry of ``_last``, oldest first."""
        self._owns_last = True
        db.conn.create_function("check502_forget", 1, self._forget)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating) the database at ``path`` (``":memory:"`` for a throwaway one).

        Raises :class:`StorageError` when it cannot be used: the directory is missing, the file
        is not a database or is damaged, its schema is newer than this code, or it cannot be
        written (read-only, disk full, locked by another program).
        """
        memory = str(path) == ":memory:"
        if memory:
            db = sqlite_utils.Database(memory=True)
        else:
            directory = Path(path).parent
            if not directory.is_dir():
                raise StorageError(
                    str(path),
                    f"its directory {directory} does not exist",
                    "create it, or point CHECK502_DB at a file in an existing directory",
                )
            try:
                db = sqlite_utils.Database(path)
            except sqlite3.Error as exc:
                raise storage_error(exc, str(path)) from exc
        store = cls(db, str(path))
        try:
            with store._faults():
                # First, so that a file another program holds is waited for, then refused.
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                store._check()
                store.migrate()
                store._watch_monitors()
                if not memory:
                    db.enable_wal()
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
                # A file that reads but cannot be written (read-only file or mount, full disk)
                # is refused now rather than at the first command.
                store.set_meta("opened_at", repr(time.time()))
        except BaseException:
            db.close()
            raise
        return store

    def _check(self) -> None:
        """``PRAGMA quick_check`` (every page's structure; not index contents against rows).

        It reads the whole file, so on a file over :data:`CHECK_WHOLE_FILE` bytes only the
        tables that hold the bot's state are checked, not the check history: start-up stays
        quick however long the history, and damage in the history is found when it is read.
        """
        size = 0 if self.path == ":memory:" else os.path.getsize(self.path)
        pragmas = ["quick_check(1)"]
        if size > CHECK_WHOLE_FILE:
            present = {
                r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            pragmas = [f"quick_check('{t}')" for t in _STATE_TABLES if t in present]
        for pragma in pragmas:
            found = self.db.execute(f"PRAGMA {pragma}").fetchone()
            if found is None or found[0] != "ok":
                text = "?" if found is None else str(found[0])
                detail = " ".join(text.replace("*** in database main ***", "").split())[:200]
                raise StorageError(
                    self.path,
                    f"the file is damaged (quick_check: {detail})",
                    _RESTORE,
                    written=False,
                )

    @contextmanager
    def _faults(self) -> Iterator[None]:
        """Translate SQLite's errors into :class:`StorageError` (see :func:`storage_error`)."""
        try:
            yield
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError):
            raise  # our bug (a closed connection, bad SQL, a broken constraint), not the disk's
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_ERROR:
                raise  # "no such table", a syntax error: a bug of ours, not the disk's
            raise storage_error(exc, self.path) from exc

    def close(self) -> None:
        """Write the kept last checks (:data:`LAST_SECONDS`), then close; a fault writing them
        is logged and loses only them."""
        if self._owns_last and self._last:
            try:
                with self.transaction() as db:
                    self._write_last(db.conn, due=math.inf)
            except StorageError as exc:
                log.warning("the monitors' last checks were not written: %s", exc.line())
        self.db.close()

    def reader(self) -> Store | None:
        """A second connection to the same file, read-only, usable from another thread (one at
        a time): long reads (a status page) run there and never hold up the event loop. In WAL
        mode it reads while the bot writes. None for an in-memory database."""
        if self.path == ":memory:":
            return None
        uri = f"{Path(self.path).resolve().as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            raise storage_error(exc, self.path) from exc
        reader = Store(sqlite_utils.Database(conn), self.path)
        reader._last, reader._owns_last = self._last, False  # read in its thread: dict.get
        return reader

    @property
    def version(self) -> int:
        with self._faults():
            return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply every migration newer than the file's ``user_version``, each atomically."""
        current = self.version
        if current > SCHEMA_VERSION:
            raise StorageError(
                self.path,
                f"its schema version {current} is newer than this check502's ({SCHEMA_VERSION})",
                "upgrade check502, or point CHECK502_DB at a file this version wrote",
                written=False,
            )
        for version in range(current, SCHEMA_VERSION):
            step = _MIGRATIONS[version]
            with self.transaction():
                if callable(step):
                    step(self.db)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            self.execute(statement)
                self.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One transaction (a savepoint inside another): all of the block's writes, or none.
        A rollback empties the monitor cache: it may hold a row read inside the block. The
        outermost transaction first writes the healthy results still pending (:meth:`flush`),
        so that every write lands in the order it was made; when they cannot be written, the
        block does not run (:class:`StorageError`)."""
        if self._batch and not self.db.conn.in_transaction:
            self.flush()
        try:
            with self._faults(), self.db.atomic() as db:
                yield db
        except BaseException:
            self._monitors.clear()
            raise

    # ------------------------------------------------------------------------- result batch
    #
    # A healthy check of a monitor that stays up changes nothing but its history: its results
    # row, its hour's rollup and the monitor's ``last_checked``/``last_outcome``. Those wait
    # here (at most ``BATCH_SECONDS``, the caller's timer, or ``BATCH_ROWS`` rows) and are
    # written in one transaction; anything else opens a transaction, which writes them first.

    @property
    def pending_results(self) -> int:
        return len(self._batch)

    def record_later(
        self,
        monitor_id: int,
        at: float,
        *,
        outcome: str,
        cause: str,
        status: int | None,
        http_version: str | None,
        ip: str | None,
        generated_by: str | None,
        hop: str | None,
        dns_ms: float | None,
        connect_ms: float | None,
        tls_ms: float | None,
        ttfb_ms: float | None,
        total_ms: float | None,
    ) -> int:
        """Queue one healthy check's results row for the next :meth:`flush`; how many wait.
        Beyond :data:`BATCH_LIMIT` (flushes keep failing) the oldest is dropped and counted."""
        if len(self._batch) >= BATCH_LIMIT:
            self._batch.popleft()
            self.batch_dropped += 1
        self._batch.append(
            (
                monitor_id,
                at,
                1,
                outcome,
                status,
                http_version,
                ip,
                None,
                cause,
                generated_by,
                hop,
                dns_ms,
                connect_ms,
                tls_ms,
                ttfb_ms,
                total_ms,
                None,
            )
        )
        return len(self._batch)

    # A healthy check's ``last_checked``/``last_outcome`` wait :data:`LAST_SECONDS` in memory,
    # and reads of a monitor (:meth:`monitor`, a status page's reader...) see them at once: an
    # UPDATE of 100,000 rows a minute, a page dirtied each, was a fifth of the front's writes.
    # They are written by a later flush once due, and at :meth:`close`; a ``kill -9`` loses at
    # most that long of them (the results rows, written within ``BATCH_SECONDS``, keep every
    # check). A write never goes back in time: only a row still up with no failure counted and
    # an older ``last_checked`` takes it, as a read shows it only on such a row.

    def _write_last(self, conn: sqlite3.Connection, *, due: float) -> None:
        """Write the kept last checks due by ``due`` (monotonic; ``math.inf``: all of them)."""
        rows = []
        while self._last_due and self._last_due[0][0] <= due:
            _, monitor_id = self._last_due.popleft()
            kept = self._last.pop(monitor_id, None)
            if kept is not None:
                rows.append((kept[0], kept[1], monitor_id, kept[0]))
        if rows:
            conn.executemany(
                "UPDATE monitors SET last_checked = ?, last_outcome = ? WHERE id = ?"
                " AND state = 'up' AND fail_streak = 0"
                " AND (last_checked IS NULL OR last_checked < ?)",
                rows,
            )

    def _with_last(self, row: dict[str, Any]) -> Monitor:
        """The monitor of ``row``, with its newest healthy check still kept in memory."""
        monitor = _monitor(row)
        kept = self._last.get(monitor.id)
        if kept is None or monitor.state != "up" or monitor.fail_streak != 0:
            return monitor
        at, outcome = kept
        stored = row["last_checked"]
        if stored is not None and stored >= at:
            return monitor
        return replace(monitor, last_checked=_dt(at), last_outcome=outcome)

    def discard_pending(self) -> int:
        """Forget the pending healthy results (they could not be written); how many."""
        count = len(self._batch)
        self._batch.clear()
        return count

    def flush(self) -> int:
        """Write the pending healthy results in one transaction; how many. Inside another
        transaction it waits (a rollback would take them along). On a fault they stay pending
        and :class:`StorageError` is raised."""
        if not self._batch or self.db.conn.in_transaction:
            return 0
        rows = list(self._batch)
        hours: dict[tuple[int, int], tuple[int, bytes | None]] = {}
        last: dict[int, tuple[float, str]] = {}
        for row in rows:
            monitor_id, at, total_ms, status = row[0], row[1], row[15], row[4]
            key = (monitor_id, math.floor(at / HOUR))
            checks, blob = hours.get(key, (0, None))
            if status is not None and total_ms is not None:
                blob = histogram.add(blob, total_ms)
            hours[key] = (checks + 1, blob)
            seen = last.get(monitor_id)
            if seen is None or at >= seen[0]:
                last[monitor_id] = (at, row[3])
        with self._faults(), self.db.atomic():
            conn = self.db.conn
            conn.executemany(
                "INSERT INTO results (monitor_id, at, ok, outcome, status, http_version, ip,"
                " error_kind, cause, generated_by, hop, dns_ms, connect_ms, tls_ms, ttfb_ms,"
                " total_ms, body_excerpt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO rollups (monitor_id, hour, checks, failures, latency)"
                " VALUES (?, ?, ?, 0, ?) ON CONFLICT (monitor_id, hour) DO UPDATE SET"
                " checks = checks + excluded.checks,"
                " latency = check502_latency_merge(latency, excluded.latency)",
                [(m, h, n, blob) for (m, h), (n, blob) in hours.items()],
            )
            # A healthy check ends a run of slow ones at once (a read of each row: a write only
            # where the streak was not 0), for a monitor still up with no failure counted; a
            # later state change was written after this, in order.
            conn.executemany(
                "UPDATE monitors SET slow_streak = 0"
                " WHERE id = ? AND slow_streak != 0 AND state = 'up' AND fail_streak = 0",
                [(m,) for m in last],
            )
            now = time.monotonic()
            self._write_last(conn, due=now)
        self._batch.clear()
        for monitor_id, kept in last.items():
            if monitor_id not in self._last:
                self._last_due.append((now + self.last_seconds, monitor_id))
            self._last[monitor_id] = kept
        if self.on_flush is not None:
            self.on_flush(rows)
        return len(rows)

    # ------------------------------------------------------------------------ monitor cache
    #
    # A check reads its monitor from memory, not with a SELECT (12.5 % of the core's CPU went
    # to SQLite at 20,000 monitors). Every writer of the monitors table, whoever it is (a
    # command, the monitors file, a migration, the state machine itself), fires a trigger that
    # drops the row from the cache, so no code path can forget to; the next check reads it
    # again. The triggers are TEMP (this connection's only, calling a function only this
    # connection has), and an UPDATE fires only when a column a check reads changed: a healthy
    # check's ``last_checked``/``last_outcome`` leave the cached value in place (its two
    # fields of those names may lag; the state machine does not read them).

    _UNWATCHED = ("last_checked", "last_outcome", "slow_streak", "cert_not_after", "cert_warned")

    def _watch_monitors(self) -> None:
        columns = [
            str(r[1])
            for r in self.execute("PRAGMA table_info(monitors)")
            if str(r[1]) not in self._UNWATCHED
        ]
        changed = " OR ".join(f'OLD."{c}" IS NOT NEW."{c}"' for c in columns)
        watched = ", ".join(f'"{c}"' for c in columns)
        for name, event, body in (
            (
                "updated",  # not even run for an UPDATE that sets none of these (a healthy batch)
                f"UPDATE OF {watched} ON main.monitors WHEN {changed}",
                "check502_forget(OLD.id), check502_forget(NEW.id)",
            ),
            ("deleted", "DELETE ON main.monitors", "check502_forget(OLD.id)"),
            ("inserted", "INSERT ON main.monitors", "check502_forget(NEW.id)"),
        ):
            self.execute(f"DROP TRIGGER IF EXISTS temp.check502_monitor_{name}")
            self.execute(
                f"CREATE TEMP TRIGGER check502_monitor_{name} AFTER {event}"
                f" BEGIN SELECT {body}; END"
            )

    def _forget(self, monitor_id: int) -> None:
        self._monitors.pop(monitor_id, None)

    def cached_monitor(self, monitor_id: int) -> Monitor | None:
        """The monitor as a check reads it: from memory, read from the table once after each
        change (see above); None when it does not exist."""
        found = self._monitors.get(monitor_id)
        if found is None:
            found = self.monitor(monitor_id)
            if found is not None:
                self._monitors[monitor_id] = found
        return found

    def load_monitors(self) -> list[tuple[int, int]]:
        """Fill the monitor cache with one query; ``(id, every)`` of every monitor."""
        self._monitors.clear()
        for row in self.rows("SELECT * FROM monitors"):
            monitor = _monitor(row)
            self._monitors[monitor.id] = monitor
        return [(m.id, m.every) for m in self._monitors.values()]

    @property
    def cached(self) -> int:
        """Monitors held in the cache now."""
        return len(self._monitors)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._faults():
            return self.db.execute(sql, list(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._faults():
            return list(self.db.query(sql, list(params)))

    def row(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    # ------------------------------------------------------------------------------- monitors

    def add_monitor(
        self, channel: Channel, watch: Watch, *, created_by: str, now: float
    ) -> Monitor:
        cursor = self.execute(
            "INSERT INTO monitors (platform, workspace, channel, url, origin, every, confirm,"
            " expect, timeout, created_by, created_at, request, notify, escalate, targets,"
            " regions, quorum) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                channel.platform,
                channel.workspace,
                channel.channel,
                watch.url,
                watch.origin,
                watch.every,
                watch.confirm,
                str(watch.expect),
                watch.timeout,
                created_by,
                now,
                _request_json(watch.request.redacted(), watch.follow),
                format_mentions(watch.notify) if watch.notify else None,
                watch.escalate,
                None if watch.targets is None else ",".join(watch.targets),
                ",".join(watch.regions) or None,
                watch.quorum or None,
            ),
        )
        monitor = self.monitor(int(cursor.lastrowid or 0))
        assert monitor is not None
        return monitor

    def monitor(self, monitor_id: int, channel: Channel | None = None) -> Monitor | None:
        """The monitor, or None; with ``channel``, only when it belongs to that channel."""
        if channel is None:
            row = self.row("SELECT * FROM monitors WHERE id = ?", (monitor_id,))
        else:
            row = self.row(
                "SELECT * FROM monitors WHERE id = ? AND platform = ? AND workspace = ?"
                " AND channel = ?",
                (monitor_id, channel.platform, channel.workspace, channel.channel),
            )
        return None if row is None else self._with_last(row)

    def monitors_in(self, channel: Channel) -> tuple[Monitor, ...]:
        rows = self.rows(
            "SELECT * FROM monitors WHERE platform = ? AND workspace = ? AND channel = ?"
            " ORDER BY id",
            (channel.platform, channel.workspace, channel.channel),
        )
        return tuple(self._with_last(r) for r in rows)

    def schedule_rows(self, *, regional: bool | None = None) -> list[tuple[int, int]]:
        """``(id, every)`` of every monitor: what the scheduler is rebuilt from. ``regional``
        False: only monitors checked locally; True: only those checked from regions."""
        where = {None: "", False: " WHERE regions IS NULL", True: " WHERE regions IS NOT NULL"}
        sql = "SELECT id, every FROM monitors" + where[regional]
        return [(int(a), int(b)) for a, b in self.execute(sql)]

    def delete_monitor(self, monitor_id: int, now: float) -> None:
        """Remove a monitor, its history, and any alert of it not yet delivered but a
        notification target's resolve."""
        with self.transaction():
            self.execute("DELETE FROM monitors WHERE id = ?", (monitor_id,))
            self.execute("DELETE FROM results WHERE monitor_id = ?", (monitor_id,))
            self.execute("DELETE FROM rollups WHERE monitor_id = ?", (monitor_id,))
            self.execute("DELETE FROM incidents WHERE monitor_id = ?", (monitor_id,))
            self.execute(
                "UPDATE outbox SET failed_at = ?, last_error = 'monitor removed'"
                f" WHERE monitor_id = ? AND {_PENDING}"
                # A target's resolve of the removed monitor's incident still goes (bot.core).
                " AND NOT (target IS NOT NULL AND kind = 'resolved')",
                (now, monitor_id),
            )

    def chat_monitors(self) -> tuple[Monitor, ...]:
        """Every monitor made in chat (no monitors file owns it), by id."""
        rows = self.rows("SELECT * FROM monitors WHERE source IS NULL ORDER BY id")
        return tuple(self._with_last(r) for r in rows)

    def file_monitors(self) -> tuple[Monitor, ...]:
        """Every monitor a monitors file owns (``source`` set), by id."""
        rows = self.rows("SELECT * FROM monitors WHERE source IS NOT NULL ORDER BY id")
        return tuple(self._with_last(r) for r in rows)

    def add_file_monitor(
        self, channel: Channel, watch: Watch, *, source: str, now: float
    ) -> Monitor:
        """A monitor the monitors file ``source`` owns (created by it)."""
        monitor = self.add_monitor(channel, watch, created_by=source, now=now)
        self.execute("UPDATE monitors SET source = ? WHERE id = ?", (source, monitor.id))
        return replace(monitor, source=source)

    def update_monitor(self, monitor_id: int, watch: Watch, *, source: str) -> None:
        """Change a monitor's options in place (its id, state, history and incidents stay)."""
        self.execute(
            "UPDATE monitors SET url = ?, origin = ?, every = ?, confirm = ?, expect = ?,"
            " timeout = ?, request = ?, notify = ?, escalate = ?, targets = ?, source = ?,"
            " regions = ?, quorum = ? WHERE id = ?",
            (
                watch.url,
                watch.origin,
                watch.every,
                watch.confirm,
                str(watch.expect),
                watch.timeout,
                _request_json(watch.request.redacted(), watch.follow),
                format_mentions(watch.notify) if watch.notify else None,
                watch.escalate,
                None if watch.targets is None else ",".join(watch.targets),
                source,
                ",".join(watch.regions) or None,
                watch.quorum or None,
                monitor_id,
            ),
        )

    def set_muted(self, monitor_id: int, until: float | None) -> None:
        self.execute("UPDATE monitors SET muted_until = ? WHERE id = ?", (until, monitor_id))

    def set_notify(self, monitor_id: int, notify: str | None, escalate: int | None) -> None:
        """Who the monitor's alerts ping (mentions as typed, None: no one), its escalation."""
        self.execute(
            "UPDATE monitors SET notify = ?, escalate = ? WHERE id = ?",
            (notify, escalate, monitor_id),
        )

    # ------------------------------------------------------------------------------ incidents

    def incident(self, incident_id: int) -> IncidentRecord | None:
        row = self.row("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return None if row is None else _incident(row)

    def ack(self, incident_id: int, user: str, now: float) -> bool:
        """Acknowledge an open incident; False when it is closed or already acknowledged."""
        cursor = self.execute(
            "UPDATE incidents SET acked_by = ?, acked_at = ? WHERE id = ? AND closed_at IS NULL"
            " AND acked_at IS NULL",
            (user, now, incident_id),
        )
        return cursor.rowcount == 1

    def incidents_of(self, monitor_id: int, limit: int = 5) -> tuple[IncidentRecord, ...]:
        rows = self.rows(
            "SELECT * FROM incidents WHERE monitor_id = ? ORDER BY id DESC LIMIT ?",
            (monitor_id, limit),
        )
        return tuple(_incident(r) for r in rows)

    # -------------------------------------------------------------------------------- results

    def recent_checks(self, monitor_id: int, limit: int = 10) -> tuple[CheckRecord, ...]:
        rows = self.rows(
            "SELECT at, ok, outcome, total_ms, ip, cause FROM results WHERE monitor_id = ?"
            " ORDER BY at DESC, id DESC LIMIT ?",
            (monitor_id, limit),
        )
        return tuple(
            CheckRecord(
                at=datetime.fromtimestamp(r["at"], UTC),
                ok=bool(r["ok"]),
                outcome=r["outcome"],
                total_ms=r["total_ms"],
                ip=r["ip"],
                cause=Cause(r["cause"]),
            )
            for r in rows
        )

    def record(
        self,
        monitor_id: int,
        at: float,
        *,
        ok: bool,
        outcome: str,
        cause: str,
        status: int | None = None,
        http_version: str | None = None,
        ip: str | None = None,
        error_kind: str | None = None,
        generated_by: str | None = None,
        hop: str | None = None,
        dns_ms: float | None = None,
        connect_ms: float | None = None,
        tls_ms: float | None = None,
        ttfb_ms: float | None = None,
        total_ms: float | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        """Store one check: its raw row, and its count in the hour's rollup, atomically.

        A check that got a response (a status) with a total time counts in the latency
        histogram; ``body_excerpt`` is for failures (healthy checks store NULL).
        """
        # Inside the caller's transaction (the monitor's state change) as is: a savepoint per
        # check costs more than the two statements it would wrap.
        with nullcontext() if self.db.conn.in_transaction else self.transaction():
            self.db.conn.execute(
                "INSERT INTO results (monitor_id, at, ok, outcome, status, http_version, ip,"
                " error_kind, cause, generated_by, hop, dns_ms, connect_ms, tls_ms, ttfb_ms,"
                " total_ms, body_excerpt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    monitor_id,
                    at,
                    int(ok),
                    outcome,
                    status,
                    http_version,
                    ip,
                    error_kind,
                    cause,
                    generated_by,
                    hop,
                    dns_ms,
                    connect_ms,
                    tls_ms,
                    ttfb_ms,
                    total_ms,
                    None if ok else body_excerpt,
                ),
            )
            # One statement: the hour's histogram grows inside SQLite (``_latency_add``).
            self.db.conn.execute(
                "INSERT INTO rollups (monitor_id, hour, checks, failures, latency)"
                " VALUES (?1, ?2, 1, ?3, check502_latency_add(NULL, ?4))"
                " ON CONFLICT (monitor_id, hour) DO UPDATE SET checks = checks + 1,"
                " failures = failures + excluded.failures,"
                " latency = check502_latency_add(latency, ?4)",
                (
                    monitor_id,
                    math.floor(at / HOUR),
                    0 if ok else 1,
                    total_ms if status is not None else None,
                ),
            )

    def uptime(self, monitor_id: int, since: float) -> tuple[int, int]:
        """``(checks, up)`` from the start of the hour of ``since`` on (from the rollups)."""
        row = self.execute(
            "SELECT COALESCE(SUM(checks), 0), COALESCE(SUM(checks - failures), 0) FROM rollups"
            " WHERE monitor_id = ? AND hour >= ?",
            (monitor_id, math.floor(since / HOUR)),
        ).fetchone()
        return int(row[0]), int(row[1])

    def latency_percentiles(
        self, monitor_id: int, since: float, quantiles: Sequence[float]
    ) -> tuple[float | None, ...]:
        """Total-time percentiles, in ms, of checks that got a response, from the start of the
        hour of ``since`` on: merged hourly histograms, each within
        :data:`bot.histogram.RELATIVE_ERROR` of the raw rows' percentile."""
        counts = histogram.merge(
            r[0]
            for r in self.execute(
                "SELECT latency FROM rollups WHERE monitor_id = ? AND hour >= ?",
                (monitor_id, math.floor(since / HOUR)),
            )
        )
        return tuple(histogram.percentile(counts, q) for q in quantiles)

    def rollups(
        self, monitor_id: int, first_hour: int, last_hour: int
    ) -> list[tuple[int, int, int, bytes | None]]:
        """``(hour, checks, failures, latency histogram)`` of each stored hour from
        ``first_hour`` to ``last_hour`` (hour numbers since the epoch), in order: at most one row
        per hour of the span, read through the primary key."""
        return [
            (int(r[0]), int(r[1]), int(r[2]), r[3])
            for r in self.execute(
                "SELECT hour, checks, failures, latency FROM rollups"
                " WHERE monitor_id = ? AND hour BETWEEN ? AND ? ORDER BY hour",
                (monitor_id, first_hour, last_hour),
            )
        ]

    # Retention runs in steps, each one short transaction reading at most ``limit`` rows, so
    # the caller (on the event loop) can let checks run between them. Raw rows are walked in id
    # order, i.e. the order they were written, and a walk stops at the first row still to be
    # kept: a step never scans what stays (``results`` has no index on ``at``).

    def prune_results(self, before: float, limit: int) -> int:
        """Drop up to ``limit`` of the oldest raw rows, failures included, older than ``before``
        (the whole retention); returns how many went: ``limit`` means call again."""
        oldest = self.execute("SELECT id, at FROM results ORDER BY id LIMIT ?", (limit,)).fetchall()
        doomed = [(i,) for i, _ in _older(oldest, before)]
        with self.transaction():
            self.db.conn.executemany("DELETE FROM results WHERE id = ?", doomed)
        return len(doomed)

    def prune_raw(self, raw_before: float, limit: int) -> int:
        """Drop the healthy raw rows older than ``raw_before`` among the next ``limit`` rows
        written after the last step's; failures stay, without their body excerpt. Returns how
        many rows it walked past: ``limit`` means call again."""
        mark = int(self.get_meta(_RAW_WATERMARK) or 0)
        rows = self.execute(
            "SELECT id, at, ok FROM results WHERE id > ? ORDER BY id LIMIT ?", (mark, limit)
        ).fetchall()
        passed = _older(rows, raw_before)
        if passed:
            with self.transaction():
                self.db.conn.executemany(
                    "DELETE FROM results WHERE id = ?", [(i,) for i, _, ok in passed if ok]
                )
                # A failure stays, all but its body excerpt (up to 4 KiB; a burst repeats it).
                self.db.conn.executemany(
                    "UPDATE results SET body_excerpt = NULL WHERE id = ?"
                    " AND body_excerpt IS NOT NULL",
                    [(i,) for i, _, ok in passed if not ok],
                )
                self.set_meta(_RAW_WATERMARK, str(passed[-1][0]))
        return len(passed)

    def prune_rollups(self, before: float, after: int, limit: int) -> int | None:
        """Drop the rollups of hours before ``before``'s, of up to ``limit`` monitors with an id
        above ``after``; returns the last monitor id done when there may be more (pass it as
        ``after`` next), None when this was the last batch."""
        hour = math.floor(before / HOUR)
        ids = [
            int(r[0])
            for r in self.execute(
                "SELECT id FROM monitors WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            )
        ]
        with self.transaction():
            self.db.conn.executemany(
                "DELETE FROM rollups WHERE monitor_id = ? AND hour < ?", [(i, hour) for i in ids]
            )
        return ids[-1] if len(ids) == limit else None

    def retention_steps(
        self, *, before: float, raw_before: float, batch: int, monitors: int
    ) -> Generator[None, None, None]:
        """Retention as short steps: each ``next()`` runs one (one short transaction); the
        caller waits between them (:meth:`bot.core.Bot.prune`, ``bench/storage``)."""
        while self.prune_results(before, batch) == batch:
            yield
        while self.prune_raw(raw_before, batch) == batch:
            yield
        after = 0
        while (last := self.prune_rollups(before, after, monitors)) is not None:
            after = last
            yield
        self.prune(before)

    def prune(self, before: float) -> int:
        """Drop closed incidents and settled outbox rows older than ``before``; both tables are
        small, so one transaction. Returns the incidents dropped."""
        with self.transaction():
            removed = self.execute(
                "DELETE FROM incidents WHERE closed_at IS NOT NULL AND closed_at < ?", (before,)
            ).rowcount
            self.execute(f"DELETE FROM outbox WHERE NOT ({_PENDING}) AND created_at < ?", (before,))
        return removed

    # --------------------------------------------------------------------------- status pages

    def status_token(self, channel: Channel) -> str | None:
        """The token of the channel's status page, None when it has none."""
        row = self.execute(
            "SELECT token FROM status_pages WHERE platform = ? AND workspace = ? AND channel = ?",
            (channel.platform, channel.workspace, channel.channel),
        ).fetchone()
        return None if row is None else str(row[0])

    def open_status(self, channel: Channel, token: str, *, by: str, now: float) -> str:
        """Give the channel a status page with ``token`` unless it has one; return the token
        in effect (an existing page keeps its URL)."""
        with self.transaction():
            self.execute(
                "INSERT OR IGNORE INTO status_pages (platform, workspace, channel, token,"
                " created_by, created_at) VALUES (?,?,?,?,?,?)",
                (channel.platform, channel.workspace, channel.channel, token, by, now),
            )
            found = self.status_token(channel)
        assert found is not None
        return found

    def close_status(self, channel: Channel) -> bool:
        """Revoke the channel's status page; False when it had none."""
        cursor = self.execute(
            "DELETE FROM status_pages WHERE platform = ? AND workspace = ? AND channel = ?",
            (channel.platform, channel.workspace, channel.channel),
        )
        return cursor.rowcount == 1

    def status_channel(self, token: str) -> Channel | None:
        """The channel whose status page ``token`` opens; None for an unknown or revoked one."""
        row = self.execute(
            "SELECT platform, workspace, channel FROM status_pages WHERE token = ?", (token,)
        ).fetchone()
        return None if row is None else Channel(str(row[0]), str(row[1]), str(row[2]))

    def rollup_buckets(
        self, channel: Channel, first_hour: int, hours: int
    ) -> Iterator[tuple[int, int, int, int]]:
        """``(monitor_id, bucket, checks, failures)`` of the channel's monitors from
        ``first_hour`` on, in buckets of ``hours`` hours (bucket 0 starts at ``first_hour``):
        one aggregate query for the whole channel, its rows read as they are consumed (a list
        of them all would be tens of thousands of objects alive at once)."""
        with self._faults():
            yield from self.db.execute(
                "SELECT r.monitor_id, (r.hour - ?1) / ?2, SUM(r.checks), SUM(r.failures)"
                " FROM rollups r JOIN monitors m ON m.id = r.monitor_id"
                " WHERE m.platform = ?3 AND m.workspace = ?4 AND m.channel = ?5"
                " AND r.hour >= ?1 GROUP BY 1, 2",
                (first_hour, hours, channel.platform, channel.workspace, channel.channel),
            )

    def latency_hours(self, channel: Channel, first_hour: int) -> Iterator[tuple[int, int, bytes]]:
        """``(monitor_id, hour, histogram)`` of the channel's monitors from ``first_hour`` on,
        hours with a latency only; read as they are consumed."""
        with self._faults():
            yield from self.db.execute(
                "SELECT r.monitor_id, r.hour, r.latency"
                " FROM rollups r JOIN monitors m ON m.id = r.monitor_id"
                " WHERE m.platform = ? AND m.workspace = ? AND m.channel = ? AND r.hour >= ?"
                " AND r.latency IS NOT NULL",
                (channel.platform, channel.workspace, channel.channel, first_hour),
            )

    def channel_incidents(
        self, channel: Channel, closed_since: float, limit: int
    ) -> list[tuple[int, IncidentRecord]]:
        """``(monitor_id, incident)`` of the channel's monitors: every open one, and those
        closed since ``closed_since``; the newest first, at most ``limit``."""
        rows = self.rows(
            "SELECT i.* FROM incidents i JOIN monitors m ON m.id = i.monitor_id"
            " WHERE m.platform = ? AND m.workspace = ? AND m.channel = ?"
            " AND (i.closed_at IS NULL OR i.closed_at >= ?)"
            " ORDER BY i.closed_at IS NULL DESC, i.opened_at DESC, i.id DESC LIMIT ?",
            (channel.platform, channel.workspace, channel.channel, closed_since, limit),
        )
        return [(int(r["monitor_id"]), _incident(r)) for r in rows]

    # --------------------------------------------------------------------------------- outbox

    def enqueue(
        self,
        channel: Channel,
        alert: Alert,
        *,
        key: str,
        now: float,
        payload: dict[str, Any],
        target: str | None = None,
    ) -> bool:
        """Insert an alert unless one with the same key exists; True when inserted.

        Call inside the transaction that made the state change the alert reports. With
        ``target``, the row goes to that notification target (:mod:`bot.notify`), not the chat.
        """
        cursor = self.execute(
            "INSERT OR IGNORE INTO outbox (key, platform, workspace, channel, kind, payload,"
            " monitor_id, incident_id, created_at, not_before, target)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                channel.platform,
                channel.workspace,
                channel.channel,
                alert.kind.value,
                json.dumps(payload),
                alert.monitor_id,
                alert.incident_id,
                now,
                now,
                target,
            ),
        )
        return cursor.rowcount == 1

    def pending(self, now: float) -> list[dict[str, Any]]:
        """Undelivered outbox rows that are due and not claimed, oldest first."""
        return self.rows(
            f"SELECT * FROM outbox WHERE {_PENDING} AND not_before <= ?"
            " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id",
            (now, now),
        )

    def next_due(self) -> float | None:
        row = self.execute(f"SELECT MIN(not_before) FROM outbox WHERE {_PENDING}").fetchone()
        return None if row[0] is None else float(row[0])

    def release_claims(self) -> None:
        """Start-up: claims of a previous run are void (one process per file: InstanceLock)."""
        self.execute(f"UPDATE outbox SET claimed_until = NULL WHERE {_PENDING}")

    def get_meta(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def write_probe(self, timeout: float) -> None:
        """Write one row of ``meta``, waiting at most ``timeout`` s for a lock another program
        holds (not the usual :data:`BUSY_TIMEOUT_MS`): what ``/readyz`` asks of the database.
        Raises :class:`StorageError` saying why it cannot.

        On the bot's own connection, on purpose: a second connection opened on a file whose
        ``-shm`` cannot be written maps it read-only and dies of SIGBUS (seen with
        ``chattr +i``), taking the process with it.
        """
        with self._faults():
            self.db.execute(f"PRAGMA busy_timeout={max(1, round(timeout * 1000))}")
        try:
            with self.transaction():
                self.set_meta(PROBE_KEY, repr(time.time()))
        finally:
            with self._faults():
                self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _latency_add(blob: bytes | None, ms: float | None) -> bytes | None:
    """SQL ``check502_latency_add(histogram, ms)``: the histogram with ``ms`` counted in."""
    return blob if ms is None else histogram.add(blob, ms)


def _latency_merge(blob: bytes | None, more: bytes | None) -> bytes | None:
    """SQL ``check502_latency_merge(histogram, histogram)``: both counted in one."""
    if more is None:
        return blob
    if blob is None:
        return more
    return histogram.encode(histogram.merge((blob, more))) or None


def _older(rows: list[Any], before: float) -> list[Any]:
    """The leading rows (``id, at, ...``) older than ``before``: up to the first that is not."""
    passed = []
    for row in rows:
        if row[1] >= before:
            break
        passed.append(row)
    return passed


def _request_json(spec: RequestSpec, follow: bool) -> str | None:
    """A monitor's request as stored: names of environment variables, never their values."""
    if spec.plain and follow:
        return None
    return json.dumps({**(request_to_dict(spec) or {}), "follow": follow})


@functools.lru_cache(maxsize=4096)
def _expect(text: str) -> Expect:
    """A stored ``expect``, parsed once per distinct text (frozen: the value is shared)."""
    return Expect.parse(text)


@functools.lru_cache(maxsize=65536)
def _channel(platform: str, workspace: str, channel: str) -> Channel:
    """One value per channel, shared by its monitors (100,000 monitors read at start)."""
    return Channel(platform, workspace, channel)


def _monitor(row: dict[str, Any]) -> Monitor:
    stored = json.loads(row["request"]) if row.get("request") else None
    request = request_from_dict(stored) or PLAIN
    return Monitor(
        id=row["id"],
        channel=_channel(row["platform"], row["workspace"], row["channel"]),
        url=row["url"],
        every=row["every"],
        origin=row["origin"],
        confirm=row["confirm"],
        expect=_expect(row["expect"]),
        timeout=row["timeout"],
        state=row["state"],
        fail_streak=row["fail_streak"],
        muted_until=_dt(row["muted_until"]),
        incident_id=row["incident_id"],
        last_checked=_dt(row["last_checked"]),
        last_outcome=row["last_outcome"],
        created_by=row["created_by"],
        request=request,
        follow=stored is None or bool(stored.get("follow", True)),
        notify=mentions_from_text(row["notify"]),
        escalate=row["escalate"],
        maintenance_until=_dt(row["maintenance_until"]),
        targets=None
        if row["targets"] is None
        else tuple(t for t in row["targets"].split(",") if t),
        source=row["source"],
        regions=tuple(r for r in (row["regions"] or "").split(",") if r),
        quorum=row["quorum"] or 0,
    )


def _incident(row: dict[str, Any]) -> IncidentRecord:
    opened = _dt(row["opened_at"])
    first = _dt(row["first_failure_at"])
    last = _dt(row["last_failure_at"])
    assert opened is not None and first is not None and last is not None
    return IncidentRecord(
        id=row["id"],
        opened_at=opened,
        closed_at=_dt(row["closed_at"]),
        cause=Cause(row["cause"]),
        first_failure_at=first,
        last_failure_at=last,
        acked_by=row["acked_by"],
        kind=row.get("kind") or "down",
    )
