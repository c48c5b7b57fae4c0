"""Every setting of the bot, read from the environment in one place.

Each variable is listed in the README's settings table. ``Settings.from_env`` validates all of
them at start-up and names the variable that is wrong, rather than failing later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from bot.commands import CHECK_LIMIT, MAX_REGIONS, REGION_NAME
from bot.commands.durations import setting_seconds
from bot.errors import SettingsError
from checks import AddressPolicy, UsageError
from checks.dns import parse_nameserver
from checks.target import parse_url

MAX_CHECK_LIMIT = 600.0
"""The longest overall limit of a chat check: a chat platform lets a reply be edited for at
least this long (Discord's interaction token lasts 15 minutes, Slack's response URL 30)."""

MAX_SHARDS = 64
"""The most shard processes ``CHECK502_SHARDS`` may ask for."""


def _seconds(name: str, text: str, *, minimum: float = 0.0) -> float:
    """A duration setting, read by the grammar's one duration parser (its SETTING rules:
    ``500ms``, ``5s``, ``10m``, ``1h30m``, ``2d``, fractions, a bare number is seconds)."""
    value = setting_seconds(text)
    if value is None:
        raise SettingsError(f"{name}={text!r} is not a duration (e.g. 5s, 10m, 1h)")
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g} s")
    return value


def _int(name: str, text: str, *, minimum: int = 0) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


def _public_url(text: str) -> str:
    if "@" in text:  # a password would land in the log with the message: not quoted
        raise SettingsError("CHECK502_PUBLIC_URL must not contain a user name or password")
    bad = f"CHECK502_PUBLIC_URL={text!r} is not an http(s) URL like https://bot.example.com"
    if not text.lower().startswith(("http://", "https://")):
        raise SettingsError(bad)
    if "?" in text or "#" in text:
        raise SettingsError(f"{bad} (no query or fragment)")
    try:
        return parse_url(text).url.rstrip("/")
    except UsageError:
        raise SettingsError(bad) from None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _auth_vars(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    for name in names:
        if not _ENV_NAME.fullmatch(name):
            raise SettingsError(
                "CHECK502_AUTH_VARS lists environment variable names (letters, digits, _),"
                " comma-separated"
            )
        if name.upper().startswith("CHECK502_"):
            raise SettingsError(f"CHECK502_AUTH_VARS must not list the bot's own {name}")
    return names


def region_refusal(wanted: tuple[str, ...], available: tuple[str, ...]) -> str | None:
    """Why a monitor may not be checked from ``wanted`` regions, given the ones this bot has
    (:attr:`Settings.available_regions`); None when it may. One short sentence."""
    if not wanted:
        return None
    if not available:
        return (
            "This bot checks from no regions (its operator sets CHECK502_REDIS_URL and"
            " CHECK502_REGIONS); watch it without regions=."
        )
    unknown = next((name for name in wanted if name not in available), None)
    if unknown is None:
        return None
    names = ""
    for name in available:  # at most 16 names of 32 characters: cut to stay short
        if len(names) + len(name) > 120:
            names += ", …"
            break
        names += f", {name}" if names else name
    return f'This bot has no region "{unknown}"; regions= can name {names}.'


def redact_url(url: str) -> str:
    """``url`` without its password (``redis://:***@host:6379/0``): what a log may show."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _redis_url(text: str) -> str:
    """``CHECK502_REDIS_URL``: a redis:// or rediss:// URL with a host; the message of a bad one
    never quotes it (it may hold a password)."""
    bad = "CHECK502_REDIS_URL is not a redis:// or rediss:// URL like redis://localhost:6379/0"
    try:
        parts = urlsplit(text)
        port = parts.port  # a bad port raises ValueError
    except ValueError:
        raise SettingsError(bad) from None
    if parts.scheme.lower() not in {"redis", "rediss"} or not parts.hostname:
        raise SettingsError(bad)
    if port == 0 or any(c.isspace() for c in text):
        raise SettingsError(bad)
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise SettingsError(f"{bad} (the path is a database number)")
    return text


def parse_regions(text: str, *, what: str) -> tuple[str, ...]:
    """A comma-separated list of region names, each once, in the order given."""
    names = tuple(n.strip() for n in text.split(","))
    for name in names:
        if not REGION_NAME.fullmatch(name):
            shown = name if len(name) <= 40 else name[:40] + "…"
            raise SettingsError(
                f"{what}: {shown!r} is not a region name (a-z, 0-9, -, at most 32 characters)"
            )
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise SettingsError(f"{what} names {', '.join(doubled)} twice")
    if len(names) > MAX_REGIONS:
        raise SettingsError(f"{what} lists {len(names)} regions; at most {MAX_REGIONS}")
    return names


@dataclass(frozen=True, slots=True)
class Settings:
    db_path: str = "check502.db"
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    resolver: str | None = None
    ca_bundle: str | None = None
    retention_days: int = 30
    """How long failures, incidents and hourly rollups are kept (``CHECK502_RETENTION_DAYS``)."""
    raw_retention: float = 3 * 3600.0
    """How long every raw check is kept (``CHECK502_RAW_RETENTION``); ``history`` lists the
    latest checks from these, and its uptime and latency figures come from hourly rollups."""
    max_concurrent_checks: int = 100
    min_interval: int = 30
    """The shortest ``every`` the core accepts (the command grammar itself allows 30 s)."""
    recheck_delay: float = 5.0
    reminder_interval: float | None = 3600.0
    group_window: float = 60.0
    """Alerts of one channel opened within this window of the last one are sent as one."""
    coalesce: float = 1.0
    """How long a new alert waits for others of the same channel before it is sent."""
    followup_interval: float = 60.0
    """The least time between two messages in an incident's thread: a cause that flips back
    and forth between checks is reported once it has held past this, not on every check."""
    control_url: str | None = "https://example.com/"
    """Checked before alerting: when it cannot be reached, the bot's own network is broken."""
    health_cache: float = 10.0
    cert_warn_days: tuple[int, ...] = (14, 7, 1)
    rate_user: int = 10
    """Checks a user may run per minute."""
    rate_channel: int = 30
    """Checks a channel may run per minute."""
    max_monitors_per_channel: int = 100
    delivery_attempts: int = 20
    """Deliveries that keep failing are given up after this many attempts (and logged)."""
    chart_dir: str | None = None
    """Where the console writes ``history`` charts (``CHECK502_CHART_DIR``); None: the
    directory ``check502-charts`` in the system's temporary directory."""
    check_limit: float = CHECK_LIMIT
    """Seconds a chat check (``/check502 <url> runs=10``) takes at most, every run and retry
    included; runs not finished by then are left out and the reply says so."""
    sweep_every: float = 10.0
    """How often the core looks for incidents to escalate and maintenance windows that ended:
    an escalation or a held DOWN goes at most this late."""
    public_url: str | None = None
    """Where the bot's web server is reached from outside (``CHECK502_PUBLIC_URL``), without a
    trailing slash: ``/check502 status`` gives ``<public_url>/status/<token>`` as a link."""
    monitors_file: str | None = None
    """The monitors file (``CHECK502_MONITORS_FILE``, TOML): loaded at start and on SIGHUP;
    the monitors it declares are owned by it (docs/monitors-file.md)."""
    auth_vars: tuple[str, ...] = ()
    """The environment variables ``auth=`` may name (``CHECK502_AUTH_VARS``, comma-separated):
    only these are ever read and sent, so a chat user cannot send the bot's own tokens to a
    URL of theirs. Empty: ``auth=`` is refused."""
    redis_url: str | None = field(default=None, repr=False)
    """Where the probe workers' queues are (``CHECK502_REDIS_URL``, redis:// or rediss://);
    None: no regions, every monitor is checked by this process. Never logged as is: it may hold
    a password (:attr:`redis_display`)."""
    regions: tuple[str, ...] = ()
    """The probe regions that exist (``CHECK502_REGIONS=eu,us,ap``): the names ``regions=``
    may use."""
    region_grace: float = 10.0
    """How long after a regional check's deadline the coordinator waits for every region's
    result (``CHECK502_REGION_GRACE``) before it decides with the ones it has."""

    @property
    def available_regions(self) -> tuple[str, ...]:
        """The regions a monitor may name: ``regions``, when Redis is set up; else none."""
        return self.regions if self.redis_url is not None else ()

    @property
    def redis_display(self) -> str | None:
        """``redis_url`` with its password masked: what logs and replies may show."""
        return None if self.redis_url is None else redact_url(self.redis_url)

    shards: int = 0
    """Shard processes that check the monitors (``CHECK502_SHARDS``; unset: the cores this
    process may use). 0 checks them inside the front process (:mod:`bot.shards`)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read ``CHECK502_*``; raise :class:`SettingsError` naming the first bad variable."""

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value is not None and value.strip() != "" else None

        values: dict[str, object] = {}
        if (v := get("CHECK502_DB")) is not None:
            values["db_path"] = v
        try:
            values["policy"] = AddressPolicy.from_setting(get("CHECK502_ALLOW_NETWORKS"))
        except ValueError as exc:
            raise SettingsError(f"CHECK502_ALLOW_NETWORKS: {exc}") from None
        if (v := get("CHECK502_RESOLVER")) is not None:
            try:
                parse_nameserver(v.strip())
            except UsageError:
                raise SettingsError(
                    f"CHECK502_RESOLVER={v!r} is not a DNS server address (IP or IP:PORT)"
                ) from None
            values["resolver"] = v.strip()
        if (v := get("CHECK502_CA_BUNDLE")) is not None:
            values["ca_bundle"] = v
        if (v := get("CHECK502_MONITORS_FILE")) is not None:
            values["monitors_file"] = v.strip()
        ints = {
            "CHECK502_RETENTION_DAYS": ("retention_days", 1),
            "CHECK502_MAX_CONCURRENT_CHECKS": ("max_concurrent_checks", 1),
            "CHECK502_MIN_INTERVAL": ("min_interval", 1),
            "CHECK502_RATE_USER": ("rate_user", 1),
            "CHECK502_RATE_CHANNEL": ("rate_channel", 1),
            "CHECK502_MAX_MONITORS_PER_CHANNEL": ("max_monitors_per_channel", 1),
        }
        for var, (attr, minimum) in ints.items():
            if (v := get(var)) is not None:
                values[attr] = _int(var, v, minimum=minimum)
        durations = {
            "CHECK502_RECHECK_DELAY": ("recheck_delay", 0.0),
            "CHECK502_GROUP_WINDOW": ("group_window", 0.0),
            "CHECK502_COALESCE": ("coalesce", 0.0),
            "CHECK502_FOLLOWUP_INTERVAL": ("followup_interval", 0.0),
            "CHECK502_RAW_RETENTION": ("raw_retention", 600.0),
        }
        for var, (attr, floor) in durations.items():
            if (v := get(var)) is not None:
                values[attr] = _seconds(var, v, minimum=floor)
        if (v := get("CHECK502_CHECK_LIMIT")) is not None:
            limit = _seconds("CHECK502_CHECK_LIMIT", v, minimum=1.0)
            if limit > MAX_CHECK_LIMIT:
                raise SettingsError(f"CHECK502_CHECK_LIMIT must be at most {MAX_CHECK_LIMIT:g} s")
            values["check_limit"] = limit
        if (v := get("CHECK502_REMINDER_INTERVAL")) is not None:
            off = v.strip().lower() in {"off", "0", "none"}
            values["reminder_interval"] = (
                None if off else _seconds("CHECK502_REMINDER_INTERVAL", v, minimum=60)
            )
        if (v := get("CHECK502_CONTROL_URL")) is not None:
            if v.strip().lower() == "off":
                values["control_url"] = None
            else:
                try:
                    parse_url(v.strip())
                except UsageError:
                    raise SettingsError(
                        f"CHECK502_CONTROL_URL={v!r} is not an http(s) URL (or off)"
                    ) from None
                values["control_url"] = v.strip()
        if (v := get("CHECK502_CHART_DIR")) is not None:
            if os.path.exists(v) and not os.path.isdir(v):
                raise SettingsError(f"CHECK502_CHART_DIR={v!r} is a file, not a directory")
            values["chart_dir"] = v
        if (v := get("CHECK502_PUBLIC_URL")) is not None:
            values["public_url"] = _public_url(v.strip())
        if (v := get("CHECK502_CERT_WARN_DAYS")) is not None:
            try:
                days = tuple(sorted({int(d) for d in v.split(",") if d.strip()}, reverse=True))
            except ValueError:
                raise SettingsError(
                    f"CHECK502_CERT_WARN_DAYS={v!r} is not a list of days"
                ) from None
            values["cert_warn_days"] = days
        if (v := get("CHECK502_AUTH_VARS")) is not None:
            values["auth_vars"] = _auth_vars(v)
        if (v := get("CHECK502_REDIS_URL")) is not None:
            values["redis_url"] = _redis_url(v.strip())
        if (v := get("CHECK502_REGIONS")) is not None:
            values["regions"] = parse_regions(v, what="CHECK502_REGIONS")
        if (v := get("CHECK502_REGION_GRACE")) is not None:
            values["region_grace"] = _seconds("CHECK502_REGION_GRACE", v, minimum=1.0)
        if (v := get("CHECK502_SHARDS")) is not None:
            shards = _int("CHECK502_SHARDS", v)
            if shards > MAX_SHARDS:
                raise SettingsError(f"CHECK502_SHARDS must be at most {MAX_SHARDS}")
            values["shards"] = shards
        else:
            values["shards"] = len(os.sched_getaffinity(0))
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.raw_retention > settings.retention_days * 86400:
            raise SettingsError(
                f"CHECK502_RAW_RETENTION ({settings.raw_retention:g} s) must not be longer than"
                f" CHECK502_RETENTION_DAYS ({settings.retention_days} d)"
            )
        return settings
