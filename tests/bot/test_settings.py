"""Every ``CHECK502_*`` variable: its default, how it is read, and how a bad value is reported.

A bad value stops the bot at start-up with a :class:`SettingsError` naming the variable, rather
than failing later (or silently doing something else).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import pytest

from bot.commands import DEFAULT_EVERY, DEFAULT_TIMEOUT
from bot.errors import SettingsError
from bot.settings import Settings
from checks import AddressPolicy


def test_no_variables_means_the_defaults() -> None:
    # But for the shards: check502-bot checks on every core unless told (Settings() has none,
    # so a test's bot checks in its own process).
    cores = len(os.sched_getaffinity(0))
    assert Settings.from_env({}) == Settings(shards=cores)


def test_blank_variables_mean_the_defaults() -> None:
    names = [
        "CHECK502_DB",
        "CHECK502_ALLOW_NETWORKS",
        "CHECK502_RESOLVER",
        "CHECK502_RETENTION_DAYS",
        "CHECK502_RAW_RETENTION",
        "CHECK502_RECHECK_DELAY",
        "CHECK502_REMINDER_INTERVAL",
        "CHECK502_CONTROL_URL",
        "CHECK502_CERT_WARN_DAYS",
        "CHECK502_RATE_USER",
    ]
    cores = len(os.sched_getaffinity(0))
    assert Settings.from_env(dict.fromkeys([*names, "CHECK502_SHARDS"], "  ")) == Settings(
        shards=cores
    )


def test_the_defaults_refuse_internal_addresses() -> None:
    settings = Settings()
    assert settings.policy == AddressPolicy()
    assert settings.policy.refusal("127.0.0.1") is not None
    assert settings.policy.refusal("10.0.0.1") is not None


@pytest.mark.parametrize(
    ("env", "attr", "expected"),
    [
        ({"CHECK502_DB": "/var/lib/check502/bot.db"}, "db_path", "/var/lib/check502/bot.db"),
        (
            {"CHECK502_ALLOW_NETWORKS": "10.0.0.0/8, 127.0.0.1"},
            "policy",
            AddressPolicy(
                allowed=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1"))
            ),
        ),
        ({"CHECK502_ALLOW_NETWORKS": "*"}, "policy", AddressPolicy(allow_all=True)),
        ({"CHECK502_RESOLVER": "127.0.0.1:5353"}, "resolver", "127.0.0.1:5353"),
        ({"CHECK502_RETENTION_DAYS": "7"}, "retention_days", 7),
        ({"CHECK502_RAW_RETENTION": "90m"}, "raw_retention", 5400.0),
        ({"CHECK502_RAW_RETENTION": "1d"}, "raw_retention", 86400.0),
        ({"CHECK502_MAX_CONCURRENT_CHECKS": "12"}, "max_concurrent_checks", 12),
        ({"CHECK502_RECHECK_DELAY": "5s"}, "recheck_delay", 5.0),
        ({"CHECK502_RECHECK_DELAY": "500ms"}, "recheck_delay", 0.5),
        ({"CHECK502_RECHECK_DELAY": "2"}, "recheck_delay", 2.0),
        ({"CHECK502_REMINDER_INTERVAL": "off"}, "reminder_interval", None),
        ({"CHECK502_REMINDER_INTERVAL": "OFF"}, "reminder_interval", None),
        ({"CHECK502_REMINDER_INTERVAL": "2h"}, "reminder_interval", 7200.0),
        ({"CHECK502_GROUP_WINDOW": "90s"}, "group_window", 90.0),
        ({"CHECK502_GROUP_WINDOW": "0"}, "group_window", 0.0),
        ({"CHECK502_COALESCE": "250ms"}, "coalesce", 0.25),
        ({"CHECK502_CONTROL_URL": "off"}, "control_url", None),
        (
            {"CHECK502_CONTROL_URL": "https://control.example.net/ping"},
            "control_url",
            "https://control.example.net/ping",
        ),
        ({"CHECK502_CERT_WARN_DAYS": "14,7,1"}, "cert_warn_days", (14, 7, 1)),
        ({"CHECK502_CERT_WARN_DAYS": "1, 30,7"}, "cert_warn_days", (30, 7, 1)),
        ({"CHECK502_RATE_USER": "3"}, "rate_user", 3),
        ({"CHECK502_RATE_CHANNEL": "9"}, "rate_channel", 9),
        ({"CHECK502_MAX_MONITORS_PER_CHANNEL": "5"}, "max_monitors_per_channel", 5),
        ({"CHECK502_MIN_INTERVAL": "60"}, "min_interval", 60),
        ({"CHECK502_SHARDS": "3"}, "shards", 3),
        ({"CHECK502_SHARDS": "0"}, "shards", 0),
    ],
)
def test_each_variable_is_read(env: dict[str, str], attr: str, expected: Any) -> None:
    settings = Settings.from_env(env)
    assert getattr(settings, attr) == expected
    # Only that setting moved.
    defaults = Settings.from_env({})
    others = {name: getattr(defaults, name) for name in Settings.__slots__ if name != attr}
    assert {name: getattr(settings, name) for name in others} == others


def test_allow_networks_opens_only_what_it_names() -> None:
    policy = Settings.from_env({"CHECK502_ALLOW_NETWORKS": "127.0.0.1"}).policy
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("127.0.0.2") is not None
    assert policy.refusal("10.0.0.1") is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHECK502_ALLOW_NETWORKS", "10.0.0.0/33"),
        ("CHECK502_ALLOW_NETWORKS", "intranet"),
        ("CHECK502_RETENTION_DAYS", "abc"),
        ("CHECK502_RETENTION_DAYS", "0"),
        ("CHECK502_RETENTION_DAYS", "1.5"),
        ("CHECK502_RAW_RETENTION", "5m"),
        ("CHECK502_RAW_RETENTION", "a while"),
        ("CHECK502_RAW_RETENTION", "31d"),
        ("CHECK502_MAX_CONCURRENT_CHECKS", "0"),
        ("CHECK502_MAX_CONCURRENT_CHECKS", "many"),
        ("CHECK502_RECHECK_DELAY", "soon"),
        ("CHECK502_RECHECK_DELAY", "-5s"),
        ("CHECK502_RECHECK_DELAY", "5 minutes"),
        ("CHECK502_REMINDER_INTERVAL", "hourly"),
        ("CHECK502_REMINDER_INTERVAL", "30s"),
        ("CHECK502_GROUP_WINDOW", "1 min"),
        ("CHECK502_COALESCE", "x"),
        ("CHECK502_CERT_WARN_DAYS", "14,seven"),
        ("CHECK502_RATE_USER", "ten"),
        ("CHECK502_RATE_USER", "0"),
        ("CHECK502_RATE_CHANNEL", "-1"),
        ("CHECK502_MAX_MONITORS_PER_CHANNEL", "lots"),
        ("CHECK502_MIN_INTERVAL", "30s"),
        ("CHECK502_MIN_INTERVAL", "0"),
        ("CHECK502_SHARDS", "two"),
        ("CHECK502_SHARDS", "-1"),
        ("CHECK502_SHARDS", "65"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # The bot builds its resolver from this at start-up; a host name is not a resolver.
        ("CHECK502_RESOLVER", "dns.google"),
        ("CHECK502_RESOLVER", "127.0.0.1:99999"),
        # Every outage would be held back as "monitoring degraded" if this cannot be checked.
        ("CHECK502_CONTROL_URL", "not a url"),
        ("CHECK502_CONTROL_URL", "ftp://example.com/"),
    ],
)
def test_a_value_that_would_only_fail_later_is_refused_at_start_up(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)


def test_the_raw_window_fits_in_the_retention() -> None:
    env = {"CHECK502_RETENTION_DAYS": "1", "CHECK502_RAW_RETENTION": "1d"}
    assert Settings.from_env(env).raw_retention == 86400.0
    with pytest.raises(SettingsError, match="CHECK502_RAW_RETENTION"):
        Settings.from_env({**env, "CHECK502_RAW_RETENTION": "25h"})


def test_the_first_bad_variable_is_the_one_named() -> None:
    with pytest.raises(SettingsError, match="CHECK502_RATE_USER"):
        Settings.from_env({"CHECK502_RATE_USER": "x", "CHECK502_DB": "ok.db"})


def test_the_defaults_keep_the_45_second_alert_promise() -> None:
    """Worst case at defaults: the outage starts just after a check; the next check (one
    interval later) fails at its deadline, the re-check after ``recheck_delay`` fails at its
    deadline too (confirm=2), and the alert waits ``coalesce`` for others of its channel.
    A guard on the defaults; the real measurement is bench/alert_latency."""
    s = Settings()
    worst = DEFAULT_EVERY + 2 * DEFAULT_TIMEOUT + s.recheck_delay + s.coalesce
    assert worst < 45, worst
