"""``kill -9`` at each point of an alert's life: no alert is lost, and we know what repeats.

A real ``check502-bot`` process, configured for Telegram against the fake Bot API
(:mod:`tests.support.telegram_fake`), watches a loopback origin that starts answering 502, then
recovers. The process is killed with SIGKILL at each point of the alert's life and started again
on the same database:

1. the first failure is recorded, the outage not confirmed yet (``fail_streak`` 1);
2. the state flip is committed, with its DOWN row in the outbox, not yet sent (the 3-second
   ``coalesce`` wait holds it; point 1 has the 2-second re-check delay: wide windows, so a
   loaded machine still kills inside them, and each point is asserted after the kill);
3. during the send: Telegram has the request and has not accepted it (the fake holds it);
4. Telegram accepted the DOWN message (200 on its side) and the bot has not marked it sent;
5. the same for the RECOVERED message.

Each point is reached by observing state, never by sleeping: the test reads the SQLite file
read-only for the monitor and the outbox row, and the fake holds the ``sendMessage`` request
(before or after accepting it) until the process is dead.

What holds: DOWN and RECOVERED each arrive; a message repeats exactly when the kill fell between
Telegram's acceptance and our mark-sent (points 4 and 5: one repeat each), and never otherwise.
Telegram's Bot API has no idempotency key, so this one repeat cannot be prevented there.
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
from tests.support.telegram_fake import GROUP, TOKEN, Call, FakeTelegram
from tests.support.telegram_fake import _Refused as Refused

BAD = build_response(502, b"<html>upstream failed</html>")
GOOD = build_response(200, b"ok")
WAIT = 20.0


class GatedTelegram(FakeTelegram):
    """The fake Bot API, able to hold the next ``sendMessage`` before or after accepting it.

    ``accepted`` lists the text of every message Telegram took (what a chat shows).
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.accepted: list[str] = []
        self.gate: str | None = None
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    def hold(self, where: str) -> None:
        """Hold the next ``sendMessage``: ``"before"`` or ``"after"`` Telegram accepts it."""
        self.gate = where
        self.held.clear()
        self.release.clear()

    async def _answer(self, call: Call) -> Any:
        if call.method != "sendMessage":
            return await super()._answer(call)
        where, self.gate = self.gate, None
        if where == "before":
            self.held.set()
            await self.release.wait()
            raise Refused(500, "Internal Server Error")  # the sender is gone; nothing kept
        result = await super()._answer(call)
        self.accepted.append(call.text)
        if where == "after":
            self.held.set()
            await self.release.wait()
        return result


class Db:
    """The bot's database, read-only, from the outside."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, sql: str) -> list[dict[str, Any]]:
        raw = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        raw.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in raw.execute(sql)]
        finally:
            raw.close()

    def monitor(self) -> dict[str, Any]:
        return self.read("SELECT state, fail_streak FROM monitors WHERE id = 1")[0]

    def outbox(self, kind: str) -> dict[str, Any] | None:
        rows = self.read(
            "SELECT kind, claimed_until, sent_at, failed_at, attempts FROM outbox"
            f" WHERE kind = '{kind}'"
        )
        assert len(rows) <= 1, rows
        return rows[0] if rows else None


async def reached(predicate: Callable[[], bool], what: str) -> None:
    """Poll (bounded) until ``predicate()`` holds."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"not reached: {what}"
        await asyncio.sleep(0.02)


async def test_kill_9_at_each_point_of_an_alerts_life_loses_no_alert(tmp_path: Path) -> None:
    db = Db(tmp_path / "bot.db")
    logs: list[str] = []
    with ok_server() as site:
        site.response = BAD
        store = Store.open(db.path)
        store.add_monitor(
            channel_of(GROUP),
            Watch(site.url, every=3, confirm=2),
            created_by="5001",
            now=time.time(),
        )
        store.close()
        async with GatedTelegram() as fake:
            env = bot_env(
                tmp_path,
                TELEGRAM_BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=fake.api_url,
                CHECK502_RECHECK_DELAY="2s",
                CHECK502_COALESCE="3s",
                CHECK502_GROUP_WINDOW="0s",
            )
            proc = await spawn(env)

            async def kill_and_restart(dead: Callable[[], None]) -> None:
                """Kill the bot, run ``dead`` (what the kill left: asserted before the next
                bot starts, which may change it at once), then start a new bot."""
                nonlocal proc
                proc.send_signal(signal.SIGKILL)
                _, err = await asyncio.wait_for(proc.communicate(), WAIT)
                assert proc.returncode == -signal.SIGKILL
                logs.append(err.decode())
                dead()
                fake.release.set()  # let a held request end; its sender is gone
                await asyncio.sleep(0.2)
                # Re-armed before the next bot starts: its first request, if held, stays held
                # (else it would pass the gate at once, fail with 500 and drop its claim).
                fake.release.clear()
                proc = await spawn(env)

            try:
                # 1. One failure recorded; the outage is not confirmed.
                await reached(lambda: db.monitor()["fail_streak"] >= 1, "a first failure")
                await kill_and_restart(
                    lambda: _holds(db.monitor() == {"state": "new", "fail_streak": 1})
                )

                # 2. The flip committed with its DOWN row; the row not sent, not even claimed.
                await reached(lambda: db.outbox("down") is not None, "the DOWN row")
                fake.hold("before")

                def flipped_not_sent() -> None:
                    assert db.monitor()["state"] == "down"
                    assert db.outbox("down") == {
                        "kind": "down",
                        "claimed_until": None,
                        "sent_at": None,
                        "failed_at": None,
                        "attempts": 0,
                    }
                    assert fake.of("sendMessage") == []

                await kill_and_restart(flipped_not_sent)

                # 3. During the send: Telegram has the request, has not accepted it.
                await asyncio.wait_for(fake.held.wait(), WAIT)
                fake.hold("after")

                def claimed_not_accepted() -> None:
                    row = db.outbox("down")
                    assert row is not None and row["claimed_until"] is not None
                    assert row["sent_at"] is None and fake.accepted == []

                await kill_and_restart(claimed_not_accepted)

                # 4. Telegram accepted the DOWN; the bot has not marked it sent.
                await asyncio.wait_for(fake.held.wait(), WAIT)

                def accepted_not_marked() -> None:
                    row = db.outbox("down")
                    assert row is not None and row["sent_at"] is None
                    assert len(fake.accepted) == 1

                await kill_and_restart(accepted_not_marked)

                # The restarted bot sends it again, and marks it sent.
                await reached(lambda: (db.outbox("down") or {}).get("sent_at") is not None, "sent")
                assert len(fake.accepted) == 2

                # 5. The origin recovers; Telegram accepts RECOVERED; kill before the mark.
                fake.hold("after")
                site.response = GOOD
                await asyncio.wait_for(fake.held.wait(), WAIT)

                def recovered_not_marked() -> None:
                    row = db.outbox("recovered")
                    assert row is not None and row["sent_at"] is None
                    assert db.monitor()["state"] == "up"

                await kill_and_restart(recovered_not_marked)

                await reached(
                    lambda: (db.outbox("recovered") or {}).get("sent_at") is not None,
                    "RECOVERED sent",
                )
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), WAIT)
                logs.append(err.decode())
                assert proc.returncode == 0, err.decode()
            finally:
                fake.release.set()
                if proc.returncode is None:
                    proc.kill()
                    await proc.communicate()

    downs = [t for t in fake.accepted if "DOWN" in t]
    recovered = [t for t in fake.accepted if "RECOVERED" in t]
    # Nothing lost; one repeat each, from the kills between Telegram's 200 and our mark-sent.
    assert (len(downs), len(recovered)) == (2, 2), fake.accepted
    assert len(fake.accepted) == 4
    assert all("Traceback" not in log for log in logs), logs
    rows = db.read("SELECT kind, sent_at IS NOT NULL AS sent, failed_at FROM outbox ORDER BY id")
    assert rows == [
        {"kind": "down", "sent": 1, "failed_at": None},
        {"kind": "resolved", "sent": 1, "failed_at": None},  # the alert edited to RESOLVED
        {"kind": "recovered", "sent": 1, "failed_at": None},
    ]


def _holds(condition: bool) -> None:
    assert condition
