"""The console in a real terminal: ``quit`` over a pty, columns, wrapping, and which probe is shown.

The process tests run the real ``check502-bot`` on a pseudo-terminal (standard input stays
open, as in a terminal window); the rendering tests render real values at a given width.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from adapters.cli.render import Style, render_diagnosis
from adapters.console.render import render_alert, render_reply
from adapters.present import phases, sides
from bot.commands import USAGE, help_text
from bot.model import (
    Alert,
    AlertKind,
    Channel,
    DiagnosisReply,
    ErrorReply,
    ListReply,
    TextReply,
)
from checks import Cause, ProbeError, Timings
from checks.model import ErrorKind
from tests.adapters.console.test_console import ROOT, _bot, _command, _env
from tests.support import ok_server
from tests.support.replies import NOW, diagnosis, monitor, probe

ANSI = re.compile(r"\033\[[0-9;]*m")
QUIT_BOUND = 2.0
"""Seconds from typing ``quit`` to the process's exit (a correctness bound, loaded machine)."""


class Terminal:
    """``check502-bot`` on a pty: what it printed so far, and keys typed at it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            _command(), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT
        )
        os.close(slave)
        self.out = ""

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def read_until(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, ANSI.sub("", self.out)):
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} within {timeout} s:\n{self.out}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    self.out += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the process ended and closed the terminal
                    break
        return self.out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.master)


def test_quit_ends_the_process_at_once_while_the_terminal_stays_open(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    env = _env(db)
    del env["NO_COLOR"]  # a terminal: colours on, as a user sees it
    env.pop("COLUMNS", None)
    with ok_server() as server:
        term = Terminal(env)
        try:
            term.read_until("check502 console")
            term.type(f"watch {server.url}")
            term.read_until(r"Watching #1")
            term.type("watch http://127.0.0.1:1/ confirm=1")
            term.read_until(r"Watching #2")
            term.type("list")
            out = term.read_until(r"(?m)^#2\s+\S+\s+every")
            term.type("quit")
            typed = time.monotonic()
            code = term.proc.wait(timeout=30)
            took = time.monotonic() - typed
        finally:
            term.close()
    assert code == 0, out
    assert took < QUIT_BOUND, f"quit took {took:.2f} s"
    assert "Traceback" not in out

    # `list` in the terminal: coloured, and the columns after the state line up.
    rows = [line for line in out.splitlines() if re.match(r"#[12]\s", ANSI.sub("", line))]
    rows = rows[-2:]
    assert all("\033[" in row for row in rows), rows
    visible = [ANSI.sub("", row) for row in rows]
    assert len({v.index("every") for v in visible}) == 1, visible
    assert len({v.index("http") for v in visible}) == 1, visible

    # The database was closed and its lock released: the next start sees both monitors.
    again = _bot("list\n", _env(db))
    assert again.returncode == 0, again.stderr
    assert re.search(r"^#1\s", again.stdout, re.M) and re.search(r"^#2\s", again.stdout, re.M)


def test_list_pads_the_visible_state_not_the_colour_codes() -> None:
    channel = Channel("console", "c", "local")
    monitors = (monitor(1, channel, "https://a.example/"), monitor(3, channel, "https://b.ex/"))
    assert [m.state for m in monitors] == ["up", "down"]
    text = render_reply(ListReply(monitors), Style(True))
    assert "\033[" in text
    visible = [ANSI.sub("", line) for line in text.splitlines()]
    assert visible[0].index("every") == visible[1].index("every") == len("#1    DOWN   ")


# ------------------------------------------------------------------------------------ wrapping


def _words(text: str) -> list[str]:
    return text.split()


def test_help_wraps_to_the_width_without_breaking_words_or_commands() -> None:
    text = help_text(None)
    out = render_reply(TextReply(text), Style(False, width=60))
    assert _words(out) == _words(text)  # nothing broken mid-word, nothing lost
    for line in out.splitlines():
        if line.lstrip().startswith("/check502"):
            assert line in text.splitlines()  # a command line is never wrapped
        else:
            assert len(line) <= 60, line
    assert max(len(line) for line in text.splitlines()) > 60  # there was something to wrap
    # Continuation lines stay under the text they continue (the usage's description).
    added = [line for line in out.splitlines() if line not in text.splitlines()]
    assert any(line.startswith("    ") for line in added), added


def test_help_wraps_to_COLUMNS_in_the_real_process(tmp_path: Path) -> None:
    done = _bot("help\n", _env(tmp_path / "bot.db", COLUMNS="50"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    banner = ("/check502", "Try", "check502 console")
    long = [line for line in lines if len(line) > 50 and not line.startswith(banner)]
    assert not long, long
    for usage in USAGE.values():
        assert usage in lines  # whole, on one line


def test_next_steps_wrap_and_keep_curl_whole() -> None:
    curl = "`curl -v --resolve shop.example.com:443:203.0.113.9 https://shop.example.com/`"
    step = f"Bypass the CDN to compare: {curl}; a 200 there means the origin is fine."
    reproduce = "curl -sv --resolve shop.example.com:443:198.51.100.7 https://shop.example.com/x"
    d = diagnosis(evidence=(step,), reproduce=(reproduce,))
    out = render_diagnosis(d, Style(False, width=60))
    lines = out.splitlines()
    assert any(curl in line for line in lines), out  # the quoted command stays on one line
    assert f"  $ {reproduce}" in lines  # reproduce lines overflow as they are
    steps = lines[lines.index("Next steps") + 1 :]
    steps = steps[: steps.index("")]
    assert len(steps) > 1 and steps[0].startswith("  → ") and steps[1].startswith("    ")
    assert all(len(s) <= 60 or curl in s for s in steps), steps
    assert _words(" ".join(steps))[1:] == _words(step)


def test_a_pipe_is_not_wrapped() -> None:
    step = "word " * 40
    out = render_diagnosis(diagnosis(evidence=(step.strip(),)), Style(False))
    assert f"  → {step.strip()}" in out.splitlines()


# ------------------------------------------------------------------------ the probes shown


def _runs(*statuses: int | None) -> tuple:  # type: ignore[type-arg]
    refused = ProbeError(ErrorKind.CONNECT_REFUSED, "refused")
    out = []
    for run, status in enumerate(statuses):
        if status is None:
            out.append(probe(status=None, reason=None, error=refused, run=run))
        else:
            reason = "OK" if status == 200 else "Bad Gateway"
            out.append(probe(status=status, reason=reason, run=run))
    return tuple(out)


def test_the_probe_under_a_failing_verdict_is_a_failing_one() -> None:
    d = diagnosis(probes=_runs(200, 200, 200, 502, 200, 200, 200, 502))
    d = dataclasses.replace(d, runs=8, status_mix=(("200", 6), ("502", 2)))
    public = sides(d).public
    assert public is not None and public.status == 502
    out = render_diagnosis(d, Style(False))
    probe_lines = [line for line in out.splitlines() if line.startswith("public ")]
    assert len(probe_lines) == 1 and "502 Bad Gateway" in probe_lines[0], out
    assert "(7 more probes; --json shows all)" in out
    # Without any 5xx, a failure without an answer stands for the verdict, not a 200.
    refused = diagnosis(probes=_runs(200, 200, None))
    chosen = sides(refused).public
    assert chosen is not None and chosen.error is not None
    # A 502 answer says more than a run that got no answer: it is preferred.
    answered = sides(diagnosis(probes=_runs(None, 200, 502))).public
    assert answered is not None and answered.status == 502


def test_more_probes_only_when_some_were_hidden_and_never_with_json_in_chat() -> None:
    few = diagnosis(probes=_runs(502, 502, 502))  # three of one address: all shown
    assert "more probe" not in render_diagnosis(few, Style(False))
    many = diagnosis(probes=_runs(*[502] * 10))
    assert "(9 more probes; --json shows all)" in render_diagnosis(many, Style(False))
    chat = render_reply(DiagnosisReply(many), Style(False))
    assert "(9 more probes)" in chat and "--json" not in chat


def test_a_failed_connect_or_tls_is_drawn_under_its_own_phase() -> None:
    refused = probe(
        status=None,
        reason=None,
        error=ProbeError(ErrorKind.CONNECT_TIMEOUT, "timed out"),
        timings=Timings(dns=1.0, total=3001.0),
    )
    assert dict(phases(refused)) == {
        "DNS": 1.0,
        "connect": 3000.0,
        "TLS": None,
        "first byte": None,
        "transfer": None,
    }
    bar = _bar(refused)
    assert bar["TCP Connection"] == "3000ms" and bar["Content Transfer"] == "-"

    tls = probe(
        status=None,
        reason=None,
        error=ProbeError(ErrorKind.TLS_HANDSHAKE, "handshake failure"),
        timings=Timings(dns=1.0, connect=2.0, total=52.0),
    )
    bar = _bar(tls)
    assert bar["TLS Handshake"] == "50ms" and bar["Content Transfer"] == "-"


def _bar(p: object) -> dict[str, str]:
    """The timings bar of the probe's lines: each phase's name to the value drawn under it."""
    d = diagnosis(probes=(p,))  # type: ignore[arg-type]
    lines = render_diagnosis(d, Style(False)).splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("["))
    names, values = lines[at - 1], lines[at]
    bounds = [2, *(i for i, c in enumerate(values) if c == "|"), values.rindex("]")]
    return {
        names[a + 1 : b].strip(): values[a + 1 : b].strip() for a, b in itertools.pairwise(bounds)
    }


def test_the_alert_actions_break_between_commands_only() -> None:
    d = diagnosis()
    alert = Alert(AlertKind.DOWN, NOW, monitor_id=2, url="http://a.example/", diagnosis=d)
    wide = render_alert(alert, Style(False))
    assert "  details: /check502 details 2 · ack: /check502 ack 2 · mute: /check502 mute 2 1h" in (
        wide.splitlines()
    )
    narrow = render_alert(alert, Style(False, width=60)).splitlines()
    assert "  details: /check502 details 2 · ack: /check502 ack 2" in narrow
    assert "  mute: /check502 mute 2 1h" in narrow
    assert all(len(line) <= 60 for line in narrow if "/check502" not in line), narrow


def test_an_error_wraps_under_its_text() -> None:
    text = '"clear" is neither a command nor a URL (for a host named clear, write https://clear).'
    out = render_reply(ErrorReply(text), Style(False, width=60)).splitlines()
    assert out[0].startswith("✗ ") and len(out) == 2 and out[1].startswith("  clear,"), out


def test_the_headline_breaks_between_its_facts() -> None:
    d = diagnosis()
    verdict = dataclasses.replace(
        d.verdict, alternatives=(Cause.FIREWALL, Cause.WORKERS_EXHAUSTED), code="E502"
    )
    d = dataclasses.replace(d, verdict=verdict)
    wide = render_diagnosis(d, Style(False)).splitlines()
    assert wide[0] == (
        "✗ origin_down  confidence 0.90 · generated by nginx · hop: origin · code E502"
        " · also possible: firewall, workers_exhausted"
    )
    narrow = render_diagnosis(d, Style(False, width=60)).splitlines()
    assert narrow[:2] == [
        "✗ origin_down  confidence 0.90 · generated by nginx",
        "  hop: origin · code E502",
    ]
    assert narrow[2] == "  also possible: firewall, workers_exhausted"
