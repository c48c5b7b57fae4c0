"""A local Discord for tests: the REST API and a minimal gateway, on 127.0.0.1.

Every REST request is recorded (:class:`Call`). Replies can be scripted per route (a 429 with
``Via`` and ``retry_after``, a 403 Missing Access, a thread refused), else each route answers as
Discord does, with the fields discord.py reads. The fake keeps the little state that matters:
the messages it accepted (a message's thread has the message's id, and ``POST
/channels/{id}/messages`` to a message id answers 404 Unknown Channel until the thread is
started), the commands synced per scope, each interaction's original response.

It is as strict as Discord about what a message may hold (:func:`message_errors`), and it works
out who a message pings (``mentions``, ``mention_roles``, ``mention_everyone``) from its content
and ``allowed_mentions`` as Discord does (:func:`pinged`; an ``allowed_mentions`` of the wrong
shape, over 100 ids, or both parsing and listing users is a 400): content
2,000, 10 embeds, 6,000 characters across them (title, description, field names and values,
footer text, author name), 256 per title, 4,096 per description, 25 fields, 1,024 per field
value, 2,048 per footer, ``custom_id`` 1-100, a nonce of at most 25; beyond, 400 with Discord's
"Invalid Form Body" (code 50035) naming the field. A message posted with ``enforce_nonce`` and a
nonce seen in the last few minutes is not created again: the first one is returned, as Discord
does.

Files are multipart as on Discord: a ``payload_json`` part and one ``files[n]`` part per file
(kept on the call, :attr:`Call.files`). The payload's ``attachments`` must name each part by its
index ``id`` and the part's filename; an embed's ``attachment://<name>`` image must name a file
of the message; only ``.png .jpg .jpeg .webp .gif`` show in an embed; beyond, 400 "Invalid Form
Body" naming the field. A file over 10 MiB, or a request over 25 MiB in all, is 413 "Request
entity too large" (code 40005). An accepted file becomes one of the message's ``attachments``,
and an embed's ``attachment://`` URL becomes that attachment's URL, as Discord returns them.

The gateway (``/ws``) says HELLO, answers heartbeats and, after IDENTIFY, sends READY;
:meth:`FakeDiscord.dispatch` then pushes events such as INTERACTION_CREATE.

Also the client side of Discord: :func:`command_interaction` and :func:`component_interaction`
build the INTERACTION_CREATE payloads Discord sends for a slash command and a button click.

    async with FakeDiscord() as discord_api:
        discord.http.Route.BASE = discord_api.api_url
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from tests.support.loopback import LoopbackFake

APP_ID = 1100000000000000001
"""The application's id; also the bot user's (as for every application made since 2020)."""
GUILD = 1200000000000000002
CHANNEL = 1300000000000000003
USER = 1400000000000000004
COMMAND_ID = 1500000000000000005
TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.Gf4keX.fake-discord-bot-token-for-tests"
API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6
LOADING = 1 << 7

CONTENT_LIMIT = 2000
EMBEDS = 10
EMBED_TOTAL = 6000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
ROWS = 5
ROW_BUTTONS = 5
NONCE_LIMIT = 25
NONCE_WINDOW = 300.0
"""Discord checks a nonce's uniqueness "in the past few minutes"."""
FILE_LIMIT = 10 * 1024 * 1024
REQUEST_FILES_LIMIT = 25 * 1024 * 1024
ATTACHMENT_DESCRIPTION_LIMIT = 1024
EMBED_IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".gif")

_OPTION_TYPES: tuple[tuple[type, int], ...] = ((bool, 5), (int, 4), (float, 10), (str, 3))
_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", r"/users/@me", "me"),
    ("GET", r"/oauth2/applications/@me", "application"),
    ("GET", r"/gateway(/bot)?", "gateway"),
    ("PUT", r"/applications/(?P<app>\d+)(/guilds/(?P<guild>\d+))?/commands", "sync"),
    ("POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", "callback"),
    ("GET|PATCH|DELETE", r"/webhooks/\d+/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", "hook"),
    ("POST", r"/webhooks/\d+/(?P<token>[^/]+)", "followup"),
    ("POST", r"/channels/(?P<ch>\d+)/messages", "send"),
    ("PATCH", r"/channels/(?P<ch>\d+)/messages/(?P<mid>\d+)", "edit"),
    ("POST", r"/channels/(?P<ch>\d+)/messages/(?P<mid>\d+)/threads", "thread"),
)


@dataclass(frozen=True)
class Upload:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    """Without the API prefix: ``/channels/13…/messages``."""
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """The JSON body (or a multipart request's ``payload_json``); None when there was none."""
    at: float
    """time.monotonic() when it arrived."""
    files: tuple[Upload, ...] = ()
    """The file parts of a multipart request, in order."""

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    done: bool = False
    """The request is carried out as usual first, then this answer replaces Discord's (an
    answer lost on the way back: the client cannot tell the message was created)."""


def lost() -> Scripted:
    """The message is created, but the client gets a 502 from the edge in front of Discord
    (discord.py retries a 502 itself, with the same body and so the same nonce)."""
    return Scripted(502, {"message": "502: Bad Gateway", "code": 0}, done=True)


def ratelimited(retry_after: float = 0.3) -> Scripted:
    """A 429 as Discord sends it: discord.py waits ``retry_after`` and retries (it needs the
    ``Via`` header, else it takes the 429 for a Cloudflare ban)."""
    return Scripted(
        429,
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
        {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "user",
        },
    )


def error(status: int, code: int, message: str) -> Scripted:
    """A Discord JSON error: ``error(403, 50001, "Missing Access")``."""
    return Scripted(status, {"code": code, "message": message})


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py compares Content-Type exactly: no charset (http.py json_or_text).
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _matches(pattern: str, call: Call) -> bool:
    """``"POST /channels/*/messages"``: the method and the path, ``*`` any one segment (or
    any method)."""
    method, _, path = pattern.partition(" ")
    if method not in ("*", call.method):
        return False
    want, got = path.split("/"), call.path.split("/")
    return len(want) == len(got) and all(w in ("*", g) for w, g in zip(want, got, strict=True))


# ------------------------------------------------------------------ what Discord accepts


def _too_long(limit: int) -> dict[str, Any]:
    return {
        "_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
        ]
    }


def _required() -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}


def _text_len(value: object) -> int:
    return len(value) if isinstance(value, str) else 0


def embed_size(embed: Mapping[str, Any]) -> int:
    """What counts toward the 6,000 of a message: title, description, field names and
    values, footer text, author name."""
    size = _text_len(embed.get("title")) + _text_len(embed.get("description"))
    for f in embed.get("fields") or []:
        size += _text_len(f.get("name")) + _text_len(f.get("value"))
    size += _text_len((embed.get("footer") or {}).get("text"))
    size += _text_len((embed.get("author") or {}).get("name"))
    return size


def _embed_errors(embed: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    for key, limit in (("title", TITLE_LIMIT), ("description", DESCRIPTION_LIMIT)):
        if _text_len(embed.get(key)) > limit:
            errors[key] = _too_long(limit)
    for key, limit in (("footer", FOOTER_LIMIT), ("author", AUTHOR_LIMIT)):
        part = embed.get(key) or {}
        name = "text" if key == "footer" else "name"
        if _text_len(part.get(name)) > limit:
            errors[key] = {name: _too_long(limit)}
    fields = embed.get("fields") or []
    if len(fields) > FIELDS:
        errors["fields"] = _too_long(FIELDS)
    else:
        for i, f in enumerate(fields):
            found: dict[str, Any] = {}
            for key, limit in (("name", FIELD_NAME_LIMIT), ("value", FIELD_VALUE_LIMIT)):
                if not _text_len(f.get(key)):
                    found[key] = _required()
                elif _text_len(f.get(key)) > limit:
                    found[key] = _too_long(limit)
            if found:
                errors.setdefault("fields", {})[str(i)] = found
    return errors


def _component_errors(rows: list[dict[str, Any]]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if len(rows) > ROWS:
        return _too_long(ROWS)
    for r, row in enumerate(rows):
        items = row.get("components") or []
        if len(items) > ROW_BUTTONS:
            errors[str(r)] = {"components": _too_long(ROW_BUTTONS)}
            continue
        for c, item in enumerate(items):
            found: dict[str, Any] = {}
            custom_id = item.get("custom_id")
            if item.get("style") != 5 and not 1 <= _text_len(custom_id) <= CUSTOM_ID_LIMIT:
                found["custom_id"] = _too_long(CUSTOM_ID_LIMIT) if custom_id else _required()
            if _text_len(item.get("label")) > LABEL_LIMIT:
                found["label"] = _too_long(LABEL_LIMIT)
            if found:
                errors.setdefault(str(r), {"components": {}})["components"][str(c)] = found
    return errors


MENTIONS_LIMIT = 100
"""Users, and roles, an ``allowed_mentions`` may list."""
_PARSE_TYPES = ("roles", "users", "everyone")
_SNOWFLAKE = re.compile(r"[0-9]{15,21}")


def allowed_mentions_errors(allowed: object) -> dict[str, Any]:
    """What Discord says is wrong with an ``allowed_mentions`` object (empty: nothing): its
    documented shape, ``parse`` of roles/users/everyone, ``users`` and ``roles`` of at most 100
    snowflakes each, and a type not both parsed and listed."""
    if not isinstance(allowed, Mapping):
        return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries"}]}
    errors: dict[str, Any] = {}
    parse = allowed.get("parse", [])
    if not isinstance(parse, list) or any(p not in _PARSE_TYPES for p in parse):
        errors["parse"] = {"_errors": [{"code": "ENUM_TYPE_COERCE", "message": "Bad value"}]}
        parse = []
    for kind in ("users", "roles"):
        ids = allowed.get(kind)
        if ids is None:
            continue
        if not isinstance(ids, list) or not all(_SNOWFLAKE.fullmatch(str(i)) for i in ids):
            errors[kind] = {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Bad id"}]}
        elif len(ids) > MENTIONS_LIMIT:
            errors[kind] = _too_long(MENTIONS_LIMIT)
        elif ids and kind in parse:
            errors[kind] = {
                "_errors": [
                    {
                        "code": "SET_TYPE_ALREADY_CONTAINS_VALUE",
                        "message": f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
                    }
                ]
            }
    replied = allowed.get("replied_user", False)
    if not isinstance(replied, bool):
        errors["replied_user"] = {"_errors": [{"code": "BOOLEAN_TYPE_COERCE", "message": "Bad"}]}
    return errors


def pinged(body: Mapping[str, Any]) -> tuple[list[str], list[str], bool]:
    """Who a message pings, as Discord decides: the user and role mentions of its content
    (never of its embeds) that ``allowed_mentions`` allows (all of them without one), and
    whether @everyone/@here does."""
    content = str(body.get("content") or "")
    allowed = body.get("allowed_mentions")
    if not isinstance(allowed, Mapping):
        allowed = {"parse": list(_PARSE_TYPES)}
    parse = allowed.get("parse", [])
    users = list(dict.fromkeys(re.findall(r"<@!?([0-9]{15,21})>", content)))
    roles = list(dict.fromkeys(re.findall(r"<@&([0-9]{15,21})>", content)))
    if "users" not in parse:
        users = [u for u in users if u in {str(i) for i in allowed.get("users") or []}]
    if "roles" not in parse:
        roles = [r for r in roles if r in {str(i) for i in allowed.get("roles") or []}]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return users, roles, everyone


def message_errors(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Discord's 400 body for a message it refuses (None: accepted)."""
    errors: dict[str, Any] = {}
    if "allowed_mentions" in body and (found := allowed_mentions_errors(body["allowed_mentions"])):
        errors["allowed_mentions"] = found
    if _text_len(body.get("content")) > CONTENT_LIMIT:
        errors["content"] = _too_long(CONTENT_LIMIT)
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS:
        errors["embeds"] = _too_long(EMBEDS)
    else:
        for i, embed in enumerate(embeds):
            if found := _embed_errors(embed):
                errors.setdefault("embeds", {})[str(i)] = found
        if "embeds" not in errors and sum(embed_size(e) for e in embeds) > EMBED_TOTAL:
            errors["embeds"] = {
                "_errors": [
                    {
                        "code": "MAX_EMBED_SIZE_EXCEEDED",
                        "message": f"Embed size exceeds maximum size of {EMBED_TOTAL}",
                    }
                ]
            }
    if found := _component_errors(body.get("components") or []):
        errors["components"] = found
    nonce = body.get("nonce")
    if nonce is not None and _text_len(str(nonce)) > NONCE_LIMIT:
        errors["nonce"] = _too_long(NONCE_LIMIT)
    if not errors:
        return None
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}


def _message_of(body: Any) -> Mapping[str, Any]:
    """The message in a request body: an interaction callback's ``data``, else the body."""
    if not isinstance(body, Mapping):
        return {}
    data = body.get("data")
    if "type" in body and isinstance(data, Mapping):
        return data
    return body


def _resolved_image(embed: dict[str, Any], attachments: list[dict[str, Any]]) -> dict[str, Any]:
    """An embed as Discord returns it: an ``attachment://`` image points at the attachment."""
    image = embed.get("image") or {}
    url = str(image.get("url") or "")
    if url.startswith("attachment://"):
        for attachment in attachments:
            if attachment["filename"] == url.removeprefix("attachment://"):
                embed = {**embed, "image": {**image, "url": attachment["url"]}}
    return embed


def _refused(body: Any) -> web.Response | None:
    found = message_errors(body) if isinstance(body, Mapping) else None
    return None if found is None else _json(found, 400)


def bot_user() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "username": "check502",
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "bot": True,
        "flags": 0,
        "public_flags": 0,
    }


class FakeDiscord(LoopbackFake[Call]):
    client_max_size = 2 * REQUEST_FILES_LIMIT

    def __init__(self, *, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.script: dict[str, list[Scripted]] = {}
        """Replies to give, in order, before the normal one, per route pattern:
        ``{"POST /channels/*/messages": [ratelimited()]}``."""
        self.messages: dict[int, dict[str, Any]] = {}
        """Every message the fake accepted, as Discord would return it, by id."""
        self.threads: set[int] = set()
        self.commands: dict[str, list[dict[str, Any]]] = {}
        """The last sync per scope: ``"global"`` or the guild id."""
        self.originals: dict[str, int | None] = {}
        """Interaction token -> its original response's message id (None: deleted)."""
        self.interactions: dict[str, dict[str, Any]] = {}
        """Interaction token -> the INTERACTION_CREATE payload (see :meth:`expect`)."""
        self.identified: list[dict[str, Any]] = []
        """The IDENTIFY payloads received on the gateway."""
        self.ready = asyncio.Event()
        self.nonces: dict[str, tuple[float, int]] = {}
        """``enforce_nonce`` sends: nonce -> (when, the message it created)."""
        self.uploads: dict[str, bytes] = {}
        """The bytes of every attachment accepted, by attachment id (see :meth:`attached`)."""
        self._ids = itertools.count(1600000000000000000)
        self._seq = itertools.count(1)

    # --------------------------------------------------------------------------- lifecycle

    def describe(self, call: Call) -> str:
        return call.route

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws", self._gateway_ws)
        app.router.add_route("*", "/{tail:.*}", self._handle)

    @property
    def api_url(self) -> str:
        """discord.py's ``Route.BASE`` (``DISCORD_API_URL``)."""
        return f"{self.url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def snowflake(self) -> int:
        return next(self._ids)

    # ----------------------------------------------------------------------------- queries

    def of(self, pattern: str) -> list[Call]:
        """The calls of one route: ``"POST /channels/*/messages"`` (``*``: any one segment)."""
        return [c for c in self.calls if _matches(pattern, c)]

    def expect(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Remember an interaction Discord is about to send, to answer its callbacks."""
        self.interactions[payload["token"]] = payload
        return payload

    # ---------------------------------------------------------------------------- handlers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body, files = await self._body(request)
        path = request.path.removeprefix(API_PREFIX)
        call = Call(
            request.method,
            path,
            dict(request.query),
            dict(request.headers),
            body,
            time.monotonic(),
            files,
        )
        self.record(call)
        scripted: Scripted | None = None
        for pattern, queued in self.script.items():
            if queued and _matches(pattern, call):
                scripted = queued.pop(0)
                if not scripted.done:
                    return _json(scripted.body, scripted.status, scripted.headers)
                break
        if files or _message_of(body).get("attachments"):
            if (refused := self._files_refused(call)) is not None:
                return refused
            if files:  # the parts travel with the message body to where it is created
                message = {**_message_of(body), "_files": files}
                body = {**body, "data": message} if "data" in body else message
        answer = self._route(replace(call, body=body), path)
        if scripted is not None:
            return _json(scripted.body, scripted.status, scripted.headers)
        return answer

    def _route(self, call: Call, path: str) -> web.StreamResponse:
        for methods, regex, name in _ROUTES:
            match = re.fullmatch(regex, path)
            if match is not None and call.method in methods.split("|"):
                if name not in {"callback", "hook", "followup"} and not self._authorized(call):
                    return _json({"message": "401: Unauthorized", "code": 0}, 401)
                answer: web.Response = getattr(self, f"_{name}")(call, **match.groupdict())
                return answer
        return _json({"message": "404: Not Found", "code": 0}, 404)

    @staticmethod
    async def _body(request: web.Request) -> tuple[Any, tuple[Upload, ...]]:
        if not request.content_type.startswith("multipart/"):
            raw = await request.read()
            return (json.loads(raw) if raw else None), ()
        payload: Any = None
        files: list[Upload] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            data = await part.read(decode=False)
            if part.name == "payload_json":
                payload = json.loads(data)
            elif part.name is not None and part.filename is not None:
                ctype = part.headers.get("Content-Type", "application/octet-stream")
                files.append(Upload(part.name, part.filename, ctype, bytes(data)))
        return payload, tuple(files)

    def _files_refused(self, call: Call) -> web.Response | None:
        """Discord's answer to files it refuses (None: accepted)."""
        if any(len(f.data) > FILE_LIMIT for f in call.files) or (
            sum(len(f.data) for f in call.files) > REQUEST_FILES_LIMIT
        ):
            return _json({"message": "Request entity too large", "code": 40005}, 413)
        body = _message_of(call.body)
        by_index = {}
        for f in call.files:
            match = re.fullmatch(r"files\[(\d+)\]", f.field)
            if match is None:
                return _json({"message": "Invalid Form Body", "code": 50035, "errors": {}}, 400)
            by_index[int(match[1])] = f
        errors: dict[str, Any] = {}
        names: set[str] = set()
        for i, attachment in enumerate(body.get("attachments") or []):
            found: dict[str, Any] = {}
            raw_id = attachment.get("id") if isinstance(attachment, Mapping) else None
            description = attachment.get("description") if isinstance(attachment, Mapping) else ""
            if _text_len(description) > ATTACHMENT_DESCRIPTION_LIMIT:
                found["description"] = _too_long(ATTACHMENT_DESCRIPTION_LIMIT)
            if isinstance(raw_id, int) or (isinstance(raw_id, str) and len(raw_id) < 5):
                part = by_index.get(int(raw_id))
                if part is None or attachment.get("filename") != part.filename:
                    found["id"] = {
                        "_errors": [
                            {
                                "code": "ATTACHMENT_NOT_FOUND",
                                "message": "Attachment data not found",
                            }
                        ]
                    }
                else:
                    names.add(part.filename)
            if found:
                errors.setdefault("attachments", {})[str(i)] = found
        if not body.get("attachments"):
            names = {f.filename for f in call.files}
        kept = self._kept_attachment_names(call)
        for i, embed in enumerate(body.get("embeds") or []):
            url = str((embed.get("image") or {}).get("url") or "")
            if not url.startswith("attachment://"):
                continue
            name = url.removeprefix("attachment://")
            if name not in names | kept or not name.lower().endswith(EMBED_IMAGE_TYPES):
                errors.setdefault("embeds", {})[str(i)] = {
                    "image": {
                        "url": {
                            "_errors": [
                                {
                                    "code": "URL_TYPE_INVALID_URL",
                                    "message": "Not a well formed URL.",
                                }
                            ]
                        }
                    }
                }
        if not errors:
            return None
        return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400)

    def _kept_attachment_names(self, call: Call) -> set[str]:
        """Filenames of the attachments an edit keeps (by their ids) on the message edited."""
        body = _message_of(call.body)
        kept = {str(a.get("id")) for a in body.get("attachments") or [] if isinstance(a, Mapping)}
        names: set[str] = set()
        for message in self.messages.values():
            for attachment in message.get("attachments") or []:
                if attachment["id"] in kept:
                    names.add(attachment["filename"])
        return names

    def attached(self, message_id: int) -> list[tuple[dict[str, Any], bytes]]:
        """A message's attachments as Discord lists them, each with the bytes uploaded."""
        message = self.messages[message_id]
        return [(a, self.uploads[a["id"]]) for a in message.get("attachments") or []]

    def _authorized(self, call: Call) -> bool:
        return call.headers.get("Authorization") == f"Bot {self.token}"

    def _me(self, call: Call) -> web.Response:
        return _json(bot_user())

    def _application(self, call: Call) -> web.Response:
        return _json(
            {
                "id": str(APP_ID),
                "name": "check502",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": {"id": "1", "username": "owner", "discriminator": "0", "avatar": None},
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "bot": bot_user(),
            }
        )

    def _gateway(self, call: Call) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    def _sync(self, call: Call, app: str, guild: str | None) -> web.Response:
        scope = guild or "global"
        synced = []
        for command in call.body or []:
            out = {
                **command,
                "id": str(self.snowflake()),
                "application_id": app,
                "version": str(self.snowflake()),
            }
            if guild is not None:
                out["guild_id"] = guild
            synced.append(out)
        self.commands[scope] = synced
        return _json(synced)

    def _new_message(
        self, channel_id: int, body: dict[str, Any], *, flags: int = 0
    ) -> dict[str, Any]:
        mid = self.snowflake()
        message: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": 19 if body.get("message_reference") else 0,
            "author": bot_user(),
            "content": "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": flags | int(body.get("flags") or 0),
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if (ref := body.get("message_reference")) is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id", channel_id)),
            }
        self._update(message, body)
        self.messages[mid] = message
        return message

    def _update(self, message: dict[str, Any], body: dict[str, Any]) -> None:
        if "attachments" in body or "_files" in body:
            self._attach(message, body)
        if "content" in body:
            message["content"] = body["content"] or ""
            users, roles, everyone = pinged(body)
            message["mentions"] = [_user(int(u), f"user{u[-4:]}") for u in users]
            message["mention_roles"] = roles
            message["mention_everyone"] = everyone
        if "embeds" in body:
            message["embeds"] = [
                _resolved_image({"type": "rich", **e}, message.get("attachments") or [])
                for e in body["embeds"] or []
            ]
        if "components" in body:
            message["components"] = body["components"] or []
        if "flags" in body and body["flags"] is not None:
            message["flags"] = int(body["flags"])

    def _attach(self, message: dict[str, Any], body: dict[str, Any]) -> None:
        """The message's attachments after ``body``: those it names to keep, and its files."""
        files: tuple[Upload, ...] = body.get("_files", ())
        by_index = {int(f.field[6:-1]): f for f in files}
        before = {a["id"]: a for a in message.get("attachments") or []}
        after: list[dict[str, Any]] = []
        listed = body.get("attachments")
        if listed is None:  # files without an attachments list: each part, in order
            listed = [{"id": i, "filename": f.filename} for i, f in sorted(by_index.items())]
        for entry in listed:
            raw_id = entry.get("id")
            if str(raw_id) in before:
                after.append(before[str(raw_id)])
                continue
            part = by_index.get(int(raw_id))
            if part is None:
                continue
            attachment_id = str(self.snowflake())
            self.uploads[attachment_id] = part.data
            url = f"{self.url}/attachments/{message['channel_id']}/{attachment_id}/{part.filename}"
            attachment: dict[str, Any] = {
                "id": attachment_id,
                "filename": part.filename,
                "size": len(part.data),
                "url": url,
                "proxy_url": url,
                "content_type": "image/png"
                if part.data.startswith(b"\x89PNG\r\n\x1a\n")
                else part.content_type,
            }
            if entry.get("description"):
                attachment["description"] = entry["description"]
            after.append(attachment)
        message["attachments"] = after

    def _send(self, call: Call, ch: str) -> web.Response:
        channel_id = int(ch)
        if channel_id in self.messages and channel_id not in self.threads:
            # A message's thread has the message's id: none was started yet.
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        body = call.body or {}
        if (refused := _refused(body)) is not None:
            return refused
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            seen = self.nonces.get(str(nonce))
            if seen is not None and time.monotonic() - seen[0] < NONCE_WINDOW:
                kept = self.messages.get(seen[1])
                if kept is not None:
                    return _json(kept)  # no second message: the first one, as Discord does
        message = self._new_message(channel_id, body)
        if nonce is not None and body.get("enforce_nonce"):
            self.nonces[str(nonce)] = (time.monotonic(), int(message["id"]))
        return _json(message)

    def _edit(self, call: Call, ch: str, mid: str) -> web.Response:
        message = self.messages.get(int(mid))
        if message is None or message["channel_id"] != ch:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if (refused := _refused(call.body or {})) is not None:
            return refused
        self._update(message, call.body or {})
        message["edited_timestamp"] = _now()
        return _json(message)

    def _thread(self, call: Call, ch: str, mid: str) -> web.Response:
        message = self.messages.get(int(mid))
        if message is None or message["channel_id"] != ch:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if int(mid) in self.threads:
            return _json(
                {"message": "A thread has already been created for this message", "code": 160004},
                400,
            )
        self.threads.add(int(mid))
        body = call.body or {}
        return _json(
            {
                "id": mid,
                "guild_id": str(GUILD),
                "parent_id": ch,
                "owner_id": str(APP_ID),
                "name": body.get("name", ""),
                "type": 11,
                "last_message_id": None,
                "message_count": 0,
                "member_count": 1,
                "rate_limit_per_user": 0,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": body.get("auto_archive_duration", 1440),
                    "archive_timestamp": _now(),
                    "locked": False,
                },
                "total_message_sent": 0,
            }
        )

    # ------------------------------------------------------------------------ interactions

    def _clicked(self, token: str) -> dict[str, Any] | None:
        """The message a component interaction was on, as the fake keeps it now."""
        payload = self.interactions.get(token, {})
        message = payload.get("message")
        if message is None:
            return None
        kept: dict[str, Any] = self.messages.get(int(message["id"]), message)
        return kept

    def _callback(self, call: Call, id: str, token: str) -> web.Response:
        body = call.body or {}
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        channel_id = int(self.interactions.get(token, {}).get("channel_id") or CHANNEL)
        if kind in (4, 7) and (refused := _refused(data)) is not None:
            return refused
        message: dict[str, Any] | None = None
        if kind in (4, 5):  # a new message: the interaction's original response
            message = self._new_message(channel_id, data, flags=LOADING if kind == 5 else 0)
            self.originals[token] = int(message["id"])
        elif kind in (6, 7):  # on a component: the clicked message is the original
            message = self._clicked(token)
            if message is not None:
                self.originals[token] = int(message["id"])
                if kind == 7:
                    self._update(message, data)
                    message["edited_timestamp"] = _now()
        answer: dict[str, Any] = {
            "interaction": {
                "id": id,
                "type": 3 if kind in (6, 7) else 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        return _json(answer)

    def _hook(self, call: Call, token: str, mid: str) -> web.StreamResponse:
        message_id = self.originals.get(token) if mid == "@original" else int(mid)
        message = self.messages.get(message_id) if message_id is not None else None
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if call.method == "DELETE":
            del self.messages[int(message["id"])]
            if mid == "@original":
                self.originals[token] = None
            return web.Response(status=204)
        if call.method == "PATCH":
            if (refused := _refused(call.body or {})) is not None:
                return refused
            self._update(message, call.body or {})
            message["flags"] = int(message["flags"]) & ~LOADING
            message["edited_timestamp"] = _now()
        return _json(message)

    def _followup(self, call: Call, token: str) -> web.Response:
        channel_id = int(self.interactions.get(token, {}).get("channel_id") or CHANNEL)
        if (refused := _refused(call.body or {})) is not None:
            return refused
        return _json(self._new_message(channel_id, call.body or {}))

    # ----------------------------------------------------------------------------- gateway

    async def _gateway_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        self.ready.clear()  # a new session: READY is this socket's once IDENTIFY came
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            if frame.get("op") == 1:  # heartbeat
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif frame.get("op") == 2:  # identify
                self.identified.append(frame["d"])
                self.changed()
                await self._send_dispatch(ws, "READY", self._ready_payload())
                self.ready.set()
        return ws

    def _ready_payload(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": bot_user(),
            "guilds": [],
            "session_id": "fake-session-0001",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
        }

    async def _send_dispatch(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        await ws.send_json({"op": 0, "s": next(self._seq), "t": event, "d": data})

    async def dispatch(self, event: str, data: dict[str, Any], timeout: float = 10.0) -> None:
        """Send a gateway event to the identified client (``INTERACTION_CREATE``...), on the
        newest session, after its READY (as Discord does: nothing is dispatched before)."""
        await asyncio.wait_for(self.ready.wait(), timeout)
        if event == "INTERACTION_CREATE":
            self.expect(data)
        ws = self.sockets[-1]
        if ws.closed:
            raise AssertionError(f"the gateway session is closed: {event} cannot be dispatched")
        await self._send_dispatch(ws, event, data)


# ------------------------------------------------------------------ Discord's interactions

_tokens = itertools.count(1)
_interaction_ids = itertools.count(1700000000000000000)


def _option(name: str, value: object) -> dict[str, Any]:
    for kind, code in _OPTION_TYPES:
        if isinstance(value, kind):
            return {"name": name, "type": code, "value": value}
    raise TypeError(f"no option type for {value!r}")


def _user(user_id: int, name: str) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
    }


def _base(
    kind: int, *, guild: int | None, channel: int, user: int, name: str, thread: int | None
) -> dict[str, Any]:
    """What every INTERACTION_CREATE carries: where, who, and the token to answer with."""
    payload: dict[str, Any] = {
        "id": str(next(_interaction_ids)),
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"interaction-token-{next(_tokens)}",
        "version": 1,
        "channel_id": str(channel),
        "app_permissions": "2251799813685247",
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 10485760,
    }
    if guild is None:
        payload["user"] = _user(user, name)
        payload["channel"] = {"id": str(channel), "type": 1, "flags": 0, "last_message_id": None}
        payload["context"] = 1
        payload["authorizing_integration_owners"] = {"0": "0"}
        return payload
    payload["guild_id"] = str(guild)
    payload["guild"] = {"id": str(guild), "locale": "en-US", "features": []}
    payload["guild_locale"] = "en-US"
    payload["context"] = 0
    payload["authorizing_integration_owners"] = {"0": str(guild)}
    payload["member"] = {
        "user": _user(user, name),
        "roles": [],
        "joined_at": "2025-01-01T00:00:00+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "nick": None,
        "avatar": None,
        "communication_disabled_until": None,
        "permissions": "2251799813685247",
    }
    payload["channel"] = {
        "id": str(channel),
        "type": 0,
        "guild_id": str(guild),
        "name": "ops",
        "position": 0,
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "permission_overwrites": [],
        "flags": 0,
        "permissions": "2251799813685247",
    }
    if thread is not None:  # in a thread of ``channel`` (an alert's thread has its id)
        payload["channel_id"] = str(thread)
        payload["channel"] = {
            "id": str(thread),
            "type": 11,
            "guild_id": str(guild),
            "parent_id": str(channel),
            "owner_id": str(APP_ID),
            "name": "incident",
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 1,
            "member_count": 1,
            "total_message_sent": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": "2026-01-01T00:00:00+00:00",
                "locked": False,
            },
            "permissions": "2251799813685247",
        }
    return payload


def command_interaction(
    subcommand: str,
    options: Mapping[str, object] | None = None,
    *,
    guild: int | None = GUILD,
    channel: int = CHANNEL,
    user: int = USER,
    name: str = "ana",
    thread: int | None = None,
    synced_to: int | None = None,
) -> dict[str, Any]:
    """``/check502 <subcommand> name:value…`` as Discord sends it (APPLICATION_COMMAND):
    the group's subcommand nested as a type-1 option, its options inside; unset ones left out.
    ``thread``: typed in that thread of ``channel``. ``synced_to``: the guild the command was
    registered in (a guild command), else global."""
    payload = _base(2, guild=guild, channel=channel, user=user, name=name, thread=thread)
    data: dict[str, Any] = {
        "id": str(COMMAND_ID),
        "name": "check502",
        "type": 1,
        "options": [
            {
                "name": subcommand,
                "type": 1,
                "options": [_option(k, v) for k, v in (options or {}).items() if v is not None],
            }
        ],
    }
    if synced_to is not None:
        data["guild_id"] = str(synced_to)
    payload["data"] = data
    return payload


def component_interaction(
    custom_id: str,
    message: dict[str, Any],
    *,
    guild: int | None = GUILD,
    channel: int = CHANNEL,
    user: int = USER,
    name: str = "ana",
    thread: int | None = None,
) -> dict[str, Any]:
    """A click on the button ``custom_id`` of ``message`` (MESSAGE_COMPONENT), as Discord sends
    it: the whole message clicked (its embeds and components) comes with it. ``thread``: the
    message is in that thread of ``channel``."""
    payload = _base(3, guild=guild, channel=channel, user=user, name=name, thread=thread)
    payload["data"] = {"custom_id": custom_id, "component_type": 2}
    payload["message"] = message
    return payload


def buttons(message: dict[str, Any]) -> list[str]:
    """The custom ids of a message's buttons, in order."""
    return [
        c["custom_id"]
        for row in message.get("components") or []
        for c in row.get("components", [])
        if c.get("type") == 2 and "custom_id" in c
    ]
