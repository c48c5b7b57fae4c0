"""Monitors end to end: real servers on loopback, 1-second intervals, the whole core.

Each test drives the bot through the console harness (push a command, pop what the channel
shows), flips a real local server between healthy and failing, and asserts on the messages the
channel saw and on the rows the database holds.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from adapters.console.surface import Posted
from bot.codec import alert_to_dict
from bot.commands import Expect, Mute, Watch
from bot.errors import DeliveryError
from bot.model import (
    Alert,
    AlertKind,
    Channel,
    Context,
    Delivery,
    DiagnosisReply,
    MessageRef,
    TextReply,
    WatchReply,
)
from bot.monitoring import classify
from bot.settings import Settings
from checks import Cause
from tests.bot.conftest import fast_settings, until
from tests.support import (
    DnsStub,
    LoopServer,
    OkServer,
    build_response,
    closed_port,
    ok_server,
)
from tests.support.servers import TlsServer

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
GOOD = build_response(200, b"ok")


async def watch(
    chat: ConsoleHarness,
    url: str,
    *,
    channel: Channel = CONSOLE,
    every: int = 1,
    confirm: int = 2,
    **options: object,
) -> int:
    """Add a 1-second monitor (below the grammar's 30 s floor, as tests may) and return its id."""
    command = Watch(url, every=every, confirm=confirm, **options)  # type: ignore[arg-type]
    reply = await chat.bot.execute(Context(channel, "tester"), command)
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def kinds(posted: list[Posted]) -> list[AlertKind]:
    return [p.delivery.alert.kind for p in posted]


def count(chat: ConsoleHarness, sql: str, *params: object) -> int:
    return int(chat.bot.store.execute(sql, params).fetchone()[0])


async def test_outage_alerts_once_with_the_full_diagnosis(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            mid = await watch(chat, site.url)
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results") >= 2)
            assert chat.pending() == []
            nothing = await chat.push(f"details {mid}")
            assert f"#{mid} has no alert to detail yet" in nothing and "Traceback" not in nothing

            site.response = BAD
            flipped = time.monotonic()
            posted = await chat.pop(timeout=10)
            elapsed = time.monotonic() - flipped

            alert = posted.delivery.alert
            assert alert.kind is AlertKind.DOWN
            assert alert.monitor_id == mid
            # Within the confirm window: the next check (≤ 1 s), a re-check 0.3 s after it, the
            # 0.2 s coalescing wait, and two local checks of a few ms each; 1 s of slack.
            assert elapsed < 1 + 0.3 + 0.2 + 1.0
            text = posted.text
            # A compact card: headline, the public line (status, latency, IP), the first step.
            for shown in ("DOWN", f"#{mid}", "502", "127.0.0.1", "Next:", f"details {mid}"):
                assert shown in text
            assert len(text) <= 1200 and "Reproduce" not in text
            assert alert.diagnosis is not None
            assert alert.diagnosis.probes[0].status == 502
            # The full diagnosis is one command away: the one the alert showed.
            full = await chat.push(f"details {mid}")
            for shown in ("502", "127.0.0.1", "total", "Reproduce", "curl"):
                assert shown in full
            assert alert.diagnosis.verdict.next_steps[-1][:40] in full

            # Confirmed: the incident opened on the second consecutive failure, not the first.
            failures = chat.bot.store.rows("SELECT at FROM results WHERE ok = 0 ORDER BY at")
            opened = chat.bot.store.row("SELECT opened_at FROM incidents")
            assert opened is not None
            assert len([f for f in failures if f["at"] <= opened["opened_at"]]) == 2

            # Still failing for several more checks: no second alert.
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results WHERE ok = 0") >= 6)
            await asyncio.sleep(0.3)
            assert AlertKind.DOWN not in kinds(chat.pending())
            assert count(chat, "SELECT COUNT(*) FROM incidents") == 1


class FlappingServer(LoopServer):
    """Alternates 502 and 200 on successive requests: never two failures in a row."""

    def __init__(self) -> None:
        super().__init__()
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        self.served += 1
        writer.write(BAD if self.served % 2 else GOOD)
        await writer.drain()


async def test_a_flapping_target_does_not_alert(tmp_path: Path, control: OkServer) -> None:
    with FlappingServer() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await watch(chat, site.url)
            await until(lambda: site.served >= 8)
            await asyncio.sleep(0.3)
            assert chat.pending() == []
            assert count(chat, "SELECT COUNT(*) FROM results WHERE ok = 0") >= 3
            assert count(chat, "SELECT COUNT(*) FROM incidents") == 0


async def test_confirm_counts_consecutive_failures(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await watch(chat, site.url, confirm=4)
            site.response = BAD
            posted = await chat.pop(timeout=10)
            assert posted.delivery.alert.kind is AlertKind.DOWN
            opened = chat.bot.store.row("SELECT opened_at FROM incidents")
            assert opened is not None
            before = count(
                chat, "SELECT COUNT(*) FROM results WHERE ok = 0 AND at <= ?", opened["opened_at"]
            )
            assert before == 4


async def test_cause_change_follows_up_in_the_alert_thread(
    tmp_path: Path, control: OkServer
) -> None:
    site = ok_server()
    site.start()
    try:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            first_cause = down.delivery.alert.diagnosis.verdict.cause  # type: ignore[union-attr]

            site.stop()  # now nothing listens: connection refused, the origin is down
            follow = await chat.pop(timeout=10)
            alert = follow.delivery.alert
            assert alert.kind is AlertKind.CAUSE_CHANGED
            assert alert.previous_cause is first_cause
            assert alert.diagnosis is not None
            assert alert.diagnosis.verdict.cause is Cause.ORIGIN_DOWN
            assert follow.delivery.thread == MessageRef(down.message_id)
            assert "origin_down" in follow.text and f"thread of {down.message_id}" in follow.text
    finally:
        site.stop()


async def test_recovery_posts_downtime_in_the_thread(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=10)
            await asyncio.sleep(1.0)
            site.response = GOOD
            resolved = await chat.pop(timeout=10)  # first the alert itself, edited in place
            assert resolved.delivery.alert.kind is AlertKind.RESOLVED
            assert resolved.delivery.resolves == MessageRef(down.message_id)
            assert resolved.message_id == down.message_id
            original = resolved.delivery.original  # the DOWN alert, for surfaces that edit it
            assert original is not None and original.kind is AlertKind.DOWN
            assert original.diagnosis is not None and original.diagnosis.probes[0].status == 502
            assert f"[{down.message_id} edited]" in resolved.text and "RESOLVED" in resolved.text
            up = await chat.pop(timeout=10)  # then the reply in its thread
            alert = up.delivery.alert
            assert alert.kind is AlertKind.RECOVERED
            assert alert.monitor_id == mid
            assert up.delivery.thread == MessageRef(down.message_id)
            assert up.delivery.resolves is None  # the edit went on its own
            assert alert.downtime_s is not None and alert.downtime_s >= 1.0
            assert "RECOVERED" in up.text and "down" in up.text
            incident = chat.bot.store.row("SELECT * FROM incidents")
            assert incident is not None and incident["closed_at"] is not None
            monitor = chat.bot.store.monitor(mid)
            assert monitor is not None and monitor.state == "up" and monitor.incident_id is None


async def test_mute_holds_alerts_but_checks_go_on(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch(chat, site.url)
            assert "Muted" in await chat.push(f"mute {mid} 1h")
            site.response = BAD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results WHERE ok = 0") >= 4)
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            incident = chat.bot.store.row("SELECT * FROM incidents")
            assert incident is not None and incident["alerted"] == 0  # opened, silently

            assert "Unmuted" in await chat.push(f"unmute {mid}")
            late = await chat.pop(timeout=10)  # still down once the mute is lifted: now it alerts
            assert late.delivery.alert.kind is AlertKind.DOWN


async def test_reminders_until_acknowledged_then_recovery(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, reminder_interval=1.0)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            mid = await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=10)
            reminder = await chat.pop(timeout=10)
            assert reminder.delivery.alert.kind is AlertKind.REMINDER
            assert reminder.delivery.thread == MessageRef(down.message_id)

            assert "Acknowledged" in await chat.push(f"ack {mid}")
            assert "already acknowledged" in await chat.push(f"ack {mid}")
            await asyncio.sleep(0.5)
            chat.pending()  # a reminder already on its way when ack landed
            await asyncio.sleep(2.5)
            assert chat.pending() == []

            site.response = GOOD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.RESOLVED
            up = await chat.pop(timeout=10)
            assert up.delivery.alert.kind is AlertKind.RECOVERED


async def test_monitors_failing_together_make_one_grouped_alert(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, coalesce=2.0, group_window=30.0)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            ids = [await watch(chat, f"{site.url}{path}") for path in ("a", "b", "c")]
            other = Channel("console", "local", "elsewhere")
            elsewhere = await watch(chat, f"{site.url}d", channel=other)
            site.response = BAD
            first = await chat.pop(timeout=10)
            second = await chat.pop(timeout=10)
            by_channel = {p.delivery.channel: p for p in (first, second)}
            grouped = by_channel[CONSOLE]
            assert grouped.delivery.alert.kind is AlertKind.GROUPED
            assert sorted(a.monitor_id for a in grouped.delivery.alert.grouped) == ids
            assert "3 monitors" in grouped.text
            single = by_channel[other]
            assert single.delivery.alert.kind is AlertKind.DOWN
            assert single.delivery.alert.monitor_id == elsewhere
            await asyncio.sleep(1.0)
            assert chat.pending() == []
            site.response = GOOD
            # Four recoveries, and one edit: the DOWN that went alone is re-rendered resolved;
            # the GROUPED message stands for three incidents and is left as it is.
            ups = [await chat.pop(timeout=10) for _ in range(5)]
            edits = [p for p in ups if p.delivery.alert.kind is AlertKind.RESOLVED]
            replies = [p for p in ups if p.delivery.alert.kind is AlertKind.RECOVERED]
            assert len(edits) == 1 and len(replies) == 4
            (edit,) = edits
            assert edit.delivery.channel == other and edit.message_id == single.message_id
            assert edit.delivery.original is not None
            assert edit.delivery.original.monitor_id == elsewhere
            for up in replies:
                if up.delivery.channel == CONSOLE:
                    assert up.delivery.thread == MessageRef(grouped.message_id)
            await until(
                lambda: count(chat, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
            )
            assert chat.pending() == []


class Unreachable(LoopServer):
    """A control target that can be switched off: it then closes without answering."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        if not self.broken:
            writer.write(GOOD)
            await writer.drain()


async def test_broken_bot_network_sends_one_degraded_notice(tmp_path: Path) -> None:
    with closed_port() as site, Unreachable() as control:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            # The target refuses: no HTTP answer, so the bot's own network is in doubt.
            await watch(chat, f"{site.url}a")
            await watch(chat, f"{site.url}b")
            notice = await chat.pop(timeout=10)
            assert notice.delivery.alert.kind is AlertKind.DEGRADED
            assert "control target" in notice.text
            assert "set CHECK502_CONTROL_URL to a URL reachable" in notice.text
            assert "or to off" in notice.text
            # The monitors keep being checked; no alert for them, no second notice.
            before = count(chat, "SELECT COUNT(*) FROM results")
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results") >= before + 6)
            await asyncio.sleep(0.3)
            assert chat.pending() == []
            assert count(chat, "SELECT COUNT(*) FROM incidents") == 0

            control.broken = False  # the bot's own network is back: the real outage alerts
            seen: list[Posted] = []

            def settled() -> bool:
                seen.extend(chat.pending())
                down = [a for p in seen for a in (p.delivery.alert.grouped or [p.delivery.alert])]
                return (
                    AlertKind.RESTORED in kinds(seen)
                    and len([a for a in down if a.kind is AlertKind.DOWN]) == 2
                )

            await until(settled, 15)
            assert kinds(seen).count(AlertKind.RESTORED) == 1
            assert AlertKind.DEGRADED not in kinds(seen)


async def test_a_target_answering_502_alerts_though_the_control_url_is_unreachable(
    tmp_path: Path,
) -> None:
    # No internet egress: the default control URL cannot be reached. The target's 502 is an
    # HTTP answer, which proves the bot's network works: it alerts, no degraded notice.
    with ok_server() as site, closed_port() as control:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await watch(chat, site.url)
            site.response = BAD
            alert = await chat.pop(timeout=10)
            assert alert.delivery.alert.kind is AlertKind.DOWN
            await asyncio.sleep(0.3)
            assert AlertKind.DEGRADED not in kinds(chat.pending())
            assert count(chat, "SELECT COUNT(*) FROM incidents") == 1


async def test_a_refusing_target_is_held_back_while_the_control_url_is_unreachable(
    tmp_path: Path,
) -> None:
    with closed_port() as site, closed_port() as control:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await watch(chat, site.url)
            notice = await chat.pop(timeout=10)
            assert notice.delivery.alert.kind is AlertKind.DEGRADED
            assert "CHECK502_CONTROL_URL" in notice.text
            before = count(chat, "SELECT COUNT(*) FROM results")
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results") >= before + 3)
            assert AlertKind.DOWN not in kinds(chat.pending())
            assert count(chat, "SELECT COUNT(*) FROM incidents") == 0


class FlakySurface:
    """The console, behind a chat API that is down for the first ``failures`` deliveries."""

    def __init__(self, inner: object, failures: int, *, accepted: bool = False) -> None:
        self.inner = inner
        self.name = "console"
        self.failures = failures
        self.accepted = accepted
        self.attempts: list[tuple[float, str]] = []

    async def deliver(self, delivery: Delivery) -> MessageRef:
        self.attempts.append((time.monotonic(), delivery.key))
        if len(self.attempts) <= self.failures:
            if self.accepted:  # the platform took it, but its answer never came back
                await self.inner.deliver(delivery)  # type: ignore[attr-defined]
                raise DeliveryError("connection reset reading the response")
            raise DeliveryError("chat API unavailable (503)")
        return await self.inner.deliver(delivery)  # type: ignore[attr-defined, no-any-return]


async def test_restart_mid_incident_neither_loses_nor_repeats(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        first = ConsoleHarness(settings)
        async with first:
            first.bot.attach(FlakySurface(first.surface, failures=1_000))
            mid = await watch(first, site.url)
            site.response = BAD
            await until(
                lambda: count(first, "SELECT COUNT(*) FROM outbox WHERE attempts >= 1") == 1
            )
        assert first.posted == []  # the chat was down the whole time

        second = ConsoleHarness(settings)  # same database: a restart
        async with second:
            assert second.bot.schedule.jobs >= 1  # rebuilt from the monitors table
            down = await second.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            assert down.delivery.alert.monitor_id == mid
            await until(lambda: count(second, "SELECT COUNT(*) FROM results WHERE ok = 0") >= 6)
            await asyncio.sleep(0.3)
            assert second.pending() == []
            assert count(second, "SELECT COUNT(*) FROM incidents") == 1
            site.response = GOOD
            assert (await second.pop(timeout=10)).delivery.alert.kind is AlertKind.RESOLVED
            up = await second.pop(timeout=10)
            assert up.delivery.alert.kind is AlertKind.RECOVERED
            assert up.delivery.thread == MessageRef(down.message_id)


async def test_a_lost_answer_is_not_a_second_message(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            flaky = FlakySurface(chat.surface, failures=1, accepted=True)
            chat.bot.attach(flaky)
            await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=15)
            assert down.delivery.alert.kind is AlertKind.DOWN
            await until(lambda: len(flaky.attempts) >= 2, 10)
            keys = {key for _, key in flaky.attempts}
            assert len(keys) == 1  # the retry carried the same idempotency key
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            row = chat.bot.store.row("SELECT * FROM outbox WHERE kind = 'down'")
            assert row is not None and row["sent_at"] is not None
            assert row["message_id"] == down.message_id


class ChatApi(LoopServer):
    """A chat platform's HTTP API on loopback: 429 with Retry-After first, then accepted."""

    def __init__(self, limited: int = 1, retry_after: int = 1) -> None:
        super().__init__()
        self.limited = limited
        self.retry_after = retry_after
        self.calls: list[tuple[float, bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await self.read_request(reader, writer)
        self.calls.append((time.monotonic(), head))
        if len(self.calls) <= self.limited:
            headers = [("Retry-After", str(self.retry_after))]
            writer.write(build_response(429, b'{"ok":false}', headers))
        else:
            body = f'{{"ok":true,"id":"m{len(self.calls)}"}}'.encode()
            writer.write(build_response(200, body, [("Content-Type", "application/json")]))
        await writer.drain()


class HttpSurface:
    """A minimal surface over a chat HTTP API, mapping a 429 the way real surfaces do."""

    name = "console"

    def __init__(self, url: str) -> None:
        self.url = url

    async def deliver(self, delivery: Delivery) -> MessageRef:
        import httpx

        async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
            response = await client.post(
                self.url,
                json={"kind": delivery.alert.kind.value},
                headers={"Idempotency-Key": delivery.key},
            )
        if response.status_code == 429:
            raise DeliveryError("rate limited", retry_after=float(response.headers["Retry-After"]))
        response.raise_for_status()
        return MessageRef(response.json()["id"])


async def test_a_429_is_retried_after_retry_after_once(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site, ChatApi(limited=1, retry_after=1) as api:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            chat.bot.attach(HttpSurface(api.url))
            await watch(chat, site.url)
            site.response = BAD
            await until(
                lambda: count(chat, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL") == 1,
                15,
            )
            assert len(api.calls) == 2
            (t1, head1), (t2, head2) = api.calls
            assert t2 - t1 >= 1.0  # Retry-After honoured
            key1 = [h for h in head1.split(b"\r\n") if h.lower().startswith(b"idempotency-key")]
            key2 = [h for h in head2.split(b"\r\n") if h.lower().startswith(b"idempotency-key")]
            assert key1 == key2 and key1
            row = chat.bot.store.row("SELECT * FROM outbox")
            assert row is not None and row["message_id"] == "m2" and row["attempts"] == 1
            await asyncio.sleep(1.0)
            assert len(api.calls) == 2  # delivered once


async def test_certificate_expiry_warns_once_per_threshold(
    tmp_path: Path, control: OkServer
) -> None:
    with TlsServer(valid_days=5.5) as site, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        settings = fast_settings(
            tmp_path, control.url, resolver=dns.address, ca_bundle=site.ca_pem_path
        )
        async with ConsoleHarness(settings) as chat:
            mid = await watch(chat, f"https://shop.test:{site.port}/")
            warning = await chat.pop(timeout=10)
            assert warning.delivery.alert.kind is AlertKind.CERT_EXPIRING
            assert warning.delivery.alert.days_left == 5
            assert "expires in 5 days" in warning.text
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results") >= 4)
            assert chat.pending() == []  # 14 and 7 are both crossed: one warning, at 7
            row = chat.bot.store.row("SELECT cert_warned FROM monitors WHERE id = ?", (mid,))
            assert row == {"cert_warned": 7}


async def test_expect_codes_decide_up_and_down(tmp_path: Path, control: OkServer) -> None:
    with ok_server(status=204, body=b"") as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await watch(chat, site.url, expect=Expect.parse("200"))
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            assert down.delivery.alert.expected == "200"
            assert "expected 200" in down.text


@pytest.mark.parametrize("failures", [0, 2])
async def test_schedule_is_rebuilt_from_the_table(
    tmp_path: Path, control: OkServer, failures: int
) -> None:
    settings: Settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            ids = [await watch(chat, f"{site.url}{n}") for n in range(3)]
            await chat.push(f"unwatch {ids[failures]}")
        async with ConsoleHarness(settings) as chat:
            kept = [i for i in ids if chat.bot.schedule.scheduled(i)]
            assert kept == [i for i in ids if i != ids[failures]]
            before = count(chat, "SELECT COUNT(*) FROM results")
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results") >= before + 4)


async def test_cause_follow_ups_wait_out_the_calm_window(tmp_path: Path, control: OkServer) -> None:
    settings = fast_settings(tmp_path, control.url, followup_interval=2.5)
    site = ok_server()
    site.start()
    try:
        async with ConsoleHarness(settings) as chat:
            await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=10)
            opened = time.monotonic()
            site.stop()  # the cause changes at once...
            follow = await chat.pop(timeout=10)
            # ...but the thread hears of it only once the window since the alert has passed.
            assert follow.delivery.alert.kind is AlertKind.CAUSE_CHANGED
            assert time.monotonic() - opened >= 2.0
            assert follow.delivery.thread == MessageRef(down.message_id)
    finally:
        site.stop()


async def test_outages_soon_after_an_alert_are_grouped_at_the_window_end(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, group_window=4.0)
    with ok_server() as first_site, ok_server() as later_site:
        async with ConsoleHarness(settings) as chat:
            await watch(chat, first_site.url)
            later = [await watch(chat, f"{later_site.url}{path}") for path in ("x", "y")]
            first_site.response = BAD
            alone = await chat.pop(timeout=10)
            sent = time.monotonic()
            assert alone.delivery.alert.kind is AlertKind.DOWN
            later_site.response = BAD  # two more outages inside the window of the first alert
            grouped = await chat.pop(timeout=10)
            assert time.monotonic() - sent >= 3.5  # held to the end of the window
            assert grouped.delivery.alert.kind is AlertKind.GROUPED
            assert sorted(a.monitor_id for a in grouped.delivery.alert.grouped) == later


# ----------------------------------------------------------- mute: noise held, never the truth


async def mute(chat: ConsoleHarness, mid: int, seconds: int) -> float:
    """Mute for ``seconds`` (below the grammar's 1 min floor, as tests may); when it ends."""
    reply = await chat.bot.execute(Context(CONSOLE, "tester"), Mute(mid, seconds))
    assert isinstance(reply, TextReply) and "Muted" in reply.text, reply
    monitor = chat.bot.store.monitor(mid)
    assert monitor is not None and monitor.muted_until is not None
    return monitor.muted_until.timestamp()


async def watch_by_hand(chat: ConsoleHarness, url: str, confirm: int = 1) -> int:
    """A monitor checked only when a test says so (its first check runs as it is added)."""
    mid = await watch(chat, url, every=3600, confirm=confirm)
    chat.bot.schedule.remove(mid)
    return mid


def outbox_kinds(chat: ConsoleHarness) -> list[str]:
    return [r["kind"] for r in chat.bot.store.rows("SELECT kind FROM outbox ORDER BY id")]


async def test_an_announced_incident_closing_while_muted_is_resolved_at_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            ends = await mute(chat, mid, 5)
            site.response = GOOD

            resolved = await chat.pop(timeout=10)  # the alert itself, at once, though muted
            assert time.time() < ends
            assert resolved.delivery.alert.kind is AlertKind.RESOLVED
            assert resolved.delivery.resolves == MessageRef(down.message_id)
            assert resolved.message_id == down.message_id  # edited in place, nothing posted
            assert resolved.delivery.original is not None
            assert resolved.delivery.original.kind is AlertKind.DOWN
            assert "RESOLVED" in resolved.text
            incident = chat.bot.store.row("SELECT closed_at FROM incidents")
            assert incident is not None and incident["closed_at"] is not None

            up = await chat.pop(timeout=10)  # the reply, held back until the mute ends
            assert time.time() >= ends
            assert up.delivery.alert.kind is AlertKind.RECOVERED
            assert up.delivery.thread == MessageRef(down.message_id)
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            assert outbox_kinds(chat) == ["down", "resolved", "recovered"]


async def test_a_held_recovery_follows_the_mute_and_goes_on_unmute(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch(chat, site.url)
            site.response = BAD
            down = await chat.pop(timeout=10)
            await mute(chat, mid, 3600)
            site.response = GOOD
            resolved = await chat.pop(timeout=10)
            assert resolved.delivery.alert.kind is AlertKind.RESOLVED
            await asyncio.sleep(1.0)
            assert chat.pending() == []  # no reply while muted
            held = "SELECT not_before FROM outbox WHERE kind = 'recovered' AND sent_at IS NULL"

            ends = await mute(chat, mid, 7200)  # muted again, longer: the reply moves with it
            row = chat.bot.store.row(held)
            assert row is not None and row["not_before"] == pytest.approx(ends)

            unmuted = time.monotonic()
            assert "Unmuted" in await chat.push(f"unmute {mid}")
            up = await chat.pop(timeout=10)
            assert time.monotonic() - unmuted < 5.0
            assert up.delivery.alert.kind is AlertKind.RECOVERED
            assert up.delivery.thread == MessageRef(down.message_id)


@pytest.mark.parametrize("unmuted_as_it_heals", [False, True], ids=["closes-muted", "at-unmute"])
async def test_an_outage_never_announced_never_recovers_in_chat(
    tmp_path: Path, control: OkServer, unmuted_as_it_heals: bool
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch(chat, site.url)
            await mute(chat, mid, 3600)
            site.response = BAD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM incidents") == 1)
            if not unmuted_as_it_heals:  # it closes while still muted, then the mute is lifted
                site.response = GOOD
                await until(
                    lambda: count(chat, "SELECT COUNT(*) FROM incidents WHERE closed_at") == 1
                )
                await chat.push(f"unmute {mid}")
            else:  # lifted as it heals: the first check after the mute is healthy
                site.response = GOOD
                await chat.push(f"unmute {mid}")
                await until(
                    lambda: count(chat, "SELECT COUNT(*) FROM incidents WHERE closed_at") == 1
                )
            before = count(chat, "SELECT COUNT(*) FROM results")
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results") >= before + 2)
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            assert outbox_kinds(chat) == []
            incident = chat.bot.store.row("SELECT alerted FROM incidents")
            assert incident == {"alerted": 0}


async def test_an_outage_opened_while_muted_is_announced_when_the_mute_ends(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch(chat, site.url)
            ends = await mute(chat, mid, 4)
            site.response = BAD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM incidents") == 1)
            down = await chat.pop(timeout=10)
            assert time.time() >= ends  # not before the mute ended
            assert down.delivery.alert.kind is AlertKind.DOWN
            assert down.delivery.alert.monitor_id == mid
            site.response = GOOD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.RESOLVED
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.RECOVERED


def close_silently(chat: ConsoleHarness, mid: int) -> None:
    """What check502 before this fix did when a muted monitor's incident closed: the incident
    closed, the monitor up, and nothing queued; its alert still reads DOWN."""
    with chat.bot.store.transaction():
        chat.bot.store.execute(
            "UPDATE incidents SET closed_at = ? WHERE id ="
            " (SELECT incident_id FROM monitors WHERE id = ?)",
            (time.time(), mid),
        )
        chat.bot.store.execute(
            "UPDATE monitors SET state = 'up', fail_streak = 0, first_failure_at = NULL,"
            " incident_id = NULL WHERE id = ?",
            (mid,),
        )


async def test_unmute_mends_an_alert_an_older_version_left_reading_down(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(status=502) as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch_by_hand(chat, site.url)
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            await mute(chat, mid, 3600)
            site.response = GOOD
            close_silently(chat, mid)
            await asyncio.sleep(0.5)
            assert chat.pending() == []

            assert "Unmuted" in await chat.push(f"unmute {mid}")
            mended = await chat.pop(timeout=10)
            assert mended.delivery.alert.kind is AlertKind.RESOLVED
            assert mended.message_id == down.message_id
            assert mended.delivery.original is not None
            assert mended.delivery.original.kind is AlertKind.DOWN
            # Its recovery is old news: the edit alone, no reply now.
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            assert outbox_kinds(chat) == ["down", "resolved"]


async def test_a_restart_mends_alerts_an_older_version_left_reading_down(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server(status=502) as site:
        async with ConsoleHarness(settings) as chat:
            mid = await watch_by_hand(chat, site.url)
            down = await chat.pop(timeout=10)
            await mute(chat, mid, 3600)
            site.response = GOOD
            close_silently(chat, mid)
            chat.bot.store.set_meta("mended_silent_closes", None)  # an older version's file
        async with ConsoleHarness(settings) as upgraded:  # the same database, the new code
            mended = await upgraded.pop(timeout=10)
            assert mended.delivery.alert.kind is AlertKind.RESOLVED
            assert mended.message_id == down.message_id
            await asyncio.sleep(0.5)
            assert upgraded.pending() == []
        async with ConsoleHarness(settings) as again:  # mended once, not at every start
            await asyncio.sleep(0.5)
            assert again.pending() == []
            assert outbox_kinds(again) == ["down", "resolved"]


async def test_a_database_this_version_opened_before_is_not_swept_again(
    tmp_path: Path, control: OkServer
) -> None:
    """The start-up sweep reads every closed incident, so it runs once per file: a silent
    close made after this version first opened the file is not looked for at the next start
    (only ``unmute`` mends its own monitor)."""
    settings = fast_settings(tmp_path, control.url)
    with ok_server(status=502) as site:
        async with ConsoleHarness(settings) as chat:
            mid = await watch_by_hand(chat, site.url)
            await chat.pop(timeout=10)
            await mute(chat, mid, 3600)
            site.response = GOOD
            close_silently(chat, mid)
            assert chat.bot.store.get_meta("mended_silent_closes") is not None
        async with ConsoleHarness(settings) as later:
            await asyncio.sleep(0.5)
            assert later.pending() == []
            assert outbox_kinds(later) == ["down"]


# ------------------------------------------------------------------------------------ Re-check


async def test_recheck_after_a_fix_closes_the_incident(tmp_path: Path, control: OkServer) -> None:
    with ok_server(status=502) as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch_by_hand(chat, site.url)
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            site.response = GOOD

            reply = await chat.bot.recheck(Context(CONSOLE, "tester"), mid)
            assert isinstance(reply, DiagnosisReply) and reply.monitor_id == mid
            assert reply.diagnosis.probes[0].status == 200
            resolved = await chat.pop(timeout=10)
            assert resolved.delivery.alert.kind is AlertKind.RESOLVED
            assert resolved.message_id == down.message_id
            up = await chat.pop(timeout=10)
            assert up.delivery.alert.kind is AlertKind.RECOVERED
            assert up.delivery.thread == MessageRef(down.message_id)
            # Recorded like a scheduled check: its result, and the state it set.
            assert count(chat, "SELECT COUNT(*) FROM results WHERE ok = 1") == 1
            monitor = chat.bot.store.monitor(mid)
            assert monitor is not None and monitor.state == "up" and monitor.incident_id is None
            assert count(chat, "SELECT COUNT(*) FROM incidents WHERE closed_at IS NULL") == 0


async def test_recheck_of_a_failing_target_counts_towards_an_incident(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch_by_hand(chat, site.url, confirm=2)
            site.response = BAD
            reply = await chat.bot.recheck(Context(CONSOLE, "tester"), mid)
            assert isinstance(reply, DiagnosisReply)
            assert reply.diagnosis.probes[0].status == 502
            monitor = chat.bot.store.monitor(mid)
            assert monitor is not None and monitor.fail_streak == 1 and monitor.state == "up"
            # The first failure asks for the quick re-check, as a scheduled one does: it opens.
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN


class TimedServer(OkServer):
    """An origin answering after ``delay``, noting when each request came and was answered."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay=delay)
        self.spans: list[tuple[float, float]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        came = time.monotonic()
        await asyncio.sleep(self.delay)
        writer.write(self.response)
        await writer.drain()
        self.spans.append((came, time.monotonic()))


async def test_recheck_during_a_scheduled_check_waits_and_applies_once(
    tmp_path: Path, control: OkServer
) -> None:
    with TimedServer(delay=0.0) as site:
        site.response = BAD
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch_by_hand(chat, site.url)
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            site.response, site.delay = GOOD, 0.8
            served, asked = len(site.spans), len(site.requests)
            scheduled = asyncio.create_task(chat.bot.monitoring.check(mid))
            await until(lambda: len(site.requests) > asked)  # the scheduled check is in flight
            reply = await chat.bot.recheck(Context(CONSOLE, "tester"), mid)
            applied = await scheduled
            assert applied is not None and applied.outcome.ok
            assert isinstance(reply, DiagnosisReply) and reply.diagnosis.probes[0].status == 200

            # Two checks, one after the other, both recorded; the incident closed once.
            await until(lambda: len(site.spans) >= served + 2)
            first, second = site.spans[served:]
            assert second[0] >= first[1]
            # The second is a healthy check of a monitor up again: written with its batch.
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results WHERE ok = 1") == 2, 2)
            assert [p.delivery.alert.kind for p in [await chat.pop(), await chat.pop()]] == [
                AlertKind.RESOLVED,
                AlertKind.RECOVERED,
            ]
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            assert outbox_kinds(chat) == ["down", "resolved", "recovered"]


async def test_a_stale_snapshot_cannot_close_an_incident_twice(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(status=502) as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch_by_hand(chat, site.url)
            await chat.pop(timeout=10)
            site.response = GOOD
            snapshot = chat.bot.store.monitor(mid)  # read as down by two writers
            assert snapshot is not None and snapshot.state == "down"
            monitoring = chat.bot.monitoring
            outcome = classify(await monitoring.diagnose_monitor(snapshot), snapshot.expect)
            assert monitoring.apply(snapshot, outcome).alerts == 2  # resolved, recovered
            closed = chat.bot.store.row("SELECT closed_at FROM incidents")
            assert monitoring.apply(snapshot, outcome).alerts == 0
            assert chat.bot.store.row("SELECT closed_at FROM incidents") == closed
            assert outbox_kinds(chat) == ["down", "resolved", "recovered"]


class EditFailsOnce:
    """The console, behind a chat API whose first edit of a message fails."""

    name = "console"

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.failed = False

    async def deliver(self, delivery: Delivery) -> MessageRef:
        if delivery.alert.kind is AlertKind.RESOLVED and not self.failed:
            self.failed = True
            raise DeliveryError("chat API unavailable (503)")
        return await self.inner.deliver(delivery)  # type: ignore[attr-defined, no-any-return]


async def test_the_recovery_reply_waits_for_the_alert_to_be_marked_resolved(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(status=502) as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            flaky = EditFailsOnce(chat.surface)
            chat.bot.attach(flaky)
            mid = await watch_by_hand(chat, site.url)
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
            site.response = GOOD
            assert await chat.bot.monitoring.check(mid) is not None
            chat.bot.sender.wake()
            await until(lambda: flaky.failed)
            first, second = await chat.pop(timeout=10), await chat.pop(timeout=10)
            assert [first.delivery.alert.kind, second.delivery.alert.kind] == [
                AlertKind.RESOLVED,
                AlertKind.RECOVERED,
            ]


async def test_a_recovery_queued_by_an_older_version_still_marks_its_alert_resolved(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(status=502) as site:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            mid = await watch_by_hand(chat, site.url)
            down = await chat.pop(timeout=10)
            # As the older version queued a recovery: one row that also carries the edit.
            incident = chat.bot.store.row("SELECT * FROM incidents")
            assert incident is not None
            close_silently(chat, mid)
            alert = Alert(
                AlertKind.RECOVERED,
                datetime.now(UTC),
                monitor_id=mid,
                url=site.url,
                incident_id=incident["id"],
                down_since=datetime.fromtimestamp(incident["first_failure_at"], UTC),
            )
            with chat.bot.store.transaction():
                chat.bot.store.enqueue(
                    CONSOLE,
                    alert,
                    key=f"recovered:{incident['id']}",
                    now=time.time(),
                    payload=alert_to_dict(alert),
                )
            chat.bot.sender.wake()
            up = await chat.pop(timeout=10)
            assert up.delivery.alert.kind is AlertKind.RECOVERED
            assert up.delivery.resolves == MessageRef(down.message_id)
            assert up.delivery.original is not None
            assert up.delivery.original.kind is AlertKind.DOWN
            assert f"(alert {down.message_id} marked resolved)" in up.text
