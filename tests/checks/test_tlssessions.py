"""TLS session resumption on the monitoring path, against a real loopback TLS server that
records, on its own side, whether each handshake resumed a session."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
import uvloop

from checks import Cause, Diagnosis, TlsSessions
from tests.checks.conftest import run
from tests.support import DnsStub, TlsServer


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class ResumeRecordingServer(TlsServer):
    """A TLS origin (``shop.test``) noting ``session_reused`` as the server saw each handshake.

    ``tickets=False`` makes it refuse resumption (no TLS 1.3 tickets, no TLS 1.2 tickets, no
    session cache): every handshake is a full one."""

    def __init__(self, *, tickets: bool = True, status: int = 200) -> None:
        super().__init__("valid", status=status)
        self.reused: list[bool] = []
        context = self._tls_context
        assert context is not None
        if not tickets:
            context.num_tickets = 0
            context.options |= ssl.OP_NO_TICKET

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reused.append(writer.get_extra_info("ssl_object").session_reused)
        await super().handle(reader, writer)


async def _check(server: TlsServer, dns: DnsStub, **kwargs: Any) -> Diagnosis:
    return await run(
        f"https://shop.test:{server.port}/",
        resolver=dns.address,
        ca_bundle=server.ca_pem_path,
        **kwargs,
    )


async def test_the_second_healthy_check_resumes_and_keeps_the_certificate_facts() -> None:
    clock = Clock()
    sessions = TlsSessions(clock=clock)
    with ResumeRecordingServer() as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        first = await _check(server, dns, tls_sessions=sessions)
        clock.now += 60
        second = await _check(server, dns, tls_sessions=sessions)
        reused = list(server.reused)
    assert reused == [False, True]
    assert (sessions.full, sessions.resumed) == (1, 1)
    assert first.verdict.cause is Cause.OK and second.verdict.cause is Cause.OK
    one, two = first.probes[0].tls, second.probes[0].tls
    assert one is not None and two is not None and two.verified
    assert (two.subject, two.issuer, two.sans, two.not_after) == (
        one.subject,
        one.issuer,
        one.sans,
        one.not_after,
    )
    assert two.days_left == one.days_left and two.version == one.version


async def test_a_full_handshake_comes_back_every_refresh_period() -> None:
    clock = Clock()
    sessions = TlsSessions(refresh=600, clock=clock)
    with ResumeRecordingServer() as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        for _ in range(3):  # 0, 299 and 598 s: one full handshake, then resumed
            await _check(server, dns, tls_sessions=sessions)
            clock.now += 299
        clock.now += 5  # 602 s after the full handshake
        await _check(server, dns, tls_sessions=sessions)
        await _check(server, dns, tls_sessions=sessions)
        reused = list(server.reused)
    assert reused == [False, True, True, False, True]
    assert (sessions.full, sessions.resumed) == (2, 3)


async def test_a_server_that_refuses_resumption_still_gets_checked() -> None:
    sessions = TlsSessions()
    with (
        ResumeRecordingServer(tickets=False) as server,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        results = [await _check(server, dns, tls_sessions=sessions) for _ in range(3)]
        reused = list(server.reused)
    assert reused == [False, False, False]
    assert all(d.verdict.cause is Cause.OK and d.probes[0].status == 200 for d in results)
    assert all(d.probes[0].tls is not None and d.probes[0].tls.verified for d in results)
    assert sessions.resumed == 0


async def test_a_failing_check_forgets_its_session() -> None:
    sessions = TlsSessions()
    with (
        ResumeRecordingServer(status=502) as server,
        DnsStub({"shop.test": ["127.0.0.1"]}) as dns,
    ):
        await _check(server, dns, tls_sessions=sessions)
        await _check(server, dns, tls_sessions=sessions)
        reused = list(server.reused)
    assert reused == [False, False]
    assert len(sessions) == 0


async def test_one_off_checks_never_resume() -> None:
    with ResumeRecordingServer() as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        await _check(server, dns)
        await _check(server, dns)
        reused = list(server.reused)
    assert reused == [False, False]


def test_resumption_works_on_uvloop_too() -> None:
    """uvloop runs the handshake in the transport's context, not the start_tls caller's."""

    async def twice() -> list[bool]:
        sessions = TlsSessions()
        with ResumeRecordingServer() as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
            await _check(server, dns, tls_sessions=sessions)
            await _check(server, dns, tls_sessions=sessions)
            return list(server.reused)

    assert uvloop.run(twice()) == [False, True]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="refresh"):
        TlsSessions(refresh=0)
    with pytest.raises(ValueError, match="max_entries"):
        TlsSessions(max_entries=0)
