"""A check of several slow runs replaces its "Checking…" acknowledgement with the runs done,
then with the result, which says how many runs the overall limit let finish."""

from __future__ import annotations

from pathlib import Path

from tests.adapters.slack.conftest import slack_rig
from tests.bot.test_check_limit import LIMIT, SLOW, runs_done_in
from tests.support import OkServer, ok_server
from tests.support.slack_render_check import block_text


async def test_a_slow_check_shows_its_progress_then_the_result(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(delay=SLOW) as site:
        async with slack_rig(tmp_path, control.url, check_limit=LIMIT) as rig:
            r, response_url, _ = await rig.command(f"{site.url} runs=10")
            assert r.json()["text"] == f"Checking {site.url}…"
            progress, result = await rig.answers(response_url, 2)
    assert progress.body["replace_original"] is True
    assert progress.body["response_type"] == "in_channel"
    text = progress.body["text"]
    assert text.startswith(f"Checking {site.url}… ") and text.endswith("/10 runs"), text
    done = int(text.rsplit(" ", 2)[-2].split("/")[0])
    assert 0 < done < 10
    assert progress.at < result.at
    assert result.body["replace_original"] is True
    finished = runs_done_in(block_text(result.body["blocks"]))
    assert 0 < finished < 10
    assert f"{finished} of 10 runs" in block_text(result.body["blocks"])
