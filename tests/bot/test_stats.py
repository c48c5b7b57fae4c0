"""The core's counters (bot/stats.py): histogram buckets, phases, outcomes, the gate's state."""

from __future__ import annotations

import pytest

from bot.health import Health
from bot.stats import (
    CHECK_SERIES,
    CheckOutcome,
    DeliveryResult,
    GateState,
    Histogram,
    Stats,
    gate_state,
    phase_durations,
)
from checks import Cause, DnsResolver, Transport
from tests.support import closed_port, ok_server


def test_a_value_on_a_bound_counts_in_that_bucket_and_every_later_one() -> None:
    h = Histogram((0.1, 1.0, 10.0))
    for value in (0.1, 0.5, 1.0, 11.0):
        h.observe(value)
    snap = h.snapshot()
    assert snap.buckets == ((0.1, 1), (1.0, 3), (10.0, 3), (float("inf"), 4))
    assert snap.count == 4
    assert snap.sum == pytest.approx(12.6)


def test_bounds_must_ascend() -> None:
    with pytest.raises(ValueError, match="ascending"):
        Histogram((1.0, 0.5))


def test_phases_are_each_phase_alone_from_cumulative_marks() -> None:
    # curl-style cumulative ms: dns 2, connect 5, tls 20, first byte 70, total 75
    assert phase_durations(2.0, 5.0, 20.0, 70.0, 75.0) == pytest.approx(
        (0.002, 0.003, 0.015, 0.050, 0.075)
    )
    # Plain HTTP: no TLS, the first byte counts from the connect.
    assert phase_durations(1.0, 3.0, None, 13.0, 14.0) == pytest.approx(
        (0.001, 0.002, 0.0, 0.010, 0.014)
    )
    # Refused: nothing after the DNS, the total still there; a check never made: all 0.
    assert phase_durations(1.0, None, None, None, 4.0) == pytest.approx((0.001, 0, 0, 0, 0.004))
    assert phase_durations(None, None, None, None, None) == (0.0,) * 5


def test_outcome_of_a_classified_check() -> None:
    assert CheckOutcome.of(ok=True, label="200", unexpected_status=False) is CheckOutcome.OK
    assert (
        CheckOutcome.of(ok=False, label="502", unexpected_status=True)
        is CheckOutcome.UNEXPECTED_STATUS
    )
    assert (
        CheckOutcome.of(ok=False, label="connect_refused", unexpected_status=False)
        is CheckOutcome.PROBE_ERROR
    )
    assert (
        CheckOutcome.of(ok=False, label="deadline", unexpected_status=False)
        is CheckOutcome.DEADLINE
    )


def test_known_series_start_at_zero_and_counts_add_up() -> None:
    stats = Stats()
    stats.count_check(CheckOutcome.UNEXPECTED_STATUS, Cause.ORIGIN_DOWN)
    stats.count_check(CheckOutcome.UNEXPECTED_STATUS, Cause.ORIGIN_DOWN)
    stats.count_delivery("slack", DeliveryResult.RETRY)
    snap = stats.snapshot(["console"])
    checks = {(o, c): n for o, c, n in snap.checks}
    assert set(checks) == set(CHECK_SERIES)
    assert checks[(CheckOutcome.UNEXPECTED_STATUS, Cause.ORIGIN_DOWN)] == 2
    assert sum(checks.values()) == 2
    assert (CheckOutcome.OK, Cause.TIMEOUT) not in checks  # a healthy check has cause ok
    deliveries = {(p, r): n for p, r, n in snap.deliveries}
    assert deliveries == {
        ("console", DeliveryResult.SENT): 0,
        ("console", DeliveryResult.RETRY): 0,
        ("console", DeliveryResult.FAILED): 0,
        ("slack", DeliveryResult.RETRY): 1,
    }
    stats.count_delivery("slack", DeliveryResult.RETRY)
    assert {(p, r): n for p, r, n in snap.deliveries}[("slack", DeliveryResult.RETRY)] == 1


async def test_gate_state_follows_the_control_check() -> None:
    assert gate_state(None, degraded=False) is GateState.OFF
    transport = Transport.create()
    with ok_server() as control, closed_port() as dead:
        working = Health(control.url, resolver=DnsResolver(None), transport=transport)
        assert gate_state(working, degraded=False) is GateState.UNKNOWN
        assert await working.check() is None
        assert gate_state(working, degraded=False) is GateState.OK
        # A "monitoring degraded" episode (kept in the database) wins over a good probe.
        assert gate_state(working, degraded=True) is GateState.DEGRADED

        broken = Health(dead.url, resolver=DnsResolver(None), transport=transport)
        assert await broken.check() is not None
        assert gate_state(broken, degraded=False) is GateState.DEGRADED
