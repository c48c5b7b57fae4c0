"""Monitors as code: a TOML file (``CHECK502_MONITORS_FILE``) declares monitors per channel.

The file (docs/monitors-file.md has every key)::

    [[channel]]
    platform = "slack"            # slack, discord, telegram or console
    workspace = "T0123ABCD"       # as /check502 export prints it
    channel = "C0123ABCD"

    [[channel.monitor]]
    url = "https://api.example.com/health"
    every = "1m"
    notify = ["<@U123|alice>"]

    [[channel.maintenance]]       # a scheduled window: weekly, or start/end
    weekly = "sun 02:00"          # UTC
    duration = "2h"

Every monitor option is read by the chat grammar's own parser
(:func:`bot.commands.watch_from_options`), so the file and chat accept exactly the same
values. :func:`load` raises :class:`MonitorsFileError`, one line naming the file, the line and
the key. tomllib gives no positions for keys: :class:`_Lines` finds them by a scan of the text
for the table and the key, which is good enough for a file people write by hand.

:func:`export` writes a channel's monitors back as such a file; loading it yields them again.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.commands import (
    CommandError,
    Watch,
    parse_duration,
    platform_error,
    watch_from_options,
    watch_options,
)
from bot.errors import SettingsError
from bot.model import Channel
from bot.settings import region_refusal
from checks.policy import AddressPolicy
from checks.target import parse_url

__all__ = [
    "FileMonitor",
    "MonitorsFile",
    "MonitorsFileError",
    "Window",
    "export",
    "load",
    "parse",
]

MAX_FILE = 4 << 20
"""A larger monitors file is refused (read whole, parsed once)."""
PLATFORMS = ("slack", "discord", "telegram", "console")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 86400
MAX_WINDOW = WEEK
"""A scheduled window lasts at most a week (a weekly one could not end otherwise)."""

_CHANNEL_KEYS = ("platform", "workspace", "channel", "monitor", "maintenance")
_MONITOR_KEYS = (
    "url",
    "every",
    "origin",
    "confirm",
    "expect",
    "timeout",
    "method",
    "headers",
    "body",
    "auth",
    "keyword",
    "not_keyword",
    "slow",
    "follow",
    "notify",
    "escalate",
    "targets",
    "regions",
    "quorum",
)
_WINDOW_KEYS = ("monitors", "weekly", "duration", "start", "end")
_LISTS = ("notify", "targets", "regions")
"""Keys whose value may be a TOML array (chat writes them comma-separated)."""
_WEEKLY = re.compile(r"(?i)\s*([a-z]{3})[a-z]*\s+([0-2]?[0-9]):([0-5][0-9])\s*")


class MonitorsFileError(SettingsError):
    """The monitors file is unreadable or invalid; ``str()`` is one line: file, line, key."""


@dataclass(frozen=True, slots=True)
class FileMonitor:
    channel: Channel
    watch: Watch


@dataclass(frozen=True, slots=True)
class Window:
    """A scheduled maintenance window of some of a channel's file monitors."""

    channel: Channel
    urls: tuple[str, ...] | None
    """The monitors it holds (by URL), None for every file monitor of the channel."""
    duration: int
    weekly: int | None = None
    """Seconds from Monday 00:00 UTC at which it starts every week; None: ``start`` once."""
    start: float | None = None

    def end_at(self, now: float) -> float | None:
        """The end of the window ``now`` is inside, or None."""
        if self.weekly is None:
            assert self.start is not None
            return (
                self.start + self.duration
                if self.start <= now < self.start + self.duration
                else None
            )
        monday = datetime.fromtimestamp(now, UTC).date() - timedelta(
            days=datetime.fromtimestamp(now, UTC).weekday()
        )
        week_start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC).timestamp()
        for begin in (week_start + self.weekly - WEEK, week_start + self.weekly):
            if begin <= now < begin + self.duration:
                return begin + self.duration
        return None

    def holds(self, url: str) -> bool:
        return self.urls is None or url in self.urls


@dataclass(frozen=True, slots=True)
class MonitorsFile:
    name: str
    """The file's name (``check502.toml``): what ``list`` says a monitor is from."""
    monitors: tuple[FileMonitor, ...]
    windows: tuple[Window, ...] = ()

    def windows_of(self, channel: Channel, url: str) -> tuple[Window, ...]:
        return tuple(w for w in self.windows if w.channel == channel and w.holds(url))


class _Lines:
    """Where a table or key is in the file's text (1-based), by a plain scan."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def table(self, header: str, index: int, after: int = 0) -> int:
        """The line of the ``index``-th ``[[header]]`` at or after line ``after``."""
        pattern = re.compile(rf"\s*\[\[\s*{re.escape(header)}\s*\]\]")
        seen = 0
        for number, line in enumerate(self.lines[after:], start=after + 1):
            if pattern.match(line):
                if seen == index:
                    return number
                seen += 1
        return after or 1

    def key(self, key: str, table_line: int) -> int:
        """The line of ``key = …`` in the table that starts at ``table_line``."""
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number, line in enumerate(self.lines[table_line:], start=table_line + 1):
            if line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return table_line


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.name = path.name
        self.path = path
        self.at = _Lines(text)

    def fail(self, line: int, key: str, message: str) -> MonitorsFileError:
        return MonitorsFileError(f"{self.path}:{line}: {key}: {message}")


def load(
    path: Path,
    *,
    targets: Iterable[str] | None = None,
    min_interval: int = 0,
    policy: AddressPolicy | None = None,
    regions: Iterable[str] | None = None,
) -> MonitorsFile:
    """Read and validate the monitors file at ``path``. ``targets``: the notification targets
    the bot has (a monitor naming another is refused); ``regions``: the probe regions it has
    (:attr:`bot.settings.Settings.available_regions`; None: not checked); ``min_interval``: the
    bot's floor;
    ``policy``: the addresses the bot refuses (a URL whose host is a refused address or a
    metadata name is refused here; names are judged again after DNS at every check)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as exc:
        raise MonitorsFileError(f"{path}: cannot read the monitors file: {exc.strerror}") from None
    if len(data) > MAX_FILE:
        raise MonitorsFileError(f"{path}: the monitors file is over {MAX_FILE >> 20} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MonitorsFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse(
        text, path, targets=targets, min_interval=min_interval, policy=policy, regions=regions
    )


def parse(
    text: str,
    path: Path,
    *,
    targets: Iterable[str] | None = None,
    min_interval: int = 0,
    policy: AddressPolicy | None = None,
    regions: Iterable[str] | None = None,
) -> MonitorsFile:
    """:func:`load` of text already read (``path`` names it in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = found.group(1) if found else "1"
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise MonitorsFileError(f"{path}:{line}: not valid TOML: {reason}") from None
    r = _Reader(path, text)
    for key in data:
        if key != "channel":
            raise r.fail(r.at.key(key, 0), key, "unknown key; the file holds [[channel]] tables")
    channels = data.get("channel", [])
    if not isinstance(channels, list):
        raise r.fail(r.at.key("channel", 0), "channel", "write it as [[channel]] tables")
    monitors: list[FileMonitor] = []
    windows: list[Window] = []
    seen: dict[tuple[Channel, str], str] = {}
    known = None if targets is None else tuple(targets)
    available = None if regions is None else tuple(regions)
    for i, table in enumerate(channels):
        where = f"channel[{i + 1}]"
        line = r.at.table("channel", i)
        if not isinstance(table, dict):
            raise r.fail(line, where, "write it as a [[channel]] table")
        channel = _channel(r, table, where, line)
        for j, entry in enumerate(_tables(r, table, "monitor", where, line)):
            mwhere = f"{where}.monitor[{j + 1}]"
            mline = r.at.table("channel.monitor", j, after=line)
            watch = _watch(r, entry, mwhere, mline, channel, known, min_interval)
            if (
                available is not None
                and (refused := region_refusal(watch.regions, available)) is not None
            ):
                raise r.fail(r.at.key("regions", mline), f"{mwhere}.regions", refused)
            if policy is not None and (refused := _refusal(policy, watch.url)) is not None:
                raise r.fail(r.at.key("url", mline), f"{mwhere}.url", f"not watching it: {refused}")
            if (channel, watch.url) in seen:
                raise r.fail(
                    r.at.key("url", mline),
                    f"{mwhere}.url",
                    f"{watch.url} is already {seen[channel, watch.url]}",
                )
            seen[channel, watch.url] = mwhere
            monitors.append(FileMonitor(channel, watch))
        urls = {fm.watch.url for fm in monitors if fm.channel == channel}
        for j, entry in enumerate(_tables(r, table, "maintenance", where, line)):
            wwhere = f"{where}.maintenance[{j + 1}]"
            wline = r.at.table("channel.maintenance", j, after=line)
            windows.append(_window(r, entry, wwhere, wline, channel, urls))
    return MonitorsFile(path.name, tuple(monitors), tuple(windows))


def _refusal(policy: AddressPolicy, url: str) -> str | None:
    """Why the bot would refuse ``url``'s host before any lookup (an address, a metadata name)."""
    host = parse_url(url).host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return policy.refuse_name(host)
    return policy.refusal(host)


def _tables(
    r: _Reader, table: Mapping[str, Any], key: str, where: str, line: int
) -> list[dict[str, Any]]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise r.fail(r.at.key(key, line), f"{where}.{key}", f"write it as [[channel.{key}]] tables")
    return value


def _string(r: _Reader, table: Mapping[str, Any], key: str, where: str, line: int) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise r.fail(r.at.key(key, line), f"{where}.{key}", "needs a string")
    return value.strip()


def _channel(r: _Reader, table: Mapping[str, Any], where: str, line: int) -> Channel:
    for key in table:
        if key not in _CHANNEL_KEYS:
            raise r.fail(
                r.at.key(key, line),
                f"{where}.{key}",
                f"unknown key; a channel has {', '.join(_CHANNEL_KEYS)}",
            )
    platform = _string(r, table, "platform", where, line).lower()
    if platform not in PLATFORMS:
        raise r.fail(
            r.at.key("platform", line), f"{where}.platform", f"is one of {', '.join(PLATFORMS)}"
        )
    workspace = table.get("workspace", "-" if platform == "telegram" else None)
    if platform == "console" and workspace is None:
        workspace = "local"
    if not isinstance(workspace, str) or not workspace:
        raise r.fail(r.at.key("workspace", line), f"{where}.workspace", "needs a string")
    return Channel(platform, workspace, _string(r, table, "channel", where, line))


def _text(value: Any) -> str | None:
    """A TOML value as chat would type it, or None for a type no option takes."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _watch(
    r: _Reader,
    entry: Mapping[str, Any],
    where: str,
    line: int,
    channel: Channel,
    targets: tuple[str, ...] | None,
    min_interval: int,
) -> Watch:
    options: dict[str, str] = {}
    headers: list[str] = []
    for key, value in entry.items():
        at = r.at.key(key, line)
        if key not in _MONITOR_KEYS:
            hint = (
                " (a table has one url; write it as [[channel.monitor]])"
                if key == "monitor"
                else ""
            )
            raise r.fail(at, f"{where}.{key}", f"unknown key{hint}; see docs/monitors-file.md")
        if key == "url":
            continue
        if key == "headers":
            headers = _headers(r, value, f"{where}.headers", at)
            continue
        if key in _LISTS and isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise r.fail(at, f"{where}.{key}", "is a list of strings")
            if key == "regions" and not value:
                continue  # no regions: checked by the bot itself, as without the key
            options[key] = ",".join(value) if value else ("none" if key == "targets" else "off")
            continue
        text = _text(value)
        if text is None:
            raise r.fail(at, f"{where}.{key}", "needs a string")
        options[key] = text
    url = _string(r, entry, "url", where, line)
    try:
        watch = watch_from_options(url, options, tuple(headers))
    except CommandError:
        # Which key: the URL alone, then the keys added one by one in the file's order; the
        # first that makes chat refuse is the one named (with chat's sentence).
        keys = ["url", *options, *(["headers"] if headers else [])]
        for n, key in enumerate(keys, start=1):
            some = {k: options[k] for k in keys[:n] if k in options}
            try:
                watch_from_options(url, some, tuple(headers) if "headers" in keys[:n] else ())
            except CommandError as exc:
                raise r.fail(r.at.key(key, line), f"{where}.{key}", exc.reason) from None
        raise  # pragma: no cover - the whole was refused, so some prefix is
    if watch.every < min_interval:
        raise r.fail(
            r.at.key("every", line),
            f"{where}.every",
            f"the shortest interval here is {min_interval} s",
        )
    problem = platform_error(watch.notify, channel.platform, channel.workspace)
    if problem is not None:
        raise r.fail(r.at.key("notify", line), f"{where}.notify", problem)
    if targets is not None:
        for name in watch.targets or ():
            if name not in targets:
                can = ", ".join([*targets, "none"])
                raise r.fail(
                    r.at.key("targets", line),
                    f"{where}.targets",
                    f"this bot has no {name} target set up; targets can name {can}",
                )
    return watch


def _headers(r: _Reader, value: Any, where: str, line: int) -> list[str]:
    if isinstance(value, dict):
        if not all(isinstance(v, str) for v in value.values()):
            raise r.fail(line, where, "header values are strings")
        return [f"{name}: {v}" for name, v in value.items()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise r.fail(line, where, 'is a list of "Name: value" strings or a table of name = "value"')


def _window(
    r: _Reader,
    entry: Mapping[str, Any],
    where: str,
    line: int,
    channel: Channel,
    urls: set[str],
) -> Window:
    for key in entry:
        if key not in _WINDOW_KEYS:
            raise r.fail(
                r.at.key(key, line),
                f"{where}.{key}",
                f"unknown key; a window has {', '.join(_WINDOW_KEYS)}",
            )
    held: tuple[str, ...] | None = None
    if "monitors" in entry:
        value = entry["monitors"]
        at = r.at.key("monitors", line)
        if value == "all":
            held = None
        elif isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
            for url in value:
                if url not in urls:
                    raise r.fail(
                        at, f"{where}.monitors", f"{url} is not a monitor of this channel's file"
                    )
            held = tuple(value)
        else:
            raise r.fail(
                at, f"{where}.monitors", 'is "all" or a list of this channel\'s monitor URLs'
            )
    if "weekly" in entry:
        if "start" in entry or "end" in entry:
            raise r.fail(
                r.at.key("weekly", line),
                f"{where}.weekly",
                "a window is weekly or has start and end, not both",
            )
        at = r.at.key("weekly", line)
        text = entry["weekly"]
        found = _WEEKLY.fullmatch(text) if isinstance(text, str) else None
        day = found.group(1).lower() if found else ""
        if found is None or day not in DAYS or int(found.group(2)) > 23:
            raise r.fail(at, f"{where}.weekly", 'is a day and a UTC time, e.g. "sun 02:00"')
        start = DAYS.index(day) * 86400 + int(found.group(2)) * 3600 + int(found.group(3)) * 60
        if "duration" not in entry:
            raise r.fail(at, f"{where}.duration", 'a weekly window needs a duration, e.g. "2h"')
        at = r.at.key("duration", line)
        try:
            seconds = parse_duration(str(entry["duration"]))
        except CommandError as exc:
            raise r.fail(at, f"{where}.duration", exc.reason) from None
        if not 60 <= seconds <= MAX_WINDOW:
            raise r.fail(at, f"{where}.duration", "must be from 1m to 7d")
        return Window(channel, held, seconds, weekly=start)
    if "duration" in entry:
        raise r.fail(
            r.at.key("duration", line),
            f"{where}.duration",
            "goes with weekly; a dated window has start and end",
        )
    begin = _instant(r, entry, "start", where, line)
    end = _instant(r, entry, "end", where, line)
    if end <= begin:
        raise r.fail(r.at.key("end", line), f"{where}.end", "must be after start")
    return Window(channel, held, int(end - begin), start=begin)


def _instant(r: _Reader, entry: Mapping[str, Any], key: str, where: str, line: int) -> float:
    value = entry.get(key)
    at = r.at.key(key, line)
    if value is None:
        raise r.fail(at, f"{where}.{key}", "a window needs weekly, or start and end")
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise r.fail(
            at, f"{where}.{key}", "is a date and time with its zone, e.g. 2026-12-24T22:00:00Z"
        )
    return value.timestamp()


# ------------------------------------------------------------------------------------ export


def _toml_string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def export_monitor(watch: Watch) -> list[str]:
    """The ``[[channel.monitor]]`` table of ``watch``, defaults left out."""
    lines = ["[[channel.monitor]]", f"url = {_toml_string(watch.url)}"]
    headers: list[str] = []
    for key, value in watch_options(watch):
        if key == "header":
            headers.append(value)
        elif key in ("confirm", "quorum"):
            lines.append(f"{key} = {int(value)}")
        elif key == "follow":
            lines.append(f"follow = {'true' if value == 'on' else 'false'}")
        elif key in _LISTS and value not in ("none", "off"):
            lines.append(f"{key} = [{', '.join(_toml_string(v) for v in value.split(','))}]")
        elif key in _LISTS:
            lines.append(f"{key} = []")
        else:
            lines.append(f"{key} = {_toml_string(value)}")
    if headers:
        lines.append(f"headers = [{', '.join(_toml_string(h) for h in headers)}]")
    return lines


def export(channel: Channel, watches: Iterable[Watch], *, source: str | None = None) -> str:
    """A monitors file holding ``channel`` and ``watches``: :func:`parse` reads them back."""
    head = f"# check502 monitors of {channel.platform} {channel.workspace} {channel.channel}"
    lines = [
        head if source is None else f"{head} (some from {source})",
        "",
        "[[channel]]",
        f"platform = {_toml_string(channel.platform)}",
        f"workspace = {_toml_string(channel.workspace)}",
        f"channel = {_toml_string(channel.channel)}",
    ]
    for watch in watches:
        lines += ["", *export_monitor(watch)]
    return "\n".join(lines) + "\n"
