"""Hostile servers: every check ends within its timeout + 0.5 s and in bounded memory.

Each server tries to hold a client for ever (a handshake that never finishes, HTTP/2 garbage,
one byte per second, a request never read, endless headers or body, redirect loops) or to make
it use unbounded memory (a gzip bomb). Each is checked twice: by ``diagnose()`` in this process
(wall time of the call), and by the ``check502`` command as a real subprocess with
``--timeout 2``, whose peak RSS is read with ``os.wait4``.

The subprocess needs about a second just to import on an idle machine, and more when the
machine is loaded, so its bound is measured from the moment the check reached the server (the
server's first accepted connection) to the moment its JSON result was printed; its exit must
follow within ``EXIT_ALLOWANCE`` (an interpreter freeing its modules), so nothing may keep
running after the result either.

To keep the file fast, all in-process checks run at once, then the subprocesses, two at a time
starting up and any number waiting on their servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from checks import Cause, Diagnosis, ErrorKind, Probe, diagnose
from checks.probe import BODY_EXCERPT
from tests.checks.conftest import LOOPBACK
from tests.support.dnsstub import DnsStub
from tests.support.servers import (
    TLS_HOSTNAME,
    LoopServer,
    RedirectServer,
    drip_body_server,
    drip_server,
    endless_body_server,
    endless_headers_server,
    gzip_bomb_server,
    h2_garbage_server,
    h2_stall_server,
    never_reads_server,
    no_handshake_server,
    redirect_loop,
    self_redirect_server,
    stall_server,
    untrusted_then_silent_server,
)

SLACK = 0.5
"""The issue's bound: a check ends within its timeout + 0.5 s whatever the server does."""
IN_PROCESS_TIMEOUT = 1.5
CLI_TIMEOUT = 2.0
MAX_RSS_BYTES = 100 * 1000 * 1000
CLI_WAIT_LIMIT = 120.0
"""Seconds to wait for all subprocesses (start-up included) before killing them."""
CLI_IMPORTING = 2
"""Subprocesses starting up at once: more only fight over two cores while they import."""
EXIT_ALLOWANCE = 2.0
"""Seconds an interpreter may take to exit after printing (freeing modules on a loaded
machine); a check still running after its result would need far more."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a case's check goes: the URL, and how the check must be configured to get there."""

    url: str
    server: LoopServer
    kwargs: dict[str, Any] = field(default_factory=dict)
    argv: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    start: Callable[[contextlib.ExitStack, DnsStub], Target]
    kind: ErrorKind | None
    """The public probe's error kind (None: it answered usably)."""
    status: int | None
    cause: Cause
    follow: bool = False


def _plain(factory: Callable[[], LoopServer]) -> Callable[[contextlib.ExitStack, DnsStub], Target]:
    def start(stack: contextlib.ExitStack, _dns: DnsStub) -> Target:
        server = stack.enter_context(factory())
        return Target(server.url, server)

    return start


def _named_tls(factory: Callable[[], Any]) -> Callable[[contextlib.ExitStack, DnsStub], Target]:
    """A TLS server reached by its certificate's name, resolved by the stub to 127.0.0.1."""

    def start(stack: contextlib.ExitStack, dns: DnsStub) -> Target:
        server = stack.enter_context(factory())
        resolver = f"{dns.host}:{dns.port}"
        return Target(
            f"https://{TLS_HOSTNAME}:{server.port}/",
            server,
            {"resolver": resolver, "ca_bundle": server.ca_pem_path},
            ("--resolver", resolver, "--ca-bundle", server.ca_pem_path),
        )

    return start


def _redirect_loop(stack: contextlib.ExitStack, _dns: DnsStub) -> Target:
    a, _b = stack.enter_context(redirect_loop())
    return Target(a.url, a)


def _slow_redirect_to(
    factory: Callable[[], LoopServer],
) -> Callable[[contextlib.ExitStack, DnsStub], Target]:
    """A redirect answered after 0.8 s, to a server made by ``factory``."""

    def start(stack: contextlib.ExitStack, _dns: DnsStub) -> Target:
        then = stack.enter_context(factory())
        first = stack.enter_context(RedirectServer(then.url, delay=0.8))
        return Target(first.url, first)

    return start


CASES = [
    Case("no_handshake", _plain(no_handshake_server), ErrorKind.TLS_HANDSHAKE, None, Cause.TLS),
    Case(
        "h2_garbage",
        _named_tls(h2_garbage_server),
        ErrorKind.INVALID_RESPONSE,
        None,
        Cause.PROTOCOL,
    ),
    Case("h2_stall", _named_tls(h2_stall_server), ErrorKind.READ_TIMEOUT, None, Cause.TIMEOUT),
    Case("drip_headers", _plain(drip_server), ErrorKind.READ_TIMEOUT, None, Cause.TIMEOUT),
    Case("drip_body", _plain(drip_body_server), ErrorKind.READ_TIMEOUT, 200, Cause.TIMEOUT),
    Case("never_reads", _plain(never_reads_server), ErrorKind.READ_TIMEOUT, None, Cause.TIMEOUT),
    Case(
        "endless_headers",
        _plain(endless_headers_server),
        ErrorKind.HEADERS_TOO_LARGE,
        None,
        Cause.PROTOCOL,
    ),
    Case("endless_body", _plain(endless_body_server), None, 200, Cause.OK),
    Case("gzip_bomb", _plain(gzip_bomb_server), None, 200, Cause.OK),
    Case(
        "redirect_loop",
        _redirect_loop,
        ErrorKind.TOO_MANY_REDIRECTS,
        None,
        Cause.UNKNOWN,
        follow=True,
    ),
    Case(
        "redirect_to_itself",
        _plain(self_redirect_server),
        ErrorKind.TOO_MANY_REDIRECTS,
        None,
        Cause.UNKNOWN,
        follow=True,
    ),
    # Each of these spends part of the deadline first, so a later step given a fresh
    # timeout of its own (a redirect hop, the HTTP/1.1 retry, the certificate re-fetch)
    # would overrun it.
    Case(
        "slow_redirect_to_a_stall",
        _slow_redirect_to(stall_server),
        ErrorKind.READ_TIMEOUT,
        None,
        Cause.TIMEOUT,
        follow=True,
    ),
    Case(
        "h2_late_garbage_http1_stall",
        _named_tls(lambda: h2_garbage_server(delay=0.8, stall_http1=True)),
        ErrorKind.INVALID_RESPONSE,
        None,
        Cause.PROTOCOL,
    ),
    Case(
        "slow_redirect_to_untrusted_then_silent",
        _slow_redirect_to(untrusted_then_silent_server),
        ErrorKind.TLS_UNTRUSTED,
        None,
        Cause.TLS,
        follow=True,
    ),
]


@dataclass(slots=True)
class Ran:
    """One subprocess's outcome."""

    result_after_contact: float
    """From the server's first accepted connection to the JSON result being printed."""
    exit_after_contact: float
    wall: float
    max_rss_bytes: int
    exit_code: int
    stdout: str
    stderr: str


@dataclass(slots=True)
class Outcome:
    diagnosis: Diagnosis
    seconds: float
    cli: Ran


async def _timed(case: Case, target: Target) -> tuple[Diagnosis, float]:
    began = time.monotonic()
    diagnosis = await diagnose(
        target.url,
        policy=LOOPBACK,
        timeout=IN_PROCESS_TIMEOUT,
        follow=case.follow,
        **target.kwargs,
    )
    return diagnosis, time.monotonic() - began


def _launch(case: Case, target: Target, out: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "adapters.cli", target.url, "--timeout", str(CLI_TIMEOUT)]
    argv += ["--allow", "127.0.0.0/8", "--json", *target.argv]
    if case.follow:
        argv.append("--follow")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the result reaches the file when printed
    with (
        (out / f"{case.name}.out").open("wb") as stdout,
        (out / f"{case.name}.err").open("wb") as stderr,
    ):
        return subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=env)


@dataclass(slots=True)
class _Running:
    proc: subprocess.Popen[bytes]
    started: float
    printed: float | None = None


def _run_all(
    targets: dict[str, Target], contacts: dict[str, int], out: Path
) -> dict[str, tuple[_Running, float, int]]:
    """Run every case's subprocess; for each: (its record, when it exited, its own peak RSS in
    bytes from ``os.wait4``). At most ``CLI_IMPORTING`` are starting up (importing, CPU-bound)
    at once; any number may be waiting on their hostile server. Bounded by ``CLI_WAIT_LIMIT``.
    """
    waiting = list(CASES)
    running: dict[str, _Running] = {}
    ended: dict[str, tuple[_Running, float, int]] = {}
    give_up = time.monotonic() + CLI_WAIT_LIMIT

    def starting() -> int:
        return sum(len(targets[n].server.accepted_at) == contacts[n] for n in running)

    while waiting or running:
        while waiting and starting() < CLI_IMPORTING:
            case = waiting.pop(0)
            running[case.name] = _Running(_launch(case, targets[case.name], out), time.monotonic())
        for name, record in list(running.items()):
            now = time.monotonic()
            if record.printed is None and (out / f"{name}.out").stat().st_size:
                record.printed = now
            if now > give_up:
                record.proc.kill()
            pid, status, usage = os.wait4(record.proc.pid, 0 if now > give_up else os.WNOHANG)
            if pid:
                record.proc.returncode = os.waitstatus_to_exitcode(status)
                ended[name] = (record, time.monotonic(), usage.ru_maxrss * 1024)
                del running[name]
        time.sleep(0.01)
    return ended


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[str, Outcome]]:
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        dns = stack.enter_context(DnsStub({TLS_HOSTNAME: ["127.0.0.1"]}))
        targets = {case.name: case.start(stack, dns) for case in CASES}

        async def all_in_process() -> list[tuple[Diagnosis, float]]:
            return await asyncio.gather(*(_timed(c, targets[c.name]) for c in CASES))

        in_process = dict(zip(targets, asyncio.run(all_in_process()), strict=True))
        contacts = {name: len(t.server.accepted_at) for name, t in targets.items()}
        ended = _run_all(targets, contacts, Path(tmp))
        result: dict[str, Outcome] = {}
        for name, target in targets.items():
            record, end, rss = ended[name]
            accepted = list(target.server.accepted_at)[contacts[name] :]
            contact = accepted[0] if accepted else end  # no contact: fails below on the kind
            ran = Ran(
                result_after_contact=(record.printed or end) - contact,
                exit_after_contact=end - contact,
                wall=end - record.started,
                max_rss_bytes=rss,
                exit_code=record.proc.returncode,
                stdout=(Path(tmp) / f"{name}.out").read_text(),
                stderr=(Path(tmp) / f"{name}.err").read_text(),
            )
            result[name] = Outcome(in_process[name][0], in_process[name][1], ran)
        yield result


def _public(probes: list[Probe] | tuple[Probe, ...]) -> Probe:
    [first] = [p for p in probes if p.target == "public" and not p.protocol_retry]
    return first


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_diagnose_ends_within_its_timeout(case: Case, outcomes: dict[str, Outcome]) -> None:
    seconds = outcomes[case.name].seconds
    assert seconds < IN_PROCESS_TIMEOUT + SLACK, f"{case.name}: {seconds:.2f} s"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_diagnose_names_the_right_failure(case: Case, outcomes: dict[str, Outcome]) -> None:
    d = outcomes[case.name].diagnosis
    probe = _public(d.probes)
    assert (probe.error.kind if probe.error else None) is case.kind, probe.error
    assert probe.status == case.status
    assert d.verdict.cause is case.cause, d.verdict


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cli_ends_within_its_timeout_in_bounded_memory(
    case: Case, outcomes: dict[str, Outcome]
) -> None:
    ran = outcomes[case.name].cli
    assert ran.stderr == ""  # no traceback, no warning
    timings = (
        f"{case.name}: result {ran.result_after_contact:.2f} s and exit"
        f" {ran.exit_after_contact:.2f} s after reaching the server ({ran.wall:.2f} s in all)"
    )
    assert ran.result_after_contact < CLI_TIMEOUT + SLACK, timings
    assert ran.exit_after_contact < CLI_TIMEOUT + SLACK + EXIT_ALLOWANCE, timings
    assert ran.max_rss_bytes < MAX_RSS_BYTES, f"{case.name}: {ran.max_rss_bytes / 1e6:.0f} MB"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cli_names_the_right_failure(case: Case, outcomes: dict[str, Outcome]) -> None:
    ran = outcomes[case.name].cli
    doc = json.loads(ran.stdout)
    [probe] = [p for p in doc["probes"] if p["target"] == "public" and not p["protocol_retry"]]
    assert (probe["error"]["kind"] if probe["error"] else None) == (
        case.kind.value if case.kind else None
    )
    assert probe["status"] == case.status
    assert doc["verdict"]["cause"] == case.cause.value
    assert ran.exit_code == (0 if case.cause is Cause.OK else 1)


def test_h2_garbage_leaves_time_for_the_http1_retry(outcomes: dict[str, Outcome]) -> None:
    d = outcomes["h2_garbage"].diagnosis
    [retry] = [p for p in d.probes if p.protocol_retry]
    assert retry.status == 200 and retry.http_version == "HTTP/1.1"
    assert "first frame is not SETTINGS" in _public(d.probes).error.message  # type: ignore[union-attr]


def test_h2_stall_gets_no_retry_once_its_deadline_is_spent(outcomes: dict[str, Outcome]) -> None:
    d = outcomes["h2_stall"].diagnosis
    assert not [p for p in d.probes if p.protocol_retry]


def test_a_gzip_bomb_is_decompressed_only_as_far_as_the_excerpt(
    outcomes: dict[str, Outcome],
) -> None:
    probe = _public(outcomes["gzip_bomb"].diagnosis.probes)
    assert probe.body_excerpt == "\x00" * BODY_EXCERPT


def test_steps_after_a_slow_start_share_its_deadline(outcomes: dict[str, Outcome]) -> None:
    hop = _public(outcomes["slow_redirect_to_a_stall"].diagnosis.probes)
    assert len(hop.redirects) == 1
    d = outcomes["h2_late_garbage_http1_stall"].diagnosis
    [retry] = [p for p in d.probes if p.protocol_retry]
    assert retry.error is not None and retry.error.kind is ErrorKind.READ_TIMEOUT


def test_redirect_loops_show_the_hops_they_followed(outcomes: dict[str, Outcome]) -> None:
    probe = _public(outcomes["redirect_loop"].diagnosis.probes)
    assert len(probe.redirects) == 5
    assert len(set(probe.redirects)) == 2  # A and B, alternating


async def test_a_budget_bounds_many_runs_against_a_server_that_never_answers() -> None:
    with never_reads_server() as server:
        began = time.monotonic()
        d = await diagnose(server.url, policy=LOOPBACK, runs=5, timeout=1.0, budget=1.5)
        seconds = time.monotonic() - began
    assert seconds < 1.5 + SLACK
    assert d.runs_done == 1
    assert _public(d.probes).error.kind is ErrorKind.READ_TIMEOUT  # type: ignore[union-attr]
