"""The bot as a chat sees it: monitors scoped to their channel, limits, help, history, failures.

Every test drives a whole bot through :class:`adapters.console.ConsoleHarness` against real
servers on 127.0.0.1 (loopback opted in by the policy), and asserts on the reply values.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleHarness
from bot.commands import USAGE
from bot.model import (
    Channel,
    Context,
    DiagnosisReply,
    ErrorReply,
    ExplainReply,
    HistoryReply,
    ListReply,
    Reply,
    TextReply,
    WatchReply,
)
from bot.settings import Settings
from checks import AddressPolicy, Cause
from tests.bot.conftest import fast_settings
from tests.support import OkServer, build_response, ok_server

A = Channel("console", "w1", "a")
NOT_A = [
    pytest.param(Channel("console", "w1", "b"), id="same-workspace-other-channel"),
    pytest.param(Channel("console", "w2", "a"), id="same-channel-name-other-workspace"),
    pytest.param(Channel("slack", "w1", "a"), id="other-platform"),
]
NO_SUCH = "There is no monitor #1 in this channel"
RARELY = "every=24h"  # the scheduler stays out of the way: the tests run the checks themselves


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    loopback = {"policy": AddressPolicy.allowing("127.0.0.1"), "coalesce": 0.0}
    return fast_settings(tmp_path, None, **{**loopback, **overrides})


def _reply(chat: ConsoleHarness) -> Reply | None:
    """The last reply, typed afresh (a push changes it behind the type checker's back)."""
    return chat.last_reply


@pytest.fixture
def server() -> Iterator[OkServer]:
    with ok_server() as running:
        yield running


# ------------------------------------------------------------------------------------ scoping


@pytest.mark.parametrize("other", NOT_A)
async def test_a_monitor_is_invisible_and_untouchable_from_another_channel(
    tmp_path: Path, server: OkServer, other: Channel
) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push(f"watch {server.url} {RARELY}", channel=A)
        assert isinstance(chat.last_reply, WatchReply), chat.last_reply
        assert chat.last_reply.monitor.id == 1

        await chat.push("list", channel=other)
        assert _reply(chat) == ListReply(())
        for command in ("unwatch 1", "mute 1 1h", "unmute 1", "ack 1", "history 1"):
            text = await chat.push(command, channel=other)
            assert isinstance(chat.last_reply, ErrorReply), (command, chat.last_reply)
            assert NO_SUCH in chat.last_reply.text, (command, chat.last_reply.text)
            assert NO_SUCH in text
        # The Re-check button of a surface is scoped the same way.
        recheck = await chat.bot.recheck(Context(other, "mallory"), 1)
        assert isinstance(recheck, ErrorReply) and NO_SUCH in recheck.text
        requests_before = len(server.requests)

        # Nothing changed for the owner: still there, not muted, still scheduled.
        await chat.push("list", channel=A)
        assert isinstance(chat.last_reply, ListReply)
        (monitor,) = chat.last_reply.monitors
        assert monitor.id == 1 and monitor.url == server.url
        assert monitor.muted_until is None
        assert chat.bot.schedule.scheduled(1)
        await chat.push("history 1", channel=A)
        assert isinstance(chat.last_reply, HistoryReply)
        assert len(chat.last_reply.checks) == 1  # the first check only: no re-check ran

        # The other channel may watch the same URL: duplicates are per channel.
        await chat.push(f"watch {server.url} {RARELY}", channel=other)
        assert isinstance(chat.last_reply, WatchReply), chat.last_reply
        assert chat.last_reply.monitor.id == 2
    assert len(server.requests) == requests_before + 1


async def test_a_second_watch_of_the_same_url_names_the_first(
    tmp_path: Path, server: OkServer
) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push(f"watch {server.url} {RARELY}", channel=A)
        assert isinstance(chat.last_reply, WatchReply)
        await chat.push(f"/check502 watch {server.url} every=1h", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "#1" in chat.last_reply.text
        await chat.push("list", channel=A)
        assert isinstance(chat.last_reply, ListReply)
        assert [m.id for m in chat.last_reply.monitors] == [1]


async def test_the_monitors_of_a_channel_are_capped(tmp_path: Path, server: OkServer) -> None:
    async with ConsoleHarness(_settings(tmp_path, max_monitors_per_channel=2)) as chat:
        for path in ("one", "two"):
            await chat.push(f"watch {server.url}{path} {RARELY}", channel=A)
            assert isinstance(chat.last_reply, WatchReply), chat.last_reply
        requests = len(server.requests)
        await chat.push(f"watch {server.url}three {RARELY}", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "unwatch" in chat.last_reply.text
        assert len(server.requests) == requests  # refused before it checked anything
        await chat.push("list", channel=A)
        assert isinstance(chat.last_reply, ListReply)
        assert [m.url for m in chat.last_reply.monitors] == [
            f"{server.url}one",
            f"{server.url}two",
        ]
        # Another channel has its own allowance.
        await chat.push(f"watch {server.url}three {RARELY}", channel=Channel("console", "w1", "b"))
        assert isinstance(chat.last_reply, WatchReply), chat.last_reply


async def test_ack_without_an_open_incident_is_refused(tmp_path: Path, server: OkServer) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push(f"watch {server.url} {RARELY}", channel=A)
        await chat.push("ack 1", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "no open incident" in chat.last_reply.text


# -------------------------------------------------------------------------------- rate limits

TOO_MANY = re.compile(r"Too many checks .*try again in \d+ s")


async def test_checks_are_limited_per_user_and_per_channel(
    tmp_path: Path, server: OkServer
) -> None:
    b = Channel("console", "w1", "b")
    async with ConsoleHarness(_settings(tmp_path, rate_user=2, rate_channel=3)) as chat:
        for _ in range(2):
            await chat.push(server.url, user="ann", channel=A)
            assert isinstance(chat.last_reply, DiagnosisReply), chat.last_reply
        sent = len(server.requests)

        await chat.push(server.url, user="ann", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert TOO_MANY.search(chat.last_reply.text), chat.last_reply.text
        assert len(server.requests) == sent  # a refused check sends nothing

        # Another user of the same channel gets the channel's third check, then the channel
        # limit refuses them too.
        await chat.push(server.url, user="bob", channel=A)
        assert isinstance(chat.last_reply, DiagnosisReply), chat.last_reply
        await chat.push(server.url, user="bob", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert TOO_MANY.search(chat.last_reply.text), chat.last_reply.text
        # A watch is a check too.
        await chat.push(f"watch {server.url} {RARELY}", user="cid", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert TOO_MANY.search(chat.last_reply.text), chat.last_reply.text

        # A user in another channel is unaffected.
        await chat.push(server.url, user="dee", channel=b)
        assert isinstance(chat.last_reply, DiagnosisReply), chat.last_reply
    assert len(server.requests) == 4


# ------------------------------------------------------------------------- help and explain


@pytest.mark.parametrize("text", ["help", "/check502 help", "", "   ", "/check502"])
async def test_help_lists_every_command(tmp_path: Path, text: str) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        rendered = await chat.push(text, channel=A)
    assert isinstance(chat.last_reply, TextReply), chat.last_reply
    for usage in USAGE.values():
        assert usage in chat.last_reply.text
    assert USAGE["watch"] in rendered


async def test_help_on_one_command(tmp_path: Path) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push("help watch", channel=A)
        assert isinstance(chat.last_reply, TextReply), chat.last_reply
        assert USAGE["watch"] in chat.last_reply.text
        assert "Example:" in chat.last_reply.text
        assert USAGE["mute"] not in chat.last_reply.text
        await chat.push("help wtach", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "did you mean watch" in chat.last_reply.text


@pytest.mark.parametrize(("typed", "suggested"), [("lst", "list"), ("wtach", "watch")])
async def test_an_unknown_command_gets_a_suggestion(
    tmp_path: Path, typed: str, suggested: str
) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        text = await chat.push(f"/check502 {typed} 1", channel=A)
    assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
    assert f"did you mean {suggested}" in chat.last_reply.text
    assert text.startswith("✗ ")


async def test_explain_a_pasted_log_line(tmp_path: Path) -> None:
    line = "connect() failed (111: Connection refused) while connecting to upstream"
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        text = await chat.push(f"explain {line}", channel=A)
    assert isinstance(chat.last_reply, ExplainReply), chat.last_reply
    assert chat.last_reply.explanation.cause is Cause.ORIGIN_DOWN
    assert "origin_down" in text


# ------------------------------------------------------------------------------------ history


async def test_history_reports_uptime_latency_and_the_checks_newest_first(
    tmp_path: Path, server: OkServer
) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push(f"watch {server.url} {RARELY} confirm=2", channel=A)
        assert isinstance(chat.last_reply, WatchReply), chat.last_reply
        monitor_id = chat.last_reply.monitor.id
        monitoring = chat.bot.monitoring
        for _ in range(2):
            assert await monitoring.check(monitor_id) is not None
        server.response = build_response(502, b"x")
        for _ in range(2):  # confirm=2: the second failure opens an incident
            assert await monitoring.check(monitor_id) is not None

        text = await chat.push(f"history #{monitor_id}", channel=A)
        history = chat.last_reply
        assert isinstance(history, HistoryReply), history
        assert history.monitor.id == monitor_id and history.monitor.state == "down"
        assert history.checks_24h == 5
        assert history.uptime_24h == pytest.approx(3 / 5)
        assert history.uptime_7d == pytest.approx(3 / 5)
        assert history.p50_ms is not None and history.p95_ms is not None
        assert 0 < history.p50_ms <= history.p95_ms
        assert [c.outcome for c in history.checks] == ["502", "502", "200", "200", "200"]
        assert [c.ok for c in history.checks] == [False, False, True, True, True]
        times = [c.at for c in history.checks]
        assert times == sorted(times, reverse=True)
        assert all(c.ip == "127.0.0.1" for c in history.checks)
        (incident,) = history.incidents
        assert incident.closed_at is None and incident.acked_by is None
        assert "60.00%" in text and "(5 checks)" in text

        # The incident alerted the channel once, and can now be acknowledged once.
        alert = await chat.pop(timeout=10)
        assert alert.delivery.channel == A
        assert f"DOWN #{monitor_id}" in alert.text
        await chat.push(f"ack {monitor_id}", user="ann", channel=A)
        assert isinstance(chat.last_reply, TextReply), chat.last_reply
        await chat.push(f"ack {monitor_id}", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert "already acknowledged" in chat.last_reply.text
        await chat.push(f"history {monitor_id}", channel=A)
        assert isinstance(chat.last_reply, HistoryReply)
        assert chat.last_reply.incidents[0].acked_by == "ann"


# ---------------------------------------------------------------------------- internal errors


async def test_an_internal_error_is_one_sentence_and_no_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        chat.bot.store.close()
        text = await chat.push("list", channel=A)
        assert isinstance(chat.last_reply, ErrorReply), chat.last_reply
        assert chat.last_reply.text.startswith("Something went wrong on our side")
        assert "Traceback" not in text and "ProgrammingError" not in text
        assert "\n" not in chat.last_reply.text
    # The details went to the log, not to the chat.
    assert any(r.name == "check502.bot" and r.exc_info for r in caplog.records)


async def test_retention_prunes_a_large_backlog_in_steps(tmp_path: Path) -> None:
    settings = _settings(tmp_path, retention_days=1)
    async with ConsoleHarness(settings) as chat:
        store = chat.bot.store
        old = time.time() - 3 * 86400
        rows = [(1, old + i, 1, "200", "ok") for i in range(5_000)]
        rows += [(1, time.time(), 1, "200", "ok")] * 3
        with store.transaction():
            store.db.conn.executemany(
                "INSERT INTO results (monitor_id, at, ok, outcome, cause) VALUES (?,?,?,?,?)",
                rows,
            )
        await chat.bot.prune()
        assert store.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 3
