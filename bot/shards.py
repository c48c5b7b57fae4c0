"""Shard processes: the monitors' checks on every core (issue 16).

With ``CHECK502_SHARDS=N`` (default: the cores this process may use; ``0`` checks inside the
front process, the old way) the front process (chat surfaces, outbox, web, every decision and
every database write) starts N shard processes (:func:`main`). A monitor belongs
to shard ``id % N``. Each shard holds :class:`bot.checkrun.Snapshot` values of its monitors
(no database), due times in its own :class:`bot.schedule.Schedule`, and runs the engine on
:func:`bot.runtime.run` (uvloop) with its own transport and resolver. It streams results back
in small batches; the front applies each with ``Monitoring.receive`` exactly as a check of its
own, and sends the shard what changes: snapshots (start, ``watch``, a monitors file), removals,
and re-checks a result asked for.

**Why subprocesses with pipes, not multiprocessing.** ``asyncio.create_subprocess_exec`` runs
a fresh interpreter (fork and exec at once: no copy of the front's running loop or threads),
and its pipes are asyncio streams on both sides: the front reads every shard on its own loop
with no thread and no blocking call, and ``drain()`` is the backpressure. A shard is a plain
process in ``ps`` (``python -c "... from bot.shards import main ..." --index 1``) that a
signal stops at once.

**Framing.** Each message is a 4-byte big-endian length and a pickle (our own processes, a
private pipe; never over a network). Front to shard: ``("config", Settings)``, ``("upsert",
snapshots)``, ``("start",)``, ``("remove", ids)``, ``("recheck", ((id, delay), ...))``,
``("ping",)``. Shard to front: ``("ready",)``, ``("batch", results, lags, skipped, shed)``,
``("pong",)``.

**Bounded.** A shard sends a batch every :data:`BATCH_EVERY` s or :data:`BATCH_MAX` results;
while :data:`HELD_MAX` results wait to be sent (a front that does not read), its checks wait,
and its schedule sheds runs past its bound and counts them. The front keeps at most one pending
change per monitor for a shard (a newer one replaces it). A shard that exits is restarted with
its monitors (one log line each time, counted in :attr:`Shards.restarts`); one that answers no
ping for ``hang_after`` s is killed and restarted. :meth:`Shards.shutdown` stops them all
(SIGTERM, then SIGKILL after :data:`STOP_WAIT` s). A shard whose front dies exits on its own:
its stdin ends, the kernel sends it SIGTERM (``PR_SET_PDEATHSIG``), and it polls its parent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import pickle
import signal
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import checkrun, runtime
from bot.checkrun import Snapshot
from bot.schedule import Metrics, Schedule
from bot.settings import Settings
from checks import (
    CachingResolver,
    Diagnosis,
    DnsResolver,
    Resolver,
    TlsSessions,
    Transport,
    UsageError,
)
from checks.target import TargetURL, parse_url

log = logging.getLogger("check502.shards")

BATCH_EVERY = 0.025
"""Seconds a shard gathers results before it sends them."""
BATCH_MAX = 200
"""Results that make a shard send at once."""
HELD_MAX = 5_000
"""Results a shard holds unsent before its checks wait for the front."""
CHUNK = 2_000
"""Snapshots per message."""
MAX_FRAME = 256 << 20
TICK = 0.05
"""A shard's timer wakes at most every this many seconds and starts every run due by then: at
100,000 monitors checks start in small bursts rather than one by one (833 wake-ups a second
per shard), which cut the shards' CPU per check by 8 % (0.709 -> 0.652 ms), for a lag of at
most 50 ms (systemd's timers coalesce the same way, by ``AccuracySec``)."""
PING_EVERY = 2.0
HANG_AFTER = 30.0
"""Seconds without a word from a shard (results or the answer to a ping) before it is killed."""
STOP_WAIT = 2.0
"""Seconds a shard has to end after SIGTERM before SIGKILL."""
RESTART_PAUSES = (0.2, 1.0, 2.0, 5.0, 10.0)
"""Pauses before successive restarts of a shard that keeps dying (reset once it sent a batch)."""
UNANSWERED_MAX = 256
"""Results with no HTTP answer applied at once (each may wait for the bot's health check)."""

Receive = Callable[[int, Diagnosis, float], Awaitable[None]]
"""How the front applies a shard's result: monitor id, diagnosis, when it was checked."""

_LENGTH = struct.Struct(">I")
_ENTRY = "import sys; from bot.shards import main; sys.exit(main(sys.argv[1:]))"
"""A shard's command line (``python -c``: ``-m bot.shards`` would import this module twice,
once through the ``bot`` package and once as ``__main__``)."""
_PR_SET_PDEATHSIG = 1


class ShardError(Exception):
    """A shard broke the protocol (a frame too long, cut or not ours)."""


def shard_of(monitor_id: int, count: int) -> int:
    """The shard that checks ``monitor_id``: stable while the count is the same."""
    return monitor_id % count


def default_count() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def _frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


async def _read(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """The next message, or None at the end of the stream."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ShardError("a message cut short") from None
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_FRAME:
        raise ShardError(f"a message of {length} bytes")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ShardError("a message cut short") from None
    message = pickle.loads(body)
    if not isinstance(message, tuple) or not message:
        raise ShardError("a message that is not ours")
    return message


# ------------------------------------------------------------------------------------- front


@dataclass(slots=True)
class _Shard:
    """The front's side of one shard."""

    index: int
    process: asyncio.subprocess.Process | None = None
    up: bool = False
    heard: float = 0.0
    applying: bool = False
    """The front is applying this shard's results (a result may wait for a user's Re-check
    of the same monitor): not reading is then the front's doing, not a hang of the shard."""
    changes: dict[int, Snapshot | None] = field(default_factory=dict)
    """Pending snapshots to send, by monitor id; None: remove the monitor."""
    rechecks: dict[int, float] = field(default_factory=dict)
    """Pending re-checks, by monitor id: when each is due (wall clock)."""
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Shards:
    """N shard processes checking the monitors; the front applies what they find."""

    def __init__(
        self,
        settings: Settings,
        *,
        count: int,
        load: Callable[[int, int], Iterable[Snapshot]],
        load_one: Callable[[int], Snapshot | None],
        receive: Receive,
        environ: Mapping[str, str] | None = None,
        hang_after: float = HANG_AFTER,
    ) -> None:
        if count < 1:
            raise ValueError("Shards needs at least one shard")
        self.settings = settings
        self.count = count
        self._load = load
        self._load_one = load_one
        self._receive = receive
        self._hang_after = hang_after
        self._env = _shard_env(settings, environ)
        self._shards = [_Shard(i) for i in range(count)]
        self._supervisors: list[asyncio.Task[None]] = []
        self._unanswered = asyncio.Semaphore(UNANSWERED_MAX)
        self._applying: set[asyncio.Task[None]] = set()
        self.metrics = Metrics()
        """Checks, lags, skips and sheds of every shard, as one ``Schedule``'s."""
        self.restarts = 0
        """Shards restarted (they exited, or hung and were killed) since the start."""
        self.were_up = False
        """Every shard was up at once, at least once since the start."""
        self.results = [0] * count
        """Results the front received from each shard."""

    @property
    def up(self) -> int:
        """Shards running and ready."""
        return sum(shard.up for shard in self._shards)

    @property
    def pids(self) -> list[int]:
        """The shard processes' ids (those started and not yet reaped)."""
        return [
            s.process.pid
            for s in self._shards
            if s.process is not None and s.process.returncode is None
        ]

    def pid_of(self, index: int) -> int | None:
        """The process id of shard ``index``, while it runs."""
        process = self._shards[index].process
        return None if process is None or process.returncode is not None else process.pid

    async def start(self) -> None:
        """Start every shard with its monitors (read from the store through ``load``)."""
        if self._supervisors:
            return
        for shard in self._shards:
            task = asyncio.create_task(self._supervise(shard), name=f"check502-shard-{shard.index}")
            self._supervisors.append(task)

    def add(self, monitor_id: int, every: int) -> None:
        """A new or changed monitor: its shard gets its snapshot, read now."""
        snapshot = self._load_one(monitor_id)
        if snapshot is None:
            return
        shard = self._shards[shard_of(monitor_id, self.count)]
        shard.changes[monitor_id] = snapshot
        shard.wake.set()

    def remove(self, monitor_id: int) -> None:
        shard = self._shards[shard_of(monitor_id, self.count)]
        shard.changes[monitor_id] = None
        shard.rechecks.pop(monitor_id, None)
        shard.wake.set()

    def recheck(self, monitor_id: int, delay: float) -> None:
        """Check the monitor once more after ``delay`` s (replacing a pending re-check)."""
        shard = self._shards[shard_of(monitor_id, self.count)]
        shard.rechecks[monitor_id] = time.time() + delay
        shard.wake.set()

    async def shutdown(self) -> None:
        """Stop every shard: SIGTERM, SIGKILL after :data:`STOP_WAIT` s; none left behind."""
        for task in self._supervisors:
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        self._supervisors.clear()
        for task in list(self._applying):
            task.cancel()
        await asyncio.gather(*self._applying, return_exceptions=True)

    # ------------------------------------------------------------------------------- running

    async def _supervise(self, shard: _Shard) -> None:
        pauses = itertools.chain(RESTART_PAUSES, itertools.repeat(RESTART_PAUSES[-1]))
        while True:
            try:
                why = await self._run(shard)
            except Exception as exc:  # noqa: BLE001 - whatever broke, the shard starts again
                why = f"failed ({type(exc).__name__}: {exc})"
            shard.up = False
            self.restarts += 1
            pid = shard.process.pid if shard.process is not None else "-"
            code = shard.process.returncode if shard.process is not None else None
            log.warning(
                "shard %s (pid %s) %s%s; restarting it with its monitors",
                shard.index,
                pid,
                why,
                "" if code is None else f" (exit code {code})",
            )
            if shard.heard > 0:  # it had worked: start again at the shortest pause
                pauses = itertools.chain(RESTART_PAUSES, itertools.repeat(RESTART_PAUSES[-1]))
            shard.heard = 0.0
            await asyncio.sleep(next(pauses))

    async def _run(self, shard: _Shard) -> str:
        """Run one process of the shard until it ends; why it ended."""
        # The snapshots read after the start supersede pending changes; pending re-checks are
        # sent once the shard has its monitors.
        shard.changes.clear()
        shard.process = process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _ENTRY,
            "--index",
            str(shard.index),
            "--parent",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self._env,
        )
        assert process.stdin is not None and process.stdout is not None
        tasks: list[asyncio.Task[str]] = []
        try:
            writer = process.stdin
            writer.write(_frame(("config", self.settings)))
            snapshots = list(self._load(shard.index, self.count))
            for start in range(0, len(snapshots), CHUNK):
                writer.write(_frame(("upsert", tuple(snapshots[start : start + CHUNK]))))
                await writer.drain()
            writer.write(_frame(("start",)))
            await writer.drain()
            shard.heard = time.monotonic()
            tasks = [
                asyncio.create_task(self._listen(shard, process.stdout)),
                asyncio.create_task(self._tell(shard, writer)),
                asyncio.create_task(self._watch(shard)),
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        except (BrokenPipeError, ConnectionResetError):
            return "closed its pipe"
        finally:
            shard.up = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _stop(process)

    async def _listen(self, shard: _Shard, reader: asyncio.StreamReader) -> str:
        while (message := await _read(reader)) is not None:
            kind = message[0]
            if kind == "batch":
                self.results[shard.index] += len(message[1])
                shard.applying = True
                try:
                    await self._apply(message[1], message[2], message[3], message[4])
                finally:
                    shard.applying = False
            elif kind == "ready":
                shard.up = True
                self.were_up = self.were_up or self.up == self.count
            shard.heard = time.monotonic()
        return "exited"

    async def _tell(self, shard: _Shard, writer: asyncio.StreamWriter) -> str:
        pinged = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_EVERY):
                    await shard.wake.wait()
            shard.wake.clear()
            changes, shard.changes = shard.changes, {}
            rechecks, shard.rechecks = shard.rechecks, {}
            upserts = [s for s in changes.values() if s is not None]
            removed = tuple(i for i, s in changes.items() if s is None)
            for start in range(0, len(upserts), CHUNK):
                writer.write(_frame(("upsert", tuple(upserts[start : start + CHUNK]))))
            if removed:
                writer.write(_frame(("remove", removed)))
            if rechecks:
                now = time.time()
                due = tuple((i, max(0.0, at - now)) for i, at in rechecks.items())
                writer.write(_frame(("recheck", due)))
            if time.monotonic() - pinged >= PING_EVERY:
                pinged = time.monotonic()
                writer.write(_frame(("ping",)))
            await writer.drain()

    async def _watch(self, shard: _Shard) -> str:
        while True:
            await asyncio.sleep(min(1.0, self._hang_after / 4))
            if not shard.applying and time.monotonic() - shard.heard > self._hang_after:
                return f"answered nothing for {self._hang_after:g} s and was killed"

    async def _apply(
        self,
        results: tuple[tuple[int, float, Diagnosis], ...],
        lags: tuple[float, ...],
        skipped: int,
        shed: int,
    ) -> None:
        metrics = self.metrics
        for lag in lags:
            metrics.lags.append(lag)
            metrics.lag.observe(lag)
        metrics.checks += len(lags)
        metrics.skipped += skipped
        metrics.shed += shed
        for monitor_id, checked_at, diagnosis in results:
            if any(p.status is not None for p in diagnosis.probes):
                await self._received(monitor_id, diagnosis, checked_at)
                continue
            # No HTTP answer: applying it may wait for the bot's health check; the others go on.
            await self._unanswered.acquire()
            task = asyncio.create_task(self._unanswered_result(monitor_id, diagnosis, checked_at))
            self._applying.add(task)
            task.add_done_callback(self._applying.discard)

    async def _unanswered_result(self, monitor_id: int, diagnosis: Diagnosis, at: float) -> None:
        try:
            await self._received(monitor_id, diagnosis, at)
        finally:
            self._unanswered.release()

    async def _received(self, monitor_id: int, diagnosis: Diagnosis, at: float) -> None:
        """One result applied; a failure to apply it is logged, and the others go on."""
        try:
            await self._receive(monitor_id, diagnosis, at)
        except Exception:
            log.exception("the result of monitor %s could not be applied", monitor_id)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """End ``process`` (SIGTERM, then SIGKILL) and reap it; bounded."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(STOP_WAIT):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STOP_WAIT):
            await process.wait()


def _shard_env(settings: Settings, environ: Mapping[str, str] | None) -> dict[str, str]:
    """The shards' environment: the front's, with the credentials' variables the front reads
    (its ``environ``), and this package importable however the front was started."""
    env = dict(os.environ)
    if environ is not None:
        for name in settings.auth_vars:
            value = environ.get(name)
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
    root = str(Path(__file__).resolve().parent.parent)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = root if not path else f"{root}{os.pathsep}{path}"
    return env


# ------------------------------------------------------------------------------------- shard


class _Worker:
    """A shard's side: its monitors' snapshots, their schedule, and the results to send."""

    def __init__(self, settings: Settings, writer: asyncio.StreamWriter) -> None:
        self.settings = settings
        self.writer = writer
        self.environ: Mapping[str, str] = os.environ
        self.snapshots: dict[int, Snapshot] = {}
        self.targets: dict[int, TargetURL] = {}
        """Each monitor's URL parsed at its first check (dropped when its snapshot changes)."""
        self.in_flight: set[int] = set()
        self.held: list[tuple[int, float, Diagnosis]] = []
        self.room = asyncio.Event()
        self.room.set()
        self.full = asyncio.Event()
        self.skipped = 0
        self._sent = (0, 0, 0)  # checks, skipped, shed already reported
        self.resolver = _resolver(settings)
        self.transport = Transport.create(ca_bundle=settings.ca_bundle)
        self.tls_sessions = TlsSessions()
        self.schedule = Schedule(
            self.check,
            concurrency=settings.max_concurrent_checks,
            tick=TICK,
        )
        self.started = False

    async def check(self, monitor_id: int) -> None:
        snapshot = self.snapshots.get(monitor_id)
        if snapshot is None:
            return
        if monitor_id in self.in_flight:
            self.skipped += 1  # its previous check has not ended
            return
        self.in_flight.add(monitor_id)
        target = self.targets.get(monitor_id)
        if target is None:
            with contextlib.suppress(UsageError):  # the check itself reports it
                target = self.targets[monitor_id] = parse_url(snapshot.url)
        try:
            await self.room.wait()
            diagnosis = await checkrun.check(
                snapshot,
                resolver=self.resolver,
                transport=self.transport,
                policy=self.settings.policy,
                allowed=self.settings.auth_vars,
                environ=self.environ,
                tls_sessions=self.tls_sessions,
                target=target,
            )
        finally:
            self.in_flight.discard(monitor_id)
        if self.snapshots.get(monitor_id) is not snapshot:
            return  # removed or changed while it ran: the front wants the new one's results
        self.held.append((monitor_id, time.time(), diagnosis))
        if len(self.held) >= BATCH_MAX:
            self.full.set()
        if len(self.held) >= HELD_MAX:
            self.room.clear()

    def handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "upsert":
            for snapshot in message[1]:
                old = self.snapshots.get(snapshot.id)
                self.snapshots[snapshot.id] = snapshot
                self.targets.pop(snapshot.id, None)
                if self.started and (old is None or old.every != snapshot.every):
                    self.schedule.add(snapshot.id, snapshot.every)
        elif kind == "start":
            self.schedule.start([(s.id, s.every) for s in self.snapshots.values()])
            self.started = True
            self.writer.write(_frame(("ready",)))
        elif kind == "remove":
            for monitor_id in message[1]:
                self.targets.pop(monitor_id, None)
                if self.snapshots.pop(monitor_id, None) is not None and self.started:
                    self.schedule.remove(monitor_id)
        elif kind == "recheck":
            for monitor_id, delay in message[1]:
                if monitor_id in self.snapshots and self.started:
                    self.schedule.recheck(monitor_id, delay)
        elif kind == "ping":
            self.writer.write(_frame(("pong",)))

    async def send(self) -> None:
        """Send what was found, every :data:`BATCH_EVERY` s or :data:`BATCH_MAX` results."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(BATCH_EVERY):
                    await self.full.wait()
            self.full.clear()
            metrics = self.schedule.metrics
            checks, skipped, shed = metrics.checks, metrics.skipped + self.skipped, metrics.shed
            new = min(checks - self._sent[0], len(metrics.lags))
            if not self.held and not new and skipped == self._sent[1] and shed == self._sent[2]:
                continue
            # The newest ``new`` lags, read from the end (the deque holds up to 200,000).
            lags = tuple(reversed(tuple(itertools.islice(reversed(metrics.lags), new))))
            held, self.held = self.held, []
            self.writer.write(
                _frame(
                    (
                        "batch",
                        tuple(held),
                        lags,
                        skipped - self._sent[1],
                        shed - self._sent[2],
                    )
                )
            )
            self._sent = (checks, skipped, shed)
            await self.writer.drain()
            self.room.set()


def _resolver(settings: Settings) -> Resolver:
    # The monitoring path honours each answer's TTL: a host is resolved once per TTL.
    return CachingResolver(DnsResolver(settings.resolver, timeout=3.0))


async def _serve(in_fd: int, out_fd: int, parent: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    config = await _read(reader)
    if config is None or config[0] != "config" or not isinstance(config[1], Settings):
        raise ShardError("no settings from the front")
    worker = _Worker(config[1], writer)
    sending = asyncio.create_task(worker.send())
    orphan = asyncio.create_task(_orphaned(parent))
    try:
        while (message := await _read(reader)) is not None:
            worker.handle(message)
            if sending.done() or orphan.done():
                break
    finally:
        worker.schedule.shutdown()
        sending.cancel()
        orphan.cancel()


async def _orphaned(parent: int) -> None:
    """Return when the front that started this shard is gone."""
    while os.getppid() == parent:  # noqa: ASYNC110 - no event tells of a parent's death
        await asyncio.sleep(1.0)
    log.warning("the front process %s is gone; this shard stops", parent)
    os._exit(0)  # nothing to save: the front owns every write


def _die_with_parent(parent: int) -> None:
    """SIGTERM from the kernel when the front dies (Linux), even mid-check."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot.shards")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CHECK502_LOG_LEVEL", "WARNING").upper(),
        format=f"%(asctime)s %(levelname)s %(name)s[shard {args.index}]: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    _die_with_parent(args.parent)
    # The pipes become private descriptors; fd 1 goes to stderr, so a stray print cannot
    # corrupt a message.
    in_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        runtime.run(_serve(in_fd, out_fd, args.parent))
    except (KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        return 0
    except ShardError as exc:
        log.error("stopping: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
