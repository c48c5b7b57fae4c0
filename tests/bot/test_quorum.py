"""``bot.regions.quorum.decide``: the verdict of one round of a regional check, in tables.

Every diagnosis is a real one, made once by the engine against loopback servers (a healthy
one, one answering 502, a closed port, a slow one); only which region returned which varies.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.commands import Expect
from bot.model import NO_ANSWER, OWN_NETWORK, Channel, Monitor
from bot.regions.quorum import NO_ANSWER_LABEL, RegionResult, decide
from checks import Diagnosis, diagnose
from checks.request import PLAIN
from tests.bot.conftest import LOOPBACK
from tests.support import closed_port, ok_server

CHANNEL = Channel("console", "local", "terminal")


async def _diagnoses() -> dict[str, Diagnosis]:
    found: dict[str, Diagnosis] = {}
    with ok_server(body=b"fine") as up:
        found["up"] = await diagnose(up.url, policy=LOOPBACK, timeout=3.0)
    with ok_server(status=502, body=b"bad gateway") as bad:
        found["502"] = await diagnose(bad.url, policy=LOOPBACK, timeout=3.0)
    refused = closed_port()
    found["refused"] = await diagnose(
        f"http://127.0.0.1:{refused.port}/", policy=LOOPBACK, timeout=3.0
    )
    with ok_server(body=b"origin") as origin:  # the edge refuses, its origin answers
        found["edge"] = await diagnose(
            f"http://127.0.0.1:{refused.port}/",
            origin=f"127.0.0.1:{origin.port}",
            policy=LOOPBACK,
            timeout=3.0,
        )
    with ok_server(body=b"late", delay=0.05) as late:
        slow = replace(PLAIN, slow_ms=1)
        found["slow"] = await diagnose(late.url, policy=LOOPBACK, timeout=3.0, request=slow)
    return found


@pytest.fixture(scope="module")
def seen() -> dict[str, Diagnosis]:
    return asyncio.run(_diagnoses())


def monitor(regions: str, quorum: int = 0, expect: str = "200-399") -> Monitor:
    return Monitor(
        id=7,
        channel=CHANNEL,
        url="http://shop.test/",
        every=60,
        origin=None,
        confirm=1,
        expect=Expect.parse(expect),
        timeout=4.0,
        state="up",
        fail_streak=0,
        muted_until=None,
        incident_id=None,
        last_checked=None,
        last_outcome=None,
        created_by="ann",
        regions=tuple(regions.split(",")),
        quorum=quorum,
    )


def results(seen: dict[str, Diagnosis], spec: str) -> dict[str, RegionResult | None]:
    """``"eu=502 us=up ap=-"``: a region's diagnosis by name; ``-`` no answer; a trailing
    ``!`` marks a region whose own control check failed."""
    found: dict[str, RegionResult | None] = {}
    for item in spec.split():
        region, _, what = item.partition("=")
        if what == "-":
            found[region] = None
            continue
        control_ok = not what.endswith("!")
        found[region] = RegionResult(region, seen[what.rstrip("!")], control_ok)
    return found


@pytest.mark.parametrize(
    ("regions", "quorum", "spec", "state", "needed", "failed", "counted", "deciding"),
    [
        # everyone agrees
        ("eu,us,ap", 0, "eu=up us=up ap=up", "ok", 2, 0, 3, "eu"),
        ("eu,us,ap", 0, "eu=502 us=502 ap=502", "failed", 2, 3, 3, "eu"),
        # the majority (2 of 3) decides
        ("eu,us,ap", 0, "eu=up us=502 ap=refused", "failed", 2, 2, 3, "us"),
        ("eu,us,ap", 0, "eu=up us=502 ap=up", "ok", 2, 1, 3, "eu"),
        # an explicit quorum
        ("eu,us,ap", 1, "eu=up us=up ap=502", "failed", 1, 1, 3, "ap"),
        ("eu,us,ap", 3, "eu=502 us=502 ap=up", "ok", 3, 2, 3, "ap"),
        ("eu,us", 0, "eu=502 us=up", "ok", 2, 1, 2, "us"),
        # one region cut off (own network failed, no answer from the target): not counted
        ("eu,us,ap", 0, "eu=refused! us=up ap=up", "ok", 2, 0, 2, "us"),
        ("eu,us,ap", 2, "eu=refused! us=502 ap=up", "ok", 2, 1, 2, "ap"),
        ("eu,us,ap", 2, "eu=refused! us=502 ap=502", "failed", 2, 2, 2, "us"),
        # a failed control check with an HTTP answer still counts: the answer proves the path
        ("eu,us,ap", 2, "eu=502! us=502 ap=up", "failed", 2, 2, 3, "eu"),
        # ... but the origin's answer is not the target's: the edge gave none
        ("eu,us,ap", 2, "eu=edge! us=502 ap=up", "ok", 2, 1, 2, "ap"),
        ("eu,us,ap", 2, "eu=edge us=502 ap=up", "failed", 2, 2, 3, "eu"),
        # no answer in time: not counted; a region missing from the mapping is the same
        ("eu,us,ap", 0, "eu=- us=up ap=up", "ok", 2, 0, 2, "us"),
        ("eu,us,ap", 0, "us=502 ap=502", "failed", 2, 2, 2, "us"),
        # too few count to reach k either way: undecided
        ("eu,us,ap", 2, "eu=- us=502 ap=refused!", "undecided", 2, 1, 1, "us"),
        ("eu,us,ap", 0, "eu=- us=- ap=refused!", "undecided", 2, 0, 0, "ap"),
        ("eu,us,ap", 0, "eu=- us=- ap=-", "undecided", 2, 0, 0, None),
        # up but slow: slow only when k regions are slow
        ("eu,us,ap", 0, "eu=slow us=up ap=up", "ok", 2, 0, 3, "us"),
        ("eu,us,ap", 0, "eu=slow us=up ap=slow", "ok", 2, 0, 3, "eu"),
    ],
)
def test_decide(
    seen: dict[str, Diagnosis],
    regions: str,
    quorum: int,
    spec: str,
    state: str,
    needed: int,
    failed: int,
    counted: int,
    deciding: str | None,
) -> None:
    given = results(seen, spec)
    decision = decide(monitor(regions, quorum), given)
    assert (decision.state, decision.needed, decision.failed, decision.counted) == (
        state,
        needed,
        failed,
        counted,
    )
    assert [v.region for v in decision.views] == regions.split(",")
    if deciding is None:
        assert decision.outcome is None
        return
    assert decision.outcome is not None
    chosen = given[deciding]
    assert chosen is not None and decision.outcome.diagnosis is chosen.diagnosis
    assert decision.outcome.regions == decision.views
    assert decision.outcome.ok is (state == "ok")


def test_views_say_what_each_region_saw(seen: dict[str, Diagnosis]) -> None:
    given = results(seen, "eu=502 us=up ap=refused! sa=-")
    eu, us, ap, sa = decide(monitor("eu,us,ap,sa"), given).views
    assert (eu.status, eu.label, eu.ok, eu.counted, eu.note) == (502, "502", False, True, "")
    assert eu.ip == "127.0.0.1" and eu.latency_ms is not None and eu.latency_ms > 0
    assert (us.status, us.label, us.ok, us.cause) == (200, "200", True, "ok")
    assert (ap.status, ap.label, ap.counted, ap.note) == (
        None,
        "connect_refused",
        False,
        OWN_NETWORK,
    )
    assert ap.cause == "origin_down"
    assert (sa.status, sa.label, sa.counted, sa.note, sa.ip) == (
        None,
        NO_ANSWER_LABEL,
        False,
        NO_ANSWER,
        None,
    )


def test_expect_decides_what_a_region_counts_as_failed(seen: dict[str, Diagnosis]) -> None:
    given = results(seen, "eu=502 us=502 ap=up")
    assert decide(monitor("eu,us,ap", expect="200-599"), given).state == "ok"
    decision = decide(monitor("eu,us,ap", expect="200"), given)
    assert decision.state == "failed" and decision.outcome is not None
    assert decision.outcome.unexpected_status


def test_the_slow_verdict_is_kept_only_with_k_slow_regions(seen: dict[str, Diagnosis]) -> None:
    one = decide(monitor("eu,us,ap"), results(seen, "eu=slow us=up ap=up")).outcome
    two = decide(monitor("eu,us,ap"), results(seen, "eu=slow us=up ap=slow")).outcome
    only = decide(monitor("eu,us,ap", 2), results(seen, "eu=slow us=- ap=-")).outcome
    assert one is not None and two is not None and only is not None
    assert (one.slow, two.slow, only.slow) == (False, True, False)


def test_a_local_monitor_is_not_decided_by_quorum(seen: dict[str, Diagnosis]) -> None:
    local = replace(monitor("eu"), regions=())
    with pytest.raises(ValueError, match="not checked from regions"):
        decide(local, {})
