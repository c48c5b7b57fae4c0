"""The typed commands, their limits and their usage lines: what the grammar produces.

Values only; :mod:`bot.commands.grammar` reads text into them and writes them back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from bot.commands.expect import Expect
from bot.commands.mentions import Mention
from checks.request import PLAIN, RequestSpec

__all__ = [
    "CHECK_LIMIT",
    "DEFAULT_CONFIRM",
    "DEFAULT_EVERY",
    "DEFAULT_TIMEOUT",
    "MAX_EVERY",
    "MAX_REGIONS",
    "MIN_EVERY",
    "PREFIX",
    "REGION_NAME",
    "SUBCOMMANDS",
    "TARGET_NAMES",
    "USAGE",
    "Ack",
    "Check",
    "Command",
    "Details",
    "Explain",
    "Export",
    "Help",
    "History",
    "ListMonitors",
    "Maintenance",
    "Mute",
    "Notify",
    "Status",
    "Unmute",
    "Unwatch",
    "Watch",
]

DEFAULT_EVERY = 30
MIN_EVERY = 30
MAX_EVERY = 86400
DEFAULT_CONFIRM = 2
MAX_CONFIRM = 10
DEFAULT_TIMEOUT = 4.0
MIN_TIMEOUT = 1.0
MAX_TIMEOUT = 30.0
MAX_RUNS = 10
CHECK_LIMIT = 25.0
"""Seconds a chat check takes at most in all, by default (``CHECK502_CHECK_LIMIT``)."""
MIN_MUTE = 60
MAX_MUTE = 30 * 86400
MIN_ESCALATE = 60
MAX_ESCALATE = 86400
MAX_MONITOR_ID = 2**31 - 1
MAX_INPUT = 4096
MAX_EXPLAIN = 4000

PREFIX = "/check502"

TARGET_NAMES = ("webhook", "pagerduty", "email")
"""The notification targets beyond the chat a monitor can name (``targets=``), in this order."""

REGION_NAME = re.compile(r"[a-z0-9-]{1,32}")
"""A probe region's name (``CHECK502_REGIONS``, ``regions=``, ``check502-worker --region``)."""
MAX_REGIONS = 16
"""Regions that may exist at most: one alert shows them all side by side."""

USAGE: dict[str, str] = {
    "check": f"{PREFIX} <url> [origin=<host[:port]>] [runs=1] [request options]",
    "watch": (
        f"{PREFIX} watch <url> [every=30s] [origin=<host[:port]>] [confirm=2]"
        " [expect=200-399] [timeout=4s] [slow=800ms] [notify=@alice,@oncall] [escalate=15m]"
        " [targets=pagerduty,email|none] [regions=eu,us [quorum=2]] [request options]"
    ),
    "list": f"{PREFIX} list",
    "export": f"{PREFIX} export",
    "unwatch": f"{PREFIX} unwatch <id>",
    "notify": f"{PREFIX} notify <id> <@alice,@oncall|off> [escalate=15m|off]",
    "mute": f"{PREFIX} mute <id> <duration>",
    "unmute": f"{PREFIX} unmute <id>",
    "maintenance": f"{PREFIX} maintenance <id|all> <duration|off>",
    "ack": f"{PREFIX} ack <id>",
    "history": f"{PREFIX} history <id>",
    "details": f"{PREFIX} details <id>",
    "explain": f"{PREFIX} explain <log line>",
    "status": f"{PREFIX} status [on|off]",
    "help": f"{PREFIX} help [command]",
}
"""One usage line per subcommand; ``check`` is the default one (a URL with no subcommand)."""


SUBCOMMANDS = tuple(USAGE)
"""Every subcommand, in the order help lists them."""

DEFAULT_EXPECT = Expect.default()


@dataclass(frozen=True, slots=True)
class Check:
    """Diagnose ``url`` now (``runs`` times), optionally also asking ``origin`` directly."""

    url: str
    """Normalised by :func:`checks.target.parse_url`."""
    origin: str | None = None
    """Normalised to ``scheme://host:port`` (:attr:`checks.target.OriginTarget.display`)."""
    runs: int = 1
    request: RequestSpec = PLAIN
    """What to send and ask of the answer (:mod:`bot.commands.request`); credentials by name."""
    follow: bool = True


@dataclass(frozen=True, slots=True)
class Watch:
    """Check ``url`` every ``every`` seconds; alert after ``confirm`` failures in a row."""

    url: str
    every: int = DEFAULT_EVERY
    origin: str | None = None
    confirm: int = DEFAULT_CONFIRM
    expect: Expect = DEFAULT_EXPECT
    timeout: float = DEFAULT_TIMEOUT
    request: RequestSpec = PLAIN
    """What to send and ask of the answer (:mod:`bot.commands.request`); credentials by name.
    ``slow_ms`` set: a check over it opens a SLOW incident."""
    follow: bool = True
    notify: tuple[Mention, ...] = ()
    """Pinged by the DOWN alert and its escalation."""
    escalate: int | None = None
    """Seconds an incident may stay unacknowledged after its DOWN alert before it escalates."""
    targets: tuple[str, ...] | None = None
    """Notification targets besides the chat (names of :data:`TARGET_NAMES`, in that order):
    None every configured one, () none."""
    regions: tuple[str, ...] = ()
    """Probe regions that check it (``regions=eu,us``), in the order given; () locally."""
    quorum: int = 0
    """Regions that must confirm a failure (1..len(regions)); 0: a majority."""


@dataclass(frozen=True, slots=True)
class Notify:
    """Change who a monitor's alerts ping, and its escalation (both off: ``notify 12 off``)."""

    monitor_id: int
    mentions: tuple[Mention, ...]
    escalate: int | None = None


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A maintenance window: no alert of the monitor (``None``: all of the channel's) leaves for
    ``seconds`` (``None``: end the window now); checks and incidents go on."""

    monitor_id: int | None
    seconds: int | None


@dataclass(frozen=True, slots=True)
class ListMonitors:
    """List the monitors of this conversation."""


@dataclass(frozen=True, slots=True)
class Export:
    """The conversation's monitors as a monitors file (TOML) that loads back into the same."""


@dataclass(frozen=True, slots=True)
class Unwatch:
    """Stop and delete a monitor."""

    monitor_id: int


@dataclass(frozen=True, slots=True)
class Mute:
    """Silence a monitor's alerts for ``seconds``; its checks keep running."""

    monitor_id: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Unmute:
    """Lift a mute early."""

    monitor_id: int


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledge the current incident: no reminders or follow-ups; the recovery still posts."""

    monitor_id: int


@dataclass(frozen=True, slots=True)
class History:
    """A monitor's last checks, uptime over 24 h and 7 d, latency p50/p95."""

    monitor_id: int


@dataclass(frozen=True, slots=True)
class Details:
    """The full diagnosis behind a monitor's alert (its open or last incident)."""

    monitor_id: int


@dataclass(frozen=True, slots=True)
class Explain:
    """Explain one pasted log line or platform error code."""

    line: str


@dataclass(frozen=True, slots=True)
class Help:
    """The whole grammar, or one command's usage (``topic`` is a key of :data:`USAGE`)."""

    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """The channel's public status page: say its URL (``None``), turn it on, or revoke it."""

    action: Literal["on", "off"] | None = None


Command: TypeAlias = (
    Check
    | Watch
    | ListMonitors
    | Export
    | Unwatch
    | Notify
    | Maintenance
    | Mute
    | Unmute
    | Ack
    | History
    | Details
    | Explain
    | Status
    | Help
)
