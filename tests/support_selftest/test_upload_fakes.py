"""The chat fakes refuse file uploads as the platforms do: raw HTTP (httpx) against each fake,
never check502 code, so a lax fake cannot hide a bug in what the bot sends."""

from __future__ import annotations

import json
import struct

import httpx

from tests.support.discord_fake import API_PREFIX, TOKEN, FakeDiscord
from tests.support.discord_fake import CHANNEL as DISCORD_CHANNEL
from tests.support.slack_fake import CHANNEL, FakeSlack
from tests.support.telegram_fake import PRIVATE, FakeTelegram
from tests.support.telegram_fake import TOKEN as TELEGRAM_TOKEN


def png(width: int, height: int) -> bytes:
    """The head of a PNG (signature and IHDR): all the fakes read of one."""
    ihdr = struct.pack(">I4sIIBBBBB", 13, b"IHDR", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"\0" * 64


# -------------------------------------------------------------------------------- Slack


async def test_slack_file_upload_is_as_strict_as_slack() -> None:
    auth = {"Authorization": "Bearer xoxb-test"}
    async with FakeSlack() as slack, httpx.AsyncClient(base_url=slack.api_url, headers=auth) as h:

        async def api(method: str, **form: str) -> dict[str, object]:
            body: dict[str, object] = (await h.post(method, data=form)).json()
            return body

        async def declare(data: bytes) -> tuple[str, str]:
            got = await api("files.getUploadURLExternal", filename="c.png", length=str(len(data)))
            assert got["ok"] is True, got
            return str(got["file_id"]), str(got["upload_url"])

        async def complete(file_id: str, **form: str) -> dict[str, object]:
            return await api(
                "files.completeUploadExternal", files=json.dumps([{"id": file_id}]), **form
            )

        data = png(1000, 500)
        assert (await api("files.getUploadURLExternal", filename="", length="3"))["error"] == (
            "invalid_arguments"
        )
        assert (await api("files.getUploadURLExternal", filename="c.png", length="0"))[
            "error"
        ] == "invalid_arguments"
        file_id, url = await declare(data)
        assert (await complete(file_id, channel_id=CHANNEL))["error"] == "file_not_found"
        assert (await h.post(url, content=data[:-1])).status_code == 400  # length must match
        assert (await h.post(url, content=data)).status_code == 200
        assert (await complete(file_id, channel_id="C0404"))["error"] == "channel_not_found"
        slack.channels["C0002"] = False
        assert (await complete(file_id, channel_id="C0002"))["error"] == "not_in_channel"
        thread = await complete(file_id, channel_id=CHANNEL, thread_ts="1700000000.999999")
        assert thread["error"] == "thread_not_found"
        assert (await complete(file_id, thread_ts="1.2"))["error"] == "invalid_arguments"
        bad = await api("files.completeUploadExternal", files="not json", channel_id=CHANNEL)
        assert bad["error"] == "invalid_arguments"
        done = await complete(file_id, channel_id=CHANNEL, initial_comment="the chart")
        assert done["ok"] is True, done
        (shared,) = slack.shared(CHANNEL)
        assert shared.data == data and shared.filename == "c.png"
        assert (await complete(file_id, channel_id=CHANNEL))["error"] == "file_not_found"
        slack.scopes.discard("files:write")
        refused = await api("files.getUploadURLExternal", filename="c.png", length="3")
        assert refused["error"] == "missing_scope" and refused["needed"] == "files:write"


# ------------------------------------------------------------------------------ Discord


async def test_discord_attachments_are_as_strict_as_discord() -> None:
    async with (
        FakeDiscord() as fake,
        httpx.AsyncClient(
            base_url=f"{fake.url}{API_PREFIX}", headers={"Authorization": f"Bot {TOKEN}"}
        ) as h,
    ):

        async def send(
            payload: dict[str, object], files: dict[str, tuple[str, bytes]]
        ) -> httpx.Response:
            form = {"payload_json": json.dumps(payload)}
            parts = {
                name: (filename, data, "application/octet-stream")
                for name, (filename, data) in files.items()
            }
            return await h.post(f"/channels/{DISCORD_CHANNEL}/messages", data=form, files=parts)

        data = png(1000, 500)
        chart = {"files[0]": ("chart.png", data)}
        image = {"embeds": [{"title": "t", "image": {"url": "attachment://chart.png"}}]}
        named = {"attachments": [{"id": 0, "filename": "chart.png"}]}

        wrong_name = await send({**image, "attachments": [{"id": 0, "filename": "x.png"}]}, chart)
        assert wrong_name.status_code == 400 and "attachments" in wrong_name.json()["errors"]
        wrong_id = await send({**image, "attachments": [{"id": 1, "filename": "chart.png"}]}, chart)
        assert wrong_id.status_code == 400
        other = await send(
            {**named, "embeds": [{"image": {"url": "attachment://other.png"}}]}, chart
        )
        assert other.status_code == 400 and "embeds" in other.json()["errors"]
        text = {"files[0]": ("chart.txt", data)}
        not_image = await send(
            {
                "attachments": [{"id": 0, "filename": "chart.txt"}],
                "embeds": [{"image": {"url": "attachment://chart.txt"}}],
            },
            text,
        )
        assert not_image.status_code == 400
        big = await send(
            {"attachments": [{"id": 0, "filename": "big.png"}]},
            {"files[0]": ("big.png", b"\0" * (10 * 1024 * 1024 + 1))},
        )
        assert big.status_code == 413 and big.json()["code"] == 40005
        assert fake.messages == {}  # nothing refused was created

        ok = await send({**image, **named}, chart)
        assert ok.status_code == 200, ok.text
        message = ok.json()
        (attachment,) = message["attachments"]
        assert attachment["filename"] == "chart.png" and attachment["content_type"] == "image/png"
        assert message["embeds"][0]["image"]["url"] == attachment["url"]
        assert fake.attached(int(message["id"])) == [(attachment, data)]


# ----------------------------------------------------------------------------- Telegram


async def test_telegram_send_photo_is_as_strict_as_the_bot_api() -> None:
    async with (
        FakeTelegram() as tg,
        httpx.AsyncClient(base_url=f"{tg.url}/bot{TELEGRAM_TOKEN}") as h,
    ):

        async def photo(data: bytes | None, **form: str) -> httpx.Response:
            files = {"photo": ("c.png", data, "image/png")} if data is not None else None
            fields = {"chat_id": str(PRIVATE), **form}
            if files is None:
                fields["filler"] = "x"  # still multipart, as PTB sends it
                return await h.post("/sendPhoto", data=fields, files={"other": ("x", b"x")})
            return await h.post("/sendPhoto", data=fields, files=files)

        def refused(r: httpx.Response) -> str:
            assert r.status_code == 400, r.text
            return str(r.json()["description"])

        assert "no photo" in refused(await photo(None))
        assert "IMAGE_PROCESS_FAILED" in refused(await photo(b"GIF89a" + b"\0" * 40))
        assert "PHOTO_INVALID_DIMENSIONS" in refused(await photo(png(9000, 1001)))
        assert "PHOTO_INVALID_DIMENSIONS" in refused(await photo(png(2100, 100)))  # ratio 21
        assert "too big" in refused(await photo(png(10, 10) + b"\0" * 10_000_000))
        too_long = "x" * 1025
        assert "caption is too long" in refused(await photo(png(1000, 500), caption=too_long))
        assert "can't parse" in refused(
            await photo(png(1000, 500), caption="<b>open", parse_mode="HTML")
        )
        assert tg.messages == {}

        # 1,024 as shown: the tags do not count.
        fits = "<b>" + "x" * 1024 + "</b>"
        ok = await h.post(
            "/sendPhoto",
            data={"chat_id": str(PRIVATE), "caption": fits, "parse_mode": "HTML"},
            files={"photo": ("c.png", png(1000, 500), "image/png")},
        )
        assert ok.status_code == 200, ok.text
        sent = ok.json()["result"]
        assert sent["photo"][0]["width"] == 1000 and sent["caption"] == "x" * 1024
        assert sent["caption_entities"][0]["type"] == "bold"
