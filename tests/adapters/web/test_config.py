"""When the web server runs and where it listens: read from the environment, refused in one line."""

from __future__ import annotations

import pytest

from adapters.web.config import DEFAULT_PORT, TELEGRAM_PORT, WebConfig
from bot.errors import SettingsError


def test_the_console_only_default_starts_no_server() -> None:
    assert WebConfig.from_env({}).enabled is False


@pytest.mark.parametrize(
    ("env", "needed_by", "port"),
    [
        ({"CHECK502_WEB": "on"}, (), DEFAULT_PORT),
        ({"CHECK502_WEB": " TRUE "}, (), DEFAULT_PORT),
        ({"PORT": "8080"}, (), 8080),
        ({}, ("slack",), DEFAULT_PORT),
        ({}, ("telegram",), TELEGRAM_PORT),
        ({"PORT": " 443 "}, ("slack", "telegram"), 443),
    ],
    ids=["web-on", "web-true", "port", "slack-http", "telegram-webhook", "both-on-port"],
)
def test_it_starts_when_asked_when_port_is_set_or_when_a_surface_receives_over_http(
    env: dict[str, str], needed_by: tuple[str, ...], port: int
) -> None:
    config = WebConfig.from_env(env, needed_by=needed_by)
    assert config.enabled is True
    assert config.ports == (port,)
    assert config.host == "0.0.0.0"


def test_the_address_is_check502_listen() -> None:
    config = WebConfig.from_env({"CHECK502_WEB": "on", "CHECK502_LISTEN": " 127.0.0.1 "})
    assert config.host == "127.0.0.1"


def test_web_off_keeps_it_off_even_with_port() -> None:
    assert WebConfig.from_env({"CHECK502_WEB": "off", "PORT": "8080"}).enabled is False


@pytest.mark.parametrize(
    ("needed_by", "named"),
    [(("slack",), "slack receives"), (("slack", "telegram"), "slack and telegram receive")],
)
def test_web_off_with_a_surface_that_receives_over_http_is_one_line(
    needed_by: tuple[str, ...], named: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        WebConfig.from_env({"CHECK502_WEB": "off"}, needed_by=needed_by)
    message = str(raised.value)
    assert message.startswith("CHECK502_WEB=off")
    assert named in message
    assert "\n" not in message


def test_the_telegram_port_is_the_port_without_port_and_a_second_one_beside_it() -> None:
    alone = WebConfig.from_env({"CHECK502_TELEGRAM_PORT": "88"}, needed_by=("telegram",))
    assert alone.ports == (88,)
    both = {"PORT": "3000", "CHECK502_TELEGRAM_PORT": "8443"}
    assert WebConfig.from_env(both, needed_by=("telegram",)).ports == (3000, 8443)
    same = {"PORT": "8443", "CHECK502_TELEGRAM_PORT": "8443"}
    assert WebConfig.from_env(same, needed_by=("telegram",)).ports == (8443,)
    # Without a Telegram webhook it means nothing, as before.
    assert WebConfig.from_env(both, needed_by=("slack",)).ports == (3000,)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORT": "http"}, "PORT="),
        ({"PORT": "80.5"}, "PORT="),
        ({"PORT": "-1"}, "PORT="),
        ({"PORT": "65536"}, "PORT="),
        ({"CHECK502_TELEGRAM_PORT": "x"}, "CHECK502_TELEGRAM_PORT="),
        ({"CHECK502_WEB": "maybe"}, "CHECK502_WEB="),
    ],
)
def test_a_bad_value_is_refused_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        WebConfig.from_env(env, needed_by=("telegram",))
    assert str(raised.value).startswith(named)
