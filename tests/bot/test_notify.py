"""Notification targets end to end, in process: a real loopback target goes down and back up,
and the chat, the webhook receiver, PagerDuty and the SMTP server each see each event once.

The receivers are real (tests/support/receivers.py); the bot is the whole core driven through
the console harness, its targets built from the environment variables an operator would set.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import sqlite_utils

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from adapters.notify import NotifyConfig, build_notifiers
from bot.commands import Watch
from bot.commands.mentions import parse_mentions
from bot.model import AlertKind, Context, WatchReply
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store
from tests.bot.conftest import fast_settings, until
from tests.support import OkServer, build_response, ok_server
from tests.support.receivers import PagerDutyFake, SmtpServer, WebhookReceiver, notify_env

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
GOOD = build_response(200, b"ok")


async def watch(chat: ConsoleHarness, url: str, **options: object) -> int:
    command = Watch(url, every=1, confirm=2, **options)  # type: ignore[arg-type]
    reply = await chat.bot.execute(Context(CONSOLE, "ana"), command)
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def pending_targets(chat: ConsoleHarness) -> list[dict[str, object]]:
    return chat.bot.store.rows(
        "SELECT key, attempts, last_error FROM outbox WHERE target IS NOT NULL AND sent_at IS NULL"
    )


async def test_an_outage_reaches_every_target_once_with_a_receiver_down_for_a_while(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, public_url="https://bot.example.com")
    with ok_server() as site, SmtpServer() as smtp:
        async with WebhookReceiver() as hooks, PagerDutyFake() as pd:
            config = NotifyConfig.from_env(notify_env(hooks, pd, smtp), ca_bundle=smtp.ca_file)
            notifiers = build_notifiers(config)
            async with ConsoleHarness(settings, notifiers=notifiers) as chat:
                assert "status" in (await chat.push("status on")).lower()
                mid = await watch(chat, site.url, notify=parse_mentions("@alice,@oncall"))
                hooks.fail(503, 1)  # the webhook receiver is down for the first attempt
                pd.throttle(1, retry_after=1.5)  # and PagerDuty asks to wait before the trigger

                site.response = BAD
                down = await chat.pop(timeout=10)
                assert down.delivery.alert.kind is AlertKind.DOWN
                assert down.text.splitlines()[0].endswith("@alice @oncall")  # it pings its people
                incident = down.delivery.alert.incident_id
                dedup = f"check502-{incident}"
                # Acknowledged while the trigger waits out its Retry-After: the acknowledge
                # goes after the trigger, never before it.
                await until(lambda: pd.throttled == 1)
                assert pd.calls == []
                assert "Acknowledged" in await chat.push(f"ack {mid}")
                await pd.wait("acknowledge", timeout=10)
                assert pd.actions(dedup) == ["trigger", "acknowledge"]
                await hooks.wait("monitor.down", timeout=10)  # its retry, ~2 s later
                await hooks.wait("monitor.acknowledged", timeout=10)
                await until(lambda: len(smtp.received) >= 1)
                trigger = pd.of("trigger")[0].body
                assert trigger["links"][0]["href"].startswith("https://bot.example.com/status/")
                assert trigger["payload"]["source"] == "127.0.0.1"

                site.response = GOOD
                after = [await chat.pop(timeout=10) for _ in range(2)]
                kinds = [posted.delivery.alert.kind for posted in after]
                assert kinds == [AlertKind.RESOLVED, AlertKind.RECOVERED]
                assert all("@alice" not in posted.text for posted in after)  # no ping again
                await pd.wait("resolve", timeout=10)
                await hooks.wait("monitor.recovered", timeout=10)
                await until(lambda: len(smtp.received) >= 2)
                await asyncio.sleep(1.0)  # anything sent twice would have arrived by now

                # Each event once where the receiver counts by its key.
                assert hooks.types() == ["monitor.down", "monitor.acknowledged",
                                         "monitor.recovered"]  # fmt: skip
                assert len(hooks.calls) == 3 and hooks.rejected == []
                assert pd.opened == 1 and pd.refused == []
                assert pd.actions(dedup) == ["trigger", "acknowledge", "resolve"]
                assert pd.alerts[dedup].state == "resolved"
                assert len(smtp.received) == len(smtp.messages) == 2
                assert [s.split(" — ")[0] for s in smtp.subjects()] == [
                    f"[check502] DOWN #{mid} 127.0.0.1",
                    f"[check502] RECOVERED #{mid} 127.0.0.1",
                ]
                assert chat.pending() == []  # the chat got no message of the ack's pager row
                assert pending_targets(chat) == []
                retried = chat.bot.store.rows(
                    "SELECT target, attempts FROM outbox WHERE attempts > 0 ORDER BY target"
                )
                assert retried == [
                    {"target": "pagerduty", "attempts": 1},
                    {"target": "webhook", "attempts": 1},
                ]


async def test_targets_none_keeps_alerts_in_chat_and_a_named_target_gets_only_its_own(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as quiet, ok_server() as paged, SmtpServer() as smtp:
        async with WebhookReceiver() as hooks, PagerDutyFake() as pd:
            config = NotifyConfig.from_env(notify_env(hooks, pd, smtp), ca_bundle=smtp.ca_file)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                first = await watch(chat, quiet.url, targets=())
                second = await watch(chat, paged.url, targets=("pagerduty",))
                quiet.response = paged.response = BAD
                await pd.wait("trigger", timeout=10)
                await until(
                    lambda: (
                        chat.bot.store.row(
                            "SELECT 1 FROM outbox WHERE target IS NULL AND sent_at IS NOT NULL"
                            " AND monitor_id = ?",
                            (first,),
                        )
                        is not None
                    )
                )
                await asyncio.sleep(0.5)
                assert hooks.calls == [] and smtp.received == []
                assert [c.body["payload"]["summary"].split(" — ")[0] for c in pd.calls] == [
                    f"DOWN #{second} 127.0.0.1"
                ]
                targets = chat.bot.store.rows(
                    "SELECT monitor_id, target FROM outbox WHERE target IS NOT NULL"
                )
                assert targets == [{"monitor_id": second, "target": "pagerduty"}]


async def test_a_mute_holds_the_recovery_but_not_the_pagers_resolve(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site, SmtpServer() as smtp:
        async with WebhookReceiver() as hooks, PagerDutyFake() as pd:
            config = NotifyConfig.from_env(notify_env(hooks, pd, smtp), ca_bundle=smtp.ca_file)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                mid = await watch(chat, site.url)
                site.response = BAD
                await hooks.wait("monitor.down", timeout=10)
                await pd.wait("trigger", timeout=10)
                assert "Muted" in await chat.push(f"mute {mid} 1h")
                site.response = GOOD
                await pd.wait("resolve", timeout=10)  # the outage is over: the pager stops
                await asyncio.sleep(1.0)
                assert hooks.types() == ["monitor.down"]  # the recovery waits for the mute
                assert len(smtp.received) == 1
                assert "Unmuted" in await chat.push(f"unmute {mid}")
                await hooks.wait("monitor.recovered", timeout=10)
                await until(lambda: len(smtp.received) == 2)
                assert pd.actions(pd.calls[0].dedup_key) == ["trigger", "resolve"]


async def test_unwatch_mid_incident_resolves_the_pager(tmp_path: Path, control: OkServer) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site, SmtpServer() as smtp:
        async with WebhookReceiver() as hooks, PagerDutyFake() as pd:
            config = NotifyConfig.from_env(notify_env(hooks, pd, smtp), ca_bundle=smtp.ca_file)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                mid = await watch(chat, site.url)
                site.response = BAD
                [trigger] = await pd.wait("trigger", timeout=10)
                await hooks.wait("monitor.down", timeout=10)
                assert "Stopped watching" in await chat.push(f"unwatch {mid}")
                await pd.wait("resolve", timeout=10)
                assert pd.actions(trigger.dedup_key) == ["trigger", "resolve"]
                await asyncio.sleep(0.5)
                assert hooks.types() == ["monitor.down"]


async def test_watch_refuses_a_target_the_bot_has_not_set_up(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ok_server() as site:
        async with PagerDutyFake() as pd:
            env = {
                "CHECK502_PAGERDUTY_ROUTING_KEY": pd.routing_key,
                "CHECK502_PAGERDUTY_URL": pd.url,
            }
            config = NotifyConfig.from_env(env)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                reply = await chat.push(f"watch {site.url} targets=pagerduty,email")
                assert "no email target set up" in reply
                assert "targets= can name pagerduty, none" in reply
                assert chat.bot.store.rows("SELECT id FROM monitors") == []
                await chat.push(f"watch {site.url} targets=pagerduty")
                rows = chat.bot.store.rows("SELECT targets FROM monitors")
                assert rows == [{"targets": "pagerduty"}]


def test_a_database_of_the_previous_schema_gains_targets(tmp_path: Path) -> None:
    """A file the previous check502 wrote keeps its monitors and outbox; they alert every
    configured target (targets NULL), and its chat rows stay chat rows."""
    path = tmp_path / "bot.db"
    db = sqlite_utils.Database(path)
    before = next(i for i, s in enumerate(_MIGRATIONS) if "targets TEXT" in str(s))
    for step in _MIGRATIONS[:before]:
        if callable(step):
            step(db)
        else:
            db.executescript(step)
    db.execute(
        "INSERT INTO monitors (platform, workspace, channel, url, every, confirm, expect,"
        " timeout, created_by, created_at) VALUES ('console','local','terminal',"
        " 'https://x.test/', 30, 2, '200-399', 4.0, 'ann', 1.0)"
    )
    db.execute(
        "INSERT INTO outbox (key, platform, workspace, channel, kind, payload, created_at,"
        " not_before) VALUES ('down:1', 'console', 'local', 'terminal', 'down', '{}', 1, 1)"
    )
    db.execute(f"PRAGMA user_version = {before}")
    db.conn.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION
        [monitor] = store.monitors_in(CONSOLE)
        assert monitor.url == "https://x.test/" and monitor.targets is None
        assert store.rows("SELECT key, target FROM outbox") == [{"key": "down:1", "target": None}]
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
