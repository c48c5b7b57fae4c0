"""The one duration parser and its three sets of rules (chat, ``timeout=``, settings).

Each row says what one place accepts and what it refuses, so a rule that leaks from one place
to another (``ms`` in a chat duration, a space in a chat token, a fraction of a minute in
``every=``) fails here.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commands import CommandError, parse_command, parse_duration
from bot.commands.durations import (
    CHAT,
    SETTING,
    TIMEOUT,
    DurationRules,
    format_timeout,
    read_duration,
    setting_seconds,
    timeout_seconds,
)
from bot.errors import SettingsError
from bot.settings import Settings


@pytest.mark.parametrize(
    ("text", "chat", "timeout", "setting"),
    [
        ("30s", 30, 30, 30),
        ("90", 90, 90, 90),
        ("1h30m", 5400, None, 5400),
        ("1w2d", 9 * 86400, None, 9 * 86400),
        ("500ms", None, Fraction(1, 2), Fraction(1, 2)),
        ("2.5s", None, Fraction(5, 2), Fraction(5, 2)),
        ("0.5", None, Fraction(1, 2), Fraction(1, 2)),
        ("1.5h", None, None, 5400),
        ("5 s", None, None, 5),
        ("5s500ms", None, None, Fraction(11, 2)),
        ("1h30", None, None, None),
        ("30m1h", None, None, None),
        ("1h1h", None, None, None),
        ("5 minutes", None, None, None),
        ("-5s", None, None, None),
        ("5x", None, None, None),
        ("٣s", None, None, None),
        (".5s", None, None, None),
        ("", None, None, None),
        ("9" * 13, None, None, None),
    ],
)
def test_each_place_reads_what_its_rules_allow(
    text: str, chat: int | None, timeout: Fraction | None, setting: Fraction | None
) -> None:
    assert read_duration(text, CHAT) == chat
    assert read_duration(text, TIMEOUT) == timeout
    assert read_duration(text, SETTING) == setting


def test_a_rule_turns_on_one_thing() -> None:
    base = DurationRules(frozenset({"h", "m", "s"}), compound=False)
    assert read_duration("1h30m", base) is None
    assert read_duration("1h30m", DurationRules(base.units)) == 5400
    assert read_duration("1.5m", base) is None
    assert read_duration("1.5m", DurationRules(base.units, fractions=True)) == 90
    assert read_duration("2 m", base) is None
    assert read_duration("2 m", DurationRules(base.units, spaced=True)) == 120
    assert read_duration("2d", base) is None


def test_the_grammar_and_the_settings_share_the_parser() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_command("mute 3 1h30m").seconds == 5400  # type: ignore[union-attr]
    # Settings read compound durations too now, and keep their milliseconds and fractions.
    assert Settings.from_env({"CHECK502_RAW_RETENTION": "1h30m"}).raw_retention == 5400.0
    assert Settings.from_env({"CHECK502_COALESCE": "0.25"}).coalesce == 0.25
    assert setting_seconds(" 5 s ") == 5.0
    with pytest.raises(CommandError, match="not a duration"):
        parse_duration("500ms")
    with pytest.raises(SettingsError, match="CHECK502_COALESCE"):
        Settings.from_env({"CHECK502_COALESCE": "1h 30m"})


@given(st.floats(1.0, 30.0))
def test_a_timeout_reads_back_exactly(value: float) -> None:
    assert timeout_seconds(format_timeout(value)[:-1]) == value
    assert timeout_seconds(format_timeout(value)) == value
