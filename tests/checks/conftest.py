"""Shared pieces for engine tests: loopback is opted in explicitly, never by default."""

from __future__ import annotations

from typing import Any

from checks import AddressPolicy, Diagnosis, Probe, diagnose

LOOPBACK = AddressPolicy.allowing("127.0.0.0/8", "::1")


async def run(url: str, **kwargs: Any) -> Diagnosis:
    """``diagnose`` with loopback allowed and a short deadline unless the test says otherwise."""
    kwargs.setdefault("policy", LOOPBACK)
    kwargs.setdefault("timeout", 3.0)
    return await diagnose(url, **kwargs)


def public(d: Diagnosis) -> list[Probe]:
    return [p for p in d.probes if p.target == "public" and not p.protocol_retry]


def origin(d: Diagnosis) -> list[Probe]:
    return [p for p in d.probes if p.target == "origin" and not p.protocol_retry]
