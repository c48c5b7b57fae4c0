"""A local Telegram Bot API for tests, on 127.0.0.1: what python-telegram-bot talks to.

It routes ``/bot<token>/<method>`` as the real API does, records every call (:class:`Call`),
and behaves like Telegram where our code could get it wrong:

* HTML parse mode is parsed as Telegram parses it (:func:`parse_html`): an unknown tag, a bare
  ``<`` or ``&``, an unclosed tag is refused with 400 "can't parse entities"; a text over
  4,096 (UTF-16 units, after the tags are stripped) with 400 "message is too long";
  ``callback_data`` over 64 bytes with 400 ``BUTTON_DATA_INVALID``.
* Messages are kept, with their text and entities, so edits of a missing message, edits that
  change nothing, and replies to a message that is gone fail as they do on Telegram, and a test
  can press a button on exactly the message the bot sent (:meth:`FakeTelegram.click`).
* ``answerCallbackQuery`` twice for one press fails, as it does on Telegram.
* ``sendPhoto`` takes multipart as the Bot API does: a ``photo`` file part is required (400
  "there is no photo in the request" otherwise), at most 10 MB (400 "file is too big"), a PNG
  whose IHDR gives width + height ≤ 10,000 and a side ratio ≤ 20 (else 400
  ``PHOTO_INVALID_DIMENSIONS``; not a PNG: ``IMAGE_PROCESS_FAILED``), a caption of at most
  1,024 after entity parsing (400 "message caption is too long"). The file's bytes are kept
  on the call (:attr:`Call.files`).
* ``getUpdates`` serves :meth:`FakeTelegram.push`-ed updates, long-polling at most a second.

Replies can be scripted per method, before the normal one: a 429 with ``retry_after``
(:func:`too_many`), 403 "bot was blocked" (:func:`forbidden`), 400 "chat not found".

    async with FakeTelegram() as tg:
        app = Application.builder().token(TOKEN).base_url(tg.api_url).build()
"""

from __future__ import annotations

import asyncio
import itertools
import json
import struct
import time
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import BodyPartReader, web

from tests.support.loopback import LoopbackFake

TOKEN = "123456789:AAHtest-token_for-the-fake-Bot-API0"
BOT = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "check502",
    "username": "check502_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
USER = {"id": 5001, "is_bot": False, "first_name": "Ana", "last_name": "Lima", "username": "ana"}
OTHER_USER = {"id": 5002, "is_bot": False, "first_name": "Bo"}
PRIVATE = 5001
"""A private chat's id is the user's."""
GROUP = -1001234567890
"""A supergroup."""
FORUM = -1009876543210
"""A supergroup with forum topics."""

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_LIMIT = 10_000_000
"""Bytes of a photo upload (PTB's ``FileSizeLimit.PHOTOSIZE_UPLOAD``)."""
PHOTO_SIDES = 10_000
PHOTO_RATIO = 20
CALLBACK_LIMIT = 64
ANSWER_LIMIT = 200
_JSON_PARAMS = {
    "reply_markup",
    "reply_parameters",
    "link_preview_options",
    "commands",
    "allowed_updates",
    "scope",
    "entities",
}
_INT_PARAMS = {"chat_id", "message_id", "message_thread_id", "offset", "timeout", "limit"}
_BOOL_PARAMS = {"show_alert", "drop_pending_updates", "disable_notification", "protect_content"}


# ---------------------------------------------------------------------------- HTML mode


class HtmlError(ValueError):
    """Telegram would refuse this text: "Bad Request: can't parse entities: ..."."""


_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.size = 0
        self.open: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[dict[str, Any]] = []

    def _add(self, text: str) -> None:
        self.text.append(text)
        self.size += utf16(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag not in _ENTITY:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {self.size}')
        if tag == "span" and values.get("class") != "tg-spoiler":
            raise HtmlError('Tag "span" must have class "tg-spoiler"')
        if tag == "a" and not values.get("href"):
            raise HtmlError('Tag "a" must have attribute "href"')
        inside = [t for t, _, _ in self.open]
        if "code" in inside or ("pre" in inside and tag != "code"):
            raise HtmlError(f'Tag "{tag}" can\'t be inside a code block')
        self.open.append((tag, self.size, values))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise HtmlError(f'Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise HtmlError(f'Unmatched end tag at byte offset {self.size}, expected "</{tag}>"')
        _, start, values = self.open.pop()
        if self.size == start:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {
            "type": _ENTITY[tag],
            "offset": start,
            "length": self.size - start,
        }
        if tag == "a":
            entity["url"] = values["href"]
        if tag == "code" and self.open and self.open[-1][0] == "pre":
            language = (values.get("class") or "").removeprefix("language-")
            if language:
                self.open[-1][2]["language"] = language
            return  # <pre><code class=...> is one pre entity
        if tag == "pre" and values.get("language"):
            entity["language"] = values["language"]
        self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        for bad in "<>&":
            if bad in data:
                raise HtmlError(f"Unsupported start tag or bare {bad!r} at byte offset {self.size}")
        self._add(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _NAMED:
            raise HtmlError(f'Unknown HTML entity "&{name};"')
        self._add(_NAMED[name])

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            self._add(chr(code))
        except (ValueError, OverflowError):
            raise HtmlError(f'Bad character reference "&#{name};"') from None

    def handle_comment(self, data: str) -> None:
        raise HtmlError("Unsupported comment")

    def handle_decl(self, decl: str) -> None:
        raise HtmlError("Unsupported declaration")

    def handle_pi(self, data: str) -> None:
        raise HtmlError("Unsupported processing instruction")

    def unknown_decl(self, data: str) -> None:
        raise HtmlError("Unsupported declaration")


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's reading of an HTML-mode text: the plain text and its entities (UTF-16
    offsets), or :class:`HtmlError` where Telegram says "can't parse entities"."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{parser.open[-1][0]}"')
    return "".join(parser.text), sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


def shown(text: str) -> str:
    """What a user sees of an HTML-mode text (raises :class:`HtmlError` where Telegram would)."""
    return parse_html(text)[0]


# ------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Call:
    method: str
    token: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    """time.monotonic() when it arrived."""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    """A multipart request's file parts: field name -> (filename, bytes)."""

    @property
    def text(self) -> str:
        """What the user sees of a sendMessage/editMessageText (HTML parsed), or of a photo's
        caption."""
        raw = str(self.params.get("text", self.params.get("caption", "")))
        return shown(raw) if self.params.get("parse_mode") == "HTML" else raw

    @property
    def buttons(self) -> dict[str, str]:
        """``{callback_data: label}`` of the inline keyboard sent."""
        markup = self.params.get("reply_markup") or {}
        return {
            b["callback_data"]: b["text"]
            for row in markup.get("inline_keyboard", ())
            for b in row
            if "callback_data" in b
        }

    @property
    def reply_to(self) -> int | None:
        reply = self.params.get("reply_parameters") or {}
        return reply.get("message_id") or self.params.get("reply_to_message_id")


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]


def too_many(retry_after: int = 1) -> Scripted:
    return Scripted(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        },
    )


def forbidden(description: str = "Forbidden: bot was blocked by the user") -> Scripted:
    return Scripted(403, {"ok": False, "error_code": 403, "description": description})


def bad_request(description: str = "Bad Request: chat not found") -> Scripted:
    return Scripted(400, {"ok": False, "error_code": 400, "description": description})


def server_error() -> Scripted:
    return Scripted(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})


class _Refused(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# ---------------------------------------------------------------------------------- fake


@dataclass
class FakeTelegram(LoopbackFake[Call]):
    client_max_size = 2 * PHOTO_LIMIT
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    """Tokens getMe accepts; any other gets 401 Unauthorized."""
    forums: set[int] = field(default_factory=lambda: {FORUM})
    script: dict[str, list[Scripted]] = field(default_factory=dict)
    """Replies to give, in order, before the normal one: ``{"sendMessage": [too_many(1)]}``."""
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._pushed = asyncio.Event()
        self._closing = asyncio.Event()

    # --------------------------------------------------------------------------- lifecycle

    def describe(self, call: Call) -> str:
        return call.method

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        await super().__aexit__(*exc)

    @property
    def api_url(self) -> str:
        """PTB's ``base_url`` form."""
        return f"{self.url}/bot"

    # ----------------------------------------------------------------------------- queries

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as Telegram holds it now (text, entities, keyboard), e.g. to click on."""
        return self.messages[(chat_id, message_id)]

    def sent(self, call: Call) -> dict[str, Any]:
        """The message a sendMessage or editMessageText call made or changed, as it is now."""
        chat = int(call.params["chat_id"])
        if "message_id" in call.params:
            return self.message(chat, int(call.params["message_id"]))
        ids = [mid for (c, mid), m in self.messages.items() if c == chat and m.get("_call") is call]
        return self.message(chat, ids[0])

    # ---------------------------------------------------------------------- the user's side

    def chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Ana"}
        chat: dict[str, Any] = {"id": chat_id, "type": "supergroup", "title": "ops"}
        if chat_id in self.forums:
            chat["is_forum"] = True
        return chat

    def typed(
        self,
        text: str,
        *,
        chat_id: int = PRIVATE,
        user: dict[str, Any] | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """An update with a message a user typed (kept, so the bot can reply to it)."""
        message_id = next(self._ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": user or USER,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16(command)}]
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat_id in self.forums:
                message["is_topic_message"] = True
        if reply_to is not None:
            message["reply_to_message"] = self._shallow(chat_id, reply_to)
        self.messages[(chat_id, message_id)] = message
        return {"update_id": next(self._update_ids), "message": message}

    def click(
        self, data: str, message: dict[str, Any], *, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """An update for a press of the button ``data`` on ``message``."""
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"q{next(self._query_ids)}",
                "from": user or USER,
                "chat_instance": "ci-1",
                "message": _public(message),
                "data": data,
            },
        }

    def push(self, update: dict[str, Any]) -> None:
        """Queue ``update`` for getUpdates."""
        self.updates.append(update)
        self._pushed.set()

    # ---------------------------------------------------------------------------- handlers

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = {}
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)
                data = bytes(await part.read(decode=False))
                if part.name is None:
                    continue
                if part.filename is not None:
                    files[part.name] = (part.filename, data)
                else:
                    params[part.name] = data.decode()
        else:
            raw = await request.read()
            if "json" in request.headers.get("Content-Type", "") and raw:
                params = json.loads(raw)
            else:
                params = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        for key in list(params):
            value = params[key]
            if key in _JSON_PARAMS and isinstance(value, str):
                params[key] = json.loads(value)
            elif key in _INT_PARAMS and isinstance(value, str) and value.lstrip("-").isdigit():
                params[key] = int(value)
            elif key in _BOOL_PARAMS and value in ("true", "false"):
                params[key] = value == "true"
        token, method = request.match_info["token"], request.match_info["method"]
        call = Call(method, token, params, dict(request.headers), time.monotonic(), files)
        self.record(call)
        if token not in self.tokens:
            return _error(401, "Unauthorized")
        queued = self.script.get(method)
        if queued:
            s = queued.pop(0)
            return web.json_response(s.body, status=s.status)
        try:
            result = await self._answer(call)
        except _Refused as refused:
            return _error(refused.status, refused.description)
        return web.json_response({"ok": True, "result": result})

    async def _answer(self, call: Call) -> Any:
        p = call.params
        match call.method:
            case "getMe":
                return BOT
            case "sendMessage":
                return _public(self._send(call))
            case "sendPhoto":
                return _public(self._send_photo(call))
            case "editMessageText":
                return _public(self._edit(call))
            case "editMessageReplyMarkup":
                message = self._find(p)
                markup = p.get("reply_markup")
                _check_markup(markup)
                if markup == message.get("reply_markup"):
                    raise _Refused(400, "Bad Request: message is not modified")
                _set_markup(message, markup)
                return _public(message)
            case "answerCallbackQuery":
                query = str(p.get("callback_query_id"))
                if query in self.answered:
                    raise _Refused(
                        400,
                        "Bad Request: query is too old and response timeout expired or query ID"
                        " is invalid",
                    )
                if len(str(p.get("text", ""))) > ANSWER_LIMIT:
                    raise _Refused(400, "Bad Request: MESSAGE_TOO_LONG")
                self.answered.add(query)
                return True
            case "setMyCommands" | "setWebhook" | "deleteWebhook":
                return True
            case "getUpdates":
                return await self._get_updates(p)
        raise _Refused(404, "Not Found")

    def _text(
        self, p: dict[str, Any], *, empty_ok: bool = False
    ) -> tuple[str, list[dict[str, Any]]]:
        raw = str(p.get("text", ""))
        if p.get("parse_mode") == "HTML":
            try:
                text, entities = parse_html(raw)
            except HtmlError as exc:
                raise _Refused(400, f"Bad Request: can't parse entities: {exc}") from None
        elif p.get("parse_mode"):
            raise _Refused(400, f"Bad Request: unsupported parse_mode {p['parse_mode']!r}")
        else:
            text, entities = raw, []
        if not text.strip() and not empty_ok:
            raise _Refused(400, "Bad Request: message text is empty")
        if utf16(text) > TEXT_LIMIT:
            raise _Refused(400, "Bad Request: message is too long")
        return text, entities

    def _send(self, call: Call, *, text: str | None = "") -> dict[str, Any]:
        """A new message of ``call``: its text (None: a media message, without one)."""
        p = call.params
        chat_id = int(p["chat_id"])
        entities: list[dict[str, Any]] = []
        if text is not None:
            text, entities = self._text(p)
        _check_markup(p.get("reply_markup"))
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": BOT,
            "_call": call,
        }
        if text is not None:
            message["text"] = text
        if entities:
            message["entities"] = entities
        _set_markup(message, p.get("reply_markup"))
        thread = p.get("message_thread_id")
        reply = p.get("reply_parameters") or {}
        if reply.get("message_id") is not None:
            target = self.messages.get((chat_id, int(reply["message_id"])))
            if target is None:
                if not reply.get("allow_sending_without_reply"):
                    raise _Refused(400, "Bad Request: message to be replied not found")
            else:
                message["reply_to_message"] = self._shallow(chat_id, int(reply["message_id"]))
                thread = thread or target.get("message_thread_id")
        if thread is not None and chat_id in self.forums:
            message["message_thread_id"] = int(thread)
            message["is_topic_message"] = True
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _send_photo(self, call: Call) -> dict[str, Any]:
        p = call.params
        upload = call.files.get("photo")
        if upload is None:
            raise _Refused(400, "Bad Request: there is no photo in the request")
        filename, data = upload
        if len(data) > PHOTO_LIMIT:
            raise _Refused(400, "Bad Request: file is too big")
        size = png_size(data)
        if size is None:
            raise _Refused(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > PHOTO_SIDES or max(width, height) > PHOTO_RATIO * min(width, height):
            raise _Refused(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        caption, entities = "", []
        if "caption" in p:
            caption, entities = self._text({**p, "text": p["caption"]}, empty_ok=True)
            if utf16(caption) > CAPTION_LIMIT:
                raise _Refused(400, "Bad Request: message caption is too long")
        # A photo is a message without text; _send keeps the chat, the reply and the keyboard.
        message = self._send(call, text=None)
        message["photo"] = [
            {
                "file_id": f"photo-{message['message_id']}",
                "file_unique_id": f"u{message['message_id']}",
                "width": width,
                "height": height,
                "file_size": len(data),
            }
        ]
        message["_photo"] = (filename, data)
        if caption:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        return message

    def _find(self, p: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get((int(p.get("chat_id", 0)), int(p.get("message_id", 0))))
        if message is None:
            raise _Refused(400, "Bad Request: message to edit not found")
        return message

    def _edit(self, call: Call) -> dict[str, Any]:
        p = call.params
        message = self._find(p)
        if "text" not in message:
            raise _Refused(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._text(p)
        markup = p.get("reply_markup")
        _check_markup(markup)
        before = (message["text"], message.get("entities", []), message.get("reply_markup"))
        if before == (text, entities, markup):
            raise _Refused(
                400,
                "Bad Request: message is not modified: specified new message content and reply"
                " markup are exactly the same as a current content and reply markup of the message",
            )
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        message["edit_date"] = int(time.time())
        _set_markup(message, markup)
        return message

    async def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._pushed.clear()
            wait = min(float(p.get("timeout") or 0), 1.0)
            closing = asyncio.ensure_future(self._closing.wait())
            pushed = asyncio.ensure_future(self._pushed.wait())
            await asyncio.wait({closing, pushed}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            closing.cancel()
            pushed.cancel()
        return list(self.updates)

    def _shallow(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as Telegram nests it in ``reply_to_message``: without its own reply."""
        found = self.messages.get((chat_id, message_id))
        if found is None:
            return {"message_id": message_id, "date": 0, "chat": self.chat(chat_id)}
        return {k: v for k, v in found.items() if k != "reply_to_message" and k[0] != "_"}


def png_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG's IHDR; None when ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width and height else None


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """The message as JSON: the bookkeeping key dropped, nested replies likewise."""
    out = {k: v for k, v in message.items() if not k.startswith("_")}
    if "reply_to_message" in out:
        out["reply_to_message"] = {
            k: v for k, v in out["reply_to_message"].items() if not k.startswith("_")
        }
    return out


def _check_markup(markup: dict[str, Any] | None) -> None:
    for row in (markup or {}).get("inline_keyboard", ()):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_LIMIT:
                raise _Refused(400, "Bad Request: BUTTON_DATA_INVALID")


def _set_markup(message: dict[str, Any], markup: dict[str, Any] | None) -> None:
    if markup and markup.get("inline_keyboard"):
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )
