"""A check of several slow runs replaces its "Checking…" acknowledgement with the runs done,
then with the result, which says how many runs the overall limit let finish.

The origin answers its first three requests after 2.1, 4.2 and 6.3 s and the rest after 9 s,
with a limit of 7 s: three progress updates are due, but a response URL takes only five posts,
so two of them are shown (:data:`adapters.slack.app.PROGRESS_EDITS`), then the result.
"""

from __future__ import annotations

import re
from pathlib import Path

from adapters.slack.app import PROGRESS_EDITS
from tests.adapters.slack.conftest import slack_rig
from tests.bot.test_check_limit import StaggeredServer
from tests.support import OkServer
from tests.support.slack_render_check import block_text

LIMIT = 7.0


async def test_a_slow_check_shows_its_progress_then_the_result(
    tmp_path: Path, control: OkServer
) -> None:
    with StaggeredServer([2.1, 4.2, 6.3, 9.0]) as site:
        async with slack_rig(tmp_path, control.url, check_limit=LIMIT) as rig:
            r, response_url, _ = await rig.command(f"{site.url} runs=10")
            assert r.json()["text"] == f"Checking {site.url}…"
            *progress, result = await rig.answers(response_url, PROGRESS_EDITS + 1)
    assert PROGRESS_EDITS == 2
    texts = [p.body["text"] for p in progress]
    assert texts == [f"Checking {site.url}… 1/10 runs", f"Checking {site.url}… 2/10 runs"]
    for p in progress:
        assert p.body["replace_original"] is True
        assert p.body["response_type"] == "in_channel"
    assert progress[0].at < progress[1].at < result.at
    assert result.body["replace_original"] is True
    text = block_text(result.body["blocks"])
    match = re.search(r"([0-9]+) of 10 runs finished within 7 s", text)
    assert match is not None, text
    finished = int(match.group(1))
    assert 3 <= finished < 10  # the three answered, and any that timed out at 7 s themselves
    assert f"{finished} of 10 runs" in text
    # The third update was due (6.3 s) but not sent: the result was the third post, and last.
    assert len(rig.fake.of(response_url.removeprefix(rig.fake.url))) == PROGRESS_EDITS + 1
