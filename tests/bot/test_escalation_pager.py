"""The escalation contract between people (escalate=) and notify (PagerDuty), joined.

A monitor with ``escalate=`` does not page on its DOWN alert: PagerDuty's trigger is the
escalation the core queues when the incident stays unacknowledged; an ack in chat before then
acknowledges nothing that was never triggered and no escalation follows. A monitor without one
pages on DOWN. Real loopback receivers, the whole core through the console harness.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from adapters.notify import NotifyConfig, build_notifiers
from bot.commands import Watch
from bot.model import AlertKind, Context, WatchReply
from tests.bot.conftest import fast_settings
from tests.support import OkServer, build_response, ok_server
from tests.support.receivers import PagerDutyFake, SmtpServer, WebhookReceiver, notify_env

BAD = build_response(502, b"<html><body>upstream failed</body></html>")
GOOD = build_response(200, b"ok")
ME = Context(CONSOLE, "ana")


async def watch(chat: ConsoleHarness, url: str, **options: object) -> int:
    command = Watch(url, every=1, confirm=2, **options)  # type: ignore[arg-type]
    reply = await chat.bot.execute(ME, command)
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def pager_rows(chat: ConsoleHarness) -> list[str]:
    rows = chat.bot.store.rows(
        "SELECT kind FROM outbox WHERE target = 'pagerduty' AND failed_at IS NULL ORDER BY id"
    )
    return [r["kind"] for r in rows]


async def test_an_escalating_monitor_pages_on_its_escalation_not_on_down(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, sweep_every=0.2)
    with ok_server() as site, SmtpServer() as smtp:
        async with WebhookReceiver() as hooks, PagerDutyFake() as pd:
            config = NotifyConfig.from_env(notify_env(hooks, pd, smtp), ca_bundle=smtp.ca_file)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                await watch(chat, site.url, escalate=2)
                site.response = BAD
                down = await chat.pop(timeout=10)
                assert down.delivery.alert.kind is AlertKind.DOWN
                await hooks.wait("monitor.down", timeout=10)  # the webhook had DOWN at once
                assert pd.calls == []  # ...the pager did not
                escalation = await chat.pop(timeout=10)
                assert escalation.delivery.alert.kind is AlertKind.ESCALATION
                [trigger] = await pd.wait("trigger", timeout=10)
                assert trigger.dedup_key == f"check502-{down.delivery.alert.incident_id}"
                assert "diagnosis" in trigger.body["payload"]["custom_details"]
                site.response = GOOD
                await pd.wait("resolve", timeout=10)
                assert pd.actions(trigger.dedup_key) == ["trigger", "resolve"]
                assert pager_rows(chat) == ["escalation", "resolved"]


async def test_an_ack_before_the_escalation_pages_no_one(tmp_path: Path, control: OkServer) -> None:
    settings = fast_settings(tmp_path, control.url, sweep_every=0.2)
    with ok_server() as site:
        async with PagerDutyFake() as pd:
            env = {
                "CHECK502_PAGERDUTY_ROUTING_KEY": pd.routing_key,
                "CHECK502_PAGERDUTY_URL": pd.url,
            }
            config = NotifyConfig.from_env(env)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                mid = await watch(chat, site.url, escalate=1)
                site.response = BAD
                assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
                assert "Acknowledged" in await chat.push(f"ack {mid}")
                await asyncio.sleep(2.5)  # past escalate= and several sweeps
                assert chat.pending() == []
                assert "trigger" not in [c.body["event_action"] for c in pd.calls]
                assert "escalation" not in pager_rows(chat)


async def test_a_monitor_without_escalation_pages_on_down(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, sweep_every=0.2)
    with ok_server() as site:
        async with PagerDutyFake() as pd:
            env = {
                "CHECK502_PAGERDUTY_ROUTING_KEY": pd.routing_key,
                "CHECK502_PAGERDUTY_URL": pd.url,
            }
            config = NotifyConfig.from_env(env)
            async with ConsoleHarness(settings, notifiers=build_notifiers(config)) as chat:
                mid = await watch(chat, site.url)
                site.response = BAD
                assert (await chat.pop(timeout=10)).delivery.alert.kind is AlertKind.DOWN
                [trigger] = await pd.wait("trigger", timeout=10)
                assert "Acknowledged" in await chat.push(f"ack {mid}")
                await pd.wait("acknowledge", timeout=10)
                assert pd.actions(trigger.dedup_key) == ["trigger", "acknowledge"]
                assert pager_rows(chat) == ["down", "acknowledged"]
