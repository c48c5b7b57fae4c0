"""A local Slack for tests: the Web API, response URLs and Socket Mode, on 127.0.0.1.

Every request is recorded (:class:`Call`). Replies can be scripted per method (a 429 with
Retry-After, ``channel_not_found``, a 500), else each method answers as Slack does, with just
the fields slack-sdk and Bolt read.

It is as strict as Slack about what a message may be (:func:`message_errors`): at most 50
blocks, each valid by slack-sdk's own Block Kit models (section text 3,000, header 150, button
value 2,000, ``action_id`` 255, 25 elements per actions block...), ``block_id`` unique in the
message, ``action_id`` unique in its block, ``text`` or blocks present, ``text`` at most 40,000;
else ``invalid_blocks``, ``no_text`` or ``msg_too_long``, on ``chat.postMessage``,
``chat.update`` and response URLs alike (a response URL answers 400 ``invalid_blocks``). It
keeps the messages it posted, per channel: a ``thread_ts`` that names no message of that
channel is ``thread_not_found``, and ``chat.update`` of an unknown ``ts`` is
``message_not_found``.

File uploads (the v2 flow of ``files_upload_v2``) are as strict: ``files.getUploadURLExternal``
needs the ``files:write`` scope (:attr:`FakeSlack.scopes`, else ``missing_scope``), a filename
and a length > 0 (else ``invalid_arguments``), ``alt_txt`` of at most 1,000; the bytes POSTed to
its ``upload_url`` must be exactly that length (else HTTP 400); ``files.completeUploadExternal``
takes a JSON ``files`` list of uploaded ids (else ``invalid_arguments`` / ``file_not_found``),
shares into ``channel_id`` only when the channel exists (:attr:`FakeSlack.channels`, else
``channel_not_found``) and the bot is a member (else ``not_in_channel``), into ``thread_ts``
only when that message is in the channel (``thread_not_found``); ``thread_ts`` or
``initial_comment`` without a channel is ``invalid_arguments``; ``blocks`` are validated unless
``initial_comment`` is given (then Slack ignores them). A shared file is kept
(:attr:`FakeSlack.files`) with its bytes, and posts a message in the channel. Also the client
side of Slack: :func:`signed` builds
requests signed the way Slack signs them, :func:`command_form` and :func:`action_form` the
bodies Slack posts for a slash command and a button click.

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-t", base_url=slack.api_url)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier

from tests.support.loopback import LoopbackFake

SECRET = "test-signing-secret"
TEAM = "T0001"
CHANNEL = "C0001"
USER = "U0001"

BLOCKS_LIMIT = 50
TEXT_LIMIT = 40_000
ALT_TEXT_LIMIT = 1000
SCOPES = frozenset({"commands", "chat:write", "chat:write.public", "files:write"})


@dataclass
class SlackFile:
    """A file as the fake holds it: declared by getUploadURLExternal, then uploaded, shared."""

    id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None
    """The bytes POSTed to the upload URL (None until then)."""
    title: str | None = None
    channel: str | None = None
    """Where ``files.completeUploadExternal`` shared it (None: not shared, or private)."""
    thread_ts: str | None = None
    completed: bool = False


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


def _blocks(value: Any) -> list[Any] | None:
    """Blocks as sent: a JSON list, or (form-encoded) its text."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return value if isinstance(value, list) else [value]


def block_errors(blocks: list[Any]) -> list[str]:
    """What Slack would say is wrong with ``blocks`` (empty: nothing)."""
    if len(blocks) > BLOCKS_LIMIT:
        return [f"no more than {BLOCKS_LIMIT} items allowed [json-pointer:/blocks]"]
    errors: list[str] = []
    block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        if not isinstance(raw, dict):
            errors.append(f"must be an object {where}")
            continue
        try:
            parsed = Block.parse(raw)
            if parsed is None or type(parsed) is Block:
                raise SlackObjectFormationError(f"unknown block type {raw.get('type')!r}")
            parsed.to_dict()  # validates the block and, recursively, every element in it
        except (SlackObjectFormationError, KeyError, TypeError, ValueError) as exc:
            errors.append(f"{exc} {where}")
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                errors.append(f"duplicate block_id {block_id!r} {where}")
            block_ids.add(block_id)
        action_ids: set[str] = set()
        elements = raw.get("elements") if raw.get("type") == "actions" else []
        if raw.get("type") == "section" and isinstance(raw.get("accessory"), dict):
            elements = [raw["accessory"]]
        for j, element in enumerate(elements or ()):
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id is None:
                continue
            if action_id in action_ids:
                errors.append(f"duplicate action_id {action_id!r} {where[:-1]}/elements/{j}]")
            action_ids.add(action_id)
    return errors


def message_errors(body: dict[str, Any], *, update: bool = False) -> dict[str, Any] | None:
    """Slack's answer to a message it refuses (None: accepted)."""
    blocks = _blocks(body.get("blocks"))
    text = body.get("text")
    if blocks:
        errors = block_errors(blocks)
        if errors:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            }
    if not update and not text and not blocks and not body.get("attachments"):
        return {"ok": False, "error": "no_text"}
    if isinstance(text, str) and len(text) > TEXT_LIMIT:
        return {"ok": False, "error": "msg_too_long"}
    return None


_MENTION = re.compile(
    r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>"
    r"|<!(channel|here|everyone)(?:\|[^>]*)?>"
)


def _mrkdwn(body: dict[str, Any]) -> list[str]:
    """The texts of a message in which Slack parses mentions: ``text``, and every ``mrkdwn``
    text object of its blocks (``plain_text`` shows ``<@U1>`` as it is written)."""
    texts = [str(body.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_blocks(body.get("blocks")) or [])
    return texts


def notified(body: dict[str, Any]) -> set[str]:
    """Who Slack notifies for a message, as Slack reads its mention syntax: user ids
    (``<@U123>``, ``<@U123|name>``), user-group ids (``<!subteam^S123>``) and the special
    ``channel``, ``here``, ``everyone`` (``<!channel>``). Escaped text (``&lt;@U1&gt;``) and a
    bare ``@name`` notify no one."""
    found: set[str] = set()
    for text in _mrkdwn(body):
        for user, group, special in _MENTION.findall(text):
            found.add(user or group or f"!{special}")
    return found


def ratelimited(retry_after: int = 1) -> Scripted:
    return Scripted(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def error(code: str) -> Scripted:
    return Scripted(200, {"ok": False, "error": code})


class FakeSlack(LoopbackFake[Call]):
    client_max_size = 64 * 1024**2

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
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        """The messages posted, by (channel, ts), as Slack holds them now."""
        self.notified: dict[tuple[str, str], set[str]] = {}
        """Who Slack notified for each message it posted (:func:`notified`)."""
        self.socket_acks: list[dict[str, Any]] = []
        self.connected = asyncio.Event()
        self.scopes: set[str] = set(SCOPES)
        """The bot token's scopes; a method needing another answers ``missing_scope``."""
        self.channels: dict[str, bool] = {CHANNEL: True}
        """The channels that exist, each with whether the bot is a member (files need it)."""
        self.files: dict[str, SlackFile] = {}
        self._file_ids = itertools.count(1)

    # --------------------------------------------------------------------------- lifecycle

    def describe(self, call: Call) -> str:
        return call.api

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._websocket)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
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
            if not call.body.get("delete_original") and message_errors(call.body) is not None:
                return web.Response(status=400, text="invalid_blocks")
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
                return self._post(call.body)
            case "chat.update":
                return self._update(call.body)
            case "files.getUploadURLExternal":
                return self._upload_url(call.body)
            case "files.completeUploadExternal":
                return self._complete_upload(call.body)
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

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """A message as Slack holds it now (after any ``chat.update``)."""
        return self.messages[(channel, ts)]

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if (refused := message_errors(body)) is not None:
            return refused
        channel = str(body.get("channel", CHANNEL))
        thread = body.get("thread_ts")
        if thread is not None:
            parent = self.messages.get((channel, str(thread)))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            thread = parent.get("thread_ts") or parent["ts"]  # a reply's thread is its parent's
        ts = f"1700000000.{next(self._ts):06d}"
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": body.get("text") or ""}
        self.notified[(channel, ts)] = notified(body)
        if (blocks := _blocks(body.get("blocks"))) is not None:
            message["blocks"] = blocks
        if thread is not None:
            message["thread_ts"] = thread
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel")), str(body.get("ts"))
        message = self.messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if (refused := message_errors(body, update=True)) is not None:
            return refused
        if "text" in body:
            message["text"] = body["text"] or ""
        if (blocks := _blocks(body.get("blocks"))) is not None:
            message["blocks"] = blocks
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}

    # ------------------------------------------------------------------------------ files

    def shared(self, channel: str = CHANNEL) -> list[SlackFile]:
        """The files shared into ``channel``, in order."""
        return [f for f in self.files.values() if f.completed and f.channel == channel]

    def _upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        if "files:write" not in self.scopes:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "files:write",
                "provided": ",".join(sorted(self.scopes)),
            }
        filename = str(body.get("filename") or "")
        try:
            length = int(body.get("length", ""))
        except ValueError:
            length = 0
        alt_txt = body.get("alt_txt")
        if not filename.strip() or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        if alt_txt is not None and len(str(alt_txt)) > ALT_TEXT_LIMIT:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._file_ids):010d}"
        self.files[file_id] = SlackFile(file_id, filename, length, alt_txt)
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        file_id = request.match_info["file_id"]
        call = Call(
            request.method,
            request.path,
            dict(request.headers),
            {"bytes": len(data)},
            time.monotonic(),
        )
        self.record(call)
        queued = self.script.get("upload")
        if queued:
            s = queued.pop(0)
            return web.json_response(s.body, status=s.status, headers=s.headers)
        declared = self.files.get(file_id)
        if declared is None or declared.data is not None:
            return web.Response(status=404, text="not found")
        if len(data) != declared.length:
            return web.Response(status=400, text="length mismatch")
        declared.data = data
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(body["files"]) if isinstance(body.get("files"), str) else None
        except ValueError:
            files = None
        if (
            not isinstance(files, list)
            or not files
            or not all(isinstance(f, dict) and isinstance(f.get("id"), str) for f in files)
        ):
            return {"ok": False, "error": "invalid_arguments"}
        found = [self.files.get(f["id"]) for f in files]
        if any(f is None or f.data is None or f.completed for f in found):
            return {"ok": False, "error": "file_not_found"}
        channel = body.get("channel_id")
        thread = body.get("thread_ts")
        comment = body.get("initial_comment")
        if channel is None:
            if thread is not None or comment is not None:
                return {"ok": False, "error": "invalid_arguments"}
        else:
            channel = str(channel)
            if channel not in self.channels:
                return {"ok": False, "error": "channel_not_found"}
            if not self.channels[channel]:
                return {"ok": False, "error": "not_in_channel"}
            if thread is not None and (channel, str(thread)) not in self.messages:
                return {"ok": False, "error": "thread_not_found"}
        blocks = _blocks(body.get("blocks")) if comment is None else None
        if blocks and (errors := block_errors(blocks)):
            return {"ok": False, "error": "invalid_blocks", "errors": errors}
        if isinstance(comment, str) and len(comment) > TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        shared = []
        for spec, kept in zip(files, found, strict=True):
            assert kept is not None and kept.data is not None
            kept.title = spec.get("title") or kept.filename
            kept.completed = True
            kept.channel = channel
            kept.thread_ts = None if thread is None else str(thread)
            png = kept.data.startswith(b"\x89PNG\r\n\x1a\n")
            shared.append(
                {
                    "id": kept.id,
                    "name": kept.filename,
                    "title": kept.title,
                    "mimetype": "image/png" if png else "application/octet-stream",
                    "filetype": "png" if png else "binary",
                    "size": len(kept.data),
                    "shares": {},  # sharing is asynchronous on Slack: empty at first
                }
            )
        if channel is not None:
            ts = f"1700000000.{next(self._ts):06d}"
            message: dict[str, Any] = {
                "type": "message",
                "ts": ts,
                "text": comment or "",
                "files": [{"id": f["id"]} for f in shared],
            }
            if thread is not None:
                message["thread_ts"] = str(thread)
            self.messages[(channel, ts)] = message
        return {"ok": True, "files": shared}

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
