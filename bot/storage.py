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
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from bot import histogram
from bot.commands import Expect, Watch
from bot.model import Alert, Channel, CheckRecord, IncidentRecord, Monitor
from checks import Cause

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
)

SCHEMA_VERSION = len(_MIGRATIONS)
_PENDING = "sent_at IS NULL AND failed_at IS NULL"


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _ts(value: datetime) -> float:
    return value.timestamp()


class Store:
    """The bot's database. Open with :meth:`open`; every read returns frozen values."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        db.conn.create_function("check502_latency_add", 2, _latency_add, deterministic=True)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating) the database at ``path`` (``":memory:"`` for a throwaway one)."""
        if str(path) == ":memory:":
            db = sqlite_utils.Database(memory=True)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite_utils.Database(path)
        store = cls(db)
        try:
            store.migrate()
            if str(path) != ":memory:":
                db.enable_wal()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Apply every migration newer than the file's ``user_version``, each atomically."""
        current = self.version
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database is schema version {current}, newer than this check502 "
                f"({SCHEMA_VERSION}); upgrade check502"
            )
        for version in range(current, SCHEMA_VERSION):
            step = _MIGRATIONS[version]
            with self.db.atomic():
                if callable(step):
                    step(self.db)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        with self.db.atomic() as db:
            yield db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, list(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
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
            " expect, timeout, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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
        return None if row is None else _monitor(row)

    def monitors_in(self, channel: Channel) -> tuple[Monitor, ...]:
        rows = self.rows(
            "SELECT * FROM monitors WHERE platform = ? AND workspace = ? AND channel = ?"
            " ORDER BY id",
            (channel.platform, channel.workspace, channel.channel),
        )
        return tuple(_monitor(r) for r in rows)

    def schedule_rows(self) -> list[tuple[int, int]]:
        """``(id, every)`` of every monitor: what the scheduler is rebuilt from."""
        return [(int(a), int(b)) for a, b in self.execute("SELECT id, every FROM monitors")]

    def delete_monitor(self, monitor_id: int, now: float) -> None:
        """Remove a monitor, its history, and any alert of it not yet delivered."""
        with self.transaction():
            self.execute("DELETE FROM monitors WHERE id = ?", (monitor_id,))
            self.execute("DELETE FROM results WHERE monitor_id = ?", (monitor_id,))
            self.execute("DELETE FROM rollups WHERE monitor_id = ?", (monitor_id,))
            self.execute("DELETE FROM incidents WHERE monitor_id = ?", (monitor_id,))
            self.execute(
                "UPDATE outbox SET failed_at = ?, last_error = 'monitor removed'"
                f" WHERE monitor_id = ? AND {_PENDING}",
                (now, monitor_id),
            )

    def set_muted(self, monitor_id: int, until: float | None) -> None:
        self.execute("UPDATE monitors SET muted_until = ? WHERE id = ?", (until, monitor_id))

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

    # --------------------------------------------------------------------------------- outbox

    def enqueue(
        self,
        channel: Channel,
        alert: Alert,
        *,
        key: str,
        now: float,
        payload: dict[str, Any],
    ) -> bool:
        """Insert an alert unless one with the same key exists; True when inserted.

        Call inside the transaction that made the state change the alert reports.
        """
        cursor = self.execute(
            "INSERT OR IGNORE INTO outbox (key, platform, workspace, channel, kind, payload,"
            " monitor_id, incident_id, created_at, not_before) VALUES (?,?,?,?,?,?,?,?,?,?)",
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
        """Start-up: claims of a previous run of this process are void (one process per file)."""
        self.execute(f"UPDATE outbox SET claimed_until = NULL WHERE {_PENDING}")

    def get_meta(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _latency_add(blob: bytes | None, ms: float | None) -> bytes | None:
    """SQL ``check502_latency_add(histogram, ms)``: the histogram with ``ms`` counted in."""
    return blob if ms is None else histogram.add(blob, ms)


def _older(rows: list[Any], before: float) -> list[Any]:
    """The leading rows (``id, at, ...``) older than ``before``: up to the first that is not."""
    passed = []
    for row in rows:
        if row[1] >= before:
            break
        passed.append(row)
    return passed


def _monitor(row: dict[str, Any]) -> Monitor:
    return Monitor(
        id=row["id"],
        channel=Channel(row["platform"], row["workspace"], row["channel"]),
        url=row["url"],
        every=row["every"],
        origin=row["origin"],
        confirm=row["confirm"],
        expect=Expect.parse(row["expect"]),
        timeout=row["timeout"],
        state=row["state"],
        fail_streak=row["fail_streak"],
        muted_until=_dt(row["muted_until"]),
        incident_id=row["incident_id"],
        last_checked=_dt(row["last_checked"]),
        last_outcome=row["last_outcome"],
        created_by=row["created_by"],
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
    )
