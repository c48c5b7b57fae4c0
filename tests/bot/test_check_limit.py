"""A chat check's one overall limit, and the progress it reports while its runs go on.

Against a real loopback origin that answers each request after :data:`SLOW` seconds, with the
limit set to :data:`LIMIT`: five runs at a time, the first five finish at ~2.5 s (one progress
update), the next five are cut at the limit. The whole check ends within the limit + 0.5 s.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.console.harness import CONSOLE, ConsoleHarness
from bot.commands import parse_command
from bot.errors import SettingsError
from bot.model import Context, DiagnosisReply
from bot.settings import Settings
from tests.bot.conftest import fast_settings
from tests.support import OkServer, ok_server
from tests.support.servers import LoopServer, build_response

SLOW = 2.5
LIMIT = 4.0
CUT = re.compile(r"([0-9]+) of 10 runs finished within 4 s")


@pytest.fixture
def slow() -> Iterator[OkServer]:
    with ok_server(delay=SLOW) as server:
        yield server


def runs_done_in(text: str) -> int:
    """The runs the reply says finished ("5 of 10 runs finished within 4 s ...")."""
    match = CUT.search(text)
    assert match is not None, text
    return int(match.group(1))


async def test_a_check_of_ten_slow_runs_ends_at_its_limit_and_says_how_many_finished(
    tmp_path: Path, slow: OkServer
) -> None:
    settings = fast_settings(tmp_path, None, check_limit=LIMIT)
    async with ConsoleHarness(settings) as chat:
        started = time.monotonic()
        text = await chat.push(f"/check502 {slow.url} runs=10")
        elapsed = time.monotonic() - started
        reply = chat.last_reply
    assert elapsed <= LIMIT + 0.5, elapsed
    assert isinstance(reply, DiagnosisReply)
    assert 0 < reply.diagnosis.runs_done < 10
    assert runs_done_in(text) == reply.diagnosis.runs_done
    # Progress was reported while the runs went on, never "10/10", and throttled: the first
    # runs finish 2.5 s in, the next are cut, so there is exactly one update.
    ((done, runs),) = chat.progress
    assert 0 < done < 10 and runs == 10


async def test_a_single_run_reports_no_progress(tmp_path: Path) -> None:
    with ok_server(delay=0.1) as site:
        async with ConsoleHarness(fast_settings(tmp_path, None)) as chat:
            await chat.push(f"/check502 {site.url}")
            await chat.push(f"/check502 {site.url} runs=3")  # fast: done before 2 s
            assert isinstance(chat.last_reply, DiagnosisReply)
            assert chat.last_reply.diagnosis.runs_done == 3
    assert chat.progress == []


async def test_help_states_the_configured_limit(tmp_path: Path) -> None:
    async with ConsoleHarness(fast_settings(tmp_path, None, check_limit=12.0)) as chat:
        assert "A check takes at most 12 s in all." in await chat.push("help")
        assert "A check takes at most 12 s in all." in await chat.push("help check")


@pytest.mark.parametrize(
    ("value", "expected"), [("25s", 25.0), ("1m", 60.0), ("90", 90.0), ("1.5s", 1.5)]
)
def test_the_limit_setting(value: str, expected: float) -> None:
    assert Settings.from_env({"CHECK502_CHECK_LIMIT": value}).check_limit == expected
    assert Settings.from_env({}).check_limit == 25.0


@pytest.mark.parametrize("value", ["0.5s", "0", "11m", "-1", "nan", "inf", "1e3", "soon"])
def test_a_bad_limit_setting_is_one_line_naming_it(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"CHECK502_CHECK_LIMIT": value})
    assert "CHECK502_CHECK_LIMIT" in str(raised.value)
    assert "\n" not in str(raised.value)


class StaggeredServer(LoopServer):
    """Answers its n-th request after ``delays[n]`` seconds (the last delay after that): runs
    that finish one after another, so progress has something to throttle."""

    def __init__(self, delays: list[float]) -> None:
        super().__init__()
        self.delays = delays
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.read_request(reader, writer)
        delay = self.delays[min(self.served, len(self.delays) - 1)]
        self.served += 1
        await asyncio.sleep(delay)
        writer.write(build_response(200, b"ok"))
        await writer.drain()


async def test_progress_comes_at_most_every_two_seconds_and_never_as_the_result(
    tmp_path: Path,
) -> None:
    # Five at a time, runs finish at about 0.5, 1, 1.5, 2, 2.5, 3.5, 4, 4.5, 5 and 7 s: updates
    # at about 2 s (4/10) and 4 s (7/10); the last run, 3 s later, is the result, not progress.
    delays = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0, 3.0, 3.0, 4.5]
    seen: list[tuple[float, int, int]] = []

    async def progress(done: int, runs: int) -> None:
        seen.append((time.monotonic(), done, runs))

    with StaggeredServer(delays) as site:
        async with ConsoleHarness(fast_settings(tmp_path, None)) as chat:
            started = time.monotonic()
            reply = await chat.bot.handle(
                Context(CONSOLE, "you"), parse_command(f"{site.url} runs=10"), progress=progress
            )
    assert isinstance(reply, DiagnosisReply)
    assert reply.diagnosis.runs_done == 10
    assert 2 <= len(seen) <= 3, seen
    times = [started, *(at for at, _, _ in seen)]
    assert all(b - a >= 1.9 for a, b in itertools.pairwise(times)), seen
    dones = [done for _, done, _ in seen]
    assert dones == sorted(dones) and dones[-1] < 10 and all(r == 10 for _, _, r in seen)
