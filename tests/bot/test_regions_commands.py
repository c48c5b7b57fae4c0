"""``regions=`` and ``quorum=`` in chat and in the monitors file: every refusal is one short
sentence, the same values are accepted in both, and a monitor keeps its regions through the
store, ``list``, ``details`` and ``export``."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from adapters.console.surface import Posted
from bot.codec import alert_to_dict
from bot.commands import CommandError, Watch, format_command, help_text, parse_command
from bot.commands.grammar import REPLY_MAX
from bot.model import (
    Alert,
    AlertKind,
    Context,
    DiagnosisReply,
    ExportReply,
    Monitor,
    RegionView,
)
from bot.monitorsfile import MonitorsFileError, load, parse
from bot.settings import region_refusal
from checks import diagnose
from tests.bot.conftest import LOOPBACK, fast_settings
from tests.support import OkServer, ok_server

ME = Context(CONSOLE, "ana")
HEAD = '[[channel]]\nplatform = "console"\nchannel = "terminal"\n'
REDIS = "redis://:s3cret@127.0.0.1:1/0"
"""A Redis URL for settings only: nothing here connects to it."""


# ------------------------------------------------------------------------------------ grammar


@pytest.mark.parametrize(
    ("text", "regions", "quorum"),
    [
        ("watch x.test regions=eu,us,ap", ("eu", "us", "ap"), 0),
        ("watch x.test regions=US-East,eu quorum=1", ("us-east", "eu"), 1),
        ("watch x.test quorum=2 regions=ap,eu", ("ap", "eu"), 2),
        ("watch x.test regions=eu", ("eu",), 0),
        ("watch x.test regions=a,b,c quorum=3", ("a", "b", "c"), 3),
    ],
)
def test_regions_and_quorum_are_read(text: str, regions: tuple[str, ...], quorum: int) -> None:
    command = parse_command(text)
    assert command == Watch("https://x.test/", regions=regions, quorum=quorum)
    assert parse_command(format_command(command)) == command


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("watch x.test quorum=2", "quorum= goes with regions="),
        ("watch x.test regions=eu,us,eu", "regions= names eu twice"),
        ("watch x.test regions=eu,EU", "regions= names eu twice"),  # names are lower-cased
        ("watch x.test regions=e_u", '"e_u" is not a region name'),
        ("watch x.test regions=eu,,us", '"" is not a region name'),
        ("watch x.test regions=" + "x" * 33, "is not a region name"),
        ("watch x.test regions=" + "x" * 400, "is not a region name"),
        ("watch x.test regions=" + ",".join(f"r{i}" for i in range(17)), "at most 16"),
        ("watch x.test regions=eu,us quorum=3", "quorum= must be from 1 to 2"),
        ("watch x.test regions=eu,us quorum=0", "quorum= must be from 1 to 2"),
        ("watch x.test regions=eu,us quorum=two", "quorum= must be from 1 to 2"),
        ("watch x.test regions=", "regions= needs a value"),
        ("watch x.test regions=eu regions=us", "regions= is given twice"),
        ("x.test regions=eu", "regions= only applies to watch"),
    ],
)
def test_each_refusal_is_one_short_sentence(text: str, words: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    message = str(raised.value)
    assert words in raised.value.reason, message
    assert len(message) <= REPLY_MAX and "\n" not in message


def test_help_tells_of_regions_and_quorum() -> None:
    text = help_text("watch")
    assert "regions=eu,us [quorum=2]" in text
    assert "quorum= is how many must see it fail" in text


@pytest.mark.parametrize(
    ("wanted", "available", "words"),
    [
        (("eu",), (), "checks from no regions"),
        (("eu", "sa"), ("eu", "us"), 'no region "sa"; regions= can name eu, us.'),
        (("x",), tuple(f"region-{i:02d}-" + "y" * 23 for i in range(16)), ", …."),
    ],
)
def test_a_region_the_bot_lacks_is_refused_briefly(
    wanted: tuple[str, ...], available: tuple[str, ...], words: str
) -> None:
    refused = region_refusal(wanted, available)
    assert refused is not None and words in refused and len(refused) <= REPLY_MAX
    assert region_refusal(("eu",), ("us", "eu")) is None
    assert region_refusal((), ()) is None


# --------------------------------------------------------------------------------- chat, core


async def test_chat_refuses_regions_without_redis_or_unknown_ones(
    tmp_path: Path, control: OkServer
) -> None:
    plain = fast_settings(tmp_path, control.url, regions=("eu", "us"))  # no CHECK502_REDIS_URL
    with ok_server() as site:
        async with ConsoleHarness(plain) as chat:
            reply = await chat.push(f"watch {site.url} regions=eu")
            assert "checks from no regions" in reply and len(reply) <= REPLY_MAX
            assert chat.bot.store.rows("SELECT id FROM monitors") == []
        regional = replace(plain, redis_url=REDIS, db_path=str(tmp_path / "r.db"))
        async with ConsoleHarness(regional) as chat:
            reply = await chat.push(f"watch {site.url} regions=eu,ap")
            assert 'no region "ap"; regions= can name eu, us.' in reply
            assert "s3cret" not in reply
            assert chat.bot.store.rows("SELECT id FROM monitors") == []


async def test_a_regional_monitor_is_stored_listed_detailed_and_exported(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, regions=("eu", "us", "ap"), redis_url=REDIS)
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat:
            await chat.push(f"watch {site.url} regions=us,eu,ap quorum=2")
            [monitor] = chat.bot.store.monitors_in(CONSOLE)
            assert (monitor.regions, monitor.quorum) == (("us", "eu", "ap"), 2)
            listed = await chat.push("list")
            assert "regions us, eu, ap · quorum 2 of 3" in listed
            # An alert of its that showed each region: details shows the same table.
            view = RegionView("us", 502, 12.0, "127.0.0.1", "origin_down", "502", False, True)
            silent = RegionView("ap", None, None, None, "unknown", "no_answer", False, False,
                                "no answer from this region")  # fmt: skip
            posted = await _seed_down_alert(chat, monitor, (view, silent))
            # The console's alert: each region's row under the card.
            assert "Seen from 2 regions: 1 failing, 0 up, 1 not counted" in posted.text
            assert "us     502" in posted.text and "127.0.0.1" in posted.text
            assert "Origin down" in posted.text
            reply = await chat.bot.execute(ME, parse_command(f"details {monitor.id}"))
            assert isinstance(reply, DiagnosisReply)
            assert (reply.regions, reply.quorum, reply.views) == (
                ("us", "eu", "ap"),
                2,
                (view, silent),
            )
            shown = await chat.push(f"details {monitor.id}")
            assert "Checked from regions us, eu, ap · quorum 2 of 3" in shown
            assert "(not counted: no answer from this region)" in shown
            exported = await chat.bot.execute(ME, parse_command("export"))
            assert isinstance(exported, ExportReply)
            assert 'regions = ["us", "eu", "ap"]' in exported.text
            assert "quorum = 2" in exported.text
            [entry] = parse(exported.text, Path("check502.toml")).monitors
            assert entry.watch == monitor.as_watch()


async def _seed_down_alert(
    chat: ConsoleHarness, monitor: Monitor, views: tuple[RegionView, ...]
) -> Posted:
    """An incident of ``monitor`` and its DOWN alert showing ``views``, queued as the
    coordinator queues one (with a real diagnosis of the target); what the console showed."""
    diagnosis = await diagnose(monitor.url, policy=LOOPBACK, timeout=3.0)
    store = chat.bot.store
    now = time.time()
    with store.transaction():
        iid = store.execute(
            "INSERT INTO incidents (monitor_id, opened_at, cause, first_failure_at,"
            " last_failure_at, last_notified_at, alerted) VALUES (?,?,?,?,?,?,1)",
            (monitor.id, now, "origin_down", now, now, now),
        ).lastrowid
        alert = Alert(
            AlertKind.DOWN,
            datetime.fromtimestamp(now, UTC),
            monitor_id=monitor.id,
            url=monitor.url,
            incident_id=iid,
            diagnosis=diagnosis,
            regions=views,
        )
        payload = alert_to_dict(alert)
        store.enqueue(CONSOLE, alert, key=f"down:{iid}", now=now, payload=payload)
    chat.bot.sender.wake()
    return await chat.pop(timeout=10)


# ------------------------------------------------------------------------------ the file


def monitor(url: str, *lines: str) -> str:
    return "\n".join(["", "[[channel.monitor]]", f'url = "{url}"', *lines]) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "check502.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_takes_regions_as_a_list_and_quorum_as_a_number(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEAD
        + monitor("https://a.test/", 'regions = ["eu", "us", "ap"]', "quorum = 2")
        + monitor("https://b.test/", 'regions = "eu,us"')
        + monitor("https://c.test/", "regions = []"),
    )
    a, b, c = (m.watch for m in load(path, regions=("eu", "us", "ap")).monitors)
    assert (a.regions, a.quorum) == (("eu", "us", "ap"), 2)
    assert (b.regions, b.quorum) == (("eu", "us"), 0)
    assert (c.regions, c.quorum) == ((), 0)


@pytest.mark.parametrize(
    ("lines", "line", "key", "words"),
    [
        (('regions = ["eu", "eu"]',), 7, "regions", "regions= names eu twice"),
        (('regions = ["e u"]',), 7, "regions", "is not a region name"),
        (("regions = [1, 2]",), 7, "regions", "is a list of strings"),
        (("quorum = 2",), 7, "quorum", "quorum= goes with regions="),
        (('regions = ["eu", "us"]', "quorum = 3"), 8, "quorum", "quorum= must be from 1 to 2"),
        (('regions = ["eu", "us"]', 'quorum = "x"'), 8, "quorum", "quorum= must be from 1 to 2"),
        (('every = "1m"', 'regions = ["sa"]'), 8, "regions", 'no region "sa"'),
    ],
)
def test_the_file_refuses_what_chat_refuses_naming_the_line(
    tmp_path: Path, lines: tuple[str, ...], line: int, key: str, words: str
) -> None:
    path = write(tmp_path, HEAD + monitor("https://a.test/", *lines))
    with pytest.raises(MonitorsFileError) as raised:
        load(path, regions=("eu", "us"))
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: channel[1].monitor[1].{key}: "), message
    assert words in message and "\n" not in message


def test_the_file_refuses_regions_where_the_bot_has_none(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + monitor("https://a.test/", 'regions = ["eu"]'))
    with pytest.raises(MonitorsFileError) as raised:
        load(path, regions=())
    assert str(raised.value).startswith(f"{path}:7: channel[1].monitor[1].regions: ")
    assert "checks from no regions" in str(raised.value)
    assert load(path).monitors[0].watch.regions == ("eu",)  # None: not checked (export's parse)


async def test_a_file_edit_of_regions_updates_the_monitor_in_place(
    tmp_path: Path, control: OkServer
) -> None:
    settings = fast_settings(tmp_path, control.url, regions=("eu", "us", "ap"), redis_url=REDIS)
    with ok_server() as site:
        first = write(tmp_path, HEAD + monitor(site.url, 'regions = ["eu", "us"]'))
        async with ConsoleHarness(settings) as chat:
            assert chat.bot.load_monitors(load(first, regions=settings.available_regions)) == (
                1,
                0,
                0,
            )
            [before] = chat.bot.store.monitors_in(CONSOLE)
            edited = write(
                tmp_path, HEAD + monitor(site.url, 'regions = ["ap", "eu", "us"]', "quorum = 1")
            )
            loaded = load(edited, regions=settings.available_regions)
            assert chat.bot.load_monitors(loaded) == (0, 1, 0)
            [after] = chat.bot.store.monitors_in(CONSOLE)
            assert after.id == before.id
            assert (after.regions, after.quorum, after.needed) == (("ap", "eu", "us"), 1, 1)
            assert chat.bot.load_monitors(loaded) == (0, 0, 0)  # nothing changed, nothing written
            local = write(tmp_path, HEAD + monitor(site.url))
            assert chat.bot.load_monitors(load(local, regions=())) == (0, 1, 0)
            [back] = chat.bot.store.monitors_in(CONSOLE)
            assert (back.id, back.regions, back.quorum) == (before.id, (), 0)
