"""The targets' settings: every bad variable named on its own line, before anything opens;
secrets never in a message or a repr."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from adapters.notify import NotifyConfig, build_notifiers
from adapters.notify.config import DEFAULT_PAGERDUTY_URL, EU_PAGERDUTY_URL
from bot.errors import SettingsError
from tests.support.entrypoint import bot_env, kill, spawn
from tests.support.receivers import ROUTING_KEY, WEBHOOK_SECRET

TELEGRAM_TOKEN = "123456789:AAEexampleexampleexampleexampleexam"
GOOD = {
    "CHECK502_WEBHOOK_URL": "https://hooks.example.com/t/SECRETPATH",
    "CHECK502_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "CHECK502_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
    "CHECK502_SMTP_HOST": "smtp.example.com",
    "CHECK502_SMTP_USER": "bot",
    "CHECK502_SMTP_PASSWORD": "hunter2-smtp",
    "CHECK502_SMTP_FROM": "check502@example.com",
    "CHECK502_SMTP_TO": "a@example.com, b@example.com",
}


def test_every_target_from_the_environment() -> None:
    config = NotifyConfig.from_env(GOOD)
    assert config.names == ("webhook", "pagerduty", "email")
    assert config.webhook is not None
    assert config.webhook.secret == base64.b64decode(WEBHOOK_SECRET[6:])
    assert config.pagerduty is not None and config.pagerduty.url == DEFAULT_PAGERDUTY_URL
    assert config.email is not None
    assert (config.email.port, config.email.starttls) == (587, True)
    assert config.email.to == ("a@example.com", "b@example.com")
    shown = repr(config)
    for secret in ("SECRETPATH", WEBHOOK_SECRET[6:], ROUTING_KEY, "hunter2-smtp"):
        assert secret not in shown
    assert [n.name for n in build_notifiers(config)] == ["webhook", "pagerduty", "email"]
    assert set(config.secrets) == {
        GOOD["CHECK502_WEBHOOK_URL"],
        "/t/SECRETPATH",
        WEBHOOK_SECRET[6:],
        ROUTING_KEY,
        "hunter2-smtp",
    }
    assert NotifyConfig.from_env({}).names == ()
    eu = NotifyConfig.from_env(
        {"CHECK502_PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "CHECK502_PAGERDUTY_URL": EU_PAGERDUTY_URL}
    )
    assert eu.pagerduty is not None and eu.pagerduty.url == EU_PAGERDUTY_URL


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"CHECK502_WEBHOOK_SECRET": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "must start with whsec_"),
        ({"CHECK502_WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "5 bytes after whsec_"),
        ({"CHECK502_WEBHOOK_SECRET": "whsec_!!!"}, "not base64"),
        ({"CHECK502_WEBHOOK_SECRET": ""}, "CHECK502_WEBHOOK_SECRET is needed"),
        ({"CHECK502_WEBHOOK_URL": "ftp://x"}, "CHECK502_WEBHOOK_URL is not an http(s) URL"),
        ({"CHECK502_WEBHOOK_URL": ""}, "CHECK502_WEBHOOK_SECRET is set but"),
        ({"CHECK502_PAGERDUTY_ROUTING_KEY": "short"}, "CHECK502_PAGERDUTY_ROUTING_KEY is not"),
        ({"CHECK502_PAGERDUTY_URL": "events"}, "CHECK502_PAGERDUTY_URL is not an http(s)"),
        ({"CHECK502_SMTP_PORT": "99999"}, "CHECK502_SMTP_PORT must be a port"),
        ({"CHECK502_SMTP_PASSWORD": ""}, "CHECK502_SMTP_PASSWORD is needed too"),
        ({"CHECK502_SMTP_FROM": "nobody"}, "CHECK502_SMTP_FROM is not an email address"),
        ({"CHECK502_SMTP_TO": "a@x.test, nope"}, "CHECK502_SMTP_TO is not a comma list"),
        ({"CHECK502_SMTP_STARTTLS": "maybe"}, "CHECK502_SMTP_STARTTLS must be on or off"),
        ({"CHECK502_SMTP_HOST": ""}, "CHECK502_SMTP_FROM is set but CHECK502_SMTP_HOST is not"),
    ],
)
def test_a_bad_variable_is_named(changes: dict[str, str], named: str) -> None:
    env = {**GOOD, **changes}
    with pytest.raises(SettingsError) as raised:
        NotifyConfig.from_env(env)
    assert named in str(raised.value)
    for secret in ("SECRETPATH", ROUTING_KEY, "hunter2-smtp", WEBHOOK_SECRET[6:]):
        assert secret not in str(raised.value)


async def test_check502_bot_names_each_bad_target_variable_and_opens_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = bot_env(
        home,
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        CHECK502_WEBHOOK_URL="https://hooks.example.com/x",
        CHECK502_WEBHOOK_SECRET="not-a-secret",
        CHECK502_PAGERDUTY_ROUTING_KEY="k",
        CHECK502_SMTP_TO="oncall@example.com",
    )
    proc = await spawn(env)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30.0)
    finally:
        await kill(proc)
    assert proc.returncode == 2, (out, err)
    lines = err.decode().splitlines()
    assert lines == [
        "check502-bot: CHECK502_WEBHOOK_SECRET must start with whsec_",
        "check502-bot: CHECK502_PAGERDUTY_ROUTING_KEY is not an Events API v2 integration key"
        " (32 letters and digits)",
        "check502-bot: CHECK502_SMTP_TO is set but CHECK502_SMTP_HOST is not",
    ]
    assert list(home.iterdir()) == []  # no database, no lock file
