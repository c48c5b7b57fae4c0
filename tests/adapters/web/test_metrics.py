"""``GET /metrics`` scraped from a real aiohttp server on 127.0.0.1, parsed by prometheus_client.

A whole bot (the console harness) watches real loopback origins: one answering 200 (its URL
carrying a query string with a secret), two answering 502 (one in a Slack channel, whose
surface is not running, so its alert waits in the outbox), and a closed port. The scheduler
checks them every second for a while, then stops so that the figures hold still, and the
scrape's values are compared with what the database recorded.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import ProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from adapters.console import ConsoleHarness
from adapters.console.harness import CONSOLE
from adapters.web.metrics import PATH, install
from bot.commands import Watch
from bot.model import Channel, Context, WatchReply
from tests.bot.conftest import fast_settings, until
from tests.support import OkServer, build_response, closed_port, ok_server

SECRET = "s3cr3t-token"
SLACK = Channel("slack", "T1", "C1")
BAD = build_response(502, b"<html><body>upstream failed</body></html>")


@asynccontextmanager
async def serving(chat: ConsoleHarness, **options: float) -> AsyncIterator[str]:
    """``/metrics`` of ``chat.bot`` on a real server at 127.0.0.1:<free port>; its base URL."""
    app = web.Application()
    install(app, chat.bot, **options)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass
class Scrape:
    status: int
    headers: dict[str, str]
    text: str

    def samples(self) -> list[Sample]:
        return [s for f in text_string_to_metric_families(self.text) for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        found = [
            s.value
            for s in self.samples()
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    def values(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        return {tuple(sorted(s.labels.items())): s.value for s in self.samples() if s.name == name}


async def scrape(base: str, **headers: str) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + PATH, headers=headers, timeout=aiohttp.ClientTimeout(total=15)) as resp,
    ):
        return Scrape(resp.status, dict(resp.headers), await resp.text())


async def watch(chat: ConsoleHarness, url: str, channel: Channel = CONSOLE) -> int:
    """A 1-second monitor that opens an incident at the first failure."""
    reply = await chat.bot.execute(Context(channel, "tester"), Watch(url, every=1, confirm=1))
    assert isinstance(reply, WatchReply), reply
    return reply.monitor.id


def count(chat: ConsoleHarness, sql: str, *params: object) -> int:
    return int(chat.bot.store.execute(sql, params).fetchone()[0])


@dataclass
class Watched:
    chat: ConsoleHarness
    base: str
    good: int
    bad: int
    waiting: int
    refused: int
    good_site: OkServer


@pytest.fixture
async def watched(tmp_path: Path, control: OkServer) -> AsyncIterator[Watched]:
    """Four monitors checked by the real scheduler for a few rounds, then held still."""
    async with AsyncExitStack() as stack:
        good_site = stack.enter_context(ok_server())
        bad_site = stack.enter_context(ok_server())
        bad_site.response = BAD
        refused = stack.enter_context(closed_port())
        chat = await stack.enter_async_context(ConsoleHarness(fast_settings(tmp_path, control.url)))
        base = await stack.enter_async_context(serving(chat))
        ids = Watched(
            chat,
            base,
            good=await watch(chat, f"{good_site.url}health?token={SECRET}&x=1"),
            bad=await watch(chat, bad_site.url),
            waiting=await watch(chat, bad_site.url, SLACK),
            refused=await watch(chat, refused.url),
            good_site=good_site,
        )
        metrics = chat.bot.schedule.metrics
        await until(lambda: metrics.checks >= 8, timeout=20)
        # The console's DOWN alerts (the 502 and the refused port) go out; Slack's waits.
        await until(lambda: len(chat.posted) >= 1, timeout=20)
        chat.bot.schedule.shutdown()  # no more checks: the figures hold still
        await until(lambda: chat.bot.monitoring.in_flight == 0)
        await chat.bot.sender.deliver_due()
        yield ids


async def test_scrape_shows_each_monitor_as_the_database_has_it(watched: Watched) -> None:
    w = watched
    got = await scrape(w.base)
    assert got.status == 200

    assert got.value("check502_monitor_up", monitor=str(w.good), platform="console") == 1
    assert got.value("check502_monitor_up", monitor=str(w.bad), platform="console") == 0
    assert got.value("check502_monitor_up", monitor=str(w.waiting), platform="slack") == 0
    assert got.value("check502_monitor_up", monitor=str(w.refused)) == 0

    status = "check502_monitor_http_status_code"
    assert got.value(status, monitor=str(w.good)) == 200
    assert got.value(status, monitor=str(w.bad)) == 502
    assert got.value(status, monitor=str(w.refused)) == 0  # no answer

    phase = "check502_monitor_phase_duration_seconds"
    total = got.value(phase, monitor=str(w.good), phase="total")
    parts = [
        got.value(phase, monitor=str(w.good), phase=p)
        for p in ("dns", "connect", "tls", "first_byte")
    ]
    assert 0 < total < 5
    assert got.value(phase, monitor=str(w.good), phase="tls") == 0  # plain HTTP
    assert got.value(phase, monitor=str(w.good), phase="connect") > 0
    assert 0 < sum(parts) <= total + 1e-6  # each phase on its own, within the whole
    assert got.value(phase, monitor=str(w.refused), phase="first_byte") == 0

    # Incidents: three open (the good monitor has none), by their cause in the database.
    causes = w.chat.bot.store.rows(
        "SELECT cause, COUNT(*) AS n FROM incidents WHERE closed_at IS NULL GROUP BY cause"
    )
    assert sum(r["n"] for r in causes) == 3
    for row in causes:
        assert got.value("check502_incidents_open", cause=row["cause"]) == row["n"]
    assert sum(got.values("check502_incidents_open").values()) == 3


async def test_checks_are_counted_by_outcome_and_cause_as_recorded(watched: Watched) -> None:
    w = watched
    got = await scrape(w.base)
    checks = got.values("check502_checks_total")
    recorded = w.chat.bot.store.rows(
        "SELECT ok, status IS NOT NULL AS answered, cause, COUNT(*) AS n FROM results"
        " GROUP BY 1, 2, 3"
    )
    expected: dict[tuple[tuple[str, str], ...], float] = {}
    for row in recorded:
        outcome = "ok" if row["ok"] else "unexpected_status" if row["answered"] else "probe_error"
        key = (("cause", row["cause"]), ("outcome", outcome))
        expected[key] = expected.get(key, 0) + row["n"]
    assert expected  # the scheduler did check
    for key, n in expected.items():
        assert checks[key] == n, key
    assert sum(checks.values()) == count(w.chat, "SELECT COUNT(*) FROM results")
    # A 502 is counted under its cause, not as a bare failure.
    assert any(dict(k)["outcome"] == "unexpected_status" and v > 0 for k, v in checks.items())
    # Series that did not happen yet are there, at 0.
    assert checks[(("cause", "timeout"), ("outcome", "deadline"))] == 0

    # Every check's duration went into the histogram; the scheduler's lags into theirs.
    duration = got.value("check502_check_duration_seconds_count")
    assert duration >= sum(checks.values())
    assert got.value("check502_check_duration_seconds_bucket", le="+Inf") == duration
    lags = got.value("check502_scheduler_lag_seconds_count")
    assert lags == w.chat.bot.schedule.metrics.checks > 0
    assert got.value("check502_scheduler_skipped_runs_total", reason="overload") == 0


async def test_outbox_and_deliveries_are_counted_by_platform(watched: Watched) -> None:
    w = watched
    got = await scrape(w.base)
    pending = w.chat.bot.store.rows(
        "SELECT platform, COUNT(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        " GROUP BY platform"
    )
    assert {r["platform"]: r["n"] for r in pending} == {"slack": 1}  # no Slack surface runs
    assert got.value("check502_outbox_pending", platform="slack") == 1
    assert got.value("check502_outbox_pending", platform="console") == 0
    assert got.value("check502_outbox_oldest_age_seconds", platform="slack") > 0
    assert got.value("check502_outbox_oldest_age_seconds", platform="console") == 0

    sent = count(w.chat, "SELECT COUNT(*) FROM outbox WHERE platform = 'console' AND sent_at")
    assert sent >= 1
    # One delivery can carry several rows (a grouped alert): at least one, at most one each.
    delivered = got.value("check502_deliveries_total", platform="console", result="sent")
    assert 1 <= delivered <= sent
    assert delivered == len(w.chat.posted)
    assert got.value("check502_deliveries_total", platform="console", result="failed") == 0

    # A refused target made the core check its own network first: the gate saw it work.
    assert got.value("check502_gate_state", state="ok") == 1
    assert got.value("check502_gate_state", state="degraded") == 0
    assert sum(got.values("check502_gate_state").values()) == 1


async def test_labels_stay_bounded_and_urls_never_appear(watched: Watched) -> None:
    got = await scrape(watched.base)
    for secret in (SECRET, "token=", "/health", watched.good_site.address):
        assert secret not in got.text
    ours = [s for s in got.samples() if s.name.startswith("check502_")]
    names = {label for s in ours for label in s.labels}
    assert names <= {"monitor", "platform", "phase", "outcome", "cause", "reason", "result"} | {
        "state",
        "le",
        "version",
    }
    monitors = {s.labels["monitor"] for s in ours if "monitor" in s.labels}
    assert monitors == {
        str(m) for m in (watched.good, watched.bad, watched.waiting, watched.refused)
    }
    # Per family, series grow with monitors only; the rest stay a small fixed set.
    for family in text_string_to_metric_families(got.text):
        if family.name.startswith("check502_monitor_"):
            continue
        if family.name.startswith("check502_"):
            assert len(family.samples) <= 30, family.name


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        ("", "0.0.4"),
        ("text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "0.0.4"),
        ("text/plain;version=1.0.0;escaping=underscores", "1.0.0"),
    ],
)
async def test_content_type_follows_accept(
    tmp_path: Path, control: OkServer, accept: str, version: str
) -> None:
    async with (
        ConsoleHarness(fast_settings(tmp_path, control.url)) as chat,
        serving(chat) as base,
    ):
        got = await scrape(base, Accept=accept)
    assert got.status == 200
    assert got.headers["Content-Type"].startswith(f"text/plain; version={version}")
    (info,) = [s for s in got.samples() if s.name == "check502_build_info"]
    assert info.value == 1 and info.labels["version"]
    assert got.value("check502_outbox_pending", platform="console") == 0
    assert got.value("check502_gate_state", state="unknown") == 1
    # process_* describe the bot's process (this one), not the metrics worker's.
    (mine,) = [
        s
        for f in ProcessCollector(registry=None).collect()
        for s in f.samples
        if s.name == "process_start_time_seconds"
    ]
    assert got.value("process_start_time_seconds") == mine.value


async def test_gzip_only_when_asked(tmp_path: Path) -> None:
    async with (
        ConsoleHarness(fast_settings(tmp_path, None)) as chat,
        serving(chat) as base,
        aiohttp.ClientSession(auto_decompress=False) as session,
    ):
        async with session.get(base + PATH, headers={"Accept-Encoding": "gzip"}) as resp:
            zipped = await resp.read()
            assert resp.headers["Content-Encoding"] == "gzip"
        async with session.get(base + PATH, headers={"Accept-Encoding": "identity"}) as resp:
            plain = await resp.read()
            assert "Content-Encoding" not in resp.headers
    assert gzip.decompress(zipped).startswith(b"# HELP check502_build_info")
    assert plain.startswith(b"# HELP check502_build_info")
    assert b'check502_gate_state{state="off"} 1.0' in plain  # no control URL: no gate


def worker_pids() -> list[int]:
    """The metrics workers this process started (found in /proc, as an operator would)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if b"adapters.web._scraper" in cmdline and ppid == os.getpid():
            found.append(int(proc.name))
    return found


async def test_a_database_that_cannot_be_read_is_a_one_line_503(tmp_path: Path) -> None:
    async with ConsoleHarness(fast_settings(tmp_path, None)) as chat, serving(chat) as base:
        assert (await scrape(base)).status == 200
        chat.bot.store.execute("ALTER TABLE incidents RENAME TO incidents_away")
        got = await scrape(base)
        assert got.status == 503
        assert got.text.startswith("metrics unavailable: the database could not be read (")
        assert got.text.count("\n") == 1 and "Traceback" not in got.text
        chat.bot.store.execute("ALTER TABLE incidents_away RENAME TO incidents")
        assert (await scrape(base)).status == 200  # the same worker reads again


async def test_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    async with ConsoleHarness(fast_settings(tmp_path, None)) as chat, serving(chat) as base:
        assert (await scrape(base)).status == 200
        (first,) = worker_pids()
        os.kill(first, signal.SIGKILL)
        statuses = []
        for _ in range(3):
            got = await scrape(base)
            statuses.append(got.status)
            if got.status == 200:
                break
            assert got.text.count("\n") == 1 and "Traceback" not in got.text
        assert statuses[-1] == 200, statuses
        assert len(statuses) <= 2, statuses  # at most the scrape that found it dead fails
        (second,) = worker_pids()
        assert second != first
    assert worker_pids() == []  # the app's cleanup stopped it


async def test_an_in_memory_database_is_read_by_the_bot_itself(tmp_path: Path) -> None:
    """No other process can open ":memory:": the bot reads its gauges, the worker encodes."""
    settings = fast_settings(tmp_path, None, db_path=":memory:")
    with ok_server() as site:
        async with ConsoleHarness(settings) as chat, serving(chat) as base:
            monitor = await watch(chat, site.url)
            got = await scrape(base)
    assert got.status == 200
    assert got.value("check502_monitor_up", monitor=str(monitor)) == 1
    assert got.value("check502_monitor_http_status_code", monitor=str(monitor)) == 200


async def test_a_scrape_past_its_limit_is_a_503_in_time_and_the_worker_is_replaced(
    tmp_path: Path,
) -> None:
    async with (
        ConsoleHarness(fast_settings(tmp_path, None)) as chat,
        serving(chat, timeout=1.0) as base,
    ):
        assert (await scrape(base)).status == 200
        (first,) = worker_pids()
        # 30,000 monitors (210,000 samples, seconds of encoding) for a 1-second limit.
        rows = [
            ("console", "local", "terminal", f"http://127.0.0.1:9/{i}", 60, 2, "200-399", 4.0)
            for i in range(30_000)
        ]
        with chat.bot.store.transaction() as db:
            db.conn.executemany(
                "INSERT INTO monitors (platform, workspace, channel, url, every, confirm, expect,"
                " timeout, created_by, created_at) VALUES (?,?,?,?,?,?,?,?, 'test', 0)",
                rows,
            )
        started = time.monotonic()
        got = await scrape(base)
        took = time.monotonic() - started
        assert got.status == 503
        assert got.text == "metrics unavailable: the metrics took over 1 s to read\n"
        assert took < 1.0 + 2.0  # the limit, and the loaded machine's margin
        await until(lambda: first not in worker_pids())  # killed, not left encoding
        chat.bot.store.execute("DELETE FROM monitors")
        assert (await scrape(base)).status == 200
        (second,) = worker_pids()
        assert second != first


def test_the_bot_never_imports_prometheus_client() -> None:
    """Only the metrics worker does: the bot's start and ``check502 --help`` stay fast."""
    code = (
        "import sys, adapters.web.metrics, adapters.main;"
        " sys.exit('prometheus_client' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == 0
