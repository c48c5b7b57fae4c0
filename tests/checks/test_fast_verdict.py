"""diagnose(..., expect=...): the monitoring path's fast verdict for answers that meet ``expect``,
and the full reasoning for everything else."""

from __future__ import annotations

from checks import Cause, Finding, RequestSpec
from tests.checks.conftest import run
from tests.support import ok_server


def _two_hundreds(status: int) -> bool:
    return 200 <= status < 300


async def test_an_answer_that_meets_expect_gets_the_fast_verdict() -> None:
    with ok_server() as server:
        fast = await run(server.url, expect=_two_hundreds)
        full = await run(server.url)
    assert fast.verdict.cause is Cause.OK and fast.healthy
    assert fast.verdict.evidence == () and fast.verdict.next_steps == ()
    assert fast.verdict.reproduce == ()
    assert fast.verdict.summary == full.verdict.summary.replace(
        _ms_of(full.verdict.summary), _ms_of(fast.verdict.summary)
    )
    assert fast.probes[0].status == 200 and fast.status_mix == (("200", 1),)
    # The full reasoning of the same healthy answer has evidence and a curl line to show.
    assert full.verdict.cause is Cause.OK
    assert full.verdict.evidence and full.verdict.reproduce


async def test_a_502_still_gets_the_full_verdict() -> None:
    with ok_server(status=502, body=b"<center>nginx</center>") as server:
        d = await run(server.url, expect=_two_hundreds)
    assert d.verdict.cause is not Cause.OK
    assert d.verdict.evidence and d.verdict.next_steps and d.verdict.reproduce


async def test_a_status_outside_expect_is_not_fast_pathed() -> None:
    with ok_server(status=200) as server:
        d = await run(server.url, expect=lambda status: status == 204)
    assert d.verdict.evidence and d.verdict.reproduce  # reasoned in full


async def test_a_missing_keyword_is_not_fast_pathed() -> None:
    with ok_server(body=b"hello") as server:
        d = await run(server.url, expect=_two_hundreds, request=RequestSpec(keyword="welcome"))
    assert d.findings == (Finding.KEYWORD_MISSING,)
    assert not d.healthy
    assert "keyword missing" in d.verdict.summary
    assert d.verdict.reproduce  # the full verdict, reworded for the finding


async def test_a_failing_origin_bypass_is_not_fast_pathed() -> None:
    with ok_server() as edge, ok_server(status=503) as origin_server:
        d = await run(edge.url, origin=f"127.0.0.1:{origin_server.port}", expect=_two_hundreds)
    assert d.verdict.cause is Cause.OK  # the public side answers
    assert "origin" in d.verdict.summary and d.verdict.evidence


def _ms_of(summary: str) -> str:
    """The ``N ms`` part of an OK summary (timings differ between two checks)."""
    return summary.rsplit(" in ", 1)[1]
