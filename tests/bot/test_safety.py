"""SSRF: what a chat user types never makes the bot connect to an internal address.

With the default policy (nothing allowed) every refused address class is refused before any
connection, for ``check`` and ``watch`` alike, and a refused ``watch`` creates no monitor. A name
that resolves to loopback, a redirect to a private or metadata address and an origin bypass to a
metadata address are refused too. Loopback works only when an operator opts in.

Only the literal addresses below are ever typed; the policy refuses them before connecting, so
nothing leaves the machine, and the servers that do answer are real ones on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.model import DiagnosisReply, ErrorReply, ListReply, Reply, WatchReply
from bot.settings import Settings
from checks import AddressPolicy, Cause, ErrorKind, Probe
from tests.support import DnsStub, OkServer, ok_server, redirect_server

ONLY_LOOPBACK_V4 = AddressPolicy.allowing("127.0.0.1")


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    """A bot with the default (refuse everything internal) policy unless told otherwise.

    The rate limits are raised so that the refusals below, which spend a check each, never hit
    them; the control target is off, so the bot itself probes nothing on its own.
    """
    values: dict[str, Any] = {
        "db_path": str(tmp_path / "bot.db"),
        "control_url": None,
        "min_interval": 1,
        "rate_user": 1000,
        "rate_channel": 1000,
    }
    values.update(overrides)
    return Settings(**values)


def _public(reply: object) -> list[Probe]:
    assert isinstance(reply, DiagnosisReply | WatchReply), reply
    return [p for p in reply.diagnosis.probes if p.target == "public" and not p.protocol_retry]


def _reply(chat: ConsoleHarness) -> Reply | None:
    """The last reply, typed afresh (a push changes it behind the type checker's back)."""
    return chat.last_reply


@pytest.fixture
def server() -> Iterator[OkServer]:
    with ok_server() as running:
        yield running


REFUSED = [
    pytest.param("http://127.0.0.1:{port}/", "loopback", id="loopback-v4"),
    pytest.param("http://10.0.0.1/", "private", id="private-10"),
    pytest.param("http://172.16.0.1/", "private", id="private-172.16"),
    pytest.param("http://192.168.1.1/", "private", id="private-192.168"),
    pytest.param("http://100.64.0.1/", "shared", id="shared-cgnat"),
    pytest.param("http://169.254.169.254/latest/meta-data/", "metadata", id="metadata-ip"),
    pytest.param("http://[::1]/", "loopback", id="loopback-v6"),
    pytest.param("http://[fe80::1]/", "link-local", id="link-local-v6"),
    pytest.param("http://[fc00::1]/", "unique-local", id="unique-local-v6"),
    pytest.param("http://224.0.0.1/", "multicast", id="multicast"),
    pytest.param("http://0.0.0.0/", "unspecified", id="unspecified"),
    pytest.param("http://[::ffff:127.0.0.1]/", "loopback", id="v4-mapped-loopback"),
    pytest.param("http://metadata.google.internal/", "metadata", id="metadata-name"),
]


@pytest.mark.parametrize(("url", "label"), REFUSED)
async def test_default_policy_refuses_every_internal_class(
    tmp_path: Path, server: OkServer, url: str, label: str
) -> None:
    target = url.format(port=server.port)
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        text = await chat.push(f"/check502 {target}")
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert label in chat.last_reply.text, chat.last_reply.text
        assert label in text and "Traceback" not in text

        await chat.push(f"/check502 watch {target}")
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert label in chat.last_reply.text, chat.last_reply.text

        await chat.push("/check502 list")
        assert _reply(chat) == ListReply(())
        assert chat.bot.store.schedule_rows() == []
        assert not chat.bot.schedule.scheduled(1)
    assert list(server.requests) == []


async def test_a_name_that_resolves_to_loopback_is_refused(
    tmp_path: Path, server: OkServer
) -> None:
    with DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        settings = _settings(tmp_path, resolver=dns.address)
        async with ConsoleHarness(settings) as chat:
            await chat.push(f"/check502 http://shop.test:{server.port}/")
            assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
            assert "loopback" in chat.last_reply.text

            await chat.push(f"/check502 watch http://shop.test:{server.port}/")
            assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
            assert "loopback" in chat.last_reply.text
            assert chat.bot.store.schedule_rows() == []
    # The name was looked up (the refusal is of the address it resolved to), then nothing sent.
    assert any(name == "shop.test" for _, name, _ in dns.queries)
    assert list(server.requests) == []


async def test_a_redirect_to_a_private_address_is_refused_at_that_hop(tmp_path: Path) -> None:
    with redirect_server("http://10.0.0.1/admin") as hop:
        async with ConsoleHarness(_settings(tmp_path, policy=ONLY_LOOPBACK_V4)) as chat:
            text = await chat.push(f"/check502 {hop.url}")
            reply = chat.last_reply
        assert isinstance(reply, DiagnosisReply), reply
        (probe,) = _public(reply)
        assert probe.error is not None
        assert probe.error.kind is ErrorKind.BLOCKED_ADDRESS, probe.error
        assert "private" in probe.error.message
        assert probe.url == "http://10.0.0.1/admin"
        assert probe.ip is None and probe.status is None and probe.timings.connect is None
        # The refused hop says how it was reached: the redirect the bot followed.
        assert probe.redirects == (hop.url,), probe.redirects
        assert reply.diagnosis.verdict.cause is not Cause.OK
        assert "private" in text
        assert len(hop.requests) == 1  # the first hop was asked, once; the second never


async def test_a_monitor_whose_target_redirects_to_metadata_is_refused(tmp_path: Path) -> None:
    with redirect_server("http://169.254.169.254/latest/meta-data/") as hop:
        async with ConsoleHarness(_settings(tmp_path, policy=ONLY_LOOPBACK_V4)) as chat:
            text = await chat.push(f"/check502 watch {hop.url} every=24h")
            reply = chat.last_reply
            assert isinstance(reply, ErrorReply), reply
            assert "metadata" in reply.text and "metadata" in text
            assert chat.bot.store.monitors_in(CONSOLE) == ()
            assert chat.bot.schedule.jobs == 2  # only the retention job and the sweep
    assert len(hop.requests) == 1  # the first hop was asked once; never the metadata address


async def test_an_origin_bypass_to_metadata_is_refused_before_anything_is_sent(
    tmp_path: Path, server: OkServer
) -> None:
    async with ConsoleHarness(_settings(tmp_path, policy=ONLY_LOOPBACK_V4)) as chat:
        text = await chat.push(f"/check502 {server.url} origin=169.254.169.254")
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "metadata" in chat.last_reply.text
        assert "metadata" in text

        await chat.push(f"/check502 watch {server.url} origin=169.254.169.254")
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "metadata" in chat.last_reply.text
        assert chat.bot.store.schedule_rows() == []
    assert list(server.requests) == []


async def _loopback_check_works(settings: Settings, server: OkServer) -> None:
    async with ConsoleHarness(settings) as chat:
        text = await chat.push(f"/check502 {server.url}")
        reply = chat.last_reply
    assert isinstance(reply, DiagnosisReply), reply
    assert [p.status for p in _public(reply)] == [200]
    assert reply.diagnosis.verdict.cause is Cause.OK
    assert "healthy" in text
    assert len(server.requests) == 1


async def test_loopback_works_when_the_policy_allows_it(tmp_path: Path, server: OkServer) -> None:
    await _loopback_check_works(_settings(tmp_path, policy=ONLY_LOOPBACK_V4), server)


async def test_loopback_works_when_the_environment_allows_it(
    tmp_path: Path, server: OkServer
) -> None:
    settings = Settings.from_env(
        {
            "CHECK502_ALLOW_NETWORKS": "127.0.0.1",
            "CHECK502_DB": str(tmp_path / "bot.db"),
            "CHECK502_CONTROL_URL": "off",
        }
    )
    assert settings.policy == ONLY_LOOPBACK_V4
    await _loopback_check_works(settings, server)
