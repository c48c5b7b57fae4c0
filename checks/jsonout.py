"""The stable JSON shape of a diagnosis (``check502 --json``, storage, chat payloads).

Names here are a contract: keep them, add freely.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from checks.model import (
    Cause,
    Diagnosis,
    DnsRecord,
    DnsResult,
    ErrorKind,
    Finding,
    Hop,
    Mismatch,
    OriginProtocols,
    Probe,
    ProbeError,
    Timings,
    TlsInfo,
    Verdict,
)
from checks.request import Auth, RequestSpec


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


def _mismatch(m: Mismatch) -> dict[str, Any]:
    return {
        "kind": m.kind,
        "proxy_speaks": m.proxy_speaks,
        "origin_speaks": m.origin_speaks,
        "port": m.port,
        "cause": m.cause.value,
        "sentence": m.sentence,
    }


def _mismatch_from(data: dict[str, Any]) -> Mismatch:
    return Mismatch(
        kind=data["kind"],
        proxy_speaks=data["proxy_speaks"],
        origin_speaks=data["origin_speaks"],
        port=data["port"],
        cause=Cause(data["cause"]),
        sentence=data["sentence"],
    )


def _protocols(found: OriginProtocols | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "ip": found.ip,
        "port": found.port,
        "plain_http1": found.plain_http1,
        "h2c": found.h2c,
        "tls": found.tls,
        "tls_http1": found.tls_http1,
        "tls_h2": found.tls_h2,
        "notes": list(found.notes),
    }


def _protocols_from(data: dict[str, Any] | None) -> OriginProtocols | None:
    if data is None:
        return None
    return OriginProtocols(
        ip=data["ip"],
        port=data["port"],
        plain_http1=data.get("plain_http1"),
        h2c=data.get("h2c"),
        tls=data.get("tls"),
        tls_http1=data.get("tls_http1"),
        tls_h2=data.get("tls_h2"),
        notes=tuple(data.get("notes") or ()),
    )


def probe_to_dict(p: Probe) -> dict[str, Any]:
    t = p.timings
    return {
        "target": p.target,
        "url": p.url,
        "host": p.host,
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
        "findings": [f.value for f in p.findings],
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
            "mismatch": _mismatch(v.mismatch) if v.mismatch else None,
            "other_mismatches": [_mismatch(m) for m in v.other_mismatches],
        },
        "dns": None
        if dns is None
        else {
            "name": dns.name,
            "resolver": dns.resolver,
            "duration_ms": dns.duration_ms,
            "cname": dns.cname,
            "ttl": dns.ttl,
            "records": [{"ip": r.ip, "family": r.family, "ttl": r.ttl} for r in dns.records],
            "error": None
            if dns.error is None
            else {"kind": dns.error.kind.value, "message": dns.error.message},
        },
        "origin": d.origin,
        "runs": d.runs,
        "runs_done": d.runs_done,
        "concurrency": d.concurrency,
        "ips_seen": list(d.ips_seen),
        "status_mix": dict(d.status_mix),
        "probes": [probe_to_dict(p) for p in d.probes],
        "origin_protocols": _protocols(d.origin_protocols),
        "findings": [f.value for f in d.findings],
        "request": request_to_dict(d.request),
    }


def request_to_dict(spec: RequestSpec | None) -> dict[str, Any] | None:
    """The request sent, never the credentials' values (``auth`` is ``bearer $API_TOKEN``)."""
    if spec is None:
        return None
    return {
        "method": spec.method,
        "headers": [[k, v] for k, v in spec.headers],
        "body": spec.body,
        "auth": None
        if spec.auth is None
        else {"scheme": spec.auth.scheme, "env": list(spec.auth.names)},
        "keyword": spec.keyword,
        "not_keyword": spec.not_keyword,
        "slow_ms": spec.slow_ms,
    }


def request_from_dict(data: dict[str, Any] | None) -> RequestSpec | None:
    """The inverse of :func:`request_to_dict` (credentials by name, no values)."""
    if data is None:
        return None
    auth = data["auth"]
    return RequestSpec(
        method=data["method"],
        headers=tuple((k, v) for k, v in data["headers"]),
        body=data["body"],
        auth=None if auth is None else Auth(auth["scheme"], tuple(auth["env"])),
        keyword=data["keyword"],
        not_keyword=data["not_keyword"],
        slow_ms=data["slow_ms"],
    )


def _tls_from(data: dict[str, Any] | None) -> TlsInfo | None:
    if data is None:
        return None
    not_after = data.get("not_after")
    return TlsInfo(
        subject=data.get("subject"),
        sans=tuple(data.get("sans") or ()),
        issuer=data.get("issuer"),
        not_after=datetime.fromisoformat(not_after) if not_after else None,
        days_left=data.get("days_left"),
        verified=bool(data.get("verified")),
        version=data.get("version"),
        alpn=data.get("alpn"),
        verify_error=data.get("verify_error"),
    )


def _error_from(data: dict[str, Any] | None) -> ProbeError | None:
    return None if data is None else ProbeError(ErrorKind(data["kind"]), data["message"])


def _records_from(rows: list[dict[str, Any]]) -> tuple[DnsRecord, ...]:
    return tuple(DnsRecord(r["ip"], r["family"], r["ttl"]) for r in rows)


def probe_from_dict(data: dict[str, Any]) -> Probe:
    """The inverse of :func:`probe_to_dict`."""
    t = data["timings_ms"]
    return Probe(
        target=data["target"],
        url=data["url"],
        host=data.get("host") or "",
        ip=data["ip"],
        port=data["port"],
        resolved=_records_from(data["resolved"]),
        status=data["status"],
        http_version=data["http_version"],
        reason=data["reason"],
        headers=tuple((k, v) for k, v in data["headers"]),
        header_bytes=data["header_bytes"],
        body_excerpt=data["body_excerpt"],
        timings=Timings(t["dns"], t["connect"], t["tls"], t["ttfb"], t["total"]),
        error=_error_from(data["error"]),
        tls=_tls_from(data["tls"]),
        location=data["location"],
        run=data["run"],
        http2_attempted=data["http2_attempted"],
        protocol_retry=data["protocol_retry"],
        redirects=tuple(data["redirects"]),
        findings=tuple(Finding(f) for f in data.get("findings") or ()),
    )


def diagnosis_from_dict(data: dict[str, Any]) -> Diagnosis:
    """The inverse of :func:`diagnosis_to_dict`: storage and alert outboxes keep diagnoses as JSON.

    Raises ``KeyError``, ``TypeError`` or ``ValueError`` for a document of another shape.
    """
    v = data["verdict"]
    dns = data["dns"]
    mix = data["status_mix"]
    if not isinstance(mix, dict):
        raise TypeError(f"status_mix must be an object, not {type(mix).__name__}")
    return Diagnosis(
        url=data["url"],
        checked_at=datetime.fromisoformat(data["checked_at"]),
        verdict=Verdict(
            cause=Cause(v["cause"]),
            generated_by=v["generated_by"],
            hop=Hop(v["hop"]) if v["hop"] else None,
            confidence=v["confidence"],
            summary=v["summary"],
            evidence=tuple(v["evidence"]),
            next_steps=tuple(v["next_steps"]),
            reproduce=tuple(v["reproduce"]),
            alternatives=tuple(Cause(c) for c in v["alternatives"]),
            code=v["code"],
            mismatch=_mismatch_from(v["mismatch"]) if v.get("mismatch") else None,
            other_mismatches=tuple(_mismatch_from(m) for m in v.get("other_mismatches") or ()),
        ),
        probes=tuple(probe_from_dict(p) for p in data["probes"]),
        dns=None
        if dns is None
        else DnsResult(
            name=dns["name"],
            resolver=dns["resolver"],
            records=_records_from(dns["records"]),
            duration_ms=dns["duration_ms"],
            error=_error_from(dns["error"]),
            cname=dns["cname"],
        ),
        origin=data["origin"],
        runs=data["runs"],
        runs_done=data.get("runs_done", data["runs"]),  # documents from before it existed
        concurrency=data["concurrency"],
        ips_seen=tuple(data["ips_seen"]),
        status_mix=tuple((k, n) for k, n in mix.items()),
        origin_protocols=_protocols_from(data.get("origin_protocols")),  # absent before it existed
        findings=tuple(Finding(f) for f in data.get("findings") or ()),
        request=request_from_dict(data.get("request")),
    )
