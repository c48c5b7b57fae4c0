"""Malformed and repeated requests to the endpoints Slack and Telegram post to.

Real HTTP requests to the real apps on loopback (Bolt behind our gate, PTB's Application behind
our webhook), each talking to a fake platform API that counts what the bot sent. Every
malformed request must get a 4xx, leave exactly one log line (WARNING or above) and no
traceback at any level, and run nothing; the same request twice runs once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.incoming import MAX_BODY
from adapters.telegram.app import TelegramApp
from adapters.telegram.config import TelegramConfig
from bot.core import Bot
from tests.adapters.slack.conftest import SlackRig, slack_rig
from tests.bot.conftest import fast_settings
from tests.support import OkServer
from tests.support.slack_fake import SECRET, command_form, signed
from tests.support.telegram_fake import GROUP, TOKEN, FakeTelegram
from tests.support.web import web_server

WEBHOOK_SECRET = "webhook-secret_0123456789-abcdef"
SETTLE = 0.5
"""Seconds given to a request that should not have run to show that it did."""


@dataclass(frozen=True)
class Bad:
    name: str
    body: bytes
    headers: dict[str, str]
    status: int
    reason: str
    """A word the one log line must contain."""


def _assert_one_line(caplog: pytest.LogCaptureFixture, case: Bad) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1, (case.name, [r.getMessage() for r in loud])
    line = loud[0].getMessage()
    assert "\n" not in line, case.name
    assert case.reason in line, (case.name, line)
    assert "Traceback" not in caplog.text, case.name
    assert all(r.exc_info is None for r in caplog.records), case.name


# ------------------------------------------------------------------------------------ Slack


def _slack_signed(body: bytes, *, stamp: str | None = None, ctype: str | None = None) -> Bad:
    """Headers signing the raw ``body`` (bytes, as Slack signs them) with our secret."""
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": ctype or "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    return Bad("", body, headers, 0, "")


def _slack_cases(response_url: str) -> Iterator[Bad]:
    form = command_form("list", response_url)
    good_body, good = signed(form)
    body = good_body.encode()
    now = int(time.time())

    def case(name: str, body: bytes, headers: dict[str, str], status: int, reason: str) -> Bad:
        return Bad(name, body, headers, status, reason)

    yield case(
        "no timestamp",
        body,
        {k: v for k, v in good.items() if k != "X-Slack-Request-Timestamp"},
        401,
        "X-Slack-Request-Timestamp",
    )
    for stamp in ("abc", "1e9", "-1", "١٧٠٠٠٠٠٠٠٠", "9" * 40, "1700000000.5"):
        s = _slack_signed(body, stamp=stamp)
        yield case(f"timestamp {stamp!r}", body, s.headers, 400, "not a number")
    for offset in (-400, 400):
        s = _slack_signed(body, stamp=str(now + offset))
        yield case(f"timestamp {offset:+d} s", body, s.headers, 401, "stale")
    yield case("no signature", body, {**good, "X-Slack-Signature": ""}, 401, "X-Slack-Signature")
    yield case("bad signature", body, {**good, "X-Slack-Signature": "v0=" + "0" * 64}, 401, "wrong")
    yield case("non-ASCII signature", body, {**good, "X-Slack-Signature": "v0=é"}, 401, "wrong")
    binary = b"\xff\xfe\x00\x81 text=list&response_url=" + response_url.encode()
    yield case("signed binary body", binary, _slack_signed(binary).headers, 400, "UTF-8")
    s = _slack_signed(body, ctype="text/plain")
    yield case("signed text/plain", body, s.headers, 415, "text/plain")
    s = _slack_signed(body, ctype="multipart/form-data; boundary=x")
    yield case("signed multipart", body, s.headers, 415, "multipart")
    big = body + b"&pad=" + b"x" * MAX_BODY
    yield case("signed oversized body", big, _slack_signed(big).headers, 413, "bytes")
    deep = b"[" * 100_000 + b"]" * 100_000
    s = _slack_signed(deep, ctype="application/json")
    yield case("signed deeply nested JSON", deep, s.headers, 400, "JSON")
    array = b"[1, 2, 3]"
    s = _slack_signed(array, ctype="application/json")
    yield case("signed JSON array", array, s.headers, 400, "not an object")
    bad_payload = urllib.parse.urlencode({"payload": "{not json"}).encode()
    s = _slack_signed(bad_payload)
    yield case("signed button payload not JSON", bad_payload, s.headers, 400, "JSON")


async def test_slack_refuses_each_malformed_request_in_one_line_and_runs_nothing(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with slack_rig(tmp_path, control.url) as rig:
        response_url = rig.next_url()
        for case in _slack_cases(response_url):
            caplog.clear()
            raw = {k: v.encode() for k, v in case.headers.items()}  # some are not ASCII
            r = await rig.http.post(rig.url, content=case.body, headers=raw)
            assert r.status_code == case.status, (case.name, r.text)
            _assert_one_line(caplog, case)
        await asyncio.sleep(SETTLE)
        assert rig.fake.calls == []  # not one of them ran

        # The app is alive: the same command, signed properly, runs.
        body, headers = signed(command_form("list", response_url))
        r = await rig.http.post(rig.url, content=body, headers=headers)
        assert r.status_code == 200
        (listing,) = await rig.answers(response_url)
        assert "No monitors in this channel" in listing.body["text"]


async def test_slack_refuses_an_oversized_body_sent_in_chunks(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536

    async with slack_rig(tmp_path, control.url) as rig:
        caplog.clear()
        r = await rig.http.post(rig.url, content=chunks(), headers=_slack_signed(b"").headers)
        assert r.status_code == 413
        _assert_one_line(caplog, Bad("chunked", b"", {}, 413, "over"))
        assert rig.fake.calls == []


async def _ran_once(rig: SlackRig, response_url: str) -> None:
    await rig.answers(response_url)
    await asyncio.sleep(SETTLE)
    assert len(rig.fake.of(response_url.removeprefix(rig.fake.url))) == 1


async def test_slack_runs_a_replayed_signed_request_once(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        response_url = rig.next_url()
        body, headers = signed(command_form("list", response_url))
        caplog.clear()
        for _ in range(3):
            r = await rig.http.post(rig.url, content=body, headers=headers)
            assert r.status_code == 200
        await _ran_once(rig, response_url)
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]

        # Slack's retry of one event: a new timestamp and signature, the same event_id.
        event = json.dumps({"type": "event_callback", "event_id": "Ev01", "event": {}}).encode()
        first = _slack_signed(event, ctype="application/json", stamp=str(int(time.time())))
        r = await rig.http.post(rig.url, content=event, headers=first.headers)
        assert r.status_code == 404  # Bolt ran it: we listen to no events
        assert "X-Slack-No-Retry" not in r.headers
        again = _slack_signed(event, ctype="application/json", stamp=str(int(time.time()) - 2))
        retry = {**again.headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        r = await rig.http.post(rig.url, content=event, headers=retry)
        assert r.status_code == 200
        assert r.headers["X-Slack-No-Retry"] == "1"


# --------------------------------------------------------------------------------- Telegram


@dataclass
class Webhook:
    fake: FakeTelegram
    url: str
    http: httpx.AsyncClient

    async def post(self, body: bytes, **headers: str) -> httpx.Response:
        sent = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
            **{k.replace("_", "-"): v for k, v in headers.items()},
        }
        return await self.http.post(self.url, content=body, headers=sent)


@asynccontextmanager
async def webhook(tmp_path: Path, control_url: str) -> AsyncIterator[Webhook]:
    async with FakeTelegram() as fake:
        bot = Bot(fast_settings(tmp_path, control_url))
        config = TelegramConfig(
            token=TOKEN,
            api_url=fake.api_url,
            webhook_url="https://bot.example.com/telegram",
            webhook_secret=WEBHOOK_SECRET,
            webhook_path="/telegram",
        )
        telegram = TelegramApp(bot, config)
        bot.attach(telegram.surface)
        await telegram.start()
        await bot.start()
        try:
            async with web_server(bot) as server, httpx.AsyncClient(timeout=10) as http:
                await telegram.serve(server)
                await fake.wait("setWebhook")
                yield Webhook(fake, f"{server.url}/telegram", http)
        finally:
            await telegram.stop()
            await bot.stop()
            bot.close()


def _telegram_cases(good: dict[str, object]) -> Iterator[Bad]:
    message = good["message"]
    yield Bad("not JSON", b"{update_id: 1", {}, 400, "not JSON")
    yield Bad("binary", b"\xff\xfe\x00\x81\x00", {}, 400, "not JSON")
    yield Bad("empty", b"", {}, 400, "not JSON")
    yield Bad("deeply nested", b"[" * 100_000 + b"]" * 100_000, {}, 400, "not JSON")
    yield Bad("array", json.dumps([good]).encode(), {}, 400, "not an object")
    yield Bad("string", b'"update"', {}, 400, "not an object")
    yield Bad("no update_id", json.dumps({"message": message}).encode(), {}, 400, "update_id")
    for uid in ("7", 7.5, True, None):
        body = json.dumps({"update_id": uid, "message": message}).encode()
        yield Bad(f"update_id {uid!r}", body, {}, 400, "update_id")
    for name, field in (("message 5", 5), ("chat a list", {**message, "chat": []})):  # type: ignore[dict-item]
        body = json.dumps({"update_id": 99, "message": field}).encode()
        yield Bad(name, body, {}, 400, "cannot read")
    body = json.dumps(good).encode()
    yield Bad("text/plain", body, {"Content-Type": "text/plain"}, 415, "text/plain")
    yield Bad("no secret", body, {"X-Telegram-Bot-Api-Secret-Token": ""}, 403, "no secret")
    wrong = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET[:-1] + "X"}
    yield Bad("wrong secret", body, wrong, 403, "wrong secret")
    big = json.dumps({**good, "pad": "x" * MAX_BODY}).encode()
    yield Bad("oversized", big, {}, 413, "bytes")


async def test_telegram_refuses_each_malformed_update_in_one_line_and_runs_nothing(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with webhook(tmp_path, control.url) as hook:
        good = hook.fake.typed("/check502 list", chat_id=GROUP)
        for case in _telegram_cases(good):
            caplog.clear()
            headers = {k.replace("-", "_"): v for k, v in case.headers.items()}
            r = await hook.post(case.body, **headers)
            assert r.status_code == case.status, (case.name, r.text)
            _assert_one_line(caplog, case)
        await asyncio.sleep(SETTLE)
        assert hook.fake.of("sendMessage") == []

        # Alive: the good update runs, once however often Telegram delivers it.
        caplog.clear()
        for _ in range(3):
            r = await hook.post(json.dumps(good).encode())
            assert r.status_code == 200
        (reply,) = await hook.fake.wait("sendMessage")
        assert "No monitors in this chat" in reply.text
        await asyncio.sleep(SETTLE)
        assert len(hook.fake.of("sendMessage")) == 1
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert "Traceback" not in caplog.text
