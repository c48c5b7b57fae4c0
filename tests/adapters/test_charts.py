"""The ``history`` chart: drawn from a real store's rollups through the core, decoded as an image.

Each chart costs some 0.3 s to draw (and matplotlib ~1 s to import once), so the module draws
three and checks each several ways.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.charts import history_chart
from bot.commands import History
from bot.core import Bot
from bot.model import Channel, Context, HistoryReply
from bot.settings import Settings
from tests.support.charts import add_monitor, assert_chart, record_history

CHANNEL = Channel("console", "local", "ops")
NOW = 1_750_003_000.0


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HistoryReply]]:
    """``history`` of three monitors: a mostly healthy one, one that only failed, a new one."""
    path = tmp_path_factory.mktemp("charts") / "bot.db"
    bot = Bot(Settings(db_path=str(path), control_url=None), clock=lambda: NOW)
    try:
        healthy = add_monitor(bot.store, CHANNEL, "https://shop.example.com/cart")
        failing = add_monitor(bot.store, CHANNEL, "https://down.example.com/")
        new = add_monitor(bot.store, CHANNEL, "https://new.example.com/")
        record_history(bot.store, healthy, NOW, hours=8 * 24)
        record_history(bot.store, failing, NOW, hours=10, only_failures=True)

        async def history(mid: int) -> HistoryReply:
            reply = await bot.handle(Context(CHANNEL, "ann"), History(mid))
            assert isinstance(reply, HistoryReply), reply
            return reply

        yield {
            name: asyncio.run(history(mid))
            for name, mid in (("healthy", healthy), ("failing", failing), ("new", new))
        }
    finally:
        bot.close()


async def test_a_history_chart_is_a_png_with_both_panels_drawn(
    replies: dict[str, HistoryReply],
) -> None:
    reply = replies["healthy"]
    chart = await history_chart(reply)
    assert chart is not None
    facts = assert_chart(chart.png)
    assert (facts.width, facts.height) == (1000, 500)
    assert chart.filename.startswith(f"check502-{reply.monitor.id}-") and chart.filename.endswith(
        ".png"
    )
    assert all(c.isalnum() or c in "-." for c in chart.filename)
    assert "shop.example.com" in chart.title and f"#{reply.monitor.id}" in chart.title
    assert "shop.example.com" in chart.alt_text and "failed" in chart.alt_text
    assert len(chart.alt_text) <= 1000


async def test_a_monitor_that_only_failed_has_bars_and_no_latency_line(
    replies: dict[str, HistoryReply],
) -> None:
    chart = await history_chart(replies["failing"])
    assert chart is not None
    assert_chart(chart.png, latency=False)
    assert "no response" in chart.alt_text


async def test_a_monitor_with_no_checks_has_no_chart(replies: dict[str, HistoryReply]) -> None:
    assert not replies["new"].chartable
    assert await history_chart(replies["new"]) is None


async def test_drawing_does_not_block_the_event_loop(replies: dict[str, HistoryReply]) -> None:
    ticks = 0
    drawing = asyncio.ensure_future(history_chart(replies["healthy"]))
    started = time.monotonic()
    while not drawing.done():
        assert time.monotonic() - started < 60, "the chart never finished"
        await asyncio.sleep(0.005)
        ticks += 1
    assert (await drawing) is not None
    assert ticks >= 3  # the loop kept running while the chart was drawn


def test_starting_a_surface_does_not_import_matplotlib() -> None:
    code = (
        "import sys, adapters.charts, adapters.console.app, adapters.slack.app,"
        " adapters.discord.app, adapters.telegram.app, adapters.main;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout


async def test_a_drawing_worker_that_died_costs_one_chart_and_is_replaced(
    replies: dict[str, HistoryReply], caplog: pytest.LogCaptureFixture
) -> None:
    reply = replies["healthy"]
    assert await history_chart(reply) is not None  # the worker runs
    workers = multiprocessing.active_children()
    assert len(workers) == 1 and workers[0].pid != os.getpid()  # drawn in a process of its own
    os.kill(workers[0].pid or 0, signal.SIGKILL)
    workers[0].join(5.0)
    with caplog.at_level(logging.WARNING, logger="check502.charts"):
        assert await history_chart(reply) is None  # the chart asked of the dead worker
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"could not draw the chart of monitor #{reply.monitor.id}"
    ]
    assert caplog.records[0].exc_info is None  # one line, no traceback
    again = await history_chart(reply)  # a new worker
    assert again is not None
    assert_chart(again.png)
