"""A check of several slow runs edits its deferred response with the runs done, then with the
result (the progress text cleared), which says how many runs the overall limit let finish."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.discord.conftest import discord_rig
from tests.bot.test_check_limit import LIMIT, SLOW, runs_done_in
from tests.support import OkServer, ok_server


async def test_a_slow_check_shows_its_progress_then_the_result(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(delay=SLOW) as site:
        async with discord_rig(tmp_path, control.url, check_limit=LIMIT) as rig:
            payload = await rig.command("check", url=site.url, runs=10)
            await rig.callback(payload)
            progress, result = await rig.edits(payload, 2)
            shown = rig.original(payload)
    text = progress.body["content"]
    assert text.startswith(f"Checking {site.url}… ") and text.endswith("/10 runs"), text
    assert 0 < int(text.rsplit(" ", 2)[-2].split("/")[0]) < 10
    assert "embeds" not in progress.body or not progress.body["embeds"]
    assert progress.at < result.at
    assert result.body["content"] is None  # the progress line is gone from the result
    (embed,) = result.body["embeds"]
    fields = " ".join(f"{f['name']} {f['value']}" for f in embed.get("fields", ()))
    finished = runs_done_in(fields)
    assert 0 < finished < 10
    assert f"{finished} of 10 runs" in fields
    assert not shown.get("content")
