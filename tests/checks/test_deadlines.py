"""The overall budget, progress reports and ``runs_done`` of :func:`checks.diagnose`."""

from __future__ import annotations

import logging
import time

import pytest

from checks import Diagnosis, DnsResolver, UsageError, diagnosis_from_dict, diagnosis_to_dict
from checks.model import ErrorKind
from tests.checks.conftest import public, run
from tests.support import TLS_HOSTNAME, DnsStub, ok_server, stall_server
from tests.support.servers import h2_garbage_server

SLACK = 0.5
"""The issue's bound: a check ends within its limit + 0.5 s."""


async def test_budget_stops_starting_runs_and_says_how_many_finished() -> None:
    with ok_server(delay=0.3) as server:
        began = time.monotonic()
        d = await run(server.url, runs=10, timeout=3.0, budget=1.0)
        took = time.monotonic() - began
    assert took < 1.0 + SLACK
    assert 1 <= d.runs_done < 10
    assert d.runs == 10
    # runs never started were never sent: at most one more request than finished runs
    assert len(server.requests) <= d.runs_done + 1
    assert (
        d.verdict.evidence[0] == f"{d.runs_done} of 10 runs finished within 1 s (the overall limit)"
    )
    # the run the budget cut is left out: no timeout of ours is blamed on a healthy server
    assert dict(d.status_mix) == {"200": d.runs_done}
    assert {p.run for p in public(d)} == set(range(d.runs_done))
    assert d.healthy


async def test_budget_cuts_a_run_in_flight_and_keeps_it_when_none_finished() -> None:
    with stall_server() as server:
        began = time.monotonic()
        d = await run(server.url, timeout=10.0, budget=1.0)
        took = time.monotonic() - began
    assert took < 1.0 + SLACK
    assert d.runs_done == 0
    [probe] = public(d)
    assert probe.error is not None and probe.error.kind is ErrorKind.READ_TIMEOUT
    assert d.verdict.evidence[0] == "0 of 1 runs finished within 1 s (the overall limit)"


async def test_without_a_budget_every_run_is_done_and_nothing_is_said() -> None:
    with ok_server() as server:
        d = await run(server.url, runs=3, concurrency=3)
    assert d.runs_done == 3
    assert not any("runs finished within" in line for line in d.verdict.evidence)


async def test_progress_is_reported_after_each_run() -> None:
    seen: list[tuple[int, int]] = []
    with ok_server() as server:
        d = await run(server.url, runs=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert d.runs_done == 3


async def test_a_failing_progress_callback_is_logged_and_the_check_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def broken(done: int, total: int) -> None:
        calls.append(done)
        raise RuntimeError("chat edit failed")

    with ok_server() as server, caplog.at_level(logging.WARNING, logger="checks.engine"):
        d = await run(server.url, runs=2, progress=broken)
    assert calls == [1, 2]
    assert d.runs_done == 2 and d.healthy
    assert any("progress callback failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("budget", [0, -1.0, 3601.0])
async def test_a_budget_out_of_range_is_a_usage_error(budget: float) -> None:
    with pytest.raises(UsageError, match="overall limit"):
        await run("http://127.0.0.1:9/", budget=budget)


async def test_runs_done_round_trips_through_json_and_old_documents_mean_all_runs() -> None:
    with ok_server(delay=0.3) as server:
        d = await run(server.url, runs=5, budget=0.5)
    assert d.runs_done < 5
    doc = diagnosis_to_dict(d)
    assert doc["runs_done"] == d.runs_done
    assert diagnosis_from_dict(doc) == d
    del doc["runs_done"]
    assert diagnosis_from_dict(doc).runs_done == 5


async def test_a_diagnosis_built_without_runs_done_counts_every_run_done() -> None:
    with ok_server() as server:
        d = await run(server.url)
    built = Diagnosis(url=d.url, checked_at=d.checked_at, verdict=d.verdict, probes=(), runs=4)
    assert built.runs_done == 4


async def test_a_resolver_slower_than_the_deadline_is_cut_at_the_deadline() -> None:
    with DnsStub(silent={"shop.test"}) as dns:
        slow = DnsResolver(f"{dns.host}:{dns.port}", timeout=10.0)  # its own limit is far later
        began = time.monotonic()
        d = await run("http://shop.test/", resolver=slow, timeout=1.0)
        took = time.monotonic() - began
    assert took < 1.0 + SLACK
    [probe] = public(d)
    assert probe.error is not None and probe.error.kind is ErrorKind.DNS_TIMEOUT
    assert "before the deadline" in probe.error.message


def _frame_head(length: int, kind: int, flags: int, stream: int) -> bytes:
    return length.to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")


@pytest.mark.parametrize(
    ("first", "rule"),
    [
        (_frame_head(6, 0x1, 0, 0), "a HEADERS frame first"),
        (_frame_head(0, 0x4, 0x1, 0), "a SETTINGS acknowledgement first"),
        (_frame_head(7, 0x4, 0, 0), "SETTINGS of a length no setting list has"),
        (_frame_head(6, 0x4, 0, 1), "SETTINGS on a stream"),
    ],
)
async def test_an_http2_server_preface_that_is_not_settings_fails_at_once(
    first: bytes, rule: str
) -> None:
    with (
        h2_garbage_server(garbage=first) as server,
        DnsStub({TLS_HOSTNAME: ["127.0.0.1"]}) as dns,
    ):
        d = await run(
            f"https://{TLS_HOSTNAME}:{server.port}/",
            resolver=f"{dns.host}:{dns.port}",
            ca_bundle=server.ca_pem_path,
            timeout=2.0,
        )
    first_try = next(p for p in d.probes if not p.protocol_retry)
    assert first_try.error is not None, rule
    assert first_try.error.kind is ErrorKind.INVALID_RESPONSE, rule
    assert "first frame is not SETTINGS" in first_try.error.message
    assert (first_try.timings.total or 0) < 1000, rule  # judged on arrival, not at the deadline


async def test_a_valid_http2_settings_frame_is_not_mistaken_for_garbage() -> None:
    settings = _frame_head(6, 0x4, 0, 0) + (3).to_bytes(2, "big") + (100).to_bytes(4, "big")
    with (
        h2_garbage_server(garbage=settings, stall_http1=True) as server,
        DnsStub({TLS_HOSTNAME: ["127.0.0.1"]}) as dns,
    ):
        d = await run(
            f"https://{TLS_HOSTNAME}:{server.port}/",
            resolver=f"{dns.host}:{dns.port}",
            ca_bundle=server.ca_pem_path,
            timeout=1.0,
        )
    first_try = next(p for p in d.probes if not p.protocol_retry)
    assert first_try.error is not None and first_try.error.kind is ErrorKind.READ_TIMEOUT
