"""A diagnosis on the wire between processes (probe workers → the coordinator, over Redis).

:func:`diagnosis_to_dict` and :func:`diagnosis_from_dict` are an exact round trip: every field of
:class:`~checks.model.Diagnosis` comes back equal, tuples as tuples, enums as enums, an ``int``
timing as an ``int``, a timezone-aware time with its microseconds. The dict is JSON-safe (only
dicts, lists, strings, numbers, booleans and None), so nothing is pickled over a shared Redis.

Decoding is strict, because the other end is another machine: a missing or unknown key, a value
of the wrong type, an unknown enum value, a non-finite number or anything over the size bounds
raises :class:`ValueError` naming the path of the first bad value (``probes[1].timings.ttfb``).
Nothing else is raised. :func:`diagnosis_from_json` also bounds the text itself
(:data:`MAX_WIRE_BYTES`) before parsing it.

This is not :mod:`checks.jsonout` (the documented ``--json`` and storage shape, lenient with
older documents): the wire shape is private to one version of check502 talking to itself, and
carries a version number (:data:`WIRE_VERSION`) so that a worker of another version is refused
rather than misread.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from checks.errors import InvalidRequest
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

__all__ = [
    "MAX_WIRE_BYTES",
    "WIRE_VERSION",
    "diagnosis_from_dict",
    "diagnosis_from_json",
    "diagnosis_to_dict",
    "diagnosis_to_json",
]

WIRE_VERSION = 1
MAX_WIRE_BYTES = 4 * 1024 * 1024
"""The longest JSON text :func:`diagnosis_from_json` parses (a check of 100 runs with every
body excerpt full is about 2 MB)."""
MAX_STRING = 128 * 1024
"""The longest string anywhere in a diagnosis (a body excerpt is 16 KB, a request body 64 KB)."""
MAX_ITEMS = 4096
"""The longest list anywhere in a diagnosis (probes: 100 runs of a few addresses each)."""

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


# ---------------------------------------------------------------------------------- encoding


def _error(e: ProbeError | None) -> dict[str, Any] | None:
    return None if e is None else {"kind": e.kind.value, "message": e.message}


def _records(records: tuple[DnsRecord, ...]) -> list[dict[str, Any]]:
    return [{"ip": r.ip, "family": r.family, "ttl": r.ttl} for r in records]


def _tls(t: TlsInfo | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "subject": t.subject,
        "sans": list(t.sans),
        "issuer": t.issuer,
        "not_after": None if t.not_after is None else t.not_after.isoformat(),
        "days_left": t.days_left,
        "verified": t.verified,
        "version": t.version,
        "alpn": t.alpn,
        "verify_error": t.verify_error,
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


def _probe(p: Probe) -> dict[str, Any]:
    t = p.timings
    return {
        "target": p.target,
        "url": p.url,
        "host": p.host,
        "ip": p.ip,
        "port": p.port,
        "resolved": _records(p.resolved),
        "status": p.status,
        "http_version": p.http_version,
        "reason": p.reason,
        "headers": [[k, v] for k, v in p.headers],
        "header_bytes": p.header_bytes,
        "body_excerpt": p.body_excerpt,
        "timings": {
            "dns": t.dns,
            "connect": t.connect,
            "tls": t.tls,
            "ttfb": t.ttfb,
            "total": t.total,
        },
        "error": _error(p.error),
        "tls": _tls(p.tls),
        "location": p.location,
        "run": p.run,
        "http2_attempted": p.http2_attempted,
        "protocol_retry": p.protocol_retry,
        "redirects": list(p.redirects),
        "findings": [f.value for f in p.findings],
    }


def _request(spec: RequestSpec | None) -> dict[str, Any] | None:
    """The request as the diagnosis keeps it: credentials by variable name, never a value."""
    if spec is None:
        return None
    return {
        "method": spec.method,
        "headers": [[k, v] for k, v in spec.headers],
        "body": spec.body,
        "auth": None
        if spec.auth is None
        else {"scheme": spec.auth.scheme, "names": list(spec.auth.names)},
        "keyword": spec.keyword,
        "not_keyword": spec.not_keyword,
        "slow_ms": spec.slow_ms,
    }


def diagnosis_to_dict(d: Diagnosis) -> dict[str, Any]:
    """``d`` as JSON-safe data; :func:`diagnosis_from_dict` gives back an equal Diagnosis."""
    v = d.verdict
    dns = d.dns
    op = d.origin_protocols
    return {
        "v": WIRE_VERSION,
        "url": d.url,
        "checked_at": d.checked_at.isoformat(),
        "verdict": {
            "cause": v.cause.value,
            "generated_by": v.generated_by,
            "hop": None if v.hop is None else v.hop.value,
            "confidence": v.confidence,
            "summary": v.summary,
            "evidence": list(v.evidence),
            "next_steps": list(v.next_steps),
            "reproduce": list(v.reproduce),
            "alternatives": [c.value for c in v.alternatives],
            "code": v.code,
            "mismatch": None if v.mismatch is None else _mismatch(v.mismatch),
            "other_mismatches": [_mismatch(m) for m in v.other_mismatches],
        },
        "probes": [_probe(p) for p in d.probes],
        "dns": None
        if dns is None
        else {
            "name": dns.name,
            "resolver": dns.resolver,
            "records": _records(dns.records),
            "duration_ms": dns.duration_ms,
            "error": _error(dns.error),
            "cname": dns.cname,
        },
        "origin": d.origin,
        "runs": d.runs,
        "concurrency": d.concurrency,
        "ips_seen": list(d.ips_seen),
        "status_mix": [[k, n] for k, n in d.status_mix],
        "runs_done": d.runs_done,
        "origin_protocols": None
        if op is None
        else {
            "ip": op.ip,
            "port": op.port,
            "plain_http1": op.plain_http1,
            "h2c": op.h2c,
            "tls": op.tls,
            "tls_http1": op.tls_http1,
            "tls_h2": op.tls_h2,
            "notes": list(op.notes),
        },
        "findings": [f.value for f in d.findings],
        "request": _request(d.request),
    }


def diagnosis_to_json(d: Diagnosis) -> str:
    """:func:`diagnosis_to_dict` as compact JSON text."""
    return json.dumps(diagnosis_to_dict(d), separators=(",", ":"), allow_nan=False)


# ---------------------------------------------------------------------------------- decoding


class _Bad(Exception):
    """A value that is not what the wire shape says (raised as ValueError at the top)."""


def _fields(data: object, path: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise _Bad(f"{path or 'the document'} must be an object")
    if set(data) != set(keys):
        missing = sorted(set(keys) - set(data))
        extra = sorted(str(k) for k in set(data) - set(keys))
        what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"
        raise _Bad(f"{path or 'the document'}: {what}")
    return data


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{path} must be a string")
    if len(value) > MAX_STRING:
        raise _Bad(f"{path} is over {MAX_STRING} characters")
    return value


def _opt_str(value: object, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{path} must be a whole number")
    if abs(value) > 2**53:
        raise _Bad(f"{path} is out of range")
    return value


def _opt_int(value: object, path: str) -> int | None:
    return None if value is None else _int(value, path)


def _num(value: object, path: str) -> float:
    """A number: an ``int`` stays an ``int`` (so the round trip is exact), a float is finite."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"{path} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"{path} must be finite")
    if isinstance(value, int):
        return _int(value, path)
    return value


def _opt_num(value: object, path: str) -> float | None:
    return None if value is None else _num(value, path)


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"{path} must be true or false")
    return value


def _opt_bool(value: object, path: str) -> bool | None:
    return None if value is None else _bool(value, path)


def _enum(kind: type[E], value: object, path: str) -> E:
    try:
        return kind(_str(value, path))
    except ValueError:
        raise _Bad(f"{path}: {str(value)[:40]!r} is not a {kind.__name__}") from None


def _list(value: object, path: str, item: Callable[[object, str], T]) -> tuple[T, ...]:
    if not isinstance(value, list):
        raise _Bad(f"{path} must be a list")
    if len(value) > MAX_ITEMS:
        raise _Bad(f"{path} has over {MAX_ITEMS} items")
    return tuple(item(v, f"{path}[{i}]") for i, v in enumerate(value))


def _strs(value: object, path: str) -> tuple[str, ...]:
    return _list(value, path, _str)


def _pair(value: object, path: str) -> tuple[str, str]:
    if not isinstance(value, list) or len(value) != 2:
        raise _Bad(f"{path} must be a [name, value] pair")
    return _str(value[0], f"{path}[0]"), _str(value[1], f"{path}[1]")


def _count(value: object, path: str) -> tuple[str, int]:
    if not isinstance(value, list) or len(value) != 2:
        raise _Bad(f"{path} must be an [outcome, count] pair")
    return _str(value[0], f"{path}[0]"), _int(value[1], f"{path}[1]")


def _time(value: object, path: str) -> datetime:
    text = _str(value, path)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{path} is not an ISO 8601 time") from None


def _error_from(value: object, path: str) -> ProbeError | None:
    if value is None:
        return None
    data = _fields(value, path, ("kind", "message"))
    return ProbeError(
        _enum(ErrorKind, data["kind"], f"{path}.kind"), _str(data["message"], f"{path}.message")
    )


def _record_from(value: object, path: str) -> DnsRecord:
    data = _fields(value, path, ("ip", "family", "ttl"))
    family = _int(data["family"], f"{path}.family")
    if family not in (4, 6):
        raise _Bad(f"{path}.family must be 4 or 6")
    return DnsRecord(_str(data["ip"], f"{path}.ip"), family, _opt_int(data["ttl"], f"{path}.ttl"))


def _tls_from(value: object, path: str) -> TlsInfo | None:
    if value is None:
        return None
    keys = ("subject", "sans", "issuer", "not_after", "days_left", "verified", "version")
    data = _fields(value, path, (*keys, "alpn", "verify_error"))
    not_after = data["not_after"]
    return TlsInfo(
        subject=_opt_str(data["subject"], f"{path}.subject"),
        sans=_strs(data["sans"], f"{path}.sans"),
        issuer=_opt_str(data["issuer"], f"{path}.issuer"),
        not_after=None if not_after is None else _time(not_after, f"{path}.not_after"),
        days_left=_opt_int(data["days_left"], f"{path}.days_left"),
        verified=_bool(data["verified"], f"{path}.verified"),
        version=_opt_str(data["version"], f"{path}.version"),
        alpn=_opt_str(data["alpn"], f"{path}.alpn"),
        verify_error=_opt_str(data["verify_error"], f"{path}.verify_error"),
    )


def _mismatch_from(value: object, path: str) -> Mismatch:
    keys = ("kind", "proxy_speaks", "origin_speaks", "port", "cause", "sentence")
    data = _fields(value, path, keys)
    return Mismatch(
        kind=_str(data["kind"], f"{path}.kind"),
        proxy_speaks=_str(data["proxy_speaks"], f"{path}.proxy_speaks"),
        origin_speaks=_str(data["origin_speaks"], f"{path}.origin_speaks"),
        port=_int(data["port"], f"{path}.port"),
        cause=_enum(Cause, data["cause"], f"{path}.cause"),
        sentence=_str(data["sentence"], f"{path}.sentence"),
    )


def _timings_from(value: object, path: str) -> Timings:
    data = _fields(value, path, ("dns", "connect", "tls", "ttfb", "total"))
    return Timings(
        *(_opt_num(data[k], f"{path}.{k}") for k in ("dns", "connect", "tls", "ttfb", "total"))
    )


_PROBE_KEYS = (
    "target",
    "url",
    "host",
    "ip",
    "port",
    "resolved",
    "status",
    "http_version",
    "reason",
    "headers",
    "header_bytes",
    "body_excerpt",
    "timings",
    "error",
    "tls",
    "location",
    "run",
    "http2_attempted",
    "protocol_retry",
    "redirects",
    "findings",
)


def _probe_from(value: object, path: str) -> Probe:
    data = _fields(value, path, _PROBE_KEYS)
    return Probe(
        target=_str(data["target"], f"{path}.target"),
        url=_str(data["url"], f"{path}.url"),
        host=_str(data["host"], f"{path}.host"),
        ip=_opt_str(data["ip"], f"{path}.ip"),
        port=_int(data["port"], f"{path}.port"),
        resolved=_list(data["resolved"], f"{path}.resolved", _record_from),
        status=_opt_int(data["status"], f"{path}.status"),
        http_version=_opt_str(data["http_version"], f"{path}.http_version"),
        reason=_opt_str(data["reason"], f"{path}.reason"),
        headers=_list(data["headers"], f"{path}.headers", _pair),
        header_bytes=_int(data["header_bytes"], f"{path}.header_bytes"),
        body_excerpt=_str(data["body_excerpt"], f"{path}.body_excerpt"),
        timings=_timings_from(data["timings"], f"{path}.timings"),
        error=_error_from(data["error"], f"{path}.error"),
        tls=_tls_from(data["tls"], f"{path}.tls"),
        location=_opt_str(data["location"], f"{path}.location"),
        run=_int(data["run"], f"{path}.run"),
        http2_attempted=_bool(data["http2_attempted"], f"{path}.http2_attempted"),
        protocol_retry=_bool(data["protocol_retry"], f"{path}.protocol_retry"),
        redirects=_strs(data["redirects"], f"{path}.redirects"),
        findings=_list(data["findings"], f"{path}.findings", _finding),
    )


def _finding(value: object, path: str) -> Finding:
    return _enum(Finding, value, path)


def _cause(value: object, path: str) -> Cause:
    return _enum(Cause, value, path)


def _verdict_from(value: object, path: str) -> Verdict:
    keys = ("cause", "generated_by", "hop", "confidence", "summary", "evidence", "next_steps")
    more = ("reproduce", "alternatives", "code", "mismatch", "other_mismatches")
    data = _fields(value, path, (*keys, *more))
    hop = data["hop"]
    mismatch = data["mismatch"]
    return Verdict(
        cause=_cause(data["cause"], f"{path}.cause"),
        generated_by=_opt_str(data["generated_by"], f"{path}.generated_by"),
        hop=None if hop is None else _enum(Hop, hop, f"{path}.hop"),
        confidence=_num(data["confidence"], f"{path}.confidence"),
        summary=_str(data["summary"], f"{path}.summary"),
        evidence=_strs(data["evidence"], f"{path}.evidence"),
        next_steps=_strs(data["next_steps"], f"{path}.next_steps"),
        reproduce=_strs(data["reproduce"], f"{path}.reproduce"),
        alternatives=_list(data["alternatives"], f"{path}.alternatives", _cause),
        code=_opt_str(data["code"], f"{path}.code"),
        mismatch=None if mismatch is None else _mismatch_from(mismatch, f"{path}.mismatch"),
        other_mismatches=_list(
            data["other_mismatches"], f"{path}.other_mismatches", _mismatch_from
        ),
    )


def _dns_from(value: object, path: str) -> DnsResult | None:
    if value is None:
        return None
    data = _fields(value, path, ("name", "resolver", "records", "duration_ms", "error", "cname"))
    return DnsResult(
        name=_str(data["name"], f"{path}.name"),
        resolver=_str(data["resolver"], f"{path}.resolver"),
        records=_list(data["records"], f"{path}.records", _record_from),
        duration_ms=_num(data["duration_ms"], f"{path}.duration_ms"),
        error=_error_from(data["error"], f"{path}.error"),
        cname=_opt_str(data["cname"], f"{path}.cname"),
    )


def _protocols_from(value: object, path: str) -> OriginProtocols | None:
    if value is None:
        return None
    keys = ("ip", "port", "plain_http1", "h2c", "tls", "tls_http1", "tls_h2", "notes")
    data = _fields(value, path, keys)
    return OriginProtocols(
        ip=_str(data["ip"], f"{path}.ip"),
        port=_int(data["port"], f"{path}.port"),
        plain_http1=_opt_bool(data["plain_http1"], f"{path}.plain_http1"),
        h2c=_opt_bool(data["h2c"], f"{path}.h2c"),
        tls=_opt_bool(data["tls"], f"{path}.tls"),
        tls_http1=_opt_bool(data["tls_http1"], f"{path}.tls_http1"),
        tls_h2=_opt_bool(data["tls_h2"], f"{path}.tls_h2"),
        notes=_strs(data["notes"], f"{path}.notes"),
    )


def _request_from(value: object, path: str) -> RequestSpec | None:
    if value is None:
        return None
    keys = ("method", "headers", "body", "auth", "keyword", "not_keyword", "slow_ms")
    data = _fields(value, path, keys)
    auth = None
    if data["auth"] is not None:
        a = _fields(data["auth"], f"{path}.auth", ("scheme", "names"))
        scheme = _str(a["scheme"], f"{path}.auth.scheme")
        if scheme not in ("basic", "bearer"):
            raise _Bad(f"{path}.auth.scheme must be basic or bearer")
        auth = Auth("basic" if scheme == "basic" else "bearer", _strs(a["names"], f"{path}.auth"))
    return RequestSpec(
        method=_str(data["method"], f"{path}.method"),
        headers=_list(data["headers"], f"{path}.headers", _pair),
        body=_str(data["body"], f"{path}.body"),
        auth=auth,
        keyword=_opt_str(data["keyword"], f"{path}.keyword"),
        not_keyword=_opt_str(data["not_keyword"], f"{path}.not_keyword"),
        slow_ms=_opt_int(data["slow_ms"], f"{path}.slow_ms"),
    )


_KEYS = (
    "v",
    "url",
    "checked_at",
    "verdict",
    "probes",
    "dns",
    "origin",
    "runs",
    "concurrency",
    "ips_seen",
    "status_mix",
    "runs_done",
    "origin_protocols",
    "findings",
    "request",
)


def diagnosis_from_dict(data: object) -> Diagnosis:
    """The :class:`Diagnosis` :func:`diagnosis_to_dict` made; ``ValueError`` for anything else."""
    try:
        d = _fields(data, "", _KEYS)
        if d["v"] != WIRE_VERSION or isinstance(d["v"], bool):
            raise _Bad(f"wire version {str(d['v'])[:20]!r} is not {WIRE_VERSION}")
        runs = _int(d["runs"], "runs")
        runs_done = _int(d["runs_done"], "runs_done")
        if runs < 1 or not 0 <= runs_done <= runs:
            raise _Bad("runs must be at least 1 and runs_done from 0 to runs")
        checked_at = _time(d["checked_at"], "checked_at")
        if checked_at.tzinfo is None:
            raise _Bad("checked_at must carry its time zone")
        return Diagnosis(
            url=_str(d["url"], "url"),
            checked_at=checked_at,
            verdict=_verdict_from(d["verdict"], "verdict"),
            probes=_list(d["probes"], "probes", _probe_from),
            dns=_dns_from(d["dns"], "dns"),
            origin=_opt_str(d["origin"], "origin"),
            runs=runs,
            concurrency=_int(d["concurrency"], "concurrency"),
            ips_seen=_strs(d["ips_seen"], "ips_seen"),
            status_mix=_list(d["status_mix"], "status_mix", _count),
            runs_done=runs_done,
            origin_protocols=_protocols_from(d["origin_protocols"], "origin_protocols"),
            findings=_list(d["findings"], "findings", _finding),
            request=_request_from(d["request"], "request"),
        )
    except _Bad as exc:
        raise ValueError(f"not a wire diagnosis: {exc}") from None
    except InvalidRequest as exc:  # the request spec's own checks (a header, a method...)
        raise ValueError(f"not a wire diagnosis: request: {exc}") from None


def diagnosis_from_json(text: str | bytes) -> Diagnosis:
    """Parse and decode the JSON text :func:`diagnosis_to_json` wrote (at most
    :data:`MAX_WIRE_BYTES`); ``ValueError`` for anything else."""
    size = len(text.encode()) if isinstance(text, str) else len(text)
    if size > MAX_WIRE_BYTES:
        raise ValueError(f"not a wire diagnosis: over {MAX_WIRE_BYTES} bytes")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not a wire diagnosis: {exc}") from None
    return diagnosis_from_dict(data)


def _no_constant(name: str) -> object:
    raise ValueError(f"not a wire diagnosis: {name} is not a number")
