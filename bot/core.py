"""The bot: one object every surface talks to.

``await bot.handle(context, command)`` executes a command (parsed once, by the surface's flow,
with the one grammar of :mod:`bot.commands`) for the channel in ``context`` and returns a reply
value for the surface to render. ``start()`` opens the database, rebuilds the schedule from the
monitors table, and starts the outbox sender that delivers alerts through the attached surfaces.

A monitor belongs to the channel that created it: every command that names a monitor id finds
it only in the caller's channel, and says "no such monitor" otherwise, whether or not it exists
elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot import checkrun, series
from bot.codec import alert_from_dict
from bot.commands import (
    Ack,
    Check,
    Command,
    Details,
    Explain,
    Export,
    Help,
    History,
    ListMonitors,
    Maintenance,
    Mute,
    Notify,
    Status,
    Unmute,
    Unwatch,
    Watch,
    format_command,
    format_duration,
    help_text,
    platform_error,
)
from bot.commands.mentions import Mention, format_mentions
from bot.errors import BotError, Conflict, NotFound, RateLimited, StorageError
from bot.health import Health
from bot.model import (
    Alert,
    AlertKind,
    Channel,
    Context,
    DiagnosisReply,
    ErrorReply,
    ExplainReply,
    ExportReply,
    HistoryReply,
    ListReply,
    Monitor,
    Reply,
    StatusReply,
    TextReply,
    WatchReply,
)
from bot.monitoring import Monitoring, classify
from bot.monitorsfile import MonitorsFile, Window, export
from bot.notify import Notifier, fan_out
from bot.outbox import Sender
from bot.ratelimit import RateLimiter
from bot.schedule import Metrics, Schedule
from bot.settings import Settings, region_refusal
from bot.shards import Shards, shard_of
from bot.stats import Stats
from bot.statuspage import StatusPage, StatusPages
from bot.storage import FaultLog, Store
from bot.surface import Surface
from checks import (
    CachingResolver,
    Diagnosis,
    DnsResolver,
    ErrorKind,
    RequestSpec,
    Resolver,
    TlsSessions,
    Transport,
    UsageError,
    diagnose,
    explain,
)
from checks.request import PLAIN

if TYPE_CHECKING:
    from bot.regions.coordinator import Coordinator

log = logging.getLogger("check502.bot")

OUR_FAULT = "Something went wrong on our side; the details are in the bot's log."
"""What a user is told of an unexpected failure (the traceback goes to the log)."""
CHECK_TIMEOUT = 10.0
"""Deadline of each run of an on-demand check (monitors use their own ``timeout``); the whole
check shares one overall limit, ``Settings.check_limit``."""
PROGRESS_EVERY = 2.0
"""Seconds between two progress updates of one check: a chat edit each time a run finished
would hit the platforms' rate limits."""
PROGRESS_WAIT = 0.5
"""Seconds the result waits for a progress update still being sent, so that it does not land
after the result; short, as the check's limit is a promise to the user."""

Progress = Callable[[int, int], Awaitable[None]]
"""How a surface shows a check's progress (editing its "Checking…" message): called with the
runs done and the runs asked for, at most every :data:`PROGRESS_EVERY` seconds, only when
more than one run was asked for, never after the result is returned."""
_PRUNE_EVERY = 600
"""Raw rows live ``raw_retention`` plus up to this long."""
_PRUNE_BATCH = 300
"""Raw rows read per step. At 10,000 monitors (bench/storage) a step of 1,000 took up to 53 ms
of CPU (each deleted row touches another monitor's index page); of 300, up to 23 ms."""
_PRUNE_MONITORS = 200
"""Monitors whose old rollups one step drops."""
_PRUNE_PAUSE = 0.05


class Bot:
    """The platform-neutral core. Build it, ``attach`` surfaces, ``await start()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        resolver: Resolver | None = None,
        transport: Transport | None = None,
        notifiers: Sequence[Notifier] = (),
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.notifiers = tuple(notifiers)
        self.clock = clock
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        """Where ``auth=`` credentials are read, at each check (only ``settings.auth_vars``)."""
        self.store = store or Store.open(settings.db_path)
        self.resolver: Resolver = resolver or DnsResolver(settings.resolver, timeout=3.0)
        self._monitor_resolver: Resolver = (
            self.resolver if resolver is not None else CachingResolver(self.resolver)
        )
        """Monitors' checks in this process honour each DNS answer's TTL; one-off checks
        resolve afresh. A resolver given by the caller is used as given."""
        self._tls_sessions = TlsSessions()
        self.transport = transport or Transport.create(ca_bundle=settings.ca_bundle)
        self.surfaces: dict[str, Surface] = {}
        self.stats = Stats()
        """The core's counters (checks, their durations, deliveries), for ``/metrics``."""
        health = None
        if settings.control_url:
            health = Health(
                settings.control_url,
                resolver=self.resolver,
                transport=self.transport,
                cache_seconds=settings.health_cache,
            )
        self.check_faults = FaultLog(log, "check results dropped")
        """Scheduled checks whose result could not be recorded (``count``): the monitor's state
        stays as it was, and the next check that can be recorded goes on from there."""
        self.monitoring = Monitoring(
            self.store,
            settings,
            self._diagnose_monitor,
            health=health,
            notifiers=self.notifiers,
            clock=clock,
            stats=self.stats,
            faults=self.check_faults,
        )
        self.schedule = Schedule(
            self._run_check, concurrency=settings.max_concurrent_checks, clock=clock
        )
        self.shards: Shards | None = None
        """With ``settings.shards`` > 0, the shard processes that check the monitors; the
        front's ``schedule`` then runs only the periodic jobs."""
        if settings.shards > 0:
            self.shards = Shards(
                settings,
                count=settings.shards,
                load=self._shard_snapshots,
                load_one=self._snapshot,
                receive=self._received,
                environ=environ,
            )
        self.sender = Sender(
            self.store,
            self.surfaces,
            settings,
            notifiers=self.notifiers,
            clock=clock,
            stats=self.stats,
        )
        self.regions: Coordinator | None = None
        """Monitors checked from probe regions (``CHECK502_REDIS_URL`` set): scheduled,
        queued and decided by the coordinator, not by :attr:`schedule`."""
        if settings.redis_url is not None:
            # Imported only here: taskiq and redis-py cost ~2 s of start-up to a bot without them.
            from bot.regions.coordinator import Coordinator  # noqa: PLC0415

            self.regions = Coordinator(
                self.store, settings, self.monitoring, wake=self.sender.wake, clock=clock
            )
        self.status_pages = StatusPages(self.store)
        self._user_limit = RateLimiter(settings.rate_user)
        self._channel_limit = RateLimiter(settings.rate_channel)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._command_faults = FaultLog(log, "commands refused")
        self._windows: dict[tuple[Channel, str], tuple[Window, ...]] = {}
        """The monitors file's scheduled windows, by the file monitor's channel and URL."""

    def attach(self, surface: Surface) -> None:
        """Deliver alerts of ``surface.name`` channels through this surface."""
        self.surfaces[surface.name] = surface
        self.sender.wake()

    async def start(self) -> None:
        """Start monitoring and delivering; once, however many surfaces call it."""
        if self._started:
            return
        self._started = True
        self.store.release_claims()
        self.monitoring.mend_once()  # alerts an older check502 left reading DOWN, muted
        rows = self.store.load_monitors()  # one query fills the monitor cache
        regional: list[tuple[int, int]] = []
        if self.regions is not None:  # checked from regions: scheduled by the coordinator
            owned = {mid for mid, _ in self.store.schedule_rows(regional=True)}
            regional = [row for row in rows if row[0] in owned]
            rows = [row for row in rows if row[0] not in owned]
        if self.shards is None:
            self.schedule.start(rows)
        else:
            self.schedule.start([])
            await self.shards.start()
        if self.regions is not None:
            await self.regions.start(regional)
        self.schedule.scheduler.add_job(
            self.prune, "interval", seconds=_PRUNE_EVERY, id="prune", next_run_time=_utcnow()
        )
        self.schedule.scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.settings.sweep_every,
            id="sweep",
            next_run_time=_utcnow(),  # an escalation or a window that fell due while stopped
        )
        self._tasks.append(asyncio.create_task(self.sender.run(), name="check502-outbox"))

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self.shards is not None:
            await self.shards.shutdown()
        self.schedule.shutdown()
        if self.regions is not None:
            await self.regions.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._flush()

    def close(self) -> None:
        self._flush()
        self.status_pages.close()
        self.store.close()

    def _flush(self) -> None:
        """Write the healthy results still pending; those that cannot be are counted dropped."""
        try:
            self.monitoring.flush()
        except StorageError as exc:
            dropped = self.store.discard_pending()
            self.check_faults.count += dropped
            log.warning("%s healthy check results not written at stop: %s", dropped, exc.line())

    async def prune(self) -> None:
        """Retention, in short steps with pauses between them so that due checks run.

        Each step reads at most ``_PRUNE_BATCH`` raw rows (or ``_PRUNE_MONITORS`` monitors'
        rollups): 10,000 monitors write 200,000 raw rows per 10 minutes, and one DELETE of
        millions would block every check for tens of seconds. A database fault ends this run
        (counted and logged as a check fault); the next run goes on.
        """
        now = self.clock()
        steps = self.store.retention_steps(
            before=now - self.settings.retention_days * 86400,
            raw_before=now - self.settings.raw_retention,
            batch=_PRUNE_BATCH,
            monitors=_PRUNE_MONITORS,
        )
        count = 1
        try:
            for _ in steps:
                count += 1
                await asyncio.sleep(_PRUNE_PAUSE)
                if not self._started:  # stopped meanwhile: the store may be closed
                    steps.close()
                    return
        except StorageError as exc:
            self.check_faults.fault(exc)
            return
        log.info("retention done in %s steps", count)

    async def sweep(self) -> None:
        """The periodic part of alerting that no check drives: escalations that fell due, and
        maintenance windows that ended (a monitor still down then is checked at once, and its
        DOWN goes with that check's diagnosis). Both are read from the database, so a restart
        finds what fell due while the bot was stopped."""
        try:
            self.file_windows()
            queued = self.monitoring.escalate_due()
            recheck = self.monitoring.windows_ended()
        except StorageError as exc:
            self.check_faults.fault(exc)
            return
        for monitor_id in recheck:
            self._check_now(monitor_id)
        if queued:
            self.sender.wake()

    # ------------------------------------------------------------------------------- commands

    async def handle(
        self, context: Context, command: Command, *, progress: Progress | None = None
    ) -> Reply:
        """Execute a parsed command; every failure becomes a one-sentence :class:`ErrorReply`.
        A check of several runs reports its progress to ``progress`` (see :data:`Progress`).
        The text was parsed once, at the edge (:mod:`adapters.flow`); it is not parsed again."""
        try:
            reply = await self.execute(context, command, progress=progress)
        except StorageError as exc:
            # Every write of a command is one transaction: nothing of it was kept.
            self._command_faults.fault(exc)
            return ErrorReply(str(exc))
        except (UsageError, BotError) as exc:
            return ErrorReply(str(exc))
        except Exception:
            log.exception(
                "command %r from %s failed", format_command(command)[:200], context.channel
            )
            return ErrorReply(OUR_FAULT)
        self._command_faults.ok()
        return reply

    async def execute(
        self, context: Context, command: Command, *, progress: Progress | None = None
    ) -> Reply:
        match command:
            case Check():
                return await self._check(context, command, progress)
            case Watch():
                return await self._watch(context, command)
            case ListMonitors():
                return ListReply(self.store.monitors_in(context.channel))
            case Export():
                return self._export(context)
            case Unwatch(monitor_id=mid):
                monitor = self._editable(context, mid, "unwatch it")
                self._remove(monitor)
                return TextReply(f"Stopped watching #{monitor.id} {monitor.url}.", monitor.id)
            case Mute(monitor_id=mid, seconds=seconds):
                monitor = self._find(context, mid)
                if self.monitoring.set_muted(monitor, self.clock() + seconds):
                    self.sender.wake()
                return TextReply(
                    f"Muted #{monitor.id} for {format_duration(seconds)}: checks go on, alerts"
                    " are held back.",
                    monitor.id,
                )
            case Unmute(monitor_id=mid):
                monitor = self._find(context, mid)
                if self.monitoring.set_muted(monitor, None):
                    self.sender.wake()  # a held recovery, or a mended alert, goes now
                return TextReply(f"Unmuted #{monitor.id}: alerts are on again.", monitor.id)
            case Notify(monitor_id=mid, mentions=mentions, escalate=escalate):
                monitor = self._editable(context, mid, "change who it notifies")
                return self._notify(context, monitor, mentions, escalate)
            case Maintenance(monitor_id=mid, seconds=seconds):
                return self._maintenance(context, mid, seconds)
            case Ack(monitor_id=mid):
                return self._ack(context, mid)
            case History(monitor_id=mid):
                return self._history(self._find(context, mid))
            case Details(monitor_id=mid):
                return self._details(self._find(context, mid))
            case Explain(line=line):
                return ExplainReply(explain(line))
            case Status(action=action):
                return self._status(context, action)
            case Help(topic=topic):
                return TextReply(help_text(topic, check_limit=self.settings.check_limit))
        raise AssertionError(f"unhandled command {command!r}")  # pragma: no cover

    def _notify(
        self,
        context: Context,
        monitor: Monitor,
        mentions: tuple[Mention, ...],
        escalate: int | None,
    ) -> TextReply:
        _check_mentions(context, mentions)
        self.store.set_notify(monitor.id, format_mentions(mentions) if mentions else None, escalate)
        who = ", ".join(m.name for m in mentions)
        pings = f"its DOWN alert pings {who}" if mentions else "its alerts ping no one"
        after = (
            f"; unacknowledged for {format_duration(escalate)}, it escalates"
            if escalate is not None
            else ""
        )
        return TextReply(f"#{monitor.id}: {pings}{after}.", monitor.id)

    def _maintenance(
        self, context: Context, monitor_id: int | None, seconds: int | None
    ) -> TextReply:
        if monitor_id is not None:
            monitors: tuple[Monitor, ...] = (self._find(context, monitor_id),)
        else:
            monitors = self.store.monitors_in(context.channel)
            if not monitors:
                raise NotFound("This channel watches nothing yet; see `help watch`.")
        which = f"#{monitors[0].id}" if monitor_id is not None else f"all {len(monitors)} monitors"
        now = self.clock()
        until = None if seconds is None else now + seconds
        recheck = self.monitoring.set_maintenance([m.id for m in monitors], until)
        for mid in recheck:
            self._check_now(mid)
        self.sender.wake()  # a held recovery is due once the window is off
        single = monitors[0].id if monitor_id is not None else None
        if seconds is None:
            return TextReply(f"Maintenance of {which} is over: alerts are on again.", single)
        shape = "%H:%M UTC" if seconds < 20 * 3600 else "%b %d %H:%M UTC"
        end = datetime.fromtimestamp(now + seconds, UTC).strftime(shape)
        return TextReply(
            f"Maintenance of {which} until {end} ({format_duration(seconds)}): checks go on,"
            " no alert leaves; an outage still open then is announced then.",
            single,
        )

    def _status(self, context: Context, action: str | None) -> StatusReply:
        """Say, open or revoke the channel's status page (an unguessable token per channel;
        a new one each time it is turned on again)."""
        channel = context.channel
        changed = False
        if action == "off":
            changed = self.store.close_status(channel)
            token = None
        elif action == "on":
            fresh = secrets.token_urlsafe(24)
            token = self.store.open_status(channel, fresh, by=context.user, now=self.clock())
            changed = token == fresh
        else:
            token = self.store.status_token(channel)
        path = None if token is None else f"/status/{token}"
        base = self.settings.public_url
        url = f"{base}{path}" if base is not None and path is not None else None
        return StatusReply(path=path, url=url, action=action, changed=changed)

    async def status_page(self, token: str) -> StatusPage | None:
        """The page a status token opens, None for an unknown or revoked token (loaded in a
        worker thread: :class:`bot.statuspage.StatusPages`)."""
        return await self.status_pages.page(token, self.clock())

    def _details(self, monitor: Monitor) -> Reply:
        """The diagnosis a monitor's alert showed: the DOWN of its open or last incident."""
        row = self.store.execute(
            "SELECT o.payload FROM outbox o JOIN incidents i ON o.key = 'down:' || i.id"
            " WHERE i.monitor_id = ? ORDER BY i.id DESC LIMIT 1",
            (monitor.id,),
        ).fetchone()
        alert = alert_from_dict(json.loads(row[0])) if row is not None else None
        if alert is None or alert.diagnosis is None:
            raise NotFound(
                f"Monitor #{monitor.id} has no alert to detail yet;"
                f" `check {monitor.url}` diagnoses it now."
            )
        return DiagnosisReply(
            alert.diagnosis,
            monitor.id,
            details=True,
            maintenance_until=_current(monitor.maintenance_until, self.clock()),
            regions=monitor.regions,
            quorum=monitor.needed,
            views=alert.regions,
        )

    def _editable(self, context: Context, monitor_id: int, to: str) -> Monitor:
        """The channel's monitor, unless a monitors file owns it: then the file is the one
        place to change it (chat would be undone by the next reload)."""
        monitor = self._find(context, monitor_id)
        if monitor.source is not None:
            raise Conflict(
                f"#{monitor.id} comes from {monitor.source}: edit that file to {to}, then"
                " reload the bot (SIGHUP)."
            )
        return monitor

    def _remove(self, monitor: Monitor) -> None:
        now = self.clock()
        with self.store.transaction():
            ended = self._end_for_targets(monitor, now)
            self.store.delete_monitor(monitor.id, now)
        if ended:
            self.sender.wake()
        self._unschedule(monitor.id)

    def _export(self, context: Context) -> ExportReply:
        monitors = self.store.monitors_in(context.channel)
        if not monitors:
            raise NotFound("This channel watches nothing yet; see `help watch`.")
        sources = sorted({m.source for m in monitors if m.source is not None})
        text = export(
            context.channel,
            (m.as_watch() for m in monitors),
            source=", ".join(sources) if sources else None,
        )
        return ExportReply(text, len(monitors))

    # --------------------------------------------------------------------------- monitors file

    def load_monitors(self, file: MonitorsFile) -> tuple[int, int, int]:
        """Make the monitors the file owns what the file says, in one transaction: create the
        new ones, update the changed ones in place (id, state, history and incidents kept),
        remove the ones gone from it. Monitors made in chat are left alone, but for one of a
        URL the file declares in its channel: the file adopts it in place (export, then the
        file: the move from chat to git keeps ids and history). The file's
        scheduled windows apply from the next sweep. Returns ``(added, updated, removed)``;
        loading the same file again writes nothing."""
        now = self.clock()
        added: list[Monitor] = []
        updated: list[Monitor] = []
        removed: list[Monitor] = []
        with self.store.transaction():
            owned = {(m.channel, m.url): m for m in self.store.file_monitors()}
            made_in_chat: dict[tuple[Channel, str], Monitor] = {}
            for m in self.store.chat_monitors():
                made_in_chat.setdefault((m.channel, m.url), m)  # the first (lowest id) of a URL
            for entry in file.monitors:
                old = owned.pop((entry.channel, entry.watch.url), None)
                if old is None:
                    chat = made_in_chat.pop((entry.channel, entry.watch.url), None)
                    if chat is not None:
                        # Moving from chat to git (export, then the file): the file adopts the
                        # chat's monitor of that URL in place, id and history kept.
                        self.store.update_monitor(chat.id, entry.watch, source=file.name)
                        updated.append(chat)
                        continue
                    added.append(
                        self.store.add_file_monitor(
                            entry.channel, entry.watch, source=file.name, now=now
                        )
                    )
                elif _differs(old, entry.watch) or old.source != file.name:
                    self.store.update_monitor(old.id, entry.watch, source=file.name)
                    updated.append(old)
            for gone in owned.values():
                if self._end_for_targets(gone, now):
                    self.sender.wake()
                self.store.delete_monitor(gone.id, now)
                removed.append(gone)
        self._windows = {
            (entry.channel, entry.watch.url): file.windows_of(entry.channel, entry.watch.url)
            for entry in file.monitors
        }
        if self._started:
            for monitor in removed:
                self._unschedule(monitor.id)
            for monitor in [*added, *updated]:
                fresh = self.store.monitor(monitor.id)
                # A shard checks its own snapshot of the monitor: every change must reach it.
                changed = fresh is not None and (
                    fresh.every != monitor.every or fresh.regions != monitor.regions
                )
                if fresh is not None and (monitor in added or changed or self.shards):
                    self._schedule(fresh)
        if added or updated or removed:
            log.warning(
                "%s: %s monitors added, %s updated, %s removed",
                file.name,
                len(added),
                len(updated),
                len(removed),
            )
        return len(added), len(updated), len(removed)

    def file_windows(self) -> int:
        """Open the file's scheduled maintenance windows that have begun (a monitor already in
        a window that ends later is left alone); how many monitors entered one."""
        if not self._windows:
            return 0
        now = self.clock()
        by_end: dict[float, list[int]] = {}
        for monitor in self.store.file_monitors():
            windows = self._windows.get((monitor.channel, monitor.url), ())
            ends = [end for w in windows if (end := w.end_at(now)) is not None]
            if not ends:
                continue
            end = max(ends)
            current = monitor.maintenance_until
            if current is None or current.timestamp() < end:
                by_end.setdefault(end, []).append(monitor.id)
        for end, ids in by_end.items():
            self.monitoring.set_maintenance(ids, end)
        return sum(len(ids) for ids in by_end.values())

    def _find(self, context: Context, monitor_id: int) -> Monitor:
        monitor = self.store.monitor(monitor_id, context.channel)
        if monitor is None:
            raise NotFound(f"There is no monitor #{monitor_id} in this channel; see `list`.")
        return monitor

    def _spend(self, context: Context) -> None:
        user_key = f"{context.channel.platform}:{context.channel.workspace}:{context.user}"
        channel_key = (
            f"{context.channel.platform}:{context.channel.workspace}:{context.channel.channel}"
        )
        wait = max(self._user_limit.wait(user_key), self._channel_limit.wait(channel_key))
        if wait > 0:
            raise RateLimited(
                f"Too many checks for now; try again in {max(1, round(wait))} s.", wait
            )
        self._user_limit.spend(user_key)
        self._channel_limit.spend(channel_key)

    async def _check(self, context: Context, command: Check, progress: Progress | None) -> Reply:
        request = self.credentials(command.request)
        self._spend(context)
        limit = self.settings.check_limit
        shown = _Throttled(progress) if progress is not None and command.runs > 1 else None
        try:
            diagnosis = await diagnose(
                command.url,
                origin=command.origin,
                runs=command.runs,
                concurrency=min(command.runs, 5),
                resolver=self.resolver,
                transport=self.transport,
                timeout=min(CHECK_TIMEOUT, limit),
                follow=command.follow,
                policy=self.settings.policy,
                budget=limit,
                progress=shown,
                request=request,
            )
        finally:
            if shown is not None:
                await shown.finish()
        return DiagnosisReply(diagnosis)

    async def recheck(self, context: Context, monitor_id: int) -> Reply:
        """A surface's Re-check button: check the channel's monitor now, recorded as a scheduled
        check is (result, state, alerts), so pressing it after a fix closes the incident."""
        try:
            monitor = self._find(context, monitor_id)
            self._spend(context)
            if self.regions is not None and monitor.regions:
                # One vantage point never decides a regional monitor: the front's own check is
                # shown, not recorded, and a round of its regions starts now (unless one is
                # already on its way).
                diagnosis = await self._diagnose_monitor(monitor)
                self.regions.recheck(monitor.id, 0.0)
                return DiagnosisReply(diagnosis, monitor.id)
            applied = await self.monitoring.recheck(monitor.id)
            if applied is None:  # unwatched while it waited
                raise NotFound(f"There is no monitor #{monitor_id} in this channel; see `list`.")
        except BotError as exc:
            return ErrorReply(str(exc))
        except Exception:
            log.exception("re-check of monitor %s from %s failed", monitor_id, context.channel)
            return ErrorReply(OUR_FAULT)
        self._after(monitor.id, applied.recheck_after, applied.alerts)
        return DiagnosisReply(applied.outcome.diagnosis, monitor.id)

    async def _watch(self, context: Context, command: Watch) -> Reply:
        if command.every < self.settings.min_interval:
            raise Conflict(
                f"The shortest interval here is {format_duration(self.settings.min_interval)}."
            )
        _check_mentions(context, command.notify)
        configured = [n.name for n in self.notifiers]
        missing = [name for name in command.targets or () if name not in configured]
        if missing:
            can = ", ".join([*configured, "none"])
            raise Conflict(
                f"This bot has no {missing[0]} target set up (its operator configures targets);"
                f" targets= can name {can}."
            )
        refused = region_refusal(command.regions, self.settings.available_regions)
        if refused is not None:
            raise Conflict(refused)
        existing = self.store.monitors_in(context.channel)
        wanted = (command.url, command.origin, command.request.redacted(), command.follow)
        for monitor in existing:  # the same URL sent another request is another monitor
            if (monitor.url, monitor.origin, monitor.request, monitor.follow) == wanted:
                hint = (
                    f" `notify {monitor.id} …` changes who its alerts ping."
                    if command.notify or command.escalate is not None
                    else ""
                )
                raise Conflict(
                    f"This channel already watches {command.url} as #{monitor.id}.{hint}"
                )
        if len(existing) >= self.settings.max_monitors_per_channel:
            raise Conflict(
                f"This channel has {len(existing)} monitors, the most allowed; unwatch one first."
            )
        request = self.credentials(command.request)  # an unset variable creates nothing
        self._spend(context)
        # The first check runs before the monitor exists: a refused or malformed target
        # (private address, metadata name) is refused here and creates nothing.
        diagnosis = await self._diagnose(
            command.url, command.origin, command.timeout, request, command.follow
        )
        for p in diagnosis.probes:
            if p.error is not None and p.error.kind is ErrorKind.BLOCKED_ADDRESS:
                raise Conflict(f"Not watching {command.url}: {p.error.message}.")
        # The monitor, its first result and any alert it causes: one transaction, or nothing.
        # A monitor checked from regions is shown this check but decided by its regions only
        # (one vantage point never opens its incident): its first round starts at once.
        regional = self.regions is not None and bool(command.regions)
        with self.store.transaction():
            monitor = self.store.add_monitor(
                context.channel, command, created_by=context.user, now=self.clock()
            )
            applied = None
            if not regional:
                applied = self.monitoring.apply(monitor, classify(diagnosis, monitor.expect))
            monitor = self.store.monitor(monitor.id) or monitor
        self._schedule(monitor)
        if applied is not None:
            self._after(monitor.id, applied.recheck_after, applied.alerts)
        else:
            self._check_now(monitor.id)
        return WatchReply(monitor, diagnosis)

    def _end_for_targets(self, monitor: Monitor, now: float) -> int:
        """A monitor removed mid-incident: its incident ends for the targets too (PagerDuty's
        resolve), or a pager would ring on for a monitor that is gone."""
        if monitor.incident_id is None or not self.notifiers:
            return 0
        incident = self.store.incident(monitor.incident_id)
        if incident is None or incident.closed_at is not None:
            return 0
        ended = Alert(
            AlertKind.RESOLVED,
            datetime.fromtimestamp(now, UTC),
            monitor_id=monitor.id,
            url=monitor.url,
            incident_id=monitor.incident_id,
            down_since=incident.first_failure_at,
            detail="monitor removed",
        )
        return fan_out(
            self.store,
            self.notifiers,
            monitor.channel,
            ended,
            key=f"resolved:{monitor.incident_id}",
            now=now,
        )

    def _ack(self, context: Context, monitor_id: int) -> Reply:
        monitor = self._find(context, monitor_id)
        if monitor.incident_id is None:
            raise Conflict(f"#{monitor.id} has no open incident to acknowledge.")
        now = self.clock()
        with self.store.transaction():
            if not self.store.ack(monitor.incident_id, context.user, now):
                raise Conflict(f"#{monitor.id}'s incident is already acknowledged.")
            self.monitoring.cancel_escalation(monitor.incident_id, "acknowledged")
            # The pager hears of it (PagerDuty acknowledge); the chat has this reply.
            acked = Alert(
                AlertKind.ACKNOWLEDGED,
                datetime.fromtimestamp(now, UTC),
                monitor_id=monitor.id,
                url=monitor.url,
                incident_id=monitor.incident_id,
                detail=context.user,
            )
            queued = fan_out(
                self.store,
                self.notifiers,
                monitor.channel,
                acked,
                key=f"ack:{monitor.incident_id}",
                now=now,
            )
        if queued:
            self.sender.wake()
        return TextReply(
            f"Acknowledged #{monitor.id}'s incident: no more reminders or follow-ups; the"
            " recovery will still be posted.",
            monitor.id,
        )

    def _history(self, monitor: Monitor) -> HistoryReply:
        now = self.clock()
        day, week = now - 86400, now - 7 * 86400
        n24, up24 = self.store.uptime(monitor.id, day)
        n7, up7 = self.store.uptime(monitor.id, week)
        p50, p95 = self.store.latency_percentiles(monitor.id, day, (0.50, 0.95))
        # The chart's series: one read of at most 7 d of hourly rows (about 170).
        last = math.floor(now / series.HOUR)
        first_day, first_week = series.day_start(last), series.week_start(last)
        rows = self.store.rollups(monitor.id, min(first_day, first_week), last)
        return HistoryReply(
            monitor=monitor,
            checks=self.store.recent_checks(monitor.id),
            uptime_24h=up24 / n24 if n24 else None,
            uptime_7d=up7 / n7 if n7 else None,
            p50_ms=p50,
            p95_ms=p95,
            checks_24h=n24,
            incidents=self.store.incidents_of(monitor.id),
            day=series.build(rows, first_day, 1, series.DAY_BUCKETS),
            week=series.build(rows, first_week, series.WEEK_STEP_HOURS, series.WEEK_BUCKETS),
        )

    # -------------------------------------------------------------------------------- monitors

    async def _run_check(self, monitor_id: int) -> None:
        try:
            applied = await self.monitoring.check(monitor_id)
        except StorageError as exc:
            # Dropped whole (one transaction): the state machine did not move, and the next
            # check that can be recorded counts from where it stood.
            self.check_faults.fault(exc)
            return
        self.check_faults.ok()
        if applied is not None:
            self._after(monitor_id, applied.recheck_after, applied.alerts)

    def _schedule(self, monitor: Monitor) -> None:
        """(Re)schedule ``monitor`` where it is checked: by the coordinator when it has regions
        and Redis is set, else by this process."""
        self._unschedule(monitor.id)
        if self.regions is not None and monitor.regions:
            self.regions.add(monitor.id, monitor.every)
        else:
            self.checking.add(monitor.id, monitor.every)

    def _unschedule(self, monitor_id: int) -> None:
        self.checking.remove(monitor_id)
        if self.regions is not None:
            self.regions.remove(monitor_id)

    def _check_now(self, monitor_id: int) -> None:
        if self.regions is not None and self.regions.owns(monitor_id):
            self.regions.recheck(monitor_id, 0.0)
        else:
            self.checking.recheck(monitor_id, 0.0)

    def _after(self, monitor_id: int, recheck_after: float | None, alerts: int) -> None:
        if recheck_after is not None:
            self.checking.recheck(monitor_id, recheck_after)
        if alerts:
            self.sender.wake()

    @property
    def checking(self) -> Schedule | Shards:
        """What schedules the monitors' checks: the shards, else the front's own schedule."""
        return self.schedule if self.shards is None else self.shards

    @property
    def check_metrics(self) -> Metrics:
        """Checks, lags, skips and sheds of the monitors' checks, wherever they run."""
        return self.checking.metrics

    def _snapshot(self, monitor_id: int) -> checkrun.Snapshot | None:
        monitor = self.store.monitor(monitor_id)
        return None if monitor is None else checkrun.Snapshot.of(monitor)

    def _shard_snapshots(self, index: int, count: int) -> list[checkrun.Snapshot]:
        """The snapshots of shard ``index``'s monitors, from the monitor cache (filled at the
        start with one query): no query per shard, nor per monitor."""
        snapshots = []
        local = False if self.regions is not None else None  # regional ones: the coordinator's
        for monitor_id, _ in self.store.schedule_rows(regional=local):
            if shard_of(monitor_id, count) == index:
                monitor = self.store.cached_monitor(monitor_id)
                if monitor is not None:
                    snapshots.append(checkrun.Snapshot.of(monitor))
        return snapshots

    async def _received(self, monitor_id: int, diagnosis: Diagnosis, checked_at: float) -> None:
        """A shard's result: applied as a check of the front's own."""
        try:
            applied = await self.monitoring.receive(monitor_id, diagnosis, checked_at=checked_at)
        except StorageError as exc:
            self.check_faults.fault(exc)
            return
        self.check_faults.ok()
        if applied is not None:
            self._after(monitor_id, applied.recheck_after, applied.alerts)

    def credentials(self, spec: RequestSpec) -> RequestSpec:
        """``spec`` with its credentials' values read from the environment, now: see
        :func:`bot.checkrun.credentials` (shards read theirs by the same rules)."""
        return checkrun.credentials(spec, self.settings.auth_vars, self.environ)

    async def _diagnose_monitor(self, monitor: Monitor) -> Diagnosis:
        """A monitor's check in this process (``CHECK502_SHARDS=0``, a Re-check): the monitoring
        path, as in a shard (fast verdict for answers that meet ``expect``, TLS resumption)."""
        started = time.monotonic()
        try:
            return await checkrun.check(
                checkrun.Snapshot.of(monitor),
                resolver=self._monitor_resolver,
                transport=self.transport,
                policy=self.settings.policy,
                allowed=self.settings.auth_vars,
                environ=self.environ,
                tls_sessions=self._tls_sessions,
            )
        finally:
            self.stats.check_duration.observe(time.monotonic() - started)

    async def _diagnose(
        self,
        url: str,
        origin: str | None,
        timeout: float,
        request: RequestSpec = PLAIN,
        follow: bool = True,
    ) -> Diagnosis:
        """One check of a monitored URL, never longer than ``timeout`` in all."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                return await diagnose(
                    url,
                    origin=origin,
                    resolver=self.resolver,
                    transport=self.transport,
                    timeout=timeout * 0.9,
                    follow=follow,
                    policy=self.settings.policy,
                    request=request,
                )
        except TimeoutError:
            return checkrun.deadline(url, origin, timeout, request)
        finally:
            self.stats.check_duration.observe(time.monotonic() - started)


def _current(until: datetime | None, now: float) -> datetime | None:
    return until if until is not None and until.timestamp() > now else None


def _differs(monitor: Monitor, watch: Watch) -> bool:
    """The file's entry asks for something the monitor does not do (credentials compared by
    their variables' names: the database never holds a value)."""
    return monitor.as_watch() != replace(watch, request=watch.request.redacted())


def _check_mentions(context: Context, mentions: tuple[Mention, ...]) -> None:
    """Mentions of another platform's syntax, or of a whole server, ping no one: refused."""
    problem = platform_error(mentions, context.channel.platform, context.channel.workspace)
    if problem is not None:
        raise Conflict(problem)


class _Throttled:
    """The engine's progress calls (plain, on the event loop) turned into a surface's updates:
    at most one every :data:`PROGRESS_EVERY` s, one at a time, none once all runs are done."""

    def __init__(self, show: Progress, clock: Callable[[], float] = time.monotonic) -> None:
        self.show = show
        self.clock = clock
        self.last = clock()  # the surface just showed "Checking…"
        self.task: asyncio.Task[None] | None = None

    def __call__(self, done: int, runs: int) -> None:
        now = self.clock()
        if done >= runs or now - self.last < PROGRESS_EVERY:
            return
        if self.task is not None and not self.task.done():
            return  # the last update is still on its way: this one would overtake it
        self.last = now
        self.task = asyncio.create_task(self._send(done, runs))

    async def _send(self, done: int, runs: int) -> None:
        try:
            await self.show(done, runs)
        except Exception as exc:  # noqa: BLE001 - a surface failing to show progress is not the check failing
            log.warning("could not show a check's progress (%s: %s)", type(exc).__name__, exc)

    async def finish(self) -> None:
        """Let an update on its way arrive (bounded) before the result is shown."""
        if self.task is None or self.task.done():
            return
        await asyncio.wait({self.task}, timeout=PROGRESS_WAIT)
        self.task.cancel()


def _utcnow() -> datetime:
    return datetime.now(UTC)
