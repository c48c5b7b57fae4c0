"""The one parser of chat commands, shared by every surface (console, Slack, Discord, Telegram).

A pure function from text to a typed command or a :class:`CommandError`; executing the command
is someone else's job. The grammar::

    /check502 <url> [origin=<host[:port]>] [runs=1..10]             Check
    /check502 watch <url> [every=30s..24h] [origin=<host[:port]>]    Watch
                          [confirm=1..10] [expect=<codes>] [timeout=1s..30s]
    /check502 list                                                   ListMonitors
    /check502 unwatch <id>                                           Unwatch
    /check502 mute <id> <1m..30d>                                    Mute
    /check502 unmute <id>                                            Unmute
    /check502 ack <id>                                               Ack
    /check502 history <id>                                           History
    /check502 details <id>                                           Details
    /check502 explain <log line>                                     Explain
    /check502 status [on|off]                                        Status
    /check502 help [command]                                         Help  (also: empty text)

    <id>        12 or #12
    <duration>  30s, 5m, 1h30m, 2d, 1w, or bare seconds (90)
    <codes>     200,204 | 2xx,3xx | 200-299 | 301, combined with commas (codes 100-599)

The leading ``/check502`` (or ``/check502@SomeBot``, as Telegram groups send it) is optional:
Slack passes only the text after the command. Tokens are separated by whitespace; options are
``key=value`` in any order, keys case-insensitive. Chat auto-formatting of links, ``<url>`` and
``<url|label>`` (Slack, Discord), is unwrapped.

>>> parse_command("/check502 watch <http://shop.example.com|shop.example.com> every=5m").url
'https://shop.example.com/'
>>> parse_command("mute #12 1h")
Mute(monitor_id=12, seconds=3600)
>>> format_command(parse_command("/check502@MyBot mute #12 90m"))
'/check502 mute 12 1h30m'
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal, TypeAlias, assert_never

from checks.errors import UsageError
from checks.target import parse_origin, parse_url

__all__ = [
    "CHECK_LIMIT",
    "DEFAULT_CONFIRM",
    "DEFAULT_EVERY",
    "DEFAULT_TIMEOUT",
    "MAX_EVERY",
    "MIN_EVERY",
    "USAGE",
    "Ack",
    "Check",
    "Command",
    "CommandError",
    "Details",
    "Expect",
    "Explain",
    "Help",
    "History",
    "ListMonitors",
    "Mute",
    "Status",
    "Unmute",
    "Unwatch",
    "Watch",
    "format_command",
    "format_duration",
    "help_text",
    "parse_command",
    "parse_duration",
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
MAX_DURATION = 365 * 86400
MAX_MONITOR_ID = 2**31 - 1
MAX_INPUT = 4096
MAX_EXPLAIN = 4000

PREFIX = "/check502"

USAGE: dict[str, str] = {
    "check": f"{PREFIX} <url> [origin=<host[:port]>] [runs=1]",
    "watch": (
        f"{PREFIX} watch <url> [every=30s] [origin=<host[:port]>] [confirm=2]"
        " [expect=200-399] [timeout=4s]"
    ),
    "list": f"{PREFIX} list",
    "unwatch": f"{PREFIX} unwatch <id>",
    "mute": f"{PREFIX} mute <id> <duration>",
    "unmute": f"{PREFIX} unmute <id>",
    "ack": f"{PREFIX} ack <id>",
    "history": f"{PREFIX} history <id>",
    "details": f"{PREFIX} details <id>",
    "explain": f"{PREFIX} explain <log line>",
    "status": f"{PREFIX} status [on|off]",
    "help": f"{PREFIX} help [command]",
}
"""One usage line per subcommand; ``check`` is the default one (a URL with no subcommand)."""

_SUBCOMMANDS = tuple(USAGE)
_OPTIONS: dict[str, tuple[str, ...]] = {
    "check": ("origin", "runs"),
    "watch": ("every", "origin", "confirm", "expect", "timeout"),
}
_ALL_OPTIONS = ("every", "origin", "confirm", "expect", "timeout", "runs")


class CommandError(UsageError):
    """The text is not a valid command. ``str()`` is the message for the chat user.

    ``reason`` is the explanation alone and ``usage`` the usage line it ends with (if any), for
    surfaces that want to render them apart (e.g. the usage line in a code block).
    """

    def __init__(self, reason: str, usage: str | None = None) -> None:
        super().__init__(f"{reason} Usage: {usage}" if usage else reason)
        self.reason = reason
        self.usage = usage


class _Bad(Exception):
    """A value is wrong; carries the sentence. Turned into a CommandError with a usage line."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


# --- values ---------------------------------------------------------------------------------


_CODE_MIN = 100
_CODE_MAX = 599
_EXPECT_ITEM = re.compile(r"([1-5])xx|([0-9]{3})(?:-([0-9]{3}))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Expect:
    """The HTTP status codes that count as up: inclusive ranges, sorted and merged.

    Construction normalises, so equal sets of codes compare equal whichever way they were given.
    """

    ranges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.ranges:
            raise ValueError("Expect needs at least one range of status codes")
        for lo, hi in self.ranges:
            if not _CODE_MIN <= lo <= hi <= _CODE_MAX:
                raise ValueError(f"bad status range {lo}-{hi}")
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(self.ranges):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        object.__setattr__(self, "ranges", tuple(merged))

    @classmethod
    def default(cls) -> Expect:
        """Any 2xx or 3xx response is up."""
        return cls(((200, 399),))

    @classmethod
    def parse(cls, text: str) -> Expect:
        """Parse ``200,204``, ``2xx,3xx``, ``200-299``, ``301`` or any comma-separated mix."""
        try:
            return _parse_expect(text)
        except _Bad as bad:
            raise CommandError(bad.sentence) from None

    def matches(self, status: int) -> bool:
        """Whether ``status`` counts as up."""
        return any(lo <= status <= hi for lo, hi in self.ranges)

    def __str__(self) -> str:
        return ",".join(_format_range(lo, hi) for lo, hi in self.ranges)


def _format_range(lo: int, hi: int) -> str:
    if lo == hi:
        return str(lo)
    if lo % 100 == 0 and hi == lo + 99:
        return f"{lo // 100}xx"
    return f"{lo}-{hi}"


def _parse_expect(text: str) -> Expect:
    example = "e.g. expect=200-299,301 or expect=2xx"
    text = text.strip()
    if not text:
        raise _Bad(f"expect= needs status codes, {example}.")
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        item = part.strip()
        match = _EXPECT_ITEM.fullmatch(item)
        if match is None:
            raise _Bad(f"{_shown(item)} is not a status code or range, {example}.")
        hundreds, first, last = match.groups()
        if hundreds is not None:
            lo = int(hundreds) * 100
            hi = lo + 99
        else:
            lo = int(first)
            hi = int(last) if last is not None else lo
        if not (_CODE_MIN <= lo <= _CODE_MAX and _CODE_MIN <= hi <= _CODE_MAX):
            raise _Bad(f"{_shown(item)} is outside the HTTP status codes 100-599.")
        if lo > hi:
            raise _Bad(f"{_shown(item)} is backwards; write the lower code first.")
        ranges.append((lo, hi))
    return Expect(tuple(ranges))


_DEFAULT_EXPECT = Expect.default()


@dataclass(frozen=True, slots=True)
class Check:
    """Diagnose ``url`` now (``runs`` times), optionally also asking ``origin`` directly."""

    url: str
    """Normalised by :func:`checks.target.parse_url`."""
    origin: str | None = None
    """Normalised to ``scheme://host:port`` (:attr:`checks.target.OriginTarget.display`)."""
    runs: int = 1


@dataclass(frozen=True, slots=True)
class Watch:
    """Check ``url`` every ``every`` seconds; alert after ``confirm`` failures in a row."""

    url: str
    every: int = DEFAULT_EVERY
    origin: str | None = None
    confirm: int = DEFAULT_CONFIRM
    expect: Expect = _DEFAULT_EXPECT
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True)
class ListMonitors:
    """List the monitors of this conversation."""


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
    | Unwatch
    | Mute
    | Unmute
    | Ack
    | History
    | Details
    | Explain
    | Status
    | Help
)


# --- durations ------------------------------------------------------------------------------

_UNITS: tuple[tuple[str, int], ...] = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_BARE_SECONDS = re.compile(r"[0-9]{1,12}")
_DURATION = re.compile(
    r"(?:([0-9]{1,12})w)?(?:([0-9]{1,12})d)?(?:([0-9]{1,12})h)?"
    r"(?:([0-9]{1,12})m)?(?:([0-9]{1,12})s)?",
    re.IGNORECASE,
)
_DURATION_EXAMPLES = "30s, 5m, 1h30m or 2d"


def _duration(text: str) -> int:
    if _BARE_SECONDS.fullmatch(text):
        text = f"{text}s"  # a bare number is seconds; "1h30" is refused, not read as 1h30s
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise _Bad(f"{_shown(text)} is not a duration; write e.g. {_DURATION_EXAMPLES}.")
    weeks, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise _Bad(f"{_shown(text)} is not a positive duration; write e.g. {_DURATION_EXAMPLES}.")
    if total > MAX_DURATION:
        raise _Bad(f"{_shown(text)} is longer than a year.")
    return total


def parse_duration(text: str) -> int:
    """Seconds in ``30s``, ``5m``, ``1h``, ``1h30m``, ``2d``, ``1w`` or bare ``90`` (seconds).

    Units go from largest to smallest, each at most once. Raises :class:`CommandError` for
    anything else, for zero, and for more than 365 days.
    """
    try:
        return _duration(text.strip())
    except _Bad as bad:
        raise CommandError(bad.sentence) from None


def format_duration(seconds: int) -> str:
    """Compact human form for replies: ``30s``, ``5m``, ``1h30m``, ``2d``, ``1d2h``.

    At most two adjacent units; what is below them is dropped (``3725`` is ``1h2m``).
    """
    if seconds < 0:
        return f"-{format_duration(-seconds)}"
    for index, (name, size) in enumerate(_UNITS):
        if seconds >= size or size == 1:
            text = f"{seconds // size}{name}"
            if index + 1 < len(_UNITS):
                next_name, next_size = _UNITS[index + 1]
                rest = seconds % size // next_size
                if rest:
                    text += f"{rest}{next_name}"
            return text
    raise AssertionError("unreachable: the last unit is one second")  # pragma: no cover


def _exact_duration(seconds: int) -> str:
    """Every unit needed, so the text parses back to exactly ``seconds``."""
    parts: list[str] = []
    for name, size in _UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size}{name}")
            seconds %= size
    return "".join(parts) or "0s"


_TIMEOUT = re.compile(r"([0-9]{1,5}(?:\.[0-9]{1,17})?)(s|ms)?", re.IGNORECASE)


def _timeout(text: str) -> float:
    match = _TIMEOUT.fullmatch(text)
    if match is None:
        raise _Bad(f"{_shown(text)} is not a timeout; write seconds, e.g. timeout=10s or 2.5s.")
    value = float(match.group(1))
    if (match.group(2) or "s").lower() == "ms":
        value /= 1000
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise _Bad("timeout= must be from 1s to 30s.")
    return value


def _format_timeout(value: float) -> str:
    return f"{int(value)}s" if value == int(value) else f"{value!r}s"


# --- parsing --------------------------------------------------------------------------------

_PREFIX_TOKEN = re.compile(r"/check502(?:@[A-Za-z0-9_]{1,64})?", re.IGNORECASE)
_TOKEN = re.compile(r"\S+")
_OPTION = re.compile(r"(-{0,2}[A-Za-z][A-Za-z0-9_-]*)=(.*)", re.DOTALL)
_MONITOR_ID = re.compile(r"#?([0-9]{1,10})")
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))
_SHOWN_MAX = 40
_SENTENCE_MAX = 200


def _shown(text: str) -> str:
    """User text quoted for a reply: printable, short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text[: _SHOWN_MAX + 1])
    if len(clean) > _SHOWN_MAX:
        clean = clean[: _SHOWN_MAX - 1] + "…"
    return f'"{clean}"'


def _unwrap(token: str) -> str:
    """``<url>`` or ``<url|label>`` (chat auto-formatting of links) to what the user typed.

    Slack turns a typed ``shop.example.com`` into ``<http://shop.example.com|shop.example.com>``;
    the label is kept then, so a scheme-less URL still means https, as it does everywhere else.
    """
    if len(token) < 3 or token[0] != "<" or token[-1] != ">":
        return token
    inner = token[1:-1]
    for entity, char in _SLACK_ENTITIES:
        inner = inner.replace(entity, char)
    url, bar, label = inner.partition("|")
    if bar and url.lower() in (f"http://{label}".lower(), f"http://{label}/".lower()):
        return label
    return url


def _looks_like_url(word: str) -> bool:
    """A dot, a port, brackets or a scheme: ``foo`` is a word, ``foo.com`` a URL."""
    if "://" in word:
        return True
    host = re.split(r"[/?#]", word, maxsplit=1)[0]
    return any(ch in host for ch in ".:[") or host.lower() == "localhost"


def _fail(command: str, sentence: str) -> CommandError:
    return CommandError(sentence, USAGE[command])


def _suggest(word: str, choices: tuple[str, ...]) -> str | None:
    found = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class _Args:
    positional: tuple[str, ...]
    options: dict[str, str]


def _split(command: str, tokens: list[str]) -> _Args:
    """Separate positional words from ``key=value`` options; reject unknown or repeated keys."""
    allowed = _OPTIONS.get(command, ())
    positional: list[str] = []
    options: dict[str, str] = {}
    for token in tokens:
        match = _OPTION.fullmatch(token)
        if match is None:
            positional.append(token)
            continue
        key, value = match.group(1).lower(), match.group(2)
        if key not in allowed:
            raise _fail(command, _unknown_option(command, key, allowed))
        if key in options:
            raise _fail(command, f"{key}= is given twice.")
        if not value:
            raise _fail(command, f"{key}= needs a value.")
        options[key] = value
    return _Args(tuple(positional), options)


def _unknown_option(command: str, key: str, allowed: tuple[str, ...]) -> str:
    if not allowed:
        return f"{command} takes no options, but got {key}=."
    if key in _ALL_OPTIONS:
        owner = next(name for name, keys in _OPTIONS.items() if key in keys)
        return f"{key}= only applies to {owner}, not {command}."
    suggestion = _suggest(key.lstrip("-"), allowed)
    hint = f" (did you mean {suggestion}=?)" if suggestion else ""
    return f"Unknown option {_shown(key)}{hint}."


def _no_extra(command: str, extra: tuple[str, ...]) -> None:
    if not extra:
        return
    word = extra[0]
    if word.lower() in _OPTIONS.get(command, ()):
        value = extra[1] if len(extra) > 1 and len(extra[1]) <= 20 else "…"
        if not value.isprintable():
            value = "…"
        raise _fail(command, f"Write options as key=value: {word.lower()}={value}.")
    raise _fail(command, f"Unexpected {_shown(word)}.")


def _url(command: str, word: str) -> str:
    try:
        return parse_url(_unwrap(word)).url
    except UsageError as exc:
        raise _fail(command, _sentence(str(exc))) from None
    except ValueError:
        raise _fail(command, f"{_shown(word)} is not a URL that can be checked.") from None


def _origin(command: str, text: str, url: str) -> str:
    try:
        return parse_origin(_unwrap(text), parse_url(url)).display
    except UsageError as exc:
        raise _fail(command, _sentence(str(exc))) from None
    except ValueError:
        raise _fail(command, f"{_shown(text)} is not an origin.") from None


def _sentence(message: str) -> str:
    """An engine message ("the URL has no host") as a short, printable sentence for the chat."""
    message = "".join(ch if ch.isprintable() else "?" for ch in message.strip())
    if len(message) > _SENTENCE_MAX:
        message = message[: _SENTENCE_MAX - 1] + "…"
    message = message or "That is not valid"
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?…" else f"{message}."


def _count(command: str, key: str, text: str, high: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= high):
        raise _fail(command, f"{key}= must be a whole number from 1 to {high}.")
    return int(text)


def _in_range(command: str, what: str, seconds: int, low: int, high: int) -> int:
    if not low <= seconds <= high:
        raise _fail(command, f"{what} must be from {_exact_duration(low)} to {_spoken(high)}.")
    return seconds


def _spoken(seconds: int) -> str:
    return "24h" if seconds == 86400 else _exact_duration(seconds)


def _parse_check(command: str, args: _Args) -> Check:
    if not args.positional:
        raise _fail(command, "Give a URL to check, e.g. https://shop.example.com.")
    _no_extra(command, args.positional[1:])
    url = _url(command, args.positional[0])
    origin = args.options.get("origin")
    runs = args.options.get("runs")
    return Check(
        url=url,
        origin=_origin(command, origin, url) if origin is not None else None,
        runs=_count(command, "runs", runs, MAX_RUNS) if runs is not None else 1,
    )


def _parse_watch(args: _Args) -> Watch:
    command = "watch"
    if not args.positional:
        raise _fail(command, "Give a URL to watch, e.g. watch https://shop.example.com.")
    _no_extra(command, args.positional[1:])
    url = _url(command, args.positional[0])
    options = args.options
    try:
        every = _duration(options["every"]) if "every" in options else DEFAULT_EVERY
        expect = _parse_expect(options["expect"]) if "expect" in options else Expect.default()
        timeout = _timeout(options["timeout"]) if "timeout" in options else DEFAULT_TIMEOUT
    except _Bad as bad:
        raise _fail(command, bad.sentence) from None
    confirm = options.get("confirm")
    origin = options.get("origin")
    return Watch(
        url=url,
        every=_in_range(command, "every=", every, MIN_EVERY, MAX_EVERY),
        origin=_origin(command, origin, url) if origin is not None else None,
        confirm=(
            _count(command, "confirm", confirm, MAX_CONFIRM)
            if confirm is not None
            else DEFAULT_CONFIRM
        ),
        expect=expect,
        timeout=timeout,
    )


def _monitor_id(command: str, args: _Args, *, then: str = "") -> int:
    if not args.positional:
        raise _fail(command, f"Give the monitor id, e.g. {command} 12{then} (list shows the ids).")
    match = _MONITOR_ID.fullmatch(args.positional[0])
    if match is None or not 0 < int(match.group(1)) <= MAX_MONITOR_ID:
        raise _fail(
            command, f"{_shown(args.positional[0])} is not a monitor id; ids look like 12 or #12."
        )
    return int(match.group(1))


def _parse_mute(args: _Args) -> Mute:
    command = "mute"
    monitor_id = _monitor_id(command, args, then=" 1h")
    if len(args.positional) < 2:
        raise _fail(command, f"Say for how long, e.g. mute {monitor_id} 1h.")
    _no_extra(command, args.positional[2:])
    try:
        seconds = _duration(args.positional[1])
    except _Bad as bad:
        raise _fail(command, bad.sentence) from None
    return Mute(monitor_id, _in_range(command, "A mute", seconds, MIN_MUTE, MAX_MUTE))


def _parse_help(args: _Args) -> Help:
    if not args.positional:
        return Help()
    _no_extra("help", args.positional[1:])
    return Help(_topic(args.positional[0]))


def _parse_status(args: _Args) -> Status:
    if not args.positional:
        return Status()
    word = args.positional[0].lower()
    if word not in ("on", "off"):
        raise _fail("status", f"{_shown(args.positional[0])} is neither on nor off.")
    _no_extra("status", args.positional[1:])
    return Status("on" if word == "on" else "off")


def _topic(word: str) -> str:
    topic = word.lower()
    if topic in USAGE:
        return topic
    suggestion = _suggest(topic, _SUBCOMMANDS)
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    raise _fail("help", f"No help on {_shown(word)}{hint}. Topics: {', '.join(_SUBCOMMANDS)}.")


def _not_a_command(word: str) -> CommandError:
    """The first word is neither a subcommand nor something that looks like a URL."""
    suggestion = _suggest(word, _SUBCOMMANDS)
    if suggestion is not None:
        return _fail(suggestion, f"Unknown command {_shown(word)} (did you mean {suggestion}?).")
    commands = ", ".join(name for name in _SUBCOMMANDS if name != "check")
    hint = ""
    try:
        host = parse_url(word).host
    except (UsageError, ValueError):
        pass
    else:
        if host is not None and len(host) <= _SHOWN_MAX:  # a long one would drown the sentence
            hint = f" (for a host named {host}, write https://{host})"
    sentence = f"{_shown(word)} is neither a command nor a URL{hint}. Commands: {commands}."
    return _fail("check", sentence)


def parse_command(text: str) -> Command:
    """Parse what a chat user typed into a command, or raise :class:`CommandError`.

    Total: for any string it returns a command or raises ``CommandError``, nothing else.
    """
    if len(text) > MAX_INPUT:
        raise CommandError(f"That is longer than {MAX_INPUT} characters.", USAGE["help"])
    spans = list(_TOKEN.finditer(text))
    if spans and _PREFIX_TOKEN.fullmatch(spans[0].group()):
        spans = spans[1:]
    if not spans:
        return Help()
    first = spans[0].group()
    word = first.lower()
    rest = [match.group() for match in spans[1:]]
    if word == "explain":
        line = text[spans[0].end() :].strip()
        if not line:
            raise _fail("explain", "Paste the log line or error code after explain.")
        if len(line) > MAX_EXPLAIN:
            raise _fail("explain", f"The log line is longer than {MAX_EXPLAIN} characters.")
        return Explain(line)
    if word == "check":
        return _parse_check("check", _split("check", rest))
    if word == "watch":
        return _parse_watch(_split("watch", rest))
    if word in USAGE:
        args = _split(word, rest)
        if word == "list":
            _no_extra(word, args.positional)
            return ListMonitors()
        if word == "mute":
            return _parse_mute(args)
        if word == "help":
            return _parse_help(args)
        if word == "status":
            return _parse_status(args)
        monitor_id = _monitor_id(word, args)
        _no_extra(word, args.positional[1:])
        return _ID_COMMANDS[word](monitor_id)
    if not _OPTION.fullmatch(first) and not _looks_like_url(_unwrap(first)):
        raise _not_a_command(first)
    args = _split("check", [first, *rest])
    if args.positional and not _looks_like_url(_unwrap(args.positional[0])):
        raise _not_a_command(args.positional[0])
    return _parse_check("check", args)


_ID_COMMANDS: dict[str, type[Unwatch | Unmute | Ack | History | Details]] = {
    "unwatch": Unwatch,
    "unmute": Unmute,
    "ack": Ack,
    "history": History,
    "details": Details,
}


# --- formatting -----------------------------------------------------------------------------


def format_command(cmd: Command) -> str:
    """The canonical text of ``cmd``, defaults left out; :func:`parse_command` reads it back."""
    match cmd:
        case Check(url=url, origin=origin, runs=runs):
            words = [url]
            if origin is not None:
                words.append(f"origin={origin}")
            if runs != 1:
                words.append(f"runs={runs}")
        case Watch():
            words = ["watch", cmd.url]
            if cmd.every != DEFAULT_EVERY:
                words.append(f"every={_exact_duration(cmd.every)}")
            if cmd.origin is not None:
                words.append(f"origin={cmd.origin}")
            if cmd.confirm != DEFAULT_CONFIRM:
                words.append(f"confirm={cmd.confirm}")
            if cmd.expect != Expect.default():
                words.append(f"expect={cmd.expect}")
            if cmd.timeout != DEFAULT_TIMEOUT:
                words.append(f"timeout={_format_timeout(cmd.timeout)}")
        case ListMonitors():
            words = ["list"]
        case Mute(monitor_id=monitor_id, seconds=seconds):
            words = ["mute", str(monitor_id), _exact_duration(seconds)]
        case Unwatch() | Unmute() | Ack() | History() | Details():
            words = [_COMMAND_NAMES[type(cmd)], str(cmd.monitor_id)]
        case Explain(line=line):
            words = ["explain", line]
        case Status(action=action):
            words = ["status"] if action is None else ["status", action]
        case Help(topic=topic):
            words = ["help"] if topic is None else ["help", topic]
        case _:
            assert_never(cmd)
    return " ".join([PREFIX, *words])


_COMMAND_NAMES: dict[type[Unwatch | Unmute | Ack | History | Details], str] = {
    kind: name for name, kind in _ID_COMMANDS.items()
}


# --- help -----------------------------------------------------------------------------------

_DESCRIPTIONS: dict[str, str] = {
    "check": (
        "Diagnose a URL now: who generated the 502, which hop is broken, and why. "
        "origin= also asks the origin server directly, bypassing the CDN or proxy; "
        "runs= repeats the check (1 to 10) to catch an intermittent failure. "
        "A check takes at most {limit} s in all."
    ),
    "watch": (
        "Check a URL every interval (30s to 24h) and post here when it fails confirm= checks "
        "in a row (1 to 10), and again when it recovers. expect= lists the status codes that "
        "count as up (default 200-399); timeout= is the limit per check (1s to 30s)."
    ),
    "list": "List the monitors of this conversation with their ids and state.",
    "unwatch": "Stop a monitor and delete it.",
    "mute": (
        "Silence a monitor's alerts for a while (1m to 30d). Checks keep running and "
        "history keeps recording."
    ),
    "unmute": "Lift a mute early; alerts are posted again.",
    "ack": (
        "Acknowledge the current incident: silences its reminders and follow-ups. "
        "The recovery is still posted."
    ),
    "history": "Show a monitor's last checks, its uptime over 24 h and 7 d, and latency p50/p95.",
    "details": "Show the full diagnosis behind a monitor's alert (its open or last incident).",
    "explain": (
        "Explain a pasted error-log line or platform error code (nginx, HAProxy, Envoy, "
        "a CDN, a PaaS): which cause it means and what to do next."
    ),
    "status": (
        "This channel's public status page: its monitors, uptime and incidents, at an"
        " unguessable URL. status on creates it, status off revokes the URL at once,"
        " status says it."
    ),
    "help": "Show all commands, or one command's usage with an example.",
}

_EXAMPLES: dict[str, str] = {
    "check": f"{PREFIX} https://shop.example.com/cart origin=203.0.113.7:8080",
    "watch": f"{PREFIX} watch https://shop.example.com every=1m confirm=3 expect=2xx",
    "list": f"{PREFIX} list",
    "unwatch": f"{PREFIX} unwatch 12",
    "mute": f"{PREFIX} mute 12 2h",
    "unmute": f"{PREFIX} unmute 12",
    "ack": f"{PREFIX} ack 12",
    "history": f"{PREFIX} history 12",
    "details": f"{PREFIX} details 12",
    "explain": (
        f"{PREFIX} explain connect() failed (111: Connection refused) while connecting to upstream"
    ),
    "status": f"{PREFIX} status on",
    "help": f"{PREFIX} help watch",
}

_NOTES = (
    "Durations: 30s, 5m, 1h30m, 2d. Monitor ids: 12 or #12 (list shows them).",
    "Status codes for expect=: 200,204 or 2xx,3xx or 200-299.",
)


def help_text(topic: str | None = None, *, check_limit: float = CHECK_LIMIT) -> str:
    """Plain text (surfaces add their own markup): every command, or one with an example.
    ``check_limit`` is the overall limit of a check, in seconds, as the bot is configured.

    Raises :class:`CommandError` for a topic that is not a key of :data:`USAGE`.
    """
    limit = f"{check_limit:g}"

    def described(name: str) -> str:
        return _DESCRIPTIONS[name].format(limit=limit)

    if topic is None:
        lines = ["check502 diagnoses HTTP 502 Bad Gateway errors. Commands:", ""]
        for name in _SUBCOMMANDS:
            lines += [USAGE[name], f"    {described(name)}"]
        return "\n".join([*lines, "", *_NOTES])
    name = _topic(topic)
    return "\n".join([USAGE[name], described(name), f"Example: {_EXAMPLES[name]}"])
