"""The request options of check and watch: spelling, quoting, refusals (bot.commands.request)."""

from __future__ import annotations

import pytest

from bot.commands import Check, CommandError, Watch, format_command, parse_command
from bot.errors import SettingsError
from bot.settings import Settings
from checks import Auth, RequestSpec


def test_every_option_and_the_chat_apps_quotes() -> None:
    cmd = parse_command(
        "watch https://api.example.com/v1 method=post header=“X-Api: 1” header='X-Team: a b'"
        ' body=\'{"a": 1}\' auth=bearer:API_TOKEN keyword="all ok" not_keyword=‘error’'
        " slow=800ms follow=off"
    )
    assert isinstance(cmd, Watch)
    assert cmd.request == RequestSpec(
        method="POST",
        headers=(("X-Api", "1"), ("X-Team", "a b")),
        body='{"a": 1}',
        auth=Auth("bearer", ("API_TOKEN",)),
        keyword="all ok",
        not_keyword="error",
        slow_ms=800,
    )
    assert cmd.follow is False
    assert parse_command(format_command(cmd)) == cmd


def test_the_one_off_check_takes_them_too() -> None:
    cmd = parse_command("https://api.example.com auth=basic:API_USER:API_PASS keyword=ok")
    assert isinstance(cmd, Check)
    assert cmd.request.auth == Auth("basic", ("API_USER", "API_PASS"))
    assert format_command(cmd).endswith("auth=basic:API_USER:API_PASS keyword=ok")


def test_slow_spellings() -> None:
    for text, ms in (("800ms", 800), ("2s", 2000), ("1.5s", 1500)):
        cmd = parse_command(f"watch https://a.example.com slow={text}")
        assert isinstance(cmd, Watch) and cmd.request.slow_ms == ms


@pytest.mark.parametrize(
    "secret",
    ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "a1b2C3d4"],
)
def test_auth_refuses_a_literal_secret_and_never_repeats_it(secret: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(f"watch https://a.example.com auth=bearer:{secret}")
    assert "NAME of an environment variable" in str(caught.value)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("method=BREW", "method= is one of GET"),
        ("header=X-Api", "is not a header"),
        ('header="Host: evil.example"', "Host header comes from the URL"),
        ('header="Authorization: Bearer x"', "Credentials go in auth="),
        ("body=x", "A GET sends no body"),
        ("auth=token:API_TOKEN", "auth= is bearer:<VAR>"),
        ("auth=basic:ONLY_ONE", "auth= is bearer:<VAR>"),
        ("slow=fast", "not a latency"),
        ("slow=200s", "from 1ms to 120s"),
        ("follow=maybe", "follow= is on or off"),
        ("keyword=a keyword=b", "keyword= is given twice"),
    ],
)
def test_bad_request_options_get_a_short_reason(text: str, words: str) -> None:
    with pytest.raises(CommandError, match=words):
        parse_command(f"watch https://a.example.com {text}")


def test_the_operator_lists_the_variables_auth_may_name() -> None:
    read = Settings.from_env({"CHECK502_AUTH_VARS": "API_TOKEN, API_USER,API_TOKEN"})
    assert read.auth_vars == ("API_TOKEN", "API_USER")
    assert Settings.from_env({}).auth_vars == ()
    with pytest.raises(SettingsError, match="must not list the bot's own CHECK502_DB"):
        Settings.from_env({"CHECK502_AUTH_VARS": "API_TOKEN,CHECK502_DB"})
    with pytest.raises(SettingsError, match="CHECK502_AUTH_VARS lists environment variable"):
        Settings.from_env({"CHECK502_AUTH_VARS": "not-a-name"})
