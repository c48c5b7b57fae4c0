"""Alerts that reach people: mentions, escalation and maintenance windows, end to end.

A real loopback server goes down and up; the whole core runs (scheduler, outbox, the console
surface), with seconds where production has minutes (the grammar's floors are bypassed by
executing the command values directly, as tests of mute do).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.commands import Maintenance, Mention, MentionKind, Notify, Watch
from bot.model import AlertKind, Context, MessageRef, TextReply, WatchReply
from bot.settings import Settings
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store
from tests.bot.conftest import fast_settings, until
from tests.bot.test_monitors import FlakySurface
from tests.support import OkServer, build_response, ok_server

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
GOOD = build_response(200, b"ok")
ALICE = Mention(MentionKind.NAME, "alice")
ONCALL = Mention(MentionKind.NAME, "oncall")
ME = Context(CONSOLE, "tester")


def settings(tmp_path: Path, control: OkServer, **overrides: object) -> Settings:
    return fast_settings(tmp_path, control.url, sweep_every=0.2, **overrides)


async def watch(chat: ConsoleHarness, url: str, **options: object) -> int:
    command = Watch(url, every=1, confirm=2, **options)  # type: ignore[arg-type]
    reply = await chat.bot.execute(ME, command)
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


async def window(chat: ConsoleHarness, mid: int | None, seconds: int | None) -> TextReply:
    reply = await chat.bot.execute(ME, Maintenance(mid, seconds))
    assert isinstance(reply, TextReply), reply
    return reply


def count(chat: ConsoleHarness, sql: str, *params: object) -> int:
    return int(chat.bot.store.execute(sql, params).fetchone()[0])


def kinds(chat: ConsoleHarness) -> list[str]:
    return [r["kind"] for r in chat.bot.store.rows("SELECT kind FROM outbox ORDER BY id")]


# --------------------------------------------------------------------------------- mentions


async def test_the_down_alert_pings_the_notify_list_and_nothing_else_does(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control, reminder_interval=1.0)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE, ONCALL))
            site.response = BAD
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            assert down.delivery.alert.pings == (ALICE, ONCALL)
            assert down.text.splitlines()[0].endswith("@alice @oncall")
            reminder = await chat.pop(timeout=10)
            assert reminder.delivery.alert.kind is AlertKind.REMINDER
            assert reminder.delivery.alert.pings == ()
            assert "@alice" not in reminder.text
            site.response = GOOD
            for kind in (AlertKind.RESOLVED, AlertKind.RECOVERED):
                posted = await chat.pop(timeout=10)
                while posted.delivery.alert.kind is AlertKind.REMINDER:
                    posted = await chat.pop(timeout=10)
                assert posted.delivery.alert.kind is kind
                assert posted.delivery.alert.pings == () and "@alice" not in posted.text
            listed = await chat.push("list")
            assert f"#{mid}" in listed and "notify @alice, @oncall" in listed


async def test_notify_changes_the_list_and_a_foreign_mention_is_refused(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url)
            refused = await chat.push(f"notify {mid} <@U123ABC|alice>")
            assert "is a Slack mention" in refused and "Traceback" not in refused
            foreign = await chat.push("watch https://x.test notify=<@140000000000000004>")
            assert "is a Discord mention" in foreign
            assert count(chat, "SELECT COUNT(*) FROM monitors") == 1  # refused before a check
            said = await chat.push(f"notify {mid} @alice,@oncall escalate=15m")
            assert "pings @alice, @oncall" in said and "15m" in said
            monitor = chat.bot.store.monitor(mid)
            assert monitor is not None
            assert (monitor.notify, monitor.escalate) == ((ALICE, ONCALL), 900)
            again = await chat.push(f"watch {site.url} notify=@bobby")
            assert f"already watches {site.url} as #{mid}" in again
            assert f"notify {mid} … changes who its alerts ping" in again.replace("`", "")
            assert "no one" in await chat.push(f"notify {mid} off")
            monitor = chat.bot.store.monitor(mid)
            assert monitor is not None and (monitor.notify, monitor.escalate) == ((), None)


# ------------------------------------------------------------------------------- escalation


async def test_an_unacknowledged_incident_escalates_once_in_the_thread(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE,), escalate=2)
            site.response = BAD
            down = await chat.pop(timeout=10)
            sent = time.monotonic()
            escalation = await chat.pop(timeout=10)
            waited = time.monotonic() - sent
            alert = escalation.delivery.alert
            assert alert.kind is AlertKind.ESCALATION
            assert 2.0 - 0.5 <= waited <= 2.0 + 0.2 + 3.0  # escalate=, a sweep, slack
            assert escalation.delivery.thread == MessageRef(down.message_id)
            assert alert.pings == (ALICE,) and alert.incident_id == down.delivery.alert.incident_id
            assert alert.diagnosis == down.delivery.alert.diagnosis  # for a pager's details
            assert "not acknowledged for 2s" in escalation.text
            assert escalation.text.splitlines()[0].endswith("] @alice")
            await asyncio.sleep(1.0)  # five sweeps later: still once
            assert chat.pending() == []
            assert kinds(chat).count("escalation") == 1
            assert f"ack {mid}" in escalation.text


async def test_an_ack_before_the_escalation_time_cancels_it(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE,), escalate=1)
            site.response = BAD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
            assert "Acknowledged" in await chat.push(f"ack {mid}")
            await asyncio.sleep(2.0)
            assert chat.pending() == []
            assert "escalation" not in kinds(chat)


async def test_a_recovery_before_the_escalation_time_cancels_it(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            await watch(chat, site.url, notify=(ALICE,), escalate=2)
            site.response = BAD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
            site.response = GOOD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.RESOLVED
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.RECOVERED
            await asyncio.sleep(2.0)
            assert chat.pending() == [] and "escalation" not in kinds(chat)


async def test_an_escalation_that_fell_due_while_stopped_fires_once_after_a_restart(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        first = ConsoleHarness(settings(tmp_path, control))
        async with first:
            mid = await watch(first, site.url, notify=(ALICE,), escalate=60)
            site.response = BAD
            down = await first.pop(timeout=10)
            # The bot is stopped for longer than escalate=: its DOWN alert is made older.
            first.bot.store.execute("UPDATE outbox SET created_at = created_at - 120")
        second = ConsoleHarness(settings(tmp_path, control))
        async with second:
            escalation = await second.pop(timeout=10)
            assert escalation.delivery.alert.kind is AlertKind.ESCALATION
            assert escalation.delivery.thread == MessageRef(down.message_id)
            assert escalation.delivery.alert.monitor_id == mid
            await asyncio.sleep(1.0)
            assert second.pending() == []
        third = ConsoleHarness(settings(tmp_path, control))  # and again: nothing new
        async with third:
            await asyncio.sleep(1.0)
            assert third.pending() == []
            assert kinds(third).count("escalation") == 1


# ------------------------------------------------------------------------------ maintenance


async def test_no_alert_leaves_during_a_window_and_an_outage_still_open_at_its_end_alerts_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE,))
            said = await window(chat, mid, 4)
            assert "until" in said.text and "UTC" in said.text
            ends = time.time() + 4
            site.response = BAD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM incidents") == 1)
            listed = await chat.push("list")
            assert "maintenance until" in listed and "UTC" in listed
            await until(lambda: count(chat, "SELECT COUNT(*) FROM results WHERE ok = 0") >= 4)
            assert chat.pending() == [] and kinds(chat) == []  # checks go on, nothing leaves
            # From here only the window's end checks it: its DOWN does not wait for a
            # scheduled check (which may be a day away).
            chat.bot.schedule.remove(mid)

            down = await chat.pop(timeout=10)  # the window ends while it is still down
            assert time.time() >= ends - 0.05
            assert down.delivery.alert.kind is AlertKind.DOWN
            assert down.delivery.alert.pings == (ALICE,)
            chat.bot.schedule.add(mid, 1)
            failed = count(chat, "SELECT COUNT(*) FROM results WHERE ok = 0")
            await until(
                lambda: count(chat, "SELECT COUNT(*) FROM results WHERE ok = 0") >= failed + 2
            )
            assert chat.pending() == [] and kinds(chat) == ["down"]  # once
            assert "maintenance" not in await chat.push("list")


async def test_an_outage_inside_a_window_sends_nothing(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url)
            await window(chat, None, 4)  # all of the channel's monitors
            site.response = BAD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM incidents") == 1)
            site.response = GOOD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM incidents WHERE closed_at") == 1)
            monitor = chat.bot.store.monitor(mid)
            assert monitor is not None and monitor.maintenance_until is not None
            await until(
                lambda: count(chat, "SELECT COUNT(*) FROM monitors WHERE maintenance_until") == 0
            )
            await asyncio.sleep(0.5)  # the window is over
            assert chat.pending() == [] and kinds(chat) == []


async def test_a_window_ended_early_announces_the_open_outage_at_once(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url)
            await window(chat, mid, 3600)
            site.response = BAD
            await until(lambda: count(chat, "SELECT COUNT(*) FROM incidents") == 1)
            chat.bot.schedule.remove(mid)  # only ending the window checks it now
            await asyncio.sleep(0.5)
            assert chat.pending() == []
            assert "over" in (await window(chat, mid, None)).text
            down = await chat.pop(timeout=5)
            assert down.delivery.alert.kind is AlertKind.DOWN


async def test_a_window_after_the_alert_cancels_the_escalation_and_holds_the_recovery(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE,), escalate=2)
            site.response = BAD
            down = await chat.pop(timeout=10)
            await window(chat, mid, 4)
            ends = time.time() + 4
            details = await chat.push(f"details {mid}")
            assert "maintenance until" in details
            site.response = GOOD
            resolved = await chat.pop(timeout=10)  # the alert is marked resolved at once
            assert resolved.delivery.alert.kind is AlertKind.RESOLVED
            assert time.time() < ends
            recovered = await chat.pop(timeout=10)  # the reply waits for the window's end
            assert time.time() >= ends - 0.1
            assert recovered.delivery.alert.kind is AlertKind.RECOVERED
            assert recovered.delivery.thread == MessageRef(down.message_id)
            assert "escalation" not in kinds(chat)
            row = chat.bot.store.row("SELECT escalation FROM incidents")
            assert row == {"escalation": "cancelled"}


async def test_a_window_after_the_alert_means_no_escalation_even_after_it(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE,), escalate=2)
            site.response = BAD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
            await window(chat, mid, 1)
            await asyncio.sleep(3.5)  # the window is over, the outage is not, escalate= passed
            assert chat.pending() == [] and kinds(chat) == ["down"]


async def test_an_ack_voids_an_escalation_the_chat_has_not_taken_yet(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url, notify=(ALICE,), escalate=1)
            site.response = BAD
            assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
            chat.bot.attach(FlakySurface(chat.surface, failures=1_000))  # the chat goes down
            pending = "SELECT COUNT(*) FROM outbox WHERE kind = 'escalation' AND attempts >= 1"
            await until(lambda: count(chat, pending) == 1)
            assert "Acknowledged" in await chat.push(f"ack {mid}")
            row = chat.bot.store.row(
                "SELECT failed_at, last_error FROM outbox WHERE kind = ?", ("escalation",)
            )
            assert row is not None and row["last_error"] == "cancelled: acknowledged"
            chat.bot.attach(chat.surface)  # the chat is back: the escalation stays void
            await asyncio.sleep(2.0)
            assert chat.pending() == []


# -------------------------------------------------------------------------------- migration


def test_a_schema_3_database_gains_the_people_columns(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = sqlite_utils.Database(path)
    previous = SCHEMA_VERSION - 1
    for step in _MIGRATIONS[:previous]:
        if callable(step):
            step(db)
        else:
            db.executescript(step)
    db.execute(
        "INSERT INTO monitors (platform, workspace, channel, url, every, confirm, expect,"
        " timeout, created_by, created_at) VALUES ('console','local','console',"
        " 'https://x.test/', 30, 2, '200-399', 4.0, 'ann', 1.0)"
    )
    db.execute(f"PRAGMA user_version = {previous}")
    db.conn.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION
        monitor = store.monitor(1)
        assert monitor is not None
        assert (monitor.notify, monitor.escalate, monitor.maintenance_until) == ((), None, None)
        store.set_notify(1, "@alice,@oncall", 900)
        monitor = store.monitor(1)
        assert monitor is not None and monitor.notify == (ALICE, ONCALL)
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        columns = {r[1] for r in raw.execute("PRAGMA table_info(incidents)")}
    raw.close()
    assert "escalation" in columns


async def test_notify_of_a_monitor_of_another_channel_is_not_found(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with ConsoleHarness(settings(tmp_path, control)) as chat:
            mid = await watch(chat, site.url)
            other = Context(CONSOLE.__class__("console", "local", "elsewhere"), "eve")
            reply = await chat.bot.handle(other, Notify(mid, (ALICE,)))
            assert "no monitor" in getattr(reply, "text", "")
            reply = await chat.bot.handle(other, Maintenance(None, 60))
            assert "watches nothing" in getattr(reply, "text", "")
