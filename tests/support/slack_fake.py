"""A local Slack for tests: the Web API, response URLs and Socket Mode, on 127.0.0.1.

Every request is recorded (:class:`Call`). Replies can be scripted per method (a 429 with
Retry-After, ``channel_not_found``, a 500), else each method answers as Slack does, with just
the fields slack-sdk and Bolt read. Also the client side of Slack: :func:`signed` builds
requests signed the way Slack signs them, :func:`command_form` and :func:`action_form` the
bodies Slack posts for a slash command and a button click.

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-t", base_url=slack.api_url)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from tests.support.loopback import LoopbackFake

SECRET = "test-signing-secret"
TEAM = "T0001"
CHANNEL = "C0001"
USER = "U0001"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float
    """time.monotonic() when it arrived."""

    @property
    def api(self) -> str:
        """``chat.postMessage`` for ``/api/chat.postMessage``; the path otherwise."""
        return self.path.removeprefix("/api/")

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def ratelimited(retry_after: int = 1) -> Scripted:
    return Scripted(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def error(code: str) -> Scripted:
    return Scripted(200, {"ok": False, "error": code})


class FakeSlack(LoopbackFake[Call]):
    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, list[Scripted]] = {}
        """Replies to give, in order, before the normal one: ``{"chat.postMessage": [...]}``."""
        self.installation = {
            "access_token": "xoxb-installed-T0002",
            "bot_user_id": "UBOT2",
            "app_id": "A0001",
            "team": {"id": "T0002", "name": "Second"},
        }
        self._ts = itertools.count(1)
        self.socket_acks: list[dict[str, Any]] = []
        self.connected = asyncio.Event()

    # --------------------------------------------------------------------------- lifecycle

    def describe(self, call: Call) -> str:
        return call.api

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._websocket)
        app.router.add_route("*", "/{tail:.*}", self._handle)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/resp/{name}"

    # ----------------------------------------------------------------------------- queries

    def of(self, api: str) -> list[Call]:
        """Calls of one Web API method (``chat.postMessage``) or path (``/resp/1``)."""
        return [c for c in self.calls if api in (c.api, c.path)]

    # ---------------------------------------------------------------------------- handlers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        body: dict[str, Any]
        if "json" in ctype and raw:
            body = json.loads(raw)
        else:
            body = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            body.update({k: v for k, v in request.query.items() if k not in body})
        call = Call(request.method, request.path, dict(request.headers), body, time.monotonic())
        self.record(call)
        queued = self.script.get(call.api) or self.script.get(call.path)
        if queued:
            s = queued.pop(0)
            return web.json_response(s.body, status=s.status, headers=s.headers)
        if call.path.startswith("/resp/"):
            return web.Response(text="ok")
        return web.json_response(self._answer(call))

    def _answer(self, call: Call) -> dict[str, Any]:
        match call.api:
            case "auth.test":
                team = "T0002" if call.token == self.installation["access_token"] else TEAM
                return {
                    "ok": True,
                    "url": "https://test.slack.com/",
                    "team": "Test",
                    "team_id": team,
                    "user": "check502",
                    "user_id": "UBOT",
                    "bot_id": "B0001",
                }
            case "chat.postMessage":
                ts = f"1700000000.{next(self._ts):06d}"
                channel = call.body.get("channel", CHANNEL)
                return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}
            case "chat.update":
                return {"ok": True, "channel": call.body.get("channel"), "ts": call.body.get("ts")}
            case "oauth.v2.access":
                return {
                    "ok": True,
                    "token_type": "bot",
                    "scope": "commands,chat:write,chat:write.public",
                    "authed_user": {"id": USER},
                    "enterprise": None,
                    "is_enterprise_install": False,
                    **self.installation,
                }
            case "apps.connections.open":
                return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/ws"}
        return {"ok": True}

    # ------------------------------------------------------------------------- Socket Mode

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1})
        self.connected.set()
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                self.socket_acks.append(json.loads(msg.data))
                self.changed()
        return ws

    async def push(self, envelope: dict[str, Any]) -> None:
        """Send a Socket Mode envelope to the connected app."""
        await asyncio.wait_for(self.connected.wait(), 10)
        await self.sockets[-1].send_json(envelope)

    async def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for ack in self.socket_acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            if time.monotonic() > deadline:
                raise AssertionError(f"no Socket Mode ack for {envelope_id}")
            await asyncio.sleep(0.02)


# ------------------------------------------------------------------------ Slack's requests


def command_form(
    text: str,
    response_url: str,
    *,
    team: str = TEAM,
    channel: str = CHANNEL,
    user: str = USER,
    command: str = "/check502",
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "ops",
        "user_id": user,
        "user_name": "ana",
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def action_payload(
    action_id: str,
    value: str,
    response_url: str,
    *,
    message: dict[str, Any] | None = None,
    team: str = TEAM,
    channel: str = CHANNEL,
    user: str = USER,
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it for a button click on ``message``."""
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "test"},
        "user": {"id": user, "username": "ana", "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "ops"},
        "message": message or {"type": "message", "ts": "1700000000.000001", "blocks": []},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "check502.actions",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }


def signed(
    form: dict[str, Any] | str,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> tuple[str, dict[str, str]]:
    """A form body and the headers Slack sends with it, signed with ``secret``."""
    body = form if isinstance(form, str) else urllib.parse.urlencode(form)
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = signature or SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
    }
    return body, headers


def action_form(payload: dict[str, Any]) -> str:
    return urllib.parse.urlencode({"payload": json.dumps(payload)})
