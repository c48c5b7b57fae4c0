"""``kill -9`` of a real ``check502-bot`` between an outage's events: the notification targets
still get each event once.

The bot runs as a child process, configured for Telegram (the fake Bot API) and for every
target (a Standard Webhooks receiver, the PagerDuty Events fake, an SMTP server with STARTTLS).
A loopback origin starts answering 502 while the webhook receiver hangs: the DOWN reaches the
chat, PagerDuty and email, and the process is killed while its webhook request is in flight
(the row claimed, not sent). The bot is started again: it voids the dead one's claim and the
DOWN reaches the webhook.
The bot is killed again, the origin recovers while it is dead, and the next bot delivers the
recovery everywhere. The receivers count by their keys (webhook-id, dedup_key, Message-ID), and
by request: no event arrives twice, none is lost.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.telegram.surface import channel_of
from bot.commands import Watch
from bot.storage import Store
from tests.support import build_response, ok_server
from tests.support.entrypoint import bot_env, spawn
from tests.support.receivers import (
    ROUTING_KEY,
    WEBHOOK_SECRET,
    PagerDutyFake,
    SmtpServer,
    WebhookReceiver,
    notify_env,
)
from tests.support.telegram_fake import GROUP, TOKEN, FakeTelegram

BAD = build_response(502, b"<html>upstream failed</html>")
GOOD = build_response(200, b"ok")
WAIT = 20.0


def read(path: Path, sql: str) -> list[dict[str, Any]]:
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    raw.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in raw.execute(sql)]
    finally:
        raw.close()


async def reached(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"not reached: {what}"
        await asyncio.sleep(0.05)


async def test_kill_9_between_events_delivers_each_event_to_each_target_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.db"
    logs: list[str] = []

    targets = ("webhook", "pagerduty", "email")

    def outbox(target: str) -> dict[str, dict[str, Any]]:
        rows = read(
            db,
            "SELECT kind, sent_at, attempts, claimed_until FROM outbox WHERE target = '"
            + target
            + "'",
        )
        return {r["kind"]: r for r in rows}

    with ok_server() as site, SmtpServer() as smtp:
        site.response = BAD
        store = Store.open(db)
        store.add_monitor(
            channel_of(GROUP),
            Watch(site.url, every=2, confirm=2),
            created_by="5001",
            now=time.time(),
        )
        store.close()
        async with FakeTelegram() as tg, WebhookReceiver() as hooks, PagerDutyFake() as pd:
            env = bot_env(
                tmp_path,
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=tg.api_url,
                CHECK502_RECHECK_DELAY="1s",
                CHECK502_COALESCE="0s",
                CHECK502_GROUP_WINDOW="0s",
                CHECK502_LOG_LEVEL="INFO",  # every retry logged: none may show a secret
                **notify_env(hooks, pd, smtp),
            )
            hooks.hold()  # the webhook receiver hangs on the DOWN
            proc = await spawn(env)

            async def kill() -> None:
                proc.send_signal(signal.SIGKILL)
                _, err = await asyncio.wait_for(proc.communicate(), WAIT)
                assert proc.returncode == -signal.SIGKILL
                logs.append(err.decode())

            try:
                # DOWN reaches the chat, PagerDuty and email; the webhook's is retried.
                await tg.wait("sendMessage", timeout=WAIT)
                await pd.wait("trigger", timeout=WAIT)
                await reached(lambda: len(smtp.received) == 1, "the DOWN email")
                await asyncio.wait_for(hooks.held.wait(), WAIT)
                await kill()
                row = outbox("webhook")["down"]
                assert row["sent_at"] is None and row["claimed_until"] is not None  # mid-send
                assert outbox("pagerduty")["down"]["sent_at"] is not None
                assert outbox("email")["down"]["sent_at"] is not None
                hooks.release()  # the request of the dead process ends unanswered

                # A new bot voids the dead one's claim and delivers the DOWN (after one more
                # refusal, logged), nothing else again.
                hooks.fail(503, 1)
                proc = await spawn(env)
                await hooks.wait("monitor.down", timeout=WAIT)
                await reached(
                    lambda: outbox("webhook")["down"]["sent_at"] is not None, "webhook marked"
                )
                await kill()

                # The origin recovers while no bot runs; the next one tells everyone.
                site.response = GOOD
                proc = await spawn(env)
                await pd.wait("resolve", timeout=WAIT)
                await hooks.wait("monitor.recovered", timeout=WAIT)
                await reached(lambda: len(smtp.received) == 2, "the RECOVERED email")
                await reached(
                    lambda: all(
                        r["sent_at"] is not None for t in targets for r in outbox(t).values()
                    ),
                    "every target row sent",
                )
                await asyncio.sleep(1.0)  # a repeat would have arrived by now
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), WAIT)
                logs.append(err.decode())
                assert proc.returncode == 0, err.decode()
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.communicate()

            texts = [c.text for c in tg.of("sendMessage")]
            assert len([t for t in texts if "DOWN" in t]) == 1, texts
            assert len([t for t in texts if "RECOVERED" in t]) == 1, texts
            assert [c.type for c in hooks.calls] == ["monitor.down", "monitor.recovered"]
            assert hooks.rejected == []
            [dedup] = pd.alerts
            assert pd.actions(dedup) == ["trigger", "resolve"] and pd.opened == 1
            assert len(pd.calls) == 2
            assert len(smtp.received) == len(smtp.messages) == 2
            assert all("Traceback" not in log for log in logs), logs
            secrets = (WEBHOOK_SECRET, WEBHOOK_SECRET[6:], ROUTING_KEY, hooks.endpoint)
            assert not [s for s in secrets for log in logs if s in log], logs
            assert any("webhook at 127.0.0.1 answered 503" in log for log in logs), logs
