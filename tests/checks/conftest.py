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
    return [p for p in d.probes if p.target == "public" and not _is_retry(d, p)]


def origin(d: Diagnosis) -> list[Probe]:
    return [p for p in d.probes if p.target == "origin"]


def _is_retry(d: Diagnosis, p: Probe) -> bool:
    return not p.http2_attempted and any(
        q.http2_attempted and q.ip == p.ip and q.target == p.target for q in d.probes
    )
