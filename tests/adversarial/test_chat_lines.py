"""10,000 hostile ``/check502`` lines: every one gets a short, clean answer, and nothing is reached.

The lines are generated from a fixed seed (:func:`hostile_lines`): huge lines, control
characters, NUL, bidi overrides, confusables, broken ``<url|label>`` Slack syntax, nested
quotes, every command word with garbage arguments, absurd numbers, IDN hosts, userinfo, ports
0 and 65536...

* All 10,000 go through the one parser: each is a command or a :class:`CommandError` whose
  message is one printable sentence of bounded length; nothing else is raised.
* All 10,000 also go through ``Bot.handle`` on the console harness (the whole bot: rate
  limits, storage, the engine) with the default address policy, the names resolved by a DNS
  stub on loopback to 127.0.0.1 and ::1, where a listener counts connections. Every reply is
  bounded, holds no traceback and is never "something went wrong on our side" (a crash); the
  listener sees no connection; no monitor is made of a refused name or address; the bot
  still answers afterwards.

Both take about 10 s together on a quiet machine.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from adapters.console.harness import ConsoleHarness
from bot.commands import Command, CommandError, parse_command
from bot.core import OUR_FAULT
from bot.model import ErrorReply
from bot.settings import Settings
from checks import AddressPolicy
from tests.support.dnsstub import DnsStub

SEED = 502
LINES = 10_000
ERROR_MAX = 320
"""Characters of a one-sentence error reply (a 200-character sentence plus a usage line)."""
REPLY_MAX = 4_000
"""Characters of any reply rendered for the console (help is the longest)."""

COMMANDS = (
    "check",
    "watch",
    "list",
    "unwatch",
    "mute",
    "unmute",
    "ack",
    "history",
    "explain",
    "help",
)
NAMES = (
    "shop.test",
    "api.shop.test",
    "xn--bcher-kva.test",
    "bücher.test",
    "пример.test",
    "例え.test",
    "аpple.test",  # a Cyrillic а
    "ⓔⓧⓐⓜⓟⓛⓔ.test",
    "ｓｈｏｐ．test",  # fullwidth letters and dot
    "shop.test.",
    "a" * 63 + ".test",
    "-lead.test",
    "under_score.test",
    "localhost",
    "metadata.google.internal",
    "instance-data",
)
REFUSED_IPS = (
    "127.0.0.1",
    "127.1",
    "0x7f.0.0.1",
    "2130706433",
    "0177.0.0.1",
    "0.0.0.0",
    "10.1.2.3",
    "192.168.0.1",
    "172.16.5.4",
    "169.254.169.254",
    "100.100.100.200",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[fd00:ec2::254]",
    "[fe80::1%25eth0]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
)
JUNK = (
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u202e",  # right-to-left override
    "\u2066",
    "\u200b",  # zero width space
    "\ufeff",
    "\ud800",  # a lone surrogate
    "\U0001f525",
    "'",
    '"',
    "`",
    "```",
    "\\",
    "%00",
    "%0a",
    "&lt;",
    "&amp;",
    "<",
    ">",
    "|",
    "<<>>",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "; rm -rf /",
    "$(id)",
    "＝",  # fullwidth equals
    "=",
    "==",
    "#",
    "@",
    "a\u202eb",
    "＠",
)
NUMBERS = (
    "0",
    "-1",
    "1",
    "10",
    "11",
    "99999999999",
    "1e309",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "٣",  # Arabic-Indic three
    "²",
    "1_000",
    "1.5",
    "00000000000000000001",
    "9" * 400,
    "-0",
    "+5",
    "",
)
DURATIONS = (
    "-1s",
    "0s",
    "1s",
    "29s",
    "30s",
    "1h30",
    "99999999999999w",
    "1w1w",
    "1.5h",
    "nan",
    "inf",
    "1e3s",
    "24h1s",
    "365d",
    "366d",
    "1d" * 50,
    "５m",
)


def _host(rng: random.Random, port: int) -> str:
    host = rng.choice(NAMES + REFUSED_IPS)
    roll = rng.random()
    if roll < 0.3:
        return f"{host}:{port}"
    if roll < 0.4:
        return f"{host}:{rng.choice(('0', '65536', '99999', '-1', '', 'x', '٨٠'))}"
    if roll < 0.5:
        user = rng.choice(("user", "user:pass", "a@b", ":", "evil.com", "%40", "u\x00"))
        return f"{user}@{host}:{port}"
    return host


def _url(rng: random.Random, port: int) -> str:
    scheme = rng.choice(
        ("http://", "https://", "", "HTTP://", "ftp://", "javascript:", "//", "http:/", "https:///")
    )
    path = rng.choice(("", "/", "/a?b=c#d", "/%2e%2e/%2e%2e", "/" + "x" * 3000, "/?q=<script>"))
    url = f"{scheme}{_host(rng, port)}{path}"
    shape = rng.random()
    if shape < 0.15:
        return f"<{url}>"
    if shape < 0.3:
        label = rng.choice((url, "shop.test", "", "|", "<", url[::-1]))
        return f"<{url}|{label}>"
    if shape < 0.35:
        return rng.choice((f"<{url}", f"{url}>", f"<{url}|", f"<|{url}>", f"<<{url}>>"))
    if shape < 0.4:
        return url.replace("&", "&amp;").replace("<", "&lt;")
    return url


def _option(rng: random.Random, port: int) -> str:
    key = rng.choice(
        ("runs", "every", "timeout", "confirm", "expect", "origin", "RUNS", "--runs", "rums", "x")
    )
    value = {
        "every": lambda: rng.choice(DURATIONS + NUMBERS),
        "timeout": lambda: rng.choice(("nan", "inf", "0", "31s", "1ms", "0.5", "1e1", "30.0000")),
        "expect": lambda: rng.choice(("2xx", "600", "99", "200-100", "abc", ",", "1xx,", "2XX")),
        "origin": lambda: _host(rng, port),
    }.get(key.lower().lstrip("-"), lambda: rng.choice(NUMBERS))()
    sep = rng.choice(("=", "=", "=", " = ", "＝", "==", ":"))
    return f"{key}{sep}{value}"


def _words(rng: random.Random, port: int) -> list[str]:
    kind = rng.random()
    command = rng.choice(COMMANDS)
    if kind < 0.2:  # well-formed but for its target: these reach DNS and the policy
        words = [rng.choice(("watch", "check", ""))]
        host = rng.choice(NAMES + REFUSED_IPS)
        words.append(f"{rng.choice(('http://', 'https://', ''))}{host}:{port}/")
        if rng.random() < 0.5:
            words.append(rng.choice(("runs=2", "origin=127.0.0.1", f"origin={host}", "every=1m")))
        return [w for w in words if w]
    if kind < 0.4:
        words = [command] if rng.random() < 0.6 else []
        words.append(_url(rng, port))
        words += [_option(rng, port) for _ in range(rng.randint(0, 4))]
        return words
    if kind < 0.6:
        args = [
            rng.choice(
                (
                    rng.choice(NUMBERS),
                    f"#{rng.choice(NUMBERS)}",
                    rng.choice(DURATIONS),
                    rng.choice(JUNK),
                    _url(rng, port),
                    _option(rng, port),
                )
            )
            for _ in range(rng.randint(0, 4))
        ]
        return [rng.choice((command, command.upper(), command.title(), f"{command}s")), *args]
    if kind < 0.8:
        return [rng.choice(JUNK) * rng.randint(1, 3) for _ in range(rng.randint(1, 6))]
    return [
        "".join(rng.choice((*JUNK, "a", " ", "check", "=", ".", ":")) for _ in range(20)),
    ]


FOUND = ("a" * 63, "é" * 50, "bücher" * 8)
"""Lines that once broke a rule: a word that is a long host name got a hint naming it twice."""


def hostile_lines(port: int, count: int = LINES, seed: int = SEED) -> Iterator[str]:
    """``count`` hostile chat lines; URLs point at names and addresses the policy refuses."""
    yield from FOUND
    rng = random.Random(seed)
    for _ in range(count - len(FOUND)):
        prefix = rng.choice(("/check502 ", "/check502@Bot ", "/CHECK502 ", "", "/check502", " "))
        sep = rng.choice((" ", "  ", "\t", "\n", "\u00a0", "\u3000"))
        line = prefix + sep.join(_words(rng, port))
        shape = rng.random()
        if shape < 0.03:
            line = line + " " + "x" * rng.choice((4_100, 50_000, 1_000_000))
        elif shape < 0.06:
            line = line.replace(" ", rng.choice(JUNK))
        elif shape < 0.08:
            line = "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randint(1, 200)))
        elif shape < 0.1:
            line = line + "explain " + rng.choice(JUNK) * rng.randint(1, 5_000)
        yield line


# --------------------------------------------------------------------------------- the parser


def _is_sentence(text: str) -> bool:
    return 0 < len(text) <= ERROR_MAX and text.isprintable() and "Traceback" not in text


def test_the_parser_answers_every_hostile_line_with_a_command_or_one_sentence() -> None:
    kinds: dict[str, int] = {}
    for line in hostile_lines(port=9):
        try:
            command: Command = parse_command(line)
        except CommandError as exc:
            assert _is_sentence(str(exc)), (line[:200], str(exc))
            kinds["error"] = kinds.get("error", 0) + 1
            continue
        kinds[type(command).__name__] = kinds.get(type(command).__name__, 0) + 1
    # The generator reaches the grammar, not only its refusals.
    assert kinds["error"] > LINES // 2
    for name in ("Check", "Watch", "Help", "Explain"):
        assert kinds.get(name, 0) > 10, kinds


# ------------------------------------------------------------------------------ Bot.handle


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _zone() -> dict[str, list[str]]:
    zone: dict[str, list[str]] = {}
    for name in NAMES:
        for form in {name, name.rstrip(".")}:
            try:
                zone[form.encode("idna").decode()] = ["127.0.0.1", "::1"]
            except UnicodeError:
                zone[form] = ["127.0.0.1", "::1"]
    return zone


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def test_bot_handle_answers_hostile_lines_briefly_and_reaches_nothing(
    tmp_path: Path,
) -> None:
    with Listener() as listener, DnsStub(_zone(), unknown="empty") as dns:
        settings = Settings(
            db_path=str(tmp_path / "bot.db"),
            policy=AddressPolicy(),  # the default: loopback, private, metadata refused
            resolver=dns.address,
            control_url=None,
            rate_user=10**9,
            rate_channel=10**9,
        )
        lines = list(hostile_lines(port=listener.port))
        async with ConsoleHarness(settings) as chat:
            shown: dict[str, int] = {}
            refused = 0
            for line in lines:
                text = await chat.push(line)
                reply = chat.last_reply
                assert reply is not None
                name = type(reply).__name__
                shown[name] = shown.get(name, 0) + 1
                assert OUR_FAULT not in text, line[:300]
                assert "Traceback" not in text and 'File "' not in text, line[:300]
                assert 0 < len(text) <= REPLY_MAX, (line[:300], len(text))
                if isinstance(reply, ErrorReply):
                    assert _is_sentence(reply.text), (line[:300], reply.text)
                    if "checks of internal addresses are off" in reply.text:
                        refused += 1
            # No monitor of a name or address the policy refused: the only ones made are of
            # names the DNS stub does not know (no address, so nothing for the policy to see).
            zone = _zone()
            for mid, _ in chat.bot.store.schedule_rows():
                monitor = chat.bot.store.monitor(mid)
                assert monitor is not None
                host = urllib.parse.urlsplit(monitor.url).hostname or ""
                assert host not in zone and not _is_ip(host), monitor
                assert monitor.last_outcome == "dns_no_records", monitor
            # ...and the bot is alive and well after all that.
            assert "check502 diagnoses" in await chat.push("help")
            rows = chat.bot.store.schedule_rows()
            listing = await chat.push("list")
            assert len(listing.splitlines()) == len(rows) if rows else "No monitors" in listing
    assert listener.accepted == 0
    assert dns.queries, "no line reached DNS: the policy was never put to the test"
    # Many lines were refused by the address policy (after DNS for names), not by the parser.
    assert refused > 500, (refused, shown)
