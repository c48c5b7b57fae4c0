"""A check of several slow runs edits its "⏳ Checking…" message with the runs done, then with
the result, which says how many runs the overall limit let finish."""

from __future__ import annotations

import time
from pathlib import Path

from tests.adapters.telegram.conftest import telegram_rig
from tests.bot.test_check_limit import LIMIT, SLOW, runs_done_in
from tests.support import OkServer, ok_server
from tests.support.telegram_fake import GROUP


async def test_a_slow_check_shows_its_progress_then_the_result(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server(delay=SLOW) as site:
        async with telegram_rig(tmp_path, control.url, check_limit=LIMIT) as rig:
            started = time.monotonic()
            typed = await rig.type(f"/check502 {site.url} runs=10", chat_id=GROUP)
            elapsed = time.monotonic() - started
            (checking,) = rig.replies_to(typed)
            assert checking.text == f"⏳ Checking {site.url}…"
            edits = rig.fake.of("editMessageText")
    assert elapsed <= LIMIT + 1.0, elapsed  # the limit, and the messages around it
    assert len(edits) == 2, [e.text for e in edits]
    progress, result = edits
    message_id = rig.fake.sent(checking)["message_id"]
    assert progress.params["message_id"] == result.params["message_id"] == message_id
    assert progress.text.startswith(f"⏳ Checking {site.url}… ")
    done = int(progress.text.rsplit(" ", 2)[-2].split("/")[0])
    assert 0 < done < 10 and progress.text.endswith(f"{done}/10 runs")
    assert progress.at < result.at
    finished = runs_done_in(result.text)
    assert 0 < finished < 10
    assert f"{finished} of 10 runs" in result.text
