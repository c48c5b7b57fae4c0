"""Diagnoses and monitors built as values, for the surfaces' rendering tests.

Plain data from :mod:`checks.model` and :mod:`bot.model` (nothing of ours is replaced): nginx's
502 from 198.51.100.7, the origin bypass refused, and monitors with every optional field set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.commands import Expect
from bot.model import Channel, Monitor
from checks import Cause, Diagnosis, Hop, Probe, ProbeError, Verdict
from checks.model import ErrorKind
from tests.checks.test_verdict import make_probe

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def probe(target: str = "public", **overrides: Any) -> Probe:
    """nginx's 502 from 198.51.100.7 in 100 ms, with ``overrides`` applied."""
    fields: dict[str, Any] = {"status": 502, "reason": "Bad Gateway"}
    fields["headers"] = (("Server", "nginx/1.22.1"),)
    return make_probe(**{**fields, "target": target, **overrides})


REFUSED_ORIGIN = probe(
    "origin", status=None, reason=None, error=ProbeError(ErrorKind.CONNECT_REFUSED, "refused")
)


def diagnosis(
    *,
    summary: str = "nginx could not reach the origin.",
    evidence: tuple[str, ...] = ("nginx's own error page",),
    url: str = "https://shop.example.com/",
    probes: tuple[Probe, ...] = (probe(), REFUSED_ORIGIN),
    reproduce: tuple[str, ...] | None = None,
) -> Diagnosis:
    """An origin-down verdict by nginx; ``evidence`` doubles as the next steps."""
    return Diagnosis(
        url=url,
        checked_at=NOW,
        verdict=Verdict(
            cause=Cause.ORIGIN_DOWN,
            generated_by="nginx",
            hop=Hop.ORIGIN,
            confidence=0.9,
            summary=summary,
            evidence=evidence,
            next_steps=evidence,
            reproduce=reproduce if reproduce is not None else (f"curl -sv {url}",),
        ),
        probes=probes,
    )


def monitor(i: int, channel: Channel, url: str | None = None) -> Monitor:
    """Monitor ``i``: down every third, muted every fifth, with an origin and a long URL."""
    return Monitor(
        id=i,
        channel=channel,
        url=url or f"https://service-{i}.example.com/" + "path/" * 20,
        every=60,
        origin="203.0.113.9:443",
        confirm=2,
        expect=Expect(((200, 399),)),
        timeout=4.0,
        state="down" if i % 3 == 0 else "up",
        fail_streak=0,
        muted_until=NOW if i % 5 == 0 else None,
        incident_id=None,
        last_checked=NOW,
        last_outcome="502",
        created_by="U1",
    )
