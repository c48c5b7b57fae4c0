"""``TelegramConfig.from_env``: polling or webhook, the API URL, ports, and every refusal.

A refusal names the variable to fix and never shows a secret; neither does ``repr(config)``.
"""

from __future__ import annotations

import pytest

from adapters.registry import configured
from adapters.telegram.config import DEFAULT_API_URL, Mode, TelegramConfig
from bot.errors import SettingsError

TOKEN = "123456789:AAEsecret-part_of-the-token-0123456"
SECRET = "webhook-secret-value_0123456789"
SECRETS = (TOKEN, TOKEN.partition(":")[2], SECRET)
WEBHOOK = {
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram",
    "TELEGRAM_WEBHOOK_SECRET": SECRET,
}


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert secret[-12:] not in text  # not even a tail of it


def test_a_token_alone_means_polling_the_cloud_api() -> None:
    config = TelegramConfig.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert config.mode is Mode.POLLING
    assert config.token == TOKEN
    assert config.api_url == DEFAULT_API_URL == "https://api.telegram.org/bot"
    assert config.file_url == "https://api.telegram.org/file/bot"
    assert config.webhook_url is None and config.webhook_secret is None
    assert not config.needs_http  # polling: no public URL, nothing listens


def test_a_webhook_url_means_webhook_mode_on_its_path() -> None:
    config = TelegramConfig.from_env(WEBHOOK)
    assert config.mode is Mode.WEBHOOK
    assert config.webhook_url == "https://bot.example.com/telegram"
    assert config.webhook_secret == SECRET and not config.secret_generated
    assert config.webhook_path == "/telegram"
    assert config.needs_http


def test_a_webhook_without_a_secret_gets_one_made_for_the_run() -> None:
    env = {k: v for k, v in WEBHOOK.items() if k != "TELEGRAM_WEBHOOK_SECRET"}
    first, second = TelegramConfig.from_env(env), TelegramConfig.from_env(env)
    assert first.secret_generated and first.webhook_secret
    assert 16 <= len(first.webhook_secret) <= 256
    assert set(first.webhook_secret) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    )
    assert first.webhook_secret != second.webhook_secret


def test_the_webhook_path_can_be_set() -> None:
    config = TelegramConfig.from_env(
        {
            **WEBHOOK,
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/",
            "CHECK502_TELEGRAM_WEBHOOK_PATH": "/hooks/tg",
        }
    )
    assert config.webhook_path == "/hooks/tg"
    bare = TelegramConfig.from_env({**WEBHOOK, "TELEGRAM_WEBHOOK_URL": "https://b.example.com"})
    assert bare.webhook_path == "/"


@pytest.mark.parametrize(
    ("given", "api_url", "file_url"),
    [
        ("https://api.telegram.org/bot", DEFAULT_API_URL, "https://api.telegram.org/file/bot"),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        (
            "https://tg.example.com/bot/",
            "https://tg.example.com/bot",
            "https://tg.example.com/file/bot",
        ),
    ],
    ids=["cloud", "self-hosted-root", "self-hosted-slash", "self-hosted-bot-slash"],
)
def test_the_api_url_is_read_in_any_of_its_usual_forms(
    given: str, api_url: str, file_url: str
) -> None:
    config = TelegramConfig.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": given})
    assert (config.api_url, config.file_url) == (api_url, file_url)


def test_blank_values_count_as_unset_and_values_are_trimmed() -> None:
    config = TelegramConfig.from_env(
        {
            "TELEGRAM_BOT_TOKEN": f"  {TOKEN}\n",
            "TELEGRAM_WEBHOOK_URL": "   ",
            "TELEGRAM_API_URL": "",
        }
    )
    assert config.token == TOKEN and config.mode is Mode.POLLING
    assert config.api_url == DEFAULT_API_URL


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "AAEsecret-part_of-the-token-0123456"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": "123456789:short"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_BOT_TOKEN": TOKEN + " extra"}, "TELEGRAM_BOT_TOKEN"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": "too-short"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": SECRET + "!"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": "x" * 257}, "TELEGRAM_WEBHOOK_SECRET"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_URL": "bot.example.com/tg"}, "TELEGRAM_WEBHOOK_URL"),
        ({**WEBHOOK, "TELEGRAM_WEBHOOK_URL": "http://bot.example.com/tg"}, "TELEGRAM_WEBHOOK_URL"),
        ({**WEBHOOK, "CHECK502_TELEGRAM_WEBHOOK_PATH": "tg"}, "CHECK502_TELEGRAM_WEBHOOK_PATH"),
        ({**WEBHOOK, "CHECK502_TELEGRAM_WEBHOOK_PATH": "/t g"}, "CHECK502_TELEGRAM_WEBHOOK_PATH"),
        ({**WEBHOOK, "TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"),
        ({**WEBHOOK, "TELEGRAM_API_URL": "ftp://api.telegram.org/bot"}, "TELEGRAM_API_URL"),
        ({**WEBHOOK, "TELEGRAM_API_URL": "https://x/bot{token}"}, "TELEGRAM_API_URL"),
        (
            {**WEBHOOK, "TELEGRAM_API_URL": f"https://api.telegram.org/bot{TOKEN}"},
            "TELEGRAM_API_URL",
        ),
    ],
    ids=[
        "nothing",
        "token-without-bot-id",
        "token-too-short",
        "token-with-space",
        "secret-too-short",
        "secret-bad-character",
        "secret-too-long",
        "webhook-url-without-scheme",
        "webhook-url-plain-http-to-the-cloud",
        "path-without-slash",
        "path-with-space",
        "api-url-without-scheme",
        "api-url-not-http",
        "api-url-with-placeholder",
        "api-url-with-the-token",
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        TelegramConfig.from_env(env)
    message = str(raised.value)
    assert named in message
    assert "\n" not in message
    _no_secret_in(message)


def test_plain_http_webhooks_are_fine_with_a_self_hosted_api() -> None:
    config = TelegramConfig.from_env(
        {
            **WEBHOOK,
            "TELEGRAM_WEBHOOK_URL": "http://10.0.0.5:8443/tg",
            "TELEGRAM_API_URL": "http://127.0.0.1:8081",
        }
    )
    assert config.mode is Mode.WEBHOOK and config.webhook_path == "/tg"


@pytest.mark.parametrize(
    "env", [{"TELEGRAM_BOT_TOKEN": TOKEN}, WEBHOOK], ids=["polling", "webhook"]
)
def test_repr_shows_no_secret(env: dict[str, str]) -> None:
    config = TelegramConfig.from_env(env)
    for text in (repr(config), str(config), f"{config!r}"):
        _no_secret_in(text)
        assert "TelegramConfig(" in text and "api_url=" in text


@pytest.mark.parametrize(
    ("env", "surfaces"),
    [
        ({"TELEGRAM_BOT_TOKEN": TOKEN}, ["telegram"]),
        (WEBHOOK, ["telegram"]),
        ({"TELEGRAM_BOT_TOKEN": ""}, ["console"]),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.com/tg"}, ["console"]),
        ({"TELEGRAM_API_URL": "http://127.0.0.1:8081"}, ["console"]),
    ],
    ids=["token", "webhook", "empty-token", "webhook-url-only", "api-url-only"],
)
def test_registry_runs_telegram_when_its_token_is_set(
    env: dict[str, str], surfaces: list[str]
) -> None:
    assert [entry.name for entry in configured(env)] == surfaces
