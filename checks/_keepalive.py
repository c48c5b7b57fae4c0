"""The keep-alive race, seen live: some runs fail at once while the others, and the origin, answer.

A proxy keeps idle connections to its upstream open and reuses them. When the app closes an idle
connection (its keep-alive timeout ran out) just as the proxy sends the next request on it, the
proxy gets a reset or an empty close and answers 502 at once; the next request opens a fresh
connection and succeeds. Under ``runs=N`` that reads as intermittent, instant failures beside
normal, quick successes, while the origin asked directly answers every time.

It differs from exhausted workers (fast failures beside *slow* successes: the pool is busy) and
from a down origin (every run fails). :func:`keepalive_race` is pure: probes in, a finding out.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from checks.model import ErrorKind, Probe

__all__ = ["KeepaliveRace", "keepalive_race"]

INSTANT_MS = 200.0
"""A failure within this many ms of the connection being ready did not wait on any timeout."""
QUICK_MS = 250.0
"""Successes whose server time (median) stays under this are not queued behind busy workers."""

_RACE_STATUSES = frozenset({502, 503})
"""What a proxy answers when a reused upstream connection closes under it (Envoy and Heroku:
503; nginx, ALB, Traefik, Caddy, Apache: 502). A 504 waited on a timeout: not this."""
_RACE_KINDS = frozenset({ErrorKind.PREMATURE_CLOSE})
"""Without a proxy in front (or through a TCP balancer), the race reaches us as a reset or a
close before any response."""


@dataclass(frozen=True, slots=True)
class KeepaliveRace:
    """Intermittent instant failures beside quick successes on the same address."""

    failed: int
    total: int
    fail_ms: float
    """Median server time of the failures (ms from the connection being ready)."""
    ok_ms: float
    """Median server time of the successes."""
    failure: Probe
    """The first failing probe: a gateway's 502/503, or a reset."""
    origin_up: bool
    """True when the origin bypass was asked and answered every time."""


def _up(p: Probe) -> bool:
    return p.error is None and p.status is not None and p.status < 400


def _server_ms(p: Probe) -> float | None:
    """Milliseconds between the connection being ready and the answer (or the failure)."""
    ready = p.timings.tls or p.timings.connect
    end = p.timings.ttfb if p.timings.ttfb is not None else p.timings.total
    if ready is None or end is None:
        return None
    return max(0.0, end - ready)


def _instant_failure(p: Probe) -> bool:
    if _up(p):
        return False
    took = _server_ms(p)
    if took is None or took >= INSTANT_MS:
        return False
    if p.status is None:
        return p.error is not None and p.error.kind in _RACE_KINDS
    return p.status in _RACE_STATUSES


def keepalive_race(
    public: Sequence[Probe], origin_probes: Sequence[Probe], *, concurrent: bool = False
) -> KeepaliveRace | None:
    """The race when the public probes show it, else None.

    Every failure on an address that also succeeds must be instant (a 502/503 or a reset within
    :data:`INSTANT_MS`), the successes there quick (median under :data:`QUICK_MS`), the probes
    spread over at least two runs, and the origin bypass, when asked, up every time. Runs made
    ``concurrent``-ly can fill a small worker pool themselves (instant 502s from a full listen
    queue), so then the origin bypass must have been asked.
    """
    if len({p.run for p in public}) < 2:
        return None
    if concurrent and not origin_probes:
        return None
    if origin_probes and not all(_up(p) for p in origin_probes):
        return None
    mixed = {p.ip for p in public if _up(p)} & {p.ip for p in public if not _up(p)}
    ups = [p for p in public if p.ip in mixed and _up(p)]
    downs = [p for p in public if p.ip in mixed and not _up(p)]
    if not ups or not downs or not all(_instant_failure(p) for p in downs):
        return None
    ok_times = [t for p in ups if (t := _server_ms(p)) is not None]
    if not ok_times or statistics.median(ok_times) >= QUICK_MS:
        return None
    fail_times = [t for p in downs if (t := _server_ms(p)) is not None]
    return KeepaliveRace(
        failed=len(downs),
        total=len(ups) + len(downs),
        fail_ms=statistics.median(fail_times),
        ok_ms=statistics.median(ok_times),
        failure=downs[0],
        origin_up=bool(origin_probes),
    )
