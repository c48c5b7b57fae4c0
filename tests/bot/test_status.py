"""``/check502 status on|off``: tokens in the database, the reply on every surface, schema 3.

The bot is driven through :class:`adapters.console.ConsoleHarness` on a real SQLite file; the
status page's own tests (HTML, badges, the browser) are in ``tests/adapters/web/``.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from adapters.cli.render import Style
from adapters.console import ConsoleHarness
from adapters.console.render import render_reply
from adapters.discord.render import reply_message as discord_message
from adapters.slack.render import reply_message as slack_message
from adapters.telegram.render import reply_messages as telegram_messages
from bot.commands import Expect, Watch
from bot.errors import SettingsError
from bot.model import Channel, ErrorReply, StatusReply
from bot.settings import Settings
from bot.statuspage import display_url
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store
from tests.bot.conftest import fast_settings

A = Channel("console", "w1", "a")
B = Channel("console", "w1", "b")
TOKEN_PATH = re.compile(r"/status/([A-Za-z0-9_-]{32,})")


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return fast_settings(tmp_path, None, **overrides)


async def _status(chat: ConsoleHarness, text: str, channel: Channel = A) -> StatusReply:
    await chat.push(text, channel=channel)
    reply = chat.last_reply
    assert isinstance(reply, StatusReply), reply
    return reply


async def test_on_creates_an_unguessable_token_off_revokes_it_and_on_again_makes_a_new_one(
    tmp_path: Path,
) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        store = chat.bot.store
        first = await _status(chat, "status")
        assert (first.path, first.changed) == (None, False)

        on = await _status(chat, "status on")
        assert on.changed and on.path is not None
        match = TOKEN_PATH.fullmatch(on.path)
        assert match is not None, on.path
        token = match.group(1)
        assert store.status_channel(token) == A

        again = await _status(chat, "status on")  # already on: same URL, nothing created
        assert (again.path, again.changed) == (on.path, False)
        assert (await _status(chat, "status")).path == on.path

        off = await _status(chat, "status off")
        assert (off.path, off.changed) == (None, True)
        assert store.status_channel(token) is None  # revoked at once
        assert (await _status(chat, "status off")).changed is False

        renewed = await _status(chat, "status on")
        assert renewed.changed and renewed.path not in (None, on.path)
        assert store.status_channel(token) is None


async def test_each_channel_has_its_own_page(tmp_path: Path) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        a = await _status(chat, "status on", A)
        assert (await _status(chat, "status", B)).path is None
        assert (await _status(chat, "status off", B)).changed is False
        assert (await _status(chat, "status", A)).path == a.path  # B's off left A's alone
        b = await _status(chat, "status on", B)
        assert b.path != a.path
        tokens = [TOKEN_PATH.fullmatch(r.path or "") for r in (a, b)]
        assert [chat.bot.store.status_channel(t.group(1)) for t in tokens if t] == [A, B]


async def test_the_reply_gives_a_link_with_a_public_url_and_a_path_without(
    tmp_path: Path,
) -> None:
    (tmp_path / "a").mkdir()
    async with ConsoleHarness(_settings(tmp_path / "a", public_url=None)) as chat:
        bare = await _status(chat, "status on")
        assert bare.url is None
        text = render_reply(bare, Style(False))
        assert f"{bare.path} on the bot's web server" in text
        assert "CHECK502_PUBLIC_URL" in text
    (tmp_path / "b").mkdir()
    async with ConsoleHarness(
        _settings(tmp_path / "b", public_url="https://bot.example.com/base")
    ) as chat:
        linked = await _status(chat, "status on")
        assert linked.url == f"https://bot.example.com/base{linked.path}"
        text = render_reply(linked, Style(False))
        assert linked.url in text
        assert "CHECK502_PUBLIC_URL" not in text
        assert "status off revokes it" in text


async def test_a_bad_word_is_a_usage_error(tmp_path: Path) -> None:
    async with ConsoleHarness(_settings(tmp_path)) as chat:
        await chat.push("status maybe", channel=A)
        assert isinstance(chat.last_reply, ErrorReply)
        assert "neither on nor off" in chat.last_reply.text
        assert chat.bot.store.status_token(A) is None


def test_every_surface_shows_the_link() -> None:
    url = "https://bot.example.com/status/" + "x" * 32
    reply = StatusReply(path=url.removeprefix("https://bot.example.com"), url=url, action="on")
    console = render_reply(reply, Style(False))
    slack = slack_message(reply)
    discord = discord_message(reply)
    (telegram,) = telegram_messages(reply)
    assert url in console
    assert url in str(slack)
    assert discord.embed is not None and url in (discord.embed.description or "")
    assert url in telegram.text
    off = StatusReply(path=None, url=None, action="off", changed=True)
    assert "404" in render_reply(off, Style(False))
    assert "404" in telegram_messages(off)[0].text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://bot.example.com", "https://bot.example.com"),
        ("https://bot.example.com/", "https://bot.example.com"),
        (" http://bot.example.com:8080/check502/ ", "http://bot.example.com:8080/check502"),
    ],
)
def test_public_url_setting(value: str, expected: str) -> None:
    assert Settings.from_env({"CHECK502_PUBLIC_URL": value}).public_url == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bot.example.com", "is not an http(s) URL"),
        ("ftp://bot.example.com", "is not an http(s) URL"),
        ("https://bot.example.com/?a=1", "no query or fragment"),
        ("https://user:hunter2@bot.example.com", "must not contain a user name or password"),
    ],
)
def test_a_bad_public_url_is_refused_naming_the_variable(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"CHECK502_PUBLIC_URL": value})
    assert "CHECK502_PUBLIC_URL" in str(raised.value)
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_schema_2_database_is_migrated_in_place(tmp_path: Path) -> None:
    """A file an older check502 wrote (schema 2) gains the status_pages table, keeping its
    monitors and rollups; a second open changes nothing."""
    path = tmp_path / "bot.db"
    db = sqlite_utils.Database(path)
    for step in _MIGRATIONS[:2]:
        if callable(step):
            step(db)
        else:
            db.executescript(step)
    db.execute(
        "INSERT INTO monitors (platform, workspace, channel, url, every, confirm, expect,"
        " timeout, created_by, created_at) VALUES ('console','w1','a','https://x.test/',"
        " 30, 2, '200-399', 4.0, 'ann', 1.0)"
    )
    db.execute("INSERT INTO rollups VALUES (1, 480000, 10, 1, NULL)")
    db.execute("PRAGMA user_version = 2")
    db.conn.commit()
    db.close()

    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION
        assert [m.url for m in store.monitors_in(A)] == ["https://x.test/"]
        assert store.uptime(1, 0) == (10, 9)
        assert store.open_status(A, "t" * 32, by="ann", now=2.0) == "t" * 32
        assert store.status_channel("t" * 32) == A
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [r[1] for r in raw.execute("PRAGMA table_info(status_pages)")]
    raw.close()
    assert columns[:4] == ["platform", "workspace", "channel", "token"]
    again = Store.open(path)
    try:
        assert again.status_token(A) == "t" * 32
    finally:
        again.close()


def test_unwatch_leaves_the_page_and_removing_a_monitor_removes_it_from_the_page(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "bot.db")
    try:
        watch = Watch("https://x.test/", expect=Expect.default())
        monitor = store.add_monitor(A, watch, created_by="ann", now=1.0)
        store.open_status(A, "t" * 32, by="ann", now=1.0)
        store.delete_monitor(monitor.id, 2.0)
        assert store.status_channel("t" * 32) == A
        assert list(store.rollup_buckets(A, 0, 24)) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://shop.example.com/cart?session=abc#top", "https://shop.example.com/cart"),
        ("https://ann:hunter2@shop.example.com/", "https://shop.example.com/"),
        ("http://[2001:db8::1]:8080/health?token=x", "http://[2001:db8::1]:8080/health"),
        ("https://shop.example.com", "https://shop.example.com/"),
        ("https://shop.example.com:99999/", "(unreadable URL)"),
    ],
)
def test_a_public_page_shows_urls_without_credentials_query_or_fragment(
    url: str, shown: str
) -> None:
    assert display_url(url) == shown
