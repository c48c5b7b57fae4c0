"""The keep-alive race under ``runs=N``: instant intermittent failures beside quick successes.

Hand-built probes pin each condition of the rule; one live test puts real nginx with an upstream
keep-alive pool in front of an app that resets a connection when it is reused (as an app does
when its idle keep-alive timeout fires just as the proxy sends the next request on it).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import replace
from typing import Any

import pytest

from checks.advice import phrase_steps
from checks.model import Cause, ErrorKind, Hop, Probe, Timings, Verdict
from checks.target import parse_origin
from checks.verdict import decide
from tests.checks.conftest import run
from tests.checks.test_verdict import (
    ORIGIN_IP,
    URL,
    failed,
    make_probe,
    nginx_502,
    origin_probe,
)
from tests.support import LoopServer, Nginx, build_response

RACE_STEP = phrase_steps("keepalive_race")[0]


def _ok(run: int) -> Probe:
    return make_probe(run=run)  # 100 ms in all, 50 ms of server time


def _reset(run: int) -> Probe:
    return failed(
        ErrorKind.PREMATURE_CLOSE,
        "connection reset before a response",
        run=run,
        timings=Timings(dns=1.0, connect=10.0, total=13.0),
    )


def _verdict(public: list[Probe], origin: list[Probe] | None = None) -> Verdict:
    target = parse_origin(ORIGIN_IP, URL) if origin is not None else None
    return decide(URL, target, public, origin or [], [])


def _alternating(fail: Any = nginx_502, runs: int = 6) -> list[Probe]:
    return [fail(run=r) if r % 2 else _ok(r) for r in range(runs)]


def test_instant_502s_beside_quick_successes_with_the_origin_up_are_the_race() -> None:
    origin = [origin_probe(run=r) for r in range(6)]
    v = _verdict(_alternating(), origin)
    assert (v.cause, v.hop, v.generated_by, v.confidence) == (
        Cause.PROTOCOL,
        Hop.EDGE_TO_ORIGIN,
        "nginx",
        0.75,
    )
    assert "keep-alive race" in v.summary
    assert "server.keepAliveTimeout" in v.summary and "60 s on AWS ALB" in v.summary
    assert v.next_steps[0] == RACE_STEP
    assert "3 of 6 requests failed with a 502" in "\n".join(v.evidence)
    assert any("the origin answers every direct request" in e for e in v.evidence)
    assert v.alternatives == (Cause.ORIGIN_DOWN, Cause.WORKERS_EXHAUSTED)


def test_without_the_origin_bypass_the_race_is_less_certain() -> None:
    v = _verdict(_alternating())
    assert (v.cause, v.confidence) == (Cause.PROTOCOL, 0.6)
    assert v.next_steps[0] == RACE_STEP
    assert "while the origin answers" not in v.summary


def test_intermittent_instant_resets_are_the_race_at_the_origin() -> None:
    v = _verdict(_alternating(_reset))
    assert (v.cause, v.hop, v.generated_by) == (Cause.PROTOCOL, Hop.ORIGIN, None)
    assert "failed with a reset" in "\n".join(v.evidence)


def test_a_single_failure_lowers_the_confidence() -> None:
    public = [_ok(0), nginx_502(run=1), _ok(2)]
    assert _verdict(public).confidence == 0.5


def test_slow_successes_are_exhausted_workers_not_the_race() -> None:
    slow = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=1990.0, total=2000.0)
    public = [make_probe(run=r, timings=slow) if r % 2 == 0 else nginx_502(run=r) for r in range(6)]
    assert _verdict(public).cause is Cause.WORKERS_EXHAUSTED


def test_failures_that_waited_are_not_the_race() -> None:
    waited = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=4990.0, total=5000.0)
    v = _verdict(_alternating(lambda run: nginx_502(run=run, timings=waited)))
    assert v.cause is not Cause.PROTOCOL


def test_an_instant_504_is_not_the_race() -> None:
    v = _verdict(_alternating(lambda run: replace(nginx_502(run=run), status=504)))
    assert "keep-alive race" not in v.summary


def test_a_failing_origin_bypass_is_not_the_race() -> None:
    origin = [origin_probe(run=r) if r % 2 else origin_probe(_reset(r)) for r in range(6)]
    v = _verdict(_alternating(), origin)
    assert "keep-alive race" not in v.summary


def test_one_run_is_never_the_race() -> None:
    public = [_ok(0), nginx_502(run=0, ip="198.51.100.7")]
    assert "keep-alive race" not in _verdict(public).summary


def test_every_run_failing_is_not_the_race() -> None:
    v = _verdict([nginx_502(run=r) for r in range(4)])
    assert "keep-alive race" not in v.summary


# --- live: real nginx reusing upstream connections --------------------------------------------


class ResetOnReuseServer(LoopServer):
    """Answers the first request on a connection and keeps it open; resets it when the client
    sends a second request on it, as an app whose idle timeout fired just then."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        writer.write(build_response(200, b"ok", {"Connection": "keep-alive"}))
        await writer.drain()
        await self.read_request(reader, writer)  # the proxy reuses the idle connection
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


class PooledNginx(Nginx):
    """nginx proxying to an ``upstream{}`` block that keeps idle connections (``keepalive``).

    By default nginx quietly retries an idempotent request whose cached connection failed; with
    ``proxy_next_upstream off`` (common where retries are unsafe, and always so for a POST) the
    race reaches the client as a 502.
    """

    def _proxy_lines(self) -> list[str]:
        return [
            "proxy_pass http://app_pool;",
            "proxy_http_version 1.1;",
            'proxy_set_header Connection "";',
            "proxy_next_upstream off;",
        ]


@pytest.mark.gateways
async def test_nginx_reusing_connections_an_app_resets_is_the_keepalive_race() -> None:
    with ResetOnReuseServer() as app:
        pool = f"upstream app_pool {{ server {app.address}; keepalive 4; }}"
        with PooledNginx(app.url, extra_http=pool) as gw:
            d = await run(gw.url, runs=6, origin=app.address, timeout=3.0)
            log = gw.error_log_text()
    outcomes = dict(d.status_mix)
    assert outcomes.get("502", 0) >= 2 and outcomes.get("200", 0) >= 2, (outcomes, log)
    v = d.verdict
    assert (v.cause, v.hop, v.generated_by) == (Cause.PROTOCOL, Hop.EDGE_TO_ORIGIN, "nginx"), v
    assert "keep-alive race" in v.summary
    assert v.next_steps[0] == RACE_STEP


class ResetEveryOtherServer(LoopServer):
    """Answers one connection, resets the next one as soon as its request arrives, and so on:
    what a client sees through a TCP balancer whose reused backend connections the app closes."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self.read_request(reader, writer)
        if self.connections % 2:
            writer.write(build_response(200, b"ok"))
            await writer.drain()
            return
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


async def test_an_app_resetting_every_other_connection_directly_is_the_keepalive_race() -> None:
    with ResetEveryOtherServer() as app:
        d = await run(app.url, runs=6, timeout=3.0)
    outcomes = dict(d.status_mix)
    assert outcomes.get("200", 0) >= 2 and outcomes.get("premature_close", 0) >= 2, outcomes
    v = d.verdict
    assert (v.cause, v.hop, v.generated_by) == (Cause.PROTOCOL, Hop.ORIGIN, None), v
    assert "keep-alive race" in v.summary
    assert v.next_steps[0] == RACE_STEP


def test_concurrent_runs_without_the_origin_bypass_are_not_the_race() -> None:
    concurrent = decide(URL, None, _alternating(), [], [], concurrency=4)
    assert "keep-alive race" not in concurrent.summary
    origin = [origin_probe(run=r) for r in range(6)]
    checked = decide(URL, parse_origin(ORIGIN_IP, URL), _alternating(), origin, [], concurrency=4)
    assert "keep-alive race" in checked.summary
