"""The monitors file: validation that names file, line and key; the same values as chat; the
export round trip; reconciliation with the database (in process, the whole core through the
console harness); scheduled windows. The real process and SIGHUP: tests/adapters/test_monitors_file.py.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from bot.commands import Watch, parse_command, platform_error
from bot.model import Channel, Context, ExportReply, WatchReply
from bot.monitorsfile import PLATFORMS, MonitorsFileError, Window, export, load, parse
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store
from checks.policy import AddressPolicy
from tests.bot.conftest import fast_settings, until
from tests.bot.test_commands import _watches
from tests.support import OkServer, build_response, ok_server

ME = Context(CONSOLE, "ana")
BAD = build_response(502, b"<html><body>upstream failed</body></html>")
HEAD = '[[channel]]\nplatform = "console"\nchannel = "terminal"\n'


def write(tmp_path: Path, text: str, name: str = "check502.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def monitor(url: str, *lines: str) -> str:
    return "\n".join(["", "[[channel.monitor]]", f'url = "{url}"', *lines]) + "\n"


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (HEAD + monitor("https://a.test/", 'every = "5s"'), 7, "channel[1].monitor[1].every",
         "every= must be from 30s"),
        (HEAD + monitor("https://a.test/", "confirm = 0"), 7, "channel[1].monitor[1].confirm",
         "confirm= must be a whole number from 1 to 10"),
        (HEAD + monitor("https://a.test/", 'colour = "red"'), 7, "channel[1].monitor[1].colour",
         "unknown key"),
        (HEAD + monitor("not a url"), 6, "channel[1].monitor[1].url", "URL"),
        (HEAD + monitor("https://a.test/", 'expect = "600"'), 7, "channel[1].monitor[1].expect",
         "expect"),
        (HEAD + monitor("https://a.test/", 'auth = "digest:API_TOKEN"'), 7,
         "channel[1].monitor[1].auth", "auth="),
        # A cross-key refusal names the key that made it: body before method= says so.
        (HEAD + monitor("https://a.test/", 'timeout = "5s"', 'body = "{}"'), 8,
         "channel[1].monitor[1].body", "GET sends no body"),
        (HEAD + monitor("https://a.test/", 'notify = ["<@U12345678|bob>"]'), 7,
         "channel[1].monitor[1].notify", ""),
        (HEAD + monitor("https://a.test/", 'targets = ["pagerduty"]'), 7,
         "channel[1].monitor[1].targets", "no pagerduty target"),
        (HEAD + monitor("https://a.test/") + monitor("https://a.test/"), 9,
         "channel[1].monitor[2].url", "already channel[1].monitor[1]"),
        ('[[channel]]\nplatform = "irc"\nchannel = "x"\n', 2, "channel[1].platform",
         "is one of slack"),
        (HEAD + monitor("https://a.test/") + '\n[[channel.maintenance]]\nweekly = "someday 2:00"\n'
         'duration = "1h"\n', 9, "channel[1].maintenance[1].weekly", "sun 02:00"),
        (HEAD + '\n[[channel.maintenance]]\nstart = 2026-12-24T22:00:00\n'
         "end = 2026-12-25T02:00:00Z\n", 6, "channel[1].maintenance[1].start", "zone"),
        (HEAD + '\n[[channel.maintenance]]\nmonitors = ["https://b.test/"]\nweekly = "sun 2:00"\n'
         'duration = "1h"\n', 6, "channel[1].maintenance[1].monitors", "not a monitor"),
        (HEAD + "\n[[channel.monitor]]\nurl = \n", 6, "not valid TOML", ""),
        ('monitors = 3\n', 1, "monitors", "unknown key"),
    ],
)  # fmt: skip
def test_an_invalid_file_names_its_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MonitorsFileError) as raised:
        load(path, targets=("webhook",))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: {key}"), message
    assert words in message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "metadata address"),
        ("http://10.0.0.5/health", "private"),
        ("http://metadata.google.internal/", "metadata name"),
    ],
)
def test_a_url_the_bot_refuses_is_refused_in_the_file(tmp_path: Path, url: str, words: str) -> None:
    path = write(tmp_path, HEAD + monitor(url))
    with pytest.raises(MonitorsFileError) as raised:
        load(path, policy=AddressPolicy())
    assert str(raised.value).startswith(f"{path}:6: channel[1].monitor[1].url: not watching it: ")
    assert words in str(raised.value)
    if "10.0.0.5" in url:  # an operator's CHECK502_ALLOW_NETWORKS lets it in, as in chat
        assert load(path, policy=AddressPolicy.allowing("10.0.0.0/8")).monitors


def test_the_line_scan_finds_a_key_in_the_right_table(tmp_path: Path) -> None:
    """Two channels, each with monitors: the n-th [[channel.monitor]] after the m-th
    [[channel]], and the key within it, not the same key of an earlier table."""
    text = (
        HEAD
        + monitor("https://a.test/", 'every = "1m"')
        + '\n[[channel]]\nplatform = "telegram"\nchannel = "-100"\n'
        + monitor("https://b.test/", 'every = "1m"')
        + monitor("https://c.test/", "# a comment", 'every = "2s"')
    )
    path = write(tmp_path, text)
    with pytest.raises(MonitorsFileError) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}:20: channel[2].monitor[2].every")
    assert text.splitlines()[19] == 'every = "2s"'


def test_an_unreadable_or_huge_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MonitorsFileError, match="cannot read the monitors file"):
        load(tmp_path / "missing.toml")
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (5 << 20))
    with pytest.raises(MonitorsFileError, match="over 4 MB"):
        load(path)
    path.write_bytes(b"\xff\xfe[[channel]]")
    with pytest.raises(MonitorsFileError, match="not UTF-8"):
        load(path)


def test_the_file_takes_tomls_own_types_and_chats_words(tmp_path: Path) -> None:
    text = HEAD + monitor(
        "https://a.test/health",
        'every = "1m"',
        "confirm = 3",
        "follow = false",
        'method = "post"',
        'headers = { "X-Api" = "1", Accept = "application/json" }',
        "body = '{\"a\": 1}'",
        'notify = ["@alice", "@oncall"]',
        "targets = []",
        'slow = "800ms"',
    )
    [entry] = load(write(tmp_path, text)).monitors
    chat = parse_command(
        "watch https://a.test/health every=1m confirm=3 follow=off method=POST"
        ' header="X-Api: 1" header="Accept: application/json" body=\'{"a": 1}\''
        " notify=@alice,@oncall targets=none slow=800ms"
    )
    assert entry.channel == CONSOLE
    assert entry.watch == chat


# --------------------------------------------------------------------------- the round trip


def _platform_for(watch: Watch) -> str | None:
    for platform in PLATFORMS:
        if platform_error(watch.notify, platform, "W1") is None:
            return platform
    return None


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_watches(), min_size=1, max_size=3, unique_by=lambda w: w.url))
def test_export_then_load_gives_the_same_monitors(watches: list[Watch]) -> None:
    platform = _platform_for(watches[0])
    assume(platform is not None)
    channel = Channel(platform or "", "W1", "C1")
    # Mentions are per platform: the others' are the first's kind, or none.
    watches = [
        replace(
            w,
            request=w.request.redacted(),
            notify=w.notify if platform_error(w.notify, channel.platform, "W1") is None else (),
        )
        for w in watches
    ]
    text = export(channel, watches)
    loaded = parse(text, Path("check502.toml"))
    assert [m.channel for m in loaded.monitors] == [channel] * len(watches)
    assert [m.watch for m in loaded.monitors] == watches


# ------------------------------------------------------------------------------- reconcile


async def test_reconcile_creates_updates_in_place_removes_and_leaves_chat_alone(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as a, ok_server() as b, ok_server() as c, ok_server() as mine:
        first = (
            HEAD
            + monitor(a.url, 'every = "1m"')
            + monitor(b.url, 'auth = "bearer:API_TOKEN"', 'method = "POST"', 'body = "a\\nb"')
        )
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            bot = chat.bot
            made = await bot.execute(ME, Watch(mine.url, every=1, confirm=2))
            assert isinstance(made, WatchReply)
            assert bot.load_monitors(load(write(tmp_path, first))) == (2, 0, 0)
            ids = {m.url: m.id for m in bot.store.file_monitors()}
            a.response = BAD
            await bot.recheck(ME, ids[a.url])  # the Re-check button; confirm= re-checks follow
            await until(lambda: bot.store.monitor(ids[a.url]).incident_id is not None)  # type: ignore[union-attr]
            incident = bot.store.monitor(ids[a.url]).incident_id  # type: ignore[union-attr]

            # The same file again: nothing is written.
            changes = bot.store.db.conn.total_changes
            assert bot.load_monitors(load(write(tmp_path, first))) == (0, 0, 0)
            assert bot.store.db.conn.total_changes == changes

            second = HEAD + monitor(a.url, 'every = "2m"', "confirm = 3") + monitor(c.url)
            assert bot.load_monitors(load(write(tmp_path, second))) == (1, 1, 1)
            kept = bot.store.monitor(ids[a.url])
            assert kept is not None and (kept.every, kept.confirm) == (120, 3)
            assert kept.incident_id == incident  # its open incident and history stay
            assert bot.store.monitor(ids[b.url]) is None
            urls = [m.url for m in bot.store.monitors_in(CONSOLE)]
            assert urls == [mine.url, a.url, c.url]
            assert bot.store.monitor(made.monitor.id).source is None  # type: ignore[union-attr]
            assert not bot.schedule.scheduled(ids[b.url])

            # The chat: list says where each is from; the file's own cannot be unwatched.
            listing = await chat.push("list")
            assert listing.count("from check502.toml") == 2
            refused = await chat.push(f"unwatch {ids[a.url]}")
            assert "comes from check502.toml: edit that file" in refused
            assert "comes from" in await chat.push(f"notify {ids[a.url]} @bob")
            assert bot.store.monitor(ids[a.url]) is not None
            assert "Stopped watching" in await chat.push(f"unwatch {made.monitor.id}")

            # An empty file removes every file monitor, and only those.
            assert bot.load_monitors(load(write(tmp_path, ""))) == (0, 0, 2)
            assert bot.store.file_monitors() == ()


async def test_export_of_a_chat_channel_loads_back_as_the_same_monitors(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as a, ok_server() as b:
        async with ConsoleHarness(fast_settings(tmp_path, control.url)) as chat:
            await chat.push(f"watch {a.url} every=1m confirm=3 expect=200,204 notify=@alice")
            await chat.push(f'watch {b.url} method=POST body="x=1" header="X-A: b c" follow=off')
            reply = await chat.bot.execute(ME, parse_command("export"))
            assert isinstance(reply, ExportReply) and reply.monitors == 2
            loaded = parse(reply.text, Path("check502.toml"))
            before = chat.bot.store.monitors_in(CONSOLE)
            assert [m.watch for m in loaded.monitors] == [m.as_watch() for m in before]
            # Loading its own export makes the file own them in place: same ids, same options.
            assert chat.bot.load_monitors(loaded) == (0, 2, 0)
            after = chat.bot.store.monitors_in(CONSOLE)
            assert [m.id for m in after] == [m.id for m in before]
            assert [m.as_watch() for m in after] == [m.as_watch() for m in before]
            assert [m.source for m in after] == ["check502.toml"] * 2
            assert chat.bot.load_monitors(loaded) == (0, 0, 0)


def test_export_writes_any_value_as_a_toml_string() -> None:
    awkward = 'a "quoted"\\ back\\slash\nnew line\ttab \x7f del\x01 é ✓'
    watch = parse_command('watch https://a.test/ method=POST header="X-A: 1" keyword=x')
    assert isinstance(watch, Watch)
    watch = replace(watch, request=replace(watch.request, body=awkward))
    [entry] = parse(export(CONSOLE, [watch]), Path("x.toml")).monitors
    assert entry.watch.request.body == awkward and entry.watch == watch


def test_export_is_refused_for_an_empty_channel_and_lists_file_monitors(tmp_path: Path) -> None:
    text = export(CONSOLE, [], source="check502.toml")
    assert "(some from check502.toml)" in text
    assert parse(text, Path("x.toml")).monitors == ()


# --------------------------------------------------------------------------------- windows


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_weekly_window_holds_from_its_start_for_its_duration_across_the_week() -> None:
    sunday_late = Window(CONSOLE, None, 3 * 3600, weekly=6 * 86400 + 23 * 3600)  # sun 23:00
    assert sunday_late.end_at(_at("2026-12-06T22:59:59")) is None  # a Sunday
    assert sunday_late.end_at(_at("2026-12-06T23:00:00")) == _at("2026-12-07T02:00:00")
    # Monday 01:00 is inside the window that began the Sunday before (last week's).
    assert sunday_late.end_at(_at("2026-12-07T01:00:00")) == _at("2026-12-07T02:00:00")
    assert sunday_late.end_at(_at("2026-12-07T02:00:00")) is None
    dated = Window(CONSOLE, ("https://a.test/",), 3600, start=_at("2026-12-24T22:00:00"))
    assert dated.end_at(_at("2026-12-24T21:59:00")) is None
    assert dated.end_at(_at("2026-12-24T22:30:00")) == _at("2026-12-24T23:00:00")
    assert dated.end_at(_at("2026-12-24T23:00:00")) is None
    assert dated.holds("https://a.test/") and not dated.holds("https://b.test/")


def test_the_files_windows_parse_to_their_times(tmp_path: Path) -> None:
    text = (
        HEAD
        + monitor("https://a.test/")
        + monitor("https://b.test/")
        + '\n[[channel.maintenance]]\nweekly = "Tuesday 04:30"\nduration = "90m"\n'
        + '\n[[channel.maintenance]]\nmonitors = ["https://b.test/"]\n'
        + "start = 2026-12-24T22:00:00Z\nend = 2026-12-25T01:00:00+01:00\n"
    )
    loaded = load(write(tmp_path, text))
    weekly, dated = loaded.windows
    assert (weekly.weekly, weekly.duration, weekly.urls) == (86400 + 4 * 3600 + 1800, 5400, None)
    assert (dated.start, dated.duration) == (_at("2026-12-24T22:00:00"), 7200)
    assert loaded.windows_of(CONSOLE, "https://a.test/") == (weekly,)
    assert loaded.windows_of(CONSOLE, "https://b.test/") == (weekly, dated)


async def test_a_scheduled_window_that_has_begun_holds_the_monitors_alerts(
    tmp_path: Path, control: OkServer
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now.timestamp() - 60, now.timestamp() + 3600
    iso = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    with ok_server() as a, ok_server() as b:
        text = (
            HEAD
            + monitor(a.url)
            + monitor(b.url)
            + f'\n[[channel.maintenance]]\nmonitors = ["{a.url}"]\n'
            + f"start = {iso(start)}\nend = {iso(end)}\n"
        )
        settings = fast_settings(tmp_path, control.url, sweep_every=0.2)
        async with ConsoleHarness(settings) as chat:
            chat.bot.load_monitors(load(write(tmp_path, text)))
            # The core's sweep opens it (no command, no check needed).
            await until(lambda: chat.bot.store.monitor(1).maintenance_until is not None)  # type: ignore[union-attr]
            assert chat.bot.file_windows() == 0  # already in it: nothing written again
            held = {m.url: m.maintenance_until for m in chat.bot.store.file_monitors()}
            assert held[a.url] is not None and held[a.url].timestamp() == end
            assert held[b.url] is None
            a.response = BAD
            await chat.bot.recheck(ME, 1)  # the Re-check button; confirm= re-checks follow
            await until(lambda: chat.bot.store.monitor(1).incident_id is not None)  # type: ignore[union-attr]
            assert chat.pending() == []  # the DOWN is held by the window


# ------------------------------------------------------------------------------- migration


def test_a_database_of_the_previous_schema_gains_the_source_column(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = sqlite_utils.Database(path)
    before = next(i for i, s in enumerate(_MIGRATIONS) if "source TEXT" in str(s))
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
    db.execute(f"PRAGMA user_version = {before}")
    db.conn.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION
        [kept] = store.monitors_in(CONSOLE)
        assert kept.url == "https://x.test/" and kept.source is None
        assert store.file_monitors() == ()
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
