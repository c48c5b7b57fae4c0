"""The values the bot core hands to surfaces: replies to commands, and alert deliveries.

Plain frozen data, no formatting: each surface (console, Slack, Discord, Telegram) has its own
``render`` module that turns the same value into its own format.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bot.commands import Expect, Mention, Watch
from checks import Cause, Diagnosis, Explanation, RequestSpec
from checks.request import PLAIN


@dataclass(frozen=True, slots=True)
class Channel:
    """Where a conversation happens; monitors belong to exactly one channel."""

    platform: str
    """The surface's registry name: ``console``, ``slack``, ``discord``, ``telegram``."""
    workspace: str
    """Slack team, Discord guild, Telegram ``-`` (chats are global), console ``local``."""
    channel: str


@dataclass(frozen=True, slots=True)
class Context:
    """Who typed a command, and where."""

    channel: Channel
    user: str


@dataclass(frozen=True, slots=True)
class Monitor:
    id: int
    channel: Channel
    url: str
    every: int
    origin: str | None
    confirm: int
    expect: Expect
    timeout: float
    state: str
    """``new`` (not checked yet), ``up``, ``down`` or ``slow`` (up, but over ``slow=``)."""
    fail_streak: int
    muted_until: datetime | None
    incident_id: int | None
    last_checked: datetime | None
    last_outcome: str | None
    """The last status code or error kind, e.g. ``"502"``, ``"connect_refused"``."""
    created_by: str
    request: RequestSpec = PLAIN
    """What its checks send and ask of the answer; credentials by variable name only."""
    follow: bool = True
    notify: tuple[Mention, ...] = ()
    """Who its DOWN alert and its escalation ping."""
    escalate: int | None = None
    """Seconds unacknowledged after the DOWN alert before the incident escalates."""
    maintenance_until: datetime | None = None
    """The end of its maintenance window: until then no alert of it leaves."""
    targets: tuple[str, ...] | None = None
    """The notification targets it alerts besides the chat: None every configured one, ()
    none (``targets=none``)."""
    source: str | None = None
    """The monitors file that owns it (``check502.toml``), None when made in chat."""
    regions: tuple[str, ...] = ()
    """The probe regions that check it (``regions=eu,us``, through Redis workers); () checked
    locally, by this process."""
    quorum: int = 0
    """How many of its regions must confirm a failure before it goes DOWN; 0 not set: a
    majority (:attr:`needed`)."""

    @property
    def needed(self) -> int:
        """The effective quorum: ``quorum`` when set, else a majority of its regions."""
        return effective_quorum(self.regions, self.quorum)

    def as_watch(self) -> Watch:
        """The ``watch`` command (or file entry) that makes this monitor as it is."""
        return Watch(
            url=self.url,
            every=self.every,
            origin=self.origin,
            confirm=self.confirm,
            expect=self.expect,
            timeout=self.timeout,
            request=self.request,
            follow=self.follow,
            notify=self.notify,
            escalate=self.escalate,
            targets=self.targets,
            regions=self.regions,
            quorum=self.quorum,
        )


def effective_quorum(regions: tuple[str, ...], quorum: int) -> int:
    """``quorum`` when set (1..n), else a majority of ``regions`` (``n // 2 + 1``); 0 for a
    monitor checked locally."""
    if not regions:
        return 0
    return quorum if quorum else len(regions) // 2 + 1


@dataclass(frozen=True, slots=True)
class RegionView:
    """One region's result of one check of a monitor, as an alert shows it side by side."""

    region: str
    status: int | None
    """The HTTP status the region got, None without an answer."""
    latency_ms: float | None
    """The deciding probe's total time, None without one."""
    ip: str | None
    cause: str
    """The region's diagnosis' cause (a :class:`checks.Cause` value)."""
    label: str
    """The outcome label, e.g. ``"502"``, ``"connect_refused"``."""
    ok: bool
    counted: bool
    """False: the region lost its own network or did not answer; not part of the quorum."""
    note: str = ""
    """Why not counted: :data:`NO_ANSWER`, :data:`OWN_NETWORK`, or ""."""


NO_ANSWER = "no answer from this region"
OWN_NETWORK = "region's own network failed"


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One stored check of a monitor (see ``history``)."""

    at: datetime
    ok: bool
    outcome: str
    total_ms: float | None
    ip: str | None
    cause: Cause


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    id: int
    opened_at: datetime
    closed_at: datetime | None
    cause: Cause
    first_failure_at: datetime
    last_failure_at: datetime
    acked_by: str | None
    kind: str = "down"
    """``down``, or ``slow``: up, but over the monitor's latency threshold."""


# ----------------------------------------------------------------------------------------------
# Replies to commands
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiagnosisReply:
    diagnosis: Diagnosis
    monitor_id: int | None = None
    """The monitor whose re-check this is, when it is one."""
    details: bool = False
    """The stored diagnosis behind the monitor's alert (``details``), not a new check."""
    maintenance_until: datetime | None = None
    """``details``: the end of the monitor's maintenance window, when it is in one."""
    regions: tuple[str, ...] = ()
    """``details`` of a monitor checked from regions: the regions it is checked from."""
    quorum: int = 0
    """With ``regions``: how many must see it fail before it is DOWN (the effective quorum)."""
    views: tuple[RegionView, ...] = ()
    """``details``: each region's result of the check its alert showed."""


@dataclass(frozen=True, slots=True)
class WatchReply:
    monitor: Monitor
    diagnosis: Diagnosis
    """The first check, run at once so the channel sees where the monitor starts."""


@dataclass(frozen=True, slots=True)
class ListReply:
    monitors: tuple[Monitor, ...]


@dataclass(frozen=True, slots=True)
class ExportReply:
    """``/check502 export``: the channel's monitors as a monitors file (TOML)."""

    text: str
    monitors: int


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of a monitor's history (from the hourly rollups), for a chart."""

    start: datetime
    """When the bucket starts (UTC); it lasts its series' ``step``."""
    checks: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    """Total-time percentiles of the bucket's checks that got a response; None without any."""


@dataclass(frozen=True, slots=True)
class Series:
    """A monitor's checks over a window in equal buckets, oldest first, empty ones included."""

    step: int
    """Seconds per bucket: 3600 (the last 24 h) or 21600 (the last 7 d)."""
    points: tuple[SeriesPoint, ...]

    @property
    def checks(self) -> int:
        return sum(p.checks for p in self.points)


@dataclass(frozen=True, slots=True)
class HistoryReply:
    monitor: Monitor
    checks: tuple[CheckRecord, ...]
    """The latest checks, newest first."""
    uptime_24h: float | None
    uptime_7d: float | None
    """Fractions of checks that were up; None when there were none."""
    p50_ms: float | None
    p95_ms: float | None
    """Total-time percentiles over 24 h, of checks that got a response."""
    checks_24h: int
    incidents: tuple[IncidentRecord, ...]
    day: Series | None = None
    """Hourly over the last 24 h (the current hour last), for a chart."""
    week: Series | None = None
    """Per 6 h over the last 7 d (UTC 00/06/12/18 boundaries, the current one last)."""

    @property
    def chartable(self) -> bool:
        """Some check in the last 7 d: there is something to draw."""
        return self.week is not None and self.week.checks > 0


@dataclass(frozen=True, slots=True)
class ExplainReply:
    explanation: Explanation


@dataclass(frozen=True, slots=True)
class StatusReply:
    """``/check502 status [on|off]``: where the channel's status page is, if it has one."""

    path: str | None
    """``/status/<token>`` on the bot's web server; None when the channel has no page."""
    url: str | None
    """The whole link (``CHECK502_PUBLIC_URL`` + path); None when no public URL is set."""
    action: str | None = None
    """What was asked: ``on``, ``off``, or None (only to say where it is)."""
    changed: bool = False
    """``on`` created the page, or ``off`` revoked one."""


@dataclass(frozen=True, slots=True)
class TextReply:
    """Help, and confirmations (unwatched, muted, acknowledged...): one short plain text."""

    text: str
    monitor_id: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A usage error, a refusal or a failure: one short sentence, shown only to the user."""

    text: str


Reply = (
    DiagnosisReply
    | WatchReply
    | ListReply
    | ExportReply
    | HistoryReply
    | ExplainReply
    | StatusReply
    | TextReply
    | ErrorReply
)


# ----------------------------------------------------------------------------------------------
# Alerts
# ----------------------------------------------------------------------------------------------


class AlertKind(enum.StrEnum):
    DOWN = "down"
    """An incident opened: the full diagnosis."""
    GROUPED = "grouped"
    """Several monitors of one channel went down within the grouping window: one message."""
    CAUSE_CHANGED = "cause_changed"
    """Still down, for another reason: a follow-up in the alert's thread."""
    REMINDER = "reminder"
    """Still down after the reminder interval: a follow-up in the alert's thread."""
    ESCALATION = "escalation"
    """Still open and not acknowledged ``escalate`` seconds after the DOWN alert: a reply in
    its thread that pings the monitor's ``notify`` list again (and, for a pager, the page)."""
    RECOVERED = "recovered"
    """Up again: a reply in the alert's thread with the downtime. Held back while the monitor
    is muted, and posted when the mute ends; never posted for an incident never announced."""
    RESOLVED = "resolved"
    """An announced incident closed: its alert message is edited to show it resolved, buttons
    removed. Nothing is posted; it goes at once, muted or not (a mute holds back noise, not
    the truth)."""
    CERT_EXPIRING = "cert_expiring"
    DEGRADED = "degraded"
    """The bot's own network is broken: monitors' alerts are held back."""
    RESTORED = "restored"
    """The bot's own network works again."""
    REGION_DEGRADED = "region_degraded"
    """A probe region stopped answering (``detail`` is its name): its results do not count
    toward any quorum until it answers again; never an outage of a target."""
    REGION_RESTORED = "region_restored"
    """The probe region (``detail``) answers again."""
    ACKNOWLEDGED = "acknowledged"
    """Someone acknowledged an incident in chat: only notification targets hear of it (the
    pager's acknowledge); ``detail`` is who."""


MAX_PINGS = 25
"""Mentions one message carries at most (a GROUPED alert gathers its monitors'): a line of
them fits any platform's message, and Discord's 100 users and 100 roles."""


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    at: datetime
    monitor_id: int | None = None
    url: str | None = None
    incident_id: int | None = None
    diagnosis: Diagnosis | None = None
    """The check that triggered it (DOWN, CAUSE_CHANGED, REMINDER, RECOVERED, CERT_EXPIRING)."""
    previous_cause: Cause | None = None
    down_since: datetime | None = None
    """First failure of the incident (REMINDER, RECOVERED)."""
    expected: str | None = None
    """The monitor's ``expect`` codes, when a status outside them is what made it down."""
    days_left: int | None = None
    detail: str | None = None
    """DEGRADED: what is broken; otherwise an extra sentence."""
    grouped: tuple[Alert, ...] = ()
    """GROUPED: the DOWN alerts it stands for."""
    incident_kind: str = "down"
    """The incident's kind: ``slow`` makes a DOWN alert a SLOW one (a warning, not an outage);
    it travels as a DOWN does (threads, resolve, recovery, grouping)."""

    @property
    def slow(self) -> bool:
        """A SLOW alert: the incident is of an answer over the latency threshold."""
        return self.incident_kind == "slow"

    mentions: tuple[Mention, ...] = ()
    """Who it pings: the monitor's ``notify`` list on DOWN and ESCALATION, nobody otherwise."""
    escalate: int | None = None
    """ESCALATION: the seconds the incident went unacknowledged after its DOWN alert."""
    regions: tuple[RegionView, ...] = ()
    """A monitor checked from several regions: each region's result of the deciding check,
    side by side (its order: the monitor's ``regions``)."""

    @property
    def pings(self) -> tuple[Mention, ...]:
        """Everyone this message pings: its own mentions, or a GROUPED one's alerts' (each
        once, at most :data:`MAX_PINGS`)."""
        found = list(self.mentions)
        for a in self.grouped:
            found += [m for m in a.mentions if m not in found]
        return tuple(found[:MAX_PINGS])

    @property
    def downtime_s(self) -> float | None:
        if self.down_since is None:
            return None
        return max(0.0, (self.at - self.down_since).total_seconds())


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A platform's own id of a message it accepted, to reply in its thread or edit it."""

    message_id: str
    thread_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message for a surface to deliver."""

    key: str
    """Idempotency key: the same key is never meant to produce two messages."""
    channel: Channel
    alert: Alert
    thread: MessageRef | None = None
    """Post in this message's thread (follow-ups, recovery)."""
    resolves: MessageRef | None = None
    """RESOLVED (and a RECOVERED queued before RESOLVED existed): the alert message to mark
    resolved, where the platform can edit it."""
    original: Alert | None = None
    """With ``resolves``: the DOWN alert that message shows, so a surface can re-render it as
    resolved; None when the message was a GROUPED alert standing for several incidents."""

    @property
    def edit_only(self) -> bool:
        """A RESOLVED delivery: edit ``resolves``, post nothing, return ``resolves``."""
        return self.alert.kind is AlertKind.RESOLVED
