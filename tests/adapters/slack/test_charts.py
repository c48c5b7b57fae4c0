"""``/check502 history <id>`` in Slack: the text through the response URL, then the chart shared
in the channel with the real slack-sdk ``files_upload_v2`` against the strict fake (upload URL,
byte upload, completion). A refused upload leaves the text and says why, privately."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from adapters.present import NO_CHART
from bot.model import Channel
from tests.adapters.slack.conftest import SlackRig, slack_rig
from tests.support import OkServer
from tests.support.charts import add_monitor, assert_chart, record_history
from tests.support.slack_fake import CHANNEL, TEAM, Scripted
from tests.support.slack_render_check import block_text


def _monitor(rig: SlackRig, *, checks: bool = True) -> int:
    mid = add_monitor(rig.bot.store, Channel("slack", TEAM, CHANNEL))
    if checks:
        record_history(rig.bot.store, mid, time.time(), hours=30)
    return mid


async def test_history_posts_its_text_then_shares_the_chart_in_the_channel(
    tmp_path: Path, control: OkServer
) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig)
        r, response_url, _ = await rig.command(f"history {mid}")
        assert r.status_code == 200
        (text,) = await rig.answers(response_url)
        assert text.body["response_type"] == "in_channel"
        assert f"#{mid}" in block_text(text.body["blocks"])
        (done,) = await rig.fake.wait("files.completeUploadExternal")
        (asked,) = rig.fake.of("files.getUploadURLExternal")
        assert asked.at > text.at  # the chart follows the text, which never waits for it
        (shared,) = rig.fake.shared(CHANNEL)
        assert shared.data is not None
        assert int(asked.body["length"]) == len(shared.data)
        assert_chart(shared.data)
        assert shared.filename.startswith(f"check502-{mid}-") and shared.filename.endswith(".png")
        assert shared.title is not None and "shop.example.com" in shared.title
        assert shared.alt_txt is not None and "shop.example.com" in shared.alt_txt
        assert done.body["channel_id"] == CHANNEL
        assert done.token == "xoxb-test"
        # Nothing more was said: no note of a failure.
        assert len(rig.fake.of(response_url.removeprefix(rig.fake.url))) == 1


@pytest.mark.parametrize(
    ("refuse", "said"),
    [
        ("not_in_channel", "/invite @check502"),
        ("missing_scope", "files:write"),
        ("upload", "did not go through"),
    ],
)
async def test_a_refused_chart_keeps_the_text_and_says_why_privately(
    tmp_path: Path, control: OkServer, caplog: pytest.LogCaptureFixture, refuse: str, said: str
) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        if refuse == "not_in_channel":
            rig.fake.channels[CHANNEL] = False
        elif refuse == "missing_scope":
            rig.fake.scopes.discard("files:write")
        else:  # the upload host fails
            rig.fake.script["upload"] = [Scripted(500, {"error": "boom"})]
        mid = _monitor(rig)
        caplog.set_level(logging.WARNING)
        _, response_url, _ = await rig.command(f"history {mid}")
        text, note = await rig.answers(response_url, 2)
        assert f"#{mid}" in block_text(text.body["blocks"])  # the text reply stands
        assert note.body["response_type"] == "ephemeral"
        assert "chart could not be posted" in note.body["text"] and said in note.body["text"]
        assert rig.fake.shared(CHANNEL) == []
        lines = [r for r in caplog.records if "chart" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None  # one line, no traceback
        if refuse != "upload":
            assert refuse in lines[0].getMessage()


async def test_history_of_a_monitor_without_checks_says_so_and_uploads_nothing(
    tmp_path: Path, control: OkServer
) -> None:
    async with slack_rig(tmp_path, control.url) as rig:
        mid = _monitor(rig, checks=False)
        _, response_url, _ = await rig.command(f"history {mid}")
        (text,) = await rig.answers(response_url)
        assert NO_CHART in block_text(text.body["blocks"])
        assert rig.fake.of("files.getUploadURLExternal") == []
        assert rig.fake.of("files.completeUploadExternal") == []
