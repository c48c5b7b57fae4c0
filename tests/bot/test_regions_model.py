"""Regions in the data model: settings, the schema migration, the store, the alert codec, and
an outcome's regions reaching the alert it makes (contract 5 of issue 16)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from bot.codec import alert_from_dict, alert_to_dict
from bot.commands import Watch
from bot.errors import SettingsError
from bot.model import NO_ANSWER, OWN_NETWORK, Alert, AlertKind, Channel, RegionView
from bot.monitoring import Monitoring, classify
from bot.settings import Settings, redact_url
from bot.storage import _MIGRATIONS, SCHEMA_VERSION, Store
from checks import diagnose
from tests.bot.conftest import LOOPBACK, fast_settings
from tests.support import ok_server

CHANNEL = Channel("console", "local", "terminal")
NOW = 1_750_000_000.0

EU = RegionView("eu", 502, 31.5, "127.0.0.1", "origin_down", "502", False, True)
US = RegionView("us", 200, 12.0, "127.0.0.2", "ok", "200", True, True)
AP = RegionView("ap", None, None, None, "unknown", "dns_timeout", False, False, OWN_NETWORK)
SILENT = RegionView("sa", None, None, None, "unknown", "no_answer", False, False, NO_ANSWER)


# ------------------------------------------------------------------------------------ settings


def test_regions_are_off_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.redis_url is None and settings.redis_display is None
    assert settings.regions == () and settings.region_grace == 10.0


def test_redis_and_regions_are_read() -> None:
    settings = Settings.from_env(
        {
            "CHECK502_REDIS_URL": "rediss://worker:s3cret@redis.internal:6380/2",
            "CHECK502_REGIONS": "eu, us-east ,ap-2",
            "CHECK502_REGION_GRACE": "30s",
        }
    )
    assert settings.redis_url == "rediss://worker:s3cret@redis.internal:6380/2"
    assert settings.regions == ("eu", "us-east", "ap-2")
    assert settings.region_grace == 30.0
    assert settings.redis_display == "rediss://worker:***@redis.internal:6380/2"
    assert "s3cret" not in repr(settings)


def test_a_url_without_password_is_shown_as_is() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("redis://:pw@h:1") == "redis://:***@h:1"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"CHECK502_REDIS_URL": "http://:hunter2@redis:6379"}, "CHECK502_REDIS_URL is not"),
        ({"CHECK502_REDIS_URL": "redis://:hunter2@"}, "CHECK502_REDIS_URL is not"),
        ({"CHECK502_REDIS_URL": "redis://:hunter2@h:99999"}, "CHECK502_REDIS_URL is not"),
        ({"CHECK502_REDIS_URL": "redis://:hunter2@h:6379/x"}, "database number"),
        ({"CHECK502_REDIS_URL": "redis://:hunter2@h:0/0"}, "CHECK502_REDIS_URL is not"),
        ({"CHECK502_REDIS_URL": "redis://:hunter 2@h:6379/0"}, "CHECK502_REDIS_URL is not"),
        ({"CHECK502_REGIONS": "eu,US"}, "'US' is not a region name"),
        ({"CHECK502_REGIONS": "eu,,us"}, "'' is not a region name"),
        ({"CHECK502_REGIONS": "x" * 33}, "is not a region name"),
        ({"CHECK502_REGIONS": "eu,us,eu"}, "names eu twice"),
        ({"CHECK502_REGIONS": ",".join(f"r{i}" for i in range(17))}, "at most 16"),
        ({"CHECK502_REGION_GRACE": "soon"}, "CHECK502_REGION_GRACE='soon' is not a duration"),
        ({"CHECK502_REGION_GRACE": "0.5"}, "CHECK502_REGION_GRACE must be at least 1 s"),
    ],
)
def test_a_bad_region_setting_is_one_line_naming_it(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    message = str(raised.value)
    assert words in message
    assert "\n" not in message and "hunter2" not in message


# -------------------------------------------------------------------------------------- store


def test_a_monitor_keeps_its_regions_and_quorum(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "bot.db")
    try:
        regional = store.add_monitor(
            CHANNEL,
            Watch("https://a.test/", regions=("us", "eu", "ap"), quorum=2),
            created_by="ann",
            now=NOW,
        )
        local = store.add_monitor(CHANNEL, Watch("https://b.test/"), created_by="ann", now=NOW)
        assert (regional.regions, regional.quorum, regional.needed) == (("us", "eu", "ap"), 2, 2)
        assert (local.regions, local.quorum, local.needed) == ((), 0, 0)
        assert regional.as_watch().regions == ("us", "eu", "ap")
        assert store.schedule_rows(regional=True) == [(regional.id, 30)]
        assert store.schedule_rows(regional=False) == [(local.id, 30)]
        assert sorted(store.schedule_rows()) == [(regional.id, 30), (local.id, 30)]
        # An edit in place: the majority of two is two; back to local is NULL again.
        store.update_monitor(
            regional.id, Watch("https://a.test/", regions=("eu", "us")), source="f"
        )
        edited = store.monitor(regional.id)
        assert edited is not None and (edited.regions, edited.quorum, edited.needed) == (
            ("eu", "us"),
            0,
            2,
        )
        store.update_monitor(regional.id, Watch("https://a.test/"), source="f")
        assert store.row("SELECT regions, quorum FROM monitors WHERE id = ?", (regional.id,)) == {
            "regions": None,
            "quorum": None,
        }
    finally:
        store.close()


def test_the_previous_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    step = next(i for i, s in enumerate(_MIGRATIONS) if "regions TEXT" in str(s))
    db = sqlite_utils.Database(path)
    for older in _MIGRATIONS[:step]:
        if callable(older):
            older(db)
        else:
            db.executescript(older)
    db.execute(
        "INSERT INTO monitors (platform, workspace, channel, url, every, confirm, expect,"
        " timeout, created_by, created_at, state) VALUES ('console','local','terminal',"
        " 'https://x.test/', 60, 2, '200-399', 4.0, 'ann', 1.0, 'up')"
    )
    db.execute(f"PRAGMA user_version = {step}")
    db.conn.commit()
    db.close()
    store = Store.open(path)
    try:
        assert store.version == SCHEMA_VERSION
        [kept] = store.monitors_in(CHANNEL)
        assert (kept.url, kept.state, kept.regions, kept.quorum) == ("https://x.test/", "up", (), 0)
        assert store.schedule_rows(regional=False) == [(kept.id, 60)]
        assert store.schedule_rows(regional=True) == []
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        columns = {r[1] for r in raw.execute("PRAGMA table_info(monitors)")}
        assert {"regions", "quorum"} <= columns
    raw.close()


# -------------------------------------------------------------------------------------- codec


def test_an_alert_round_trips_its_regions_through_json() -> None:
    alert = Alert(
        AlertKind.DOWN,
        datetime.fromtimestamp(NOW, UTC),
        monitor_id=3,
        url="https://a.test/",
        regions=(EU, US, AP, SILENT),
    )
    stored = json.loads(json.dumps(alert_to_dict(alert)))
    assert stored["regions"][2]["note"] == OWN_NETWORK
    assert alert_from_dict(stored) == alert
    grouped = Alert(AlertKind.GROUPED, alert.at, grouped=(alert,))
    assert alert_from_dict(json.loads(json.dumps(alert_to_dict(grouped)))) == grouped


def test_an_alert_queued_before_regions_reads_with_none() -> None:
    alert = Alert(AlertKind.DOWN, datetime.fromtimestamp(NOW, UTC), monitor_id=1, url="u")
    older = alert_to_dict(alert)
    del older["regions"]
    assert alert_from_dict(older).regions == ()


# --------------------------------------------------------------------- outcome -> alert


async def test_an_outcomes_regions_reach_the_down_alert(tmp_path: Path) -> None:
    with ok_server(status=502, body=b"bad gateway") as site:
        diagnosis = await diagnose(site.url, policy=LOOPBACK, timeout=3.0)
    store = Store.open(tmp_path / "bot.db")
    try:
        settings = fast_settings(tmp_path, None)
        monitoring = Monitoring(store, settings, _never, health=None, clock=lambda: NOW)
        monitor = store.add_monitor(
            CHANNEL,
            Watch(site.url, confirm=1, regions=("eu", "us", "ap"), quorum=1),
            created_by="ann",
            now=NOW,
        )
        outcome = replace(classify(diagnosis, monitor.expect), regions=(EU, US, AP))
        assert not outcome.ok
        applied = monitoring.apply(monitor, outcome)
        assert applied.alerts >= 1
        [row] = store.rows("SELECT payload FROM outbox WHERE kind = 'down'")
        alert = alert_from_dict(json.loads(row["payload"]))
        assert alert.regions == (EU, US, AP)
    finally:
        store.close()


async def _never(monitor: object) -> object:
    raise AssertionError("no check runs here")
