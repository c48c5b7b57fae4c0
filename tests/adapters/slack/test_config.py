"""``SlackConfig.from_env``: which mode each set of variables chooses, and every refusal.

A refusal names the variable to fix and never shows a secret; neither does ``repr(config)``.
"""

from __future__ import annotations

import pytest

from adapters.registry import configured
from adapters.slack.config import DEFAULT_API_URL, Mode, SlackConfig
from bot.errors import SettingsError

BOT = "xoxb-1234-5678-botsecretvalue"
APP = "xapp-1-A0001-9999-appsecretvalue"
SIGNING = "signing-secret-value-0123456789"
CLIENT_SECRET = "client-secret-value-abcdef"
SECRETS = (BOT, APP, SIGNING, CLIENT_SECRET)

HTTP_ENV = {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING}
SOCKET_ENV = {"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP}
OAUTH_ENV = {
    "SLACK_CLIENT_ID": "111.222",
    "SLACK_CLIENT_SECRET": CLIENT_SECRET,
    "SLACK_SIGNING_SECRET": SIGNING,
}


def _no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
        assert secret[-12:] not in text  # not even a tail of it


# -------------------------------------------------------------------------------- the modes


def test_bot_token_and_signing_secret_mean_http_mode() -> None:
    config = SlackConfig.from_env(HTTP_ENV)
    assert config.mode is Mode.HTTP
    assert config.bot_token == BOT
    assert config.signing_secret == SIGNING
    assert config.app_token is None and config.client_id is None
    assert config.api_url == DEFAULT_API_URL
    assert config.command == "/check502"
    assert config.needs_http


def test_app_token_means_socket_mode_without_a_signing_secret() -> None:
    config = SlackConfig.from_env(SOCKET_ENV)
    assert config.mode is Mode.SOCKET
    assert (config.bot_token, config.app_token) == (BOT, APP)
    assert config.signing_secret == ""
    assert not config.needs_http  # a WebSocket out: no public URL


def test_socket_mode_ignores_a_signing_secret_set_as_well() -> None:
    config = SlackConfig.from_env({**SOCKET_ENV, "SLACK_SIGNING_SECRET": SIGNING})
    assert config.mode is Mode.SOCKET


def test_client_id_means_oauth_mode() -> None:
    config = SlackConfig.from_env(
        {**OAUTH_ENV, "SLACK_REDIRECT_URI": "https://bot.example.com/slack/oauth_redirect"},
        db_path="/data/check502.db",
    )
    assert config.mode is Mode.OAUTH
    assert (config.client_id, config.client_secret) == ("111.222", CLIENT_SECRET)
    assert config.bot_token is None  # each workspace's token comes from the installation store
    assert config.redirect_uri == "https://bot.example.com/slack/oauth_redirect"
    assert config.install_db == "/data/slack-installations.db"  # beside the bot's database


def test_oauth_mode_wins_over_a_single_bot_token() -> None:
    assert SlackConfig.from_env({**OAUTH_ENV, "SLACK_BOT_TOKEN": BOT}).mode is Mode.OAUTH


def test_the_install_db_and_command_and_listen_address_can_be_set() -> None:
    config = SlackConfig.from_env(
        {
            **OAUTH_ENV,
            "CHECK502_SLACK_INSTALL_DB": "/var/lib/installs.db",
            "CHECK502_SLACK_COMMAND": "/diag502",
        }
    )
    assert config.install_db == "/var/lib/installs.db"
    assert config.command == "/diag502"


def test_blank_values_count_as_unset_and_values_are_trimmed() -> None:
    config = SlackConfig.from_env(
        {
            "SLACK_BOT_TOKEN": f"  {BOT}\n",
            "SLACK_SIGNING_SECRET": f" {SIGNING} ",
            "SLACK_APP_TOKEN": "   ",
            "SLACK_CLIENT_ID": "",
        }
    )
    assert config.mode is Mode.HTTP
    assert config.bot_token == BOT and config.signing_secret == SIGNING


# ------------------------------------------------------------------------------ the refusals


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_SIGNING_SECRET": SIGNING}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": BOT}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_APP_TOKEN": APP}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": APP, "SLACK_SIGNING_SECRET": SIGNING}, "SLACK_BOT_TOKEN"),
        ({**HTTP_ENV, "SLACK_BOT_TOKEN": "xoxp-1234-5678-botsecretvalue"}, "SLACK_BOT_TOKEN"),
        ({**SOCKET_ENV, "SLACK_APP_TOKEN": "xoxb-1-A0001-9999-appsecretvalue"}, "SLACK_APP_TOKEN"),
        ({**SOCKET_ENV, "SLACK_BOT_TOKEN": APP}, "SLACK_BOT_TOKEN"),
        ({"SLACK_CLIENT_ID": "111.222", "SLACK_SIGNING_SECRET": SIGNING}, "SLACK_CLIENT_SECRET"),
        (
            {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": CLIENT_SECRET},
            "SLACK_SIGNING_SECRET",
        ),
        ({**OAUTH_ENV, "SLACK_APP_TOKEN": APP}, "SLACK_APP_TOKEN"),
        ({**HTTP_ENV, "SLACK_API_URL": "slack-gov.com/api/"}, "SLACK_API_URL"),
        ({**HTTP_ENV, "SLACK_API_URL": "ftp://slack.com/api/"}, "SLACK_API_URL"),
        ({**HTTP_ENV, "SLACK_API_URL": "https:///api/"}, "SLACK_API_URL"),
        ({**HTTP_ENV, "CHECK502_SLACK_COMMAND": "check502"}, "CHECK502_SLACK_COMMAND"),
        ({**HTTP_ENV, "CHECK502_SLACK_COMMAND": "/check 502"}, "CHECK502_SLACK_COMMAND"),
    ],
    ids=[
        "nothing",
        "only-signing-secret",
        "http-without-signing-secret",
        "app-token-without-bot-token",
        "app-token-and-secret-without-bot-token",
        "user-token-as-bot-token",
        "bot-token-as-app-token",
        "app-token-as-bot-token",
        "client-id-without-client-secret",
        "oauth-without-signing-secret",
        "oauth-with-socket-mode",
        "api-url-without-scheme",
        "api-url-not-http",
        "api-url-without-host",
        "command-without-slash",
        "command-with-space",
    ],
)
def test_a_bad_combination_is_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        SlackConfig.from_env(env)
    message = str(raised.value)
    assert named in message
    assert "\n" not in message
    _no_secret_in(message)


# ------------------------------------------------------------------------------ no secrets


@pytest.mark.parametrize("env", [HTTP_ENV, SOCKET_ENV, OAUTH_ENV], ids=["http", "socket", "oauth"])
def test_repr_shows_no_secret(env: dict[str, str]) -> None:
    config = SlackConfig.from_env(env)
    for text in (repr(config), str(config), f"{config!r}"):
        _no_secret_in(text)
        assert "SlackConfig(" in text and "mode=" in text


# ---------------------------------------------------------------------------- the API URL


@pytest.mark.parametrize(
    ("given", "api_url", "authorize"),
    [
        (None, "https://slack.com/api/", "https://slack.com/oauth/v2/authorize"),
        (
            "https://slack-gov.com/api/",
            "https://slack-gov.com/api/",
            "https://slack-gov.com/oauth/v2/authorize",
        ),
        (
            "https://slack-gov.com/api",
            "https://slack-gov.com/api/",
            "https://slack-gov.com/oauth/v2/authorize",
        ),
        (
            "http://127.0.0.1:5555/api",
            "http://127.0.0.1:5555/api/",
            "http://127.0.0.1:5555/oauth/v2/authorize",
        ),
    ],
    ids=["default", "govslack", "govslack-no-slash", "local-fake"],
)
def test_api_url_gets_a_trailing_slash_and_oauth_follows_its_host(
    given: str | None, api_url: str, authorize: str
) -> None:
    env = dict(OAUTH_ENV) if given is None else {**OAUTH_ENV, "SLACK_API_URL": given}
    config = SlackConfig.from_env(env)
    assert config.api_url == api_url
    assert config.authorization_url == authorize


# ------------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("env", "surfaces"),
    [
        ({}, ["console"]),
        ({"SLACK_BOT_TOKEN": BOT}, ["slack"]),
        (HTTP_ENV, ["slack"]),
        (SOCKET_ENV, ["slack"]),
        ({"SLACK_APP_TOKEN": APP}, ["slack"]),
        (OAUTH_ENV, ["slack"]),
        ({"SLACK_BOT_TOKEN": ""}, ["console"]),
        ({"SLACK_SIGNING_SECRET": SIGNING}, ["console"]),
        ({"SLACK_API_URL": "https://slack-gov.com/api/"}, ["console"]),
    ],
    ids=[
        "nothing",
        "bot-token",
        "http",
        "socket",
        "app-token-only",
        "oauth",
        "empty-bot-token",
        "signing-secret-only",
        "api-url-only",
    ],
)
def test_registry_runs_slack_when_a_slack_token_is_set_else_the_console(
    env: dict[str, str], surfaces: list[str]
) -> None:
    assert [entry.name for entry in configured(env)] == surfaces
