"""Monitors that send a real request (credentials by variable, keywords, a latency threshold),
end to end through the console harness against tests.support.servers.ApiServer on loopback."""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
import sqlite_utils

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.commands import Watch, parse_command
from bot.model import AlertKind, Channel, Context, ErrorReply, WatchReply
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store
from checks import Auth, Finding
from tests.bot.conftest import fast_settings, until
from tests.support import OkServer
from tests.support.servers import ApiServer

SECRET = "tok-9f8e7d6c5b4a-SECRET"
A = Channel("console", "w1", "a")


def _state(chat: ConsoleHarness, mid: int) -> str:
    row = chat.bot.store.row("SELECT state FROM monitors WHERE id = ?", (mid,))
    assert row is not None
    return str(row["state"])


def _watch_id(chat: ConsoleHarness) -> int:
    reply = chat.last_reply
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


async def watch(chat: ConsoleHarness, text: str) -> int:
    """``watch`` as typed, checked every second (below the grammar's 30 s floor, as tests may)."""
    command = parse_command(f"watch {text}")
    assert isinstance(command, Watch)
    reply = await chat.bot.handle(Context(CONSOLE, "tester"), replace(command, every=1))
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def _everything_said(chat: ConsoleHarness, db: Path) -> str:
    """Every reply and alert shown, every outbox payload, every stored byte of the database."""
    shown = "\n".join(p.text for p in chat.posted)
    with sqlite3.connect(db) as raw:
        rows = raw.execute("SELECT * FROM monitors").fetchall()
        rows += raw.execute("SELECT payload FROM outbox").fetchall()
        rows += raw.execute("SELECT * FROM results").fetchall()
    raw.close()
    return shown + repr(rows) + db.read_bytes().decode("latin-1")


async def test_a_bearer_monitor_is_up_and_its_secret_shows_nowhere(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = fast_settings(tmp_path, control.url, auth_vars=("API_TOKEN",))
    environ = {"API_TOKEN": SECRET}
    with ApiServer(token=SECRET) as api:
        async with ConsoleHarness(settings, environ=environ) as chat:
            watched = await chat.push(
                f"watch {api.url}private auth=bearer:API_TOKEN keyword=welcome"
            )
            mid = _watch_id(chat)
            assert _state(chat, mid) == "up", watched
            listed = await chat.push("list")
            assert "bearer $API_TOKEN" in listed and "keyword “welcome”" in listed
            check = await chat.push(f"check {api.url}private auth=bearer:API_TOKEN")
            assert 'Authorization: Bearer $API_TOKEN"' in check
            stored = chat.bot.store.row("SELECT request FROM monitors")
            assert stored is not None
            assert json.loads(stored["request"])["auth"] == {
                "scheme": "bearer",
                "env": ["API_TOKEN"],
            }
            said = _everything_said(chat, tmp_path / "bot.db") + watched + listed + check
    assert all(seen[2].get("authorization") == f"Bearer {SECRET}" for seen in api.seen)
    assert SECRET not in said
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("auth_vars", "environ", "words"),
    [
        ((), {"API_TOKEN": SECRET}, "auth= is off on this bot"),
        (("OTHER",), {"API_TOKEN": SECRET}, "$API_TOKEN is not one of the variables"),
        (("API_TOKEN",), {}, "$API_TOKEN is not set in the bot's environment"),
    ],
)
async def test_credentials_it_cannot_read_are_a_clear_reply_and_create_nothing(
    tmp_path: Path,
    control: OkServer,
    auth_vars: tuple[str, ...],
    environ: dict[str, str],
    words: str,
) -> None:
    settings = fast_settings(tmp_path, control.url, auth_vars=auth_vars)
    with ApiServer(token=SECRET) as api:
        async with ConsoleHarness(settings, environ=environ) as chat:
            said = await chat.push(f"watch {api.url}private auth=bearer:API_TOKEN")
            assert isinstance(chat.last_reply, ErrorReply)
            assert words in said and "Traceback" not in said
            assert chat.bot.store.monitors_in(A) == ()
            assert chat.bot.store.execute("SELECT COUNT(*) FROM monitors").fetchone()[0] == 0
    assert list(api.seen) == []  # nothing was sent


async def test_a_variable_unset_after_watch_fails_the_check_clearly(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, auth_vars=("API_TOKEN",))
    environ = {"API_TOKEN": SECRET}
    with ApiServer(token=SECRET) as api:
        async with ConsoleHarness(settings, environ=environ) as chat:
            mid = await watch(chat, f"{api.url}private auth=bearer:API_TOKEN")
            sent = len(api.seen)
            del environ["API_TOKEN"]  # the operator removed it; the bot reads it at each check
            posted = await chat.pop(timeout=10)
            alert = posted.delivery.alert
            assert alert.kind is AlertKind.DOWN and alert.monitor_id == mid
            assert alert.diagnosis is not None
            assert alert.diagnosis.findings == (Finding.AUTH_UNSET,)
            assert "$API_TOKEN is not set" in posted.text
            last = chat.bot.store.row("SELECT last_outcome FROM monitors WHERE id = ?", (mid,))
            assert last == {"last_outcome": "auth_unset"}
            assert len(api.seen) == sent  # nothing more was sent without its credentials


async def test_keyword_missing_opens_an_incident_and_recovers(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ApiServer(page=b"all systems ok") as api:
        async with ConsoleHarness(settings) as chat:
            mid = await watch(chat, f'{api.url}page keyword="systems ok" not_keyword=error')
            api.page = b"maintenance in progress"
            down = await chat.pop(timeout=10)
            assert down.delivery.alert.kind is AlertKind.DOWN
            assert "Keyword missing" in down.text and "SLOW" not in down.text
            row = chat.bot.store.row("SELECT last_outcome FROM monitors WHERE id = ?", (mid,))
            assert row == {"last_outcome": "keyword_missing"}
            api.page = b"all systems ok"
            recovered = [await chat.pop(timeout=10) for _ in range(2)]
            assert {p.delivery.alert.kind for p in recovered} == {
                AlertKind.RESOLVED,
                AlertKind.RECOVERED,
            }
            api.page = b"all systems ok, error budget fine"
            present = await chat.pop(timeout=10)
            assert "Keyword present" in present.text


async def test_slow_opens_a_slow_incident_recovers_and_a_failure_ends_it(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ApiServer(delay=0.0) as api:
        async with ConsoleHarness(settings) as chat:
            mid = await watch(chat, f"{api.url}slow slow=250ms timeout=3s")
            api.delay = 0.5  # the answer is still 200, but over the threshold
            slow = await chat.pop(timeout=10)
            alert = slow.delivery.alert
            assert alert.kind is AlertKind.DOWN and alert.slow
            assert "SLOW" in slow.text and "DOWN" not in slow.text
            assert "over 250 ms" in slow.text
            assert _state(chat, mid) == "slow"
            incident = chat.bot.store.row("SELECT kind, closed_at, opened_at FROM incidents")
            assert incident is not None
            assert (incident["kind"], incident["closed_at"]) == ("slow", None)
            # Confirmed like down: the second slow check in a row opened it, not the first.
            slow_before = chat.bot.store.execute(
                "SELECT COUNT(*) FROM results WHERE outcome = 'slow' AND at <= ?",
                (incident["opened_at"],),
            ).fetchone()[0]
            assert slow_before == 2
            # Only one SLOW while it stays slow.
            await until(
                lambda: (
                    chat.bot.store.execute(
                        "SELECT COUNT(*) FROM results WHERE outcome = 'slow'"
                    ).fetchone()[0]
                    >= 4
                )
            )
            assert chat.pending() == []

            api.delay = 0.0
            back = [await chat.pop(timeout=10) for _ in range(2)]
            recovered = next(p for p in back if p.delivery.alert.kind is AlertKind.RECOVERED)
            assert "slow" in recovered.text and _state(chat, mid) == "up"

            api.delay = 0.5
            await chat.pop(timeout=10)  # slow again
            api.delay = 10.0  # over the monitor's 3 s timeout: a failure, down after confirm
            ended = await chat.pop(timeout=15)
            assert ended.delivery.alert.kind is AlertKind.RESOLVED
            down = await chat.pop(timeout=15)
            assert down.delivery.alert.kind is AlertKind.DOWN and not down.delivery.alert.slow
            kinds = chat.bot.store.rows("SELECT kind, closed_at IS NULL AS open FROM incidents")
            assert kinds == [
                {"kind": "slow", "open": 0},
                {"kind": "slow", "open": 0},
                {"kind": "down", "open": 1},
            ]
            api.delay = 0.0


async def test_follow_off_watches_the_redirect_itself(tmp_path: Path, control: OkServer) -> None:
    settings = fast_settings(tmp_path, control.url)
    with ApiServer() as api:
        async with ConsoleHarness(settings) as chat:
            off = await watch(chat, f"{api.url}moved follow=off expect=302")
            on = await watch(chat, f"{api.url}moved expect=200")  # the same URL, followed
            again = await chat.push(f"watch {api.url}moved follow=off expect=302")
            assert f"already watches {api.url}moved as #{off}" in again
            rows = {
                r["id"]: r["last_outcome"]
                for r in chat.bot.store.rows("SELECT id, last_outcome FROM monitors")
            }
    assert rows == {off: "302", on: "200"}


def test_a_schema_before_requests_is_migrated_in_place(tmp_path: Path) -> None:
    """A file of the version before this step keeps its monitors, which become plain GETs."""
    path = tmp_path / "bot.db"
    step = next(i for i, s in enumerate(_MIGRATIONS) if "slow_streak" in str(s))
    db = sqlite_utils.Database(path)
    for older in _MIGRATIONS[:step]:
        if callable(older):
            older(db)
        else:
            db.executescript(older)
    db.execute(
        "INSERT INTO monitors (platform, workspace, channel, url, every, confirm, expect,"
        " timeout, created_by, created_at) VALUES ('console','w1','a','https://x.test/',"
        " 30, 2, '200-399', 4.0, 'ann', 1.0)"
    )
    db.execute(
        "INSERT INTO incidents (monitor_id, opened_at, cause, first_failure_at,"
        " last_failure_at, last_notified_at) VALUES (1, 1.0, 'origin_down', 1.0, 1.0, 1.0)"
    )
    db.execute(f"PRAGMA user_version = {step}")
    db.conn.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION
        (monitor,) = store.monitors_in(A)
        assert monitor.request.plain and monitor.follow
        incident = store.incident(1)
        assert incident is not None and incident.kind == "down"
    finally:
        store.close()


def test_stored_requests_keep_variable_names_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    try:
        cmd = parse_command(
            "watch https://x.test/ method=POST body='{\"a\":1}' auth=basic:API_USER:API_PASS"
            " slow=800ms follow=off"
        )
        assert isinstance(cmd, Watch)
        secretful = cmd.request.__class__(
            method=cmd.request.method,
            body=cmd.request.body,
            auth=Auth("basic", ("API_USER", "API_PASS"), ("ops", SECRET)),
            slow_ms=cmd.request.slow_ms,
        )
        watch = Watch(cmd.url, request=secretful, follow=False)
        monitor = store.add_monitor(A, watch, created_by="ann", now=1.0)
        assert monitor.request == cmd.request and monitor.follow is False
        assert monitor.request.auth is not None and monitor.request.auth.values == ()
        stored = store.row("SELECT request FROM monitors")
        assert stored is not None and SECRET not in stored["request"]
    finally:
        store.close()
