"""The stable JSON shape of a diagnosis (``check502 --json``, storage, chat payloads).

Names here are a contract: keep them, add freely.
"""

from __future__ import annotations

from typing import Any

from checks.model import Diagnosis, Probe, TlsInfo


def _tls(tls: TlsInfo | None) -> dict[str, Any] | None:
    if tls is None:
        return None
    return {
        "subject": tls.subject,
        "sans": list(tls.sans),
        "issuer": tls.issuer,
        "not_after": tls.not_after.isoformat() if tls.not_after else None,
        "days_left": tls.days_left,
        "verified": tls.verified,
        "verify_error": tls.verify_error,
        "version": tls.version,
        "alpn": tls.alpn,
    }


def probe_to_dict(p: Probe) -> dict[str, Any]:
    t = p.timings
    return {
        "target": p.target,
        "url": p.url,
        "ip": p.ip,
        "port": p.port,
        "run": p.run,
        "resolved": [{"ip": r.ip, "family": r.family, "ttl": r.ttl} for r in p.resolved],
        "status": p.status,
        "reason": p.reason,
        "http_version": p.http_version,
        "http2_attempted": p.http2_attempted,
        "protocol_retry": p.protocol_retry,
        "timings_ms": {
            "dns": t.dns,
            "connect": t.connect,
            "tls": t.tls,
            "ttfb": t.ttfb,
            "total": t.total,
        },
        "error": None
        if p.error is None
        else {"kind": p.error.kind.value, "message": p.error.message},
        "headers": [[k, v] for k, v in p.headers],
        "header_bytes": p.header_bytes,
        "body_excerpt": p.body_excerpt,
        "location": p.location,
        "redirects": list(p.redirects),
        "tls": _tls(p.tls),
    }


def diagnosis_to_dict(d: Diagnosis) -> dict[str, Any]:
    v = d.verdict
    dns = d.dns
    return {
        "url": d.url,
        "checked_at": d.checked_at.isoformat(),
        "verdict": {
            "cause": v.cause.value,
            "generated_by": v.generated_by,
            "hop": v.hop.value if v.hop else None,
            "confidence": v.confidence,
            "summary": v.summary,
            "evidence": list(v.evidence),
            "next_steps": list(v.next_steps),
            "reproduce": list(v.reproduce),
            "alternatives": [c.value for c in v.alternatives],
            "code": v.code,
        },
        "dns": None
        if dns is None
        else {
            "name": dns.name,
            "resolver": dns.resolver,
            "duration_ms": dns.duration_ms,
            "cname": dns.cname,
            "records": [{"ip": r.ip, "family": r.family, "ttl": r.ttl} for r in dns.records],
            "error": None
            if dns.error is None
            else {"kind": dns.error.kind.value, "message": dns.error.message},
        },
        "origin": d.origin,
        "runs": d.runs,
        "concurrency": d.concurrency,
        "ips_seen": list(d.ips_seen),
        "status_mix": dict(d.status_mix),
        "probes": [probe_to_dict(p) for p in d.probes],
    }
