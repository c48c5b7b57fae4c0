"""The Slack surface's three ways to run, each through the real library code end to end.

* Socket Mode: slack-bolt's own ``AsyncSocketModeHandler`` over a real WebSocket to the fake.
* OAuth: Bolt's install page and redirect, slack-sdk's SQLite installation store, and alerts
  posted with the token of the workspace they are for.
* ``check502-bot`` itself, as a process, configured for Slack by its environment.

Everything binds 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import signal
import time
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from adapters.slack.app import EVENTS_PATH, SlackApp, mount
from adapters.slack.config import Mode, SlackConfig
from bot.core import Bot
from bot.errors import DeliveryError
from bot.model import Alert, AlertKind, Channel, Delivery
from tests.bot.conftest import fast_settings
from tests.support import OkServer, free_port, ok_server
from tests.support.entrypoint import bot_env, kill, spawn
from tests.support.slack_fake import SECRET, FakeSlack, command_form, error, signed
from tests.support.slack_render_check import assert_valid_blocks, block_text
from tests.support.web import web_server


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, control: OkServer) -> AsyncIterator[Bot]:
    bot = Bot(fast_settings(tmp_path, control.url))
    try:
        yield bot
    finally:
        await bot.stop()
        bot.close()


# ------------------------------------------------------------------------------ Socket Mode


async def test_socket_mode_command_over_a_real_websocket(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with FakeSlack() as fake, running_bot(tmp_path, control) as bot:
            config = SlackConfig(
                mode=Mode.SOCKET, api_url=fake.api_url, bot_token="xoxb-test", app_token="xapp-test"
            )
            slack = SlackApp(bot, config)
            bot.attach(slack.surface)
            await bot.start()
            handler = AsyncSocketModeHandler(slack.app, "xapp-test")
            try:
                await asyncio.wait_for(handler.connect_async(), 10)
                (opened,) = await fake.wait("apps.connections.open")
                assert opened.headers.get("Authorization") == "Bearer xapp-test"
                await asyncio.wait_for(fake.connected.wait(), 10)

                response_url = fake.response_url("socket-1")
                form = command_form(site.url, response_url)
                envelope = {
                    "envelope_id": "e-0001",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": form,
                }
                started = time.monotonic()
                await fake.push(envelope)
                ack = await fake.wait_ack("e-0001")
                assert time.monotonic() - started < 3.0
                assert ack["payload"]["response_type"] == "in_channel"
                assert ack["payload"]["text"] == f"Checking {site.url}…"

                (result,) = await fake.wait(response_url.removeprefix(fake.url))
                assert result.body["response_type"] == "in_channel"
                assert result.body["replace_original"] is True
                assert_valid_blocks(result.body["blocks"])
                assert "200 OK" in block_text(result.body["blocks"])
                # The envelope carried no signature and the app has no signing secret: Socket
                # Mode needs none, and the answer went through the response URL, no fallback.
                assert config.signing_secret == ""
                assert fake.of("chat.postMessage") == []
            finally:
                await handler.close_async()


# ------------------------------------------------------------------------------------ OAuth


# slack-sdk 3.48 builds its client_id/secret auth with aiohttp.BasicAuth, which aiohttp 3.14
# deprecates; the warning is slack-sdk's, not ours (pyproject turns warnings into errors).
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_oauth_install_then_commands_and_alerts_use_the_installed_token(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with FakeSlack() as fake, running_bot(tmp_path, control) as bot:
            config = SlackConfig(
                mode=Mode.OAUTH,
                api_url=fake.api_url,
                client_id="111.222",
                client_secret="s",
                signing_secret=SECRET,
                install_db=str(tmp_path / "inst.db"),
            )
            slack = SlackApp(bot, config)
            bot.attach(slack.surface)
            await bot.start()
            async with web_server(bot) as server:
                mount(slack, server)
                base = server.url
                async with httpx.AsyncClient(timeout=10) as http:
                    await _install(http, base, fake)
                    assert slack.installations is not None
                    bot_row = await slack.installations.async_find_bot(
                        enterprise_id=None, team_id="T0002"
                    )
                    assert bot_row is not None
                    assert bot_row.bot_token == "xoxb-installed-T0002"

                    # A command from the new workspace: authorised with its token, answered.
                    response_url = fake.response_url("oauth-1")
                    body, headers = signed(command_form(site.url, response_url, team="T0002"))
                    r = await http.post(f"{base}{EVENTS_PATH}", content=body, headers=headers)
                    assert r.status_code == 200
                    assert r.json()["text"] == f"Checking {site.url}…"
                    (result,) = await fake.wait(response_url.removeprefix(fake.url))
                    assert "200 OK" in block_text(result.body["blocks"])
                    assert any(c.token == "xoxb-installed-T0002" for c in fake.of("auth.test"))

                # An alert for that workspace goes out with that workspace's bot token.
                alert = Alert(AlertKind.DEGRADED, datetime.now(UTC), detail="DNS is down")
                ref = await slack.surface.deliver(
                    Delivery("oauth-alert-1", Channel("slack", "T0002", "C0002"), alert)
                )
                (post,) = await fake.wait("chat.postMessage")
                assert post.headers["Authorization"] == "Bearer xoxb-installed-T0002"
                assert post.body["channel"] == "C0002"
                assert "Monitoring degraded" in post.body["text"]
                assert ref.message_id.startswith("1700000000.")

                # A workspace that never installed the app cannot be posted to, ever.
                restored = Alert(AlertKind.RESTORED, datetime.now(UTC))
                with pytest.raises(DeliveryError) as raised:
                    await slack.surface.deliver(
                        Delivery("oauth-alert-2", Channel("slack", "T0999", "C0009"), restored)
                    )
                assert raised.value.permanent is True
                assert "T0999" in str(raised.value)
                assert len(fake.of("chat.postMessage")) == 1


async def _install(http: httpx.AsyncClient, base: str, fake: FakeSlack) -> None:
    """What a browser does: the install page, Slack's authorize page, back to the redirect."""
    page = await http.get(f"{base}/slack/install")
    assert page.status_code == 200
    cookie = page.headers["set-cookie"].split(";")[0]
    name, _, state = cookie.partition("=")
    assert name == "slack-app-oauth-state" and state
    match = re.search(r'<a href="([^"]+)"', page.text)
    assert match is not None, page.text
    authorize = urllib.parse.urlsplit(html.unescape(match.group(1)))
    # Slack's authorize page on the API's own host (the fake here), never slack.com.
    assert f"{authorize.scheme}://{authorize.netloc}" == fake.url
    assert authorize.path == "/oauth/v2/authorize"
    query = urllib.parse.parse_qs(authorize.query)
    assert query["state"] == [state]
    assert query["client_id"] == ["111.222"]
    assert query["scope"] == ["commands,chat:write,chat:write.public,files:write"]

    # Slack sends the browser back with a code; the state must match the browser's cookie.
    forged = await http.get(f"{base}/slack/oauth_redirect", params={"code": "abc", "state": state})
    assert forged.status_code == 400  # no cookie: not the browser that started
    assert fake.of("oauth.v2.access") == []
    done = await http.get(
        f"{base}/slack/oauth_redirect",
        params={"code": "abc", "state": state},
        headers={"Cookie": cookie},
    )
    assert done.status_code == 200, done.text
    (access,) = fake.of("oauth.v2.access")
    assert access.body["code"] == "abc"
    assert access.headers["Authorization"].startswith("Basic ")  # client id and secret
    # The state is used up: the same redirect a second time installs nothing.
    again = await http.get(
        f"{base}/slack/oauth_redirect",
        params={"code": "abc", "state": state},
        headers={"Cookie": cookie},
    )
    assert again.status_code == 401
    assert len(fake.of("oauth.v2.access")) == 1


# ------------------------------------------------------------------------ check502-bot itself


async def _healthy(http: httpx.AsyncClient, url: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 8.0
    while True:
        if proc.returncode is not None:
            _, err = await proc.communicate()
            raise AssertionError(f"check502-bot exited {proc.returncode}: {err.decode()}")
        with contextlib.suppress(httpx.TransportError):
            r = await http.get(url)
            if r.status_code == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never answered")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("log_level", ["WARNING", "DEBUG"])
async def test_check502_bot_serves_slack_over_http_and_stops_on_sigterm(
    tmp_path: Path, log_level: str
) -> None:
    token = "xoxb-1111-2222-entrypoint-token"
    async with FakeSlack() as fake:
        port = free_port()
        env = bot_env(
            tmp_path,
            SLACK_BOT_TOKEN=token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            PORT=str(port),
            CHECK502_LOG_LEVEL=log_level,
        )
        proc = await spawn(env)
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                base = f"http://127.0.0.1:{port}"
                await _healthy(http, f"{base}/readyz", proc)
                body, headers = signed(command_form("help", fake.response_url("bin-1")))
                r = await http.post(f"{base}{EVENTS_PATH}", content=body, headers=headers)
                assert r.status_code == 200, r.text
                ack = r.json()
                assert ack.get("response_type", "ephemeral") == "ephemeral"
                assert_valid_blocks(ack["blocks"])
                assert "watch" in block_text(ack["blocks"])
                # The bot token was checked against the configured API, not slack.com.
                (auth,) = await fake.wait("auth.test")
                assert auth.token == token
                unsigned = await http.post(
                    f"{base}{EVENTS_PATH}",
                    content=body,
                    headers={**headers, "X-Slack-Signature": "v0=0"},
                )
                assert unsigned.status_code == 401

            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 5.0)
            assert proc.returncode == 0, err.decode()
            output = out.decode() + err.decode()
            if log_level == "DEBUG":  # the libraries logged their requests...
                assert "auth.test" in output
            assert token not in output  # ...but never the secrets
            assert SECRET not in output
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-3333-4444-no-secret-token"}, "SLACK_SIGNING_SECRET"),
        (
            {"SLACK_BOT_TOKEN": "xoxp-5555-6666-user-token", "SLACK_SIGNING_SECRET": SECRET},
            "SLACK_BOT_TOKEN",
        ),
    ],
    ids=["no-signing-secret", "user-token"],
)
async def test_check502_bot_refuses_bad_slack_settings_in_one_line(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    proc = await spawn(bot_env(tmp_path, PORT=str(free_port()), **settings))
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 8.0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("check502-bot: ")
    assert named in lines[0]
    for value in settings.values():
        assert value not in out.decode() + err.decode()


async def test_check502_bot_in_socket_mode_needs_no_port_and_answers_over_the_websocket(
    tmp_path: Path,
) -> None:
    app_token, token = "xapp-1-A1-socket-token", "xoxb-7777-8888-socket-token"
    async with FakeSlack() as fake:
        env = bot_env(
            tmp_path, SLACK_APP_TOKEN=app_token, SLACK_BOT_TOKEN=token, SLACK_API_URL=fake.api_url
        )
        proc = await spawn(env)
        try:
            (opened,) = await fake.wait("apps.connections.open")
            assert opened.token == app_token
            response_url = fake.response_url("socket-bin")
            envelope = {
                "envelope_id": "e-bin",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": command_form("list", response_url),
            }
            await fake.push(envelope)
            await fake.wait_ack("e-bin")
            (listing,) = await fake.wait(response_url.removeprefix(fake.url))
            assert listing.body["response_type"] == "in_channel"
            assert "No monitors in this channel" in listing.body["text"]
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 5.0)
            assert proc.returncode == 0, err.decode()
            assert app_token not in out.decode() + err.decode()
            assert token not in out.decode() + err.decode()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_check502_bot_checks_the_bot_token_before_it_starts(tmp_path: Path) -> None:
    token = "xoxb-9999-refused-token"
    async with FakeSlack() as fake:
        fake.script["auth.test"] = [error("invalid_auth")]
        env = bot_env(
            tmp_path, SLACK_APP_TOKEN="xapp-1-x", SLACK_BOT_TOKEN=token, SLACK_API_URL=fake.api_url
        )
        proc = await spawn(env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 10.0)
        finally:
            await kill(proc)
        assert proc.returncode == 2
        lines = err.decode().splitlines()
        assert lines == ["check502-bot: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"]
        assert token not in out.decode()
        assert fake.of("apps.connections.open") == []  # nothing started


async def test_check502_bot_names_the_slack_api_url_it_cannot_reach(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/api/"
    env = bot_env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-1-x",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=dead,
        PORT=str(free_port()),
    )
    proc = await spawn(env)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 15.0)
    finally:
        await kill(proc)
    assert proc.returncode == 2
    lines = err.decode().splitlines()
    assert len(lines) == 1 and "SLACK_API_URL" in lines[0] and "cannot reach Slack" in lines[0]
