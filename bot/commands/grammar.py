"""The one parser of chat commands, shared by every surface (console, Slack, Discord, Telegram).

A pure function from text to a typed command or a :class:`CommandError`; executing the command
is someone else's job. The grammar::

    /check502 <url> [origin=<host[:port]>] [runs=1..10]             Check
    /check502 watch <url> [every=30s..24h] [origin=<host[:port]>]    Watch
                          [confirm=1..10] [expect=<codes>] [timeout=1s..30s]
                          [notify=<mentions>] [escalate=1m..24h]
                          [targets=webhook,pagerduty,email|none] [request options]
    /check502 notify <id> <mentions|off> [escalate=1m..24h|off]      Notify
    /check502 maintenance <id|all> <1m..30d|off>                     Maintenance
    /check502 list                                                   ListMonitors
    /check502 export                                                 Export
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
    <mentions>  @alice,<@U123|bob>,<@&456>: as the platform sends them (bot.commands.mentions)

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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from bot.commands.durations import (
    chat_duration,
    exact_duration,
    format_timeout,
    timeout_seconds,
)
from bot.commands.errors import SHOWN_MAX, BadValue, CommandError, sentence, shown, suggest
from bot.commands.expect import Expect, parse_expect
from bot.commands.help import help_topic
from bot.commands.mentions import format_mentions, parse_mentions
from bot.commands.model import (
    DEFAULT_CONFIRM,
    DEFAULT_EVERY,
    DEFAULT_TIMEOUT,
    MAX_CONFIRM,
    MAX_ESCALATE,
    MAX_EVERY,
    MAX_EXPLAIN,
    MAX_INPUT,
    MAX_MONITOR_ID,
    MAX_MUTE,
    MAX_REGIONS,
    MAX_RUNS,
    MAX_TIMEOUT,
    MIN_ESCALATE,
    MIN_EVERY,
    MIN_MUTE,
    MIN_TIMEOUT,
    PREFIX,
    REGION_NAME,
    SUBCOMMANDS,
    TARGET_NAMES,
    USAGE,
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
)
from bot.commands.request import (
    QUOTES,
    REQUEST_OPTIONS,
    format_request,
    parse_request,
    quote,
    request_options,
)
from checks.errors import UsageError
from checks.target import parse_origin, parse_url

__all__ = ["format_command", "parse_command", "watch_from_options", "watch_options"]

_OPTIONS: dict[str, tuple[str, ...]] = {
    "check": ("origin", "runs", *REQUEST_OPTIONS),
    "watch": (
        "every",
        "origin",
        "confirm",
        "expect",
        "timeout",
        *REQUEST_OPTIONS,
        "notify",
        "escalate",
        "targets",
        "regions",
        "quorum",
    ),
    "notify": ("escalate",),
}
_ALL_OPTIONS = (
    "every",
    "origin",
    "confirm",
    "expect",
    "timeout",
    "runs",
    *REQUEST_OPTIONS,
    "notify",
    "escalate",
    "targets",
    "regions",
    "quorum",
)
_REPEATED = ("header",)
"""Options that may be given more than once (each adds one)."""


def _timeout(text: str) -> float:
    value = timeout_seconds(text)
    if value is None:
        raise BadValue(f"{shown(text)} is not a timeout; write seconds, e.g. timeout=10s or 2.5s.")
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise BadValue("timeout= must be from 1s to 30s.")
    return value


def _targets(text: str) -> tuple[str, ...]:
    """``targets=pagerduty,email`` (any order, case-insensitive) or ``targets=none``."""
    names = {name.strip().lower() for name in text.split(",") if name.strip()}
    if names == {"none"}:
        return ()
    for name in sorted(names):
        if name not in TARGET_NAMES:
            hint = suggest(name, TARGET_NAMES)
            also = f" (did you mean {hint}?)" if hint else ""
            raise BadValue(
                f"{shown(name)} is not a notification target{also}; targets= takes"
                f" {', '.join(TARGET_NAMES)} or none."
            )
    if not names:
        raise BadValue(f"targets= takes {', '.join(TARGET_NAMES)} or none.")
    return tuple(name for name in TARGET_NAMES if name in names)


def _regions(text: str) -> tuple[str, ...]:
    """``regions=eu,us-east`` (case-insensitive, in the order given, each once): the names'
    form only; which regions exist is the bot's to say (``CHECK502_REGIONS``)."""
    names = tuple(name.strip().lower() for name in text.split(","))
    for name in names:
        if not REGION_NAME.fullmatch(name):
            raise BadValue(f"{shown(name)} is not a region name (a-z, 0-9, -).")
    doubled = next((name for name in names if names.count(name) > 1), None)
    if doubled is not None:
        raise BadValue(f"regions= names {doubled} twice.")
    if len(names) > MAX_REGIONS:
        raise BadValue(f"regions= names at most {MAX_REGIONS} regions.")
    return names


# --- parsing --------------------------------------------------------------------------------

_PREFIX_TOKEN = re.compile(r"/check502(?:@[A-Za-z0-9_]{1,64})?", re.IGNORECASE)
_TOKEN = re.compile(r"[^\s=]+=(?:\"[^\"]*\"|'[^']*'|“[^”]*”|‘[^’]*’)(?=\s|$)|\S+")
"""A word; an option's quoted value (``key="a b"``, or chat apps' “curly” quotes) is one."""
_OPTION = re.compile(r"(-{0,2}[A-Za-z][A-Za-z0-9_-]*)=(.*)", re.DOTALL)
_MONITOR_ID = re.compile(r"#?([0-9]{1,10})")
_SLACK_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


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


REPLY_MAX = 320
"""The longest an error reply may be: a sentence and its usage line, read at a glance."""


def _fail(command: str, reason: str) -> CommandError:
    return CommandError(reason, USAGE[command])


def _unquoted(value: str) -> str:
    """An option's value without the quotes around it (see :data:`QUOTES`)."""
    if len(value) >= 2 and (value[0], value[-1]) in QUOTES and value[-1] not in value[1:-1]:
        return value[1:-1]
    return value


@dataclass(frozen=True, slots=True)
class _Args:
    positional: tuple[str, ...]
    options: dict[str, str]
    headers: tuple[str, ...] = ()
    """Every ``header=`` value, in order."""


def _split(command: str, tokens: list[str]) -> _Args:
    """Separate positional words from ``key=value`` options; reject unknown or repeated keys."""
    allowed = _OPTIONS.get(command, ())
    positional: list[str] = []
    options: dict[str, str] = {}
    repeated: list[str] = []
    for token in tokens:
        match = _OPTION.fullmatch(token)
        if match is None:
            positional.append(token)
            continue
        key, value = match.group(1).lower(), _unquoted(match.group(2))
        if key not in allowed:
            raise _fail(command, _unknown_option(command, key, allowed))
        if not value:
            raise _fail(command, f"{key}= needs a value.")
        if key in _REPEATED:
            repeated.append(value)
            continue
        if key in options:
            raise _fail(command, f"{key}= is given twice.")
        options[key] = value
    return _Args(tuple(positional), options, tuple(repeated))


def _unknown_option(command: str, key: str, allowed: tuple[str, ...]) -> str:
    if not allowed:
        return f"{command} takes no options, but got {key}=."
    if key in _ALL_OPTIONS:
        owner = next(name for name, keys in _OPTIONS.items() if key in keys)
        return f"{key}= only applies to {owner}, not {command}."
    suggestion = suggest(key.lstrip("-"), allowed)
    hint = f" (did you mean {suggestion}=?)" if suggestion else ""
    return f"Unknown option {shown(key)}{hint}."


def _no_extra(command: str, extra: tuple[str, ...]) -> None:
    if not extra:
        return
    word = extra[0]
    if word.lower() in _OPTIONS.get(command, ()):
        value = extra[1] if len(extra) > 1 and len(extra[1]) <= 20 else "…"
        if not value.isprintable():
            value = "…"
        raise _fail(command, f"Write options as key=value: {word.lower()}={value}.")
    raise _fail(command, f"Unexpected {shown(word)}.")


def _url(command: str, word: str) -> str:
    try:
        return parse_url(_unwrap(word)).url
    except UsageError as exc:
        raise _fail(command, sentence(str(exc))) from None
    except ValueError:
        raise _fail(command, f"{shown(word)} is not a URL that can be checked.") from None


def _origin(command: str, text: str, url: str) -> str:
    try:
        return parse_origin(_unwrap(text), parse_url(url)).display
    except UsageError as exc:
        raise _fail(command, sentence(str(exc))) from None
    except ValueError:
        raise _fail(command, f"{shown(text)} is not an origin.") from None


def _count(command: str, key: str, text: str, high: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= high):
        raise _fail(command, f"{key}= must be a whole number from 1 to {high}.")
    return int(text)


def _in_range(command: str, what: str, seconds: int, low: int, high: int) -> int:
    if not low <= seconds <= high:
        raise _fail(command, f"{what} must be from {exact_duration(low)} to {_spoken(high)}.")
    return seconds


def _spoken(seconds: int) -> str:
    return "24h" if seconds == 86400 else exact_duration(seconds)


def _parse_check(command: str, args: _Args) -> Check:
    if not args.positional:
        raise _fail(command, "Give a URL to check, e.g. https://shop.example.com.")
    _no_extra(command, args.positional[1:])
    url = _url(command, args.positional[0])
    origin = args.options.get("origin")
    runs = args.options.get("runs")
    try:
        request, follow = parse_request(args.options, args.headers)
    except BadValue as bad:
        raise _fail(command, bad.sentence) from None
    return Check(
        url=url,
        origin=_origin(command, origin, url) if origin is not None else None,
        runs=_count(command, "runs", runs, MAX_RUNS) if runs is not None else 1,
        request=request,
        follow=follow,
    )


def _parse_watch(args: _Args) -> Watch:
    command = "watch"
    if not args.positional:
        raise _fail(command, "Give a URL to watch, e.g. watch https://shop.example.com.")
    _no_extra(command, args.positional[1:])
    url = _url(command, args.positional[0])
    options = args.options
    try:
        every = chat_duration(options["every"]) if "every" in options else DEFAULT_EVERY
        expect = parse_expect(options["expect"]) if "expect" in options else Expect.default()
        timeout = _timeout(options["timeout"]) if "timeout" in options else DEFAULT_TIMEOUT
        request, follow = parse_request(options, args.headers)
        notify = parse_mentions(options["notify"]) if "notify" in options else ()
        escalate = _escalate(options["escalate"]) if "escalate" in options else None
        targets = _targets(options["targets"]) if "targets" in options else None
        regions = _regions(options["regions"]) if "regions" in options else ()
    except BadValue as bad:
        raise _fail(command, bad.sentence) from None
    confirm = options.get("confirm")
    origin = options.get("origin")
    quorum = options.get("quorum")
    if quorum is not None and not regions:
        raise _fail(command, "quorum= goes with regions=, e.g. regions=eu,us,ap quorum=2.")
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
        request=request,
        follow=follow,
        notify=notify,
        escalate=escalate,
        targets=targets,
        regions=regions,
        quorum=_quorum(quorum, len(regions)) if quorum is not None else 0,
    )


def _quorum(text: str, regions: int) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 3 and 1 <= int(text) <= regions):
        raise _fail("watch", f"quorum= must be from 1 to {regions}, the number of regions.")
    return int(text)


def watch_from_options(
    url: str, options: Mapping[str, str], headers: tuple[str, ...] = ()
) -> Watch:
    """The :class:`Watch` that ``watch <url> key=value…`` makes in chat, from values already
    split (the monitors file's parser: the file and chat accept exactly the same values).
    Raises :class:`CommandError` with chat's sentence."""
    allowed = _OPTIONS["watch"]
    for key, value in options.items():
        if key not in allowed or key in _REPEATED:
            raise _fail("watch", _unknown_option("watch", key, allowed))
        if not value:
            raise _fail("watch", f"{key}= needs a value.")
    return _parse_watch(_Args((url,), dict(options), headers))


def watch_options(cmd: Watch) -> list[tuple[str, str]]:
    """``cmd``'s options as chat writes them, unquoted, defaults left out (``header`` once per
    header): :func:`watch_from_options` reads them back."""
    pairs: list[tuple[str, str]] = []
    if cmd.every != DEFAULT_EVERY:
        pairs.append(("every", exact_duration(cmd.every)))
    if cmd.origin is not None:
        pairs.append(("origin", cmd.origin))
    if cmd.confirm != DEFAULT_CONFIRM:
        pairs.append(("confirm", str(cmd.confirm)))
    if cmd.expect != Expect.default():
        pairs.append(("expect", str(cmd.expect)))
    if cmd.timeout != DEFAULT_TIMEOUT:
        pairs.append(("timeout", format_timeout(cmd.timeout)))
    pairs += request_options(cmd.request, cmd.follow)
    if cmd.notify:
        pairs.append(("notify", format_mentions(cmd.notify)))
    if cmd.escalate is not None:
        pairs.append(("escalate", exact_duration(cmd.escalate)))
    if cmd.targets is not None:
        pairs.append(("targets", ",".join(cmd.targets) or "none"))
    if cmd.regions:
        pairs.append(("regions", ",".join(cmd.regions)))
    if cmd.quorum:
        pairs.append(("quorum", str(cmd.quorum)))
    return pairs


def _escalate(text: str) -> int | None:
    if text.lower() == "off":
        return None
    seconds = chat_duration(text)
    if not MIN_ESCALATE <= seconds <= MAX_ESCALATE:
        raise BadValue("escalate= must be from 1m to 24h.")
    return seconds


def _parse_notify(args: _Args) -> Notify:
    command = "notify"
    monitor_id = _monitor_id(command, args, then=" @alice")
    if len(args.positional) < 2:
        raise _fail(command, f"Say who to ping, e.g. notify {monitor_id} @alice, or off.")
    try:
        mentions = parse_mentions(",".join(args.positional[1:]))
        escalate = _escalate(args.options["escalate"]) if "escalate" in args.options else None
    except BadValue as bad:
        raise _fail(command, bad.sentence) from None
    return Notify(monitor_id, mentions, escalate)


def _parse_maintenance(args: _Args) -> Maintenance:
    command = "maintenance"
    if not args.positional:
        raise _fail(command, "Give the monitor id or all, e.g. maintenance 12 2h.")
    target = args.positional[0]
    monitor_id = None if target.lower() == "all" else _monitor_id(command, args, then=" 2h")
    if len(args.positional) < 2:
        raise _fail(command, f"Say for how long, e.g. maintenance {target} 2h, or off.")
    _no_extra(command, args.positional[2:])
    if args.positional[1].lower() == "off":
        return Maintenance(monitor_id, None)
    try:
        seconds = chat_duration(args.positional[1])
    except BadValue as bad:
        raise _fail(command, bad.sentence) from None
    return Maintenance(monitor_id, _in_range(command, "A window", seconds, MIN_MUTE, MAX_MUTE))


def _monitor_id(command: str, args: _Args, *, then: str = "") -> int:
    if not args.positional:
        raise _fail(command, f"Give the monitor id, e.g. {command} 12{then} (list shows the ids).")
    match = _MONITOR_ID.fullmatch(args.positional[0])
    if match is None or not 0 < int(match.group(1)) <= MAX_MONITOR_ID:
        raise _fail(
            command, f"{shown(args.positional[0])} is not a monitor id; ids look like 12 or #12."
        )
    return int(match.group(1))


def _parse_mute(args: _Args) -> Mute:
    command = "mute"
    monitor_id = _monitor_id(command, args, then=" 1h")
    if len(args.positional) < 2:
        raise _fail(command, f"Say for how long, e.g. mute {monitor_id} 1h.")
    _no_extra(command, args.positional[2:])
    try:
        seconds = chat_duration(args.positional[1])
    except BadValue as bad:
        raise _fail(command, bad.sentence) from None
    return Mute(monitor_id, _in_range(command, "A mute", seconds, MIN_MUTE, MAX_MUTE))


def _parse_help(args: _Args) -> Help:
    if not args.positional:
        return Help()
    _no_extra("help", args.positional[1:])
    return Help(help_topic(args.positional[0]))


def _parse_status(args: _Args) -> Status:
    if not args.positional:
        return Status()
    word = args.positional[0].lower()
    if word not in ("on", "off"):
        raise _fail("status", f"{shown(args.positional[0])} is neither on nor off.")
    _no_extra("status", args.positional[1:])
    return Status("on" if word == "on" else "off")


def _not_a_command(word: str) -> CommandError:
    """The first word is neither a subcommand nor something that looks like a URL."""
    suggestion = suggest(word, SUBCOMMANDS)
    if suggestion is not None:
        return _fail(suggestion, f"Unknown command {shown(word)} (did you mean {suggestion}?).")
    commands = ", ".join(name for name in SUBCOMMANDS if name != "check")
    hint = ""
    try:
        host = parse_url(word).host
    except (UsageError, ValueError):
        pass
    else:
        if host is not None and len(host) <= SHOWN_MAX // 2:  # a long one would drown it
            hint = f" (for a host named {host}, write https://{host})"
    sentence = f"{shown(word)} is neither a command nor a URL{hint}. Commands: {commands}."
    if len(str(_fail("check", sentence))) > REPLY_MAX:  # the hint is the part that can go
        sentence = f"{shown(word)} is neither a command nor a URL. Commands: {commands}."
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
        if word == "export":
            _no_extra(word, args.positional)
            return Export()
        if word == "mute":
            return _parse_mute(args)
        if word == "help":
            return _parse_help(args)
        if word == "status":
            return _parse_status(args)
        if word == "notify":
            return _parse_notify(args)
        if word == "maintenance":
            return _parse_maintenance(args)
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
            words += format_request(cmd.request, cmd.follow)
        case Watch():
            words = ["watch", cmd.url]
            words += [f"{key}={quote(value)}" for key, value in watch_options(cmd)]
        case Notify(monitor_id=monitor_id, mentions=mentions, escalate=escalate):
            words = ["notify", str(monitor_id), format_mentions(mentions)]
            if escalate is not None:
                words.append(f"escalate={exact_duration(escalate)}")
        case Maintenance(monitor_id=monitor_id, seconds=seconds):
            words = [
                "maintenance",
                "all" if monitor_id is None else str(monitor_id),
                "off" if seconds is None else exact_duration(seconds),
            ]
        case ListMonitors():
            words = ["list"]
        case Export():
            words = ["export"]
        case Mute(monitor_id=monitor_id, seconds=seconds):
            words = ["mute", str(monitor_id), exact_duration(seconds)]
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
