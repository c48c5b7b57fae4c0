"""What every notification target says of an alert: names, summary, the diagnosis document.

The format-free half of the targets' rendering, as :mod:`adapters.present` is for the chats:
the event's name, the monitor's host, a one-line summary, and the diagnosis as ``check502
--json`` prints it, trimmed to fit a size budget (the diagnosis's response bodies go first).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from adapters.present import CAUSE_TITLE, cut, region_cause
from bot.model import Alert, AlertKind
from checks import diagnosis_to_dict

__all__ = [
    "EVENT_TYPES",
    "alert_document",
    "diagnosis_document",
    "host",
    "receiver_id",
    "regions_document",
    "retry_after",
    "severity",
    "summary",
]

EVENT_TYPES: dict[str, str] = {
    AlertKind.DOWN.value: "monitor.down",
    AlertKind.CAUSE_CHANGED.value: "monitor.followup",
    AlertKind.REMINDER.value: "monitor.reminder",
    AlertKind.RECOVERED.value: "monitor.recovered",
    AlertKind.RESOLVED.value: "monitor.resolved",
    AlertKind.ACKNOWLEDGED.value: "monitor.acknowledged",
    AlertKind.CERT_EXPIRING.value: "monitor.cert_expiring",
    "escalation": "monitor.escalation",
}
"""The alert kinds a target may get, by the name the webhook's ``type`` gives them."""

_WORD: dict[str, str] = {
    AlertKind.DOWN.value: "DOWN",
    AlertKind.CAUSE_CHANGED.value: "STILL DOWN",
    AlertKind.REMINDER.value: "STILL DOWN",
    AlertKind.RECOVERED.value: "RECOVERED",
    AlertKind.RESOLVED.value: "RESOLVED",
    AlertKind.ACKNOWLEDGED.value: "ACKNOWLEDGED",
    AlertKind.CERT_EXPIRING.value: "CERTIFICATE EXPIRING",
    "escalation": "DOWN, NOT ACKNOWLEDGED",
}
_ID_SAFE = re.compile(r"[^A-Za-z0-9_:-]")
_BODY_KEEP = 512


def host(alert: Alert) -> str:
    """The monitored URL's host (PagerDuty's ``source``), or check502 for a channel alert."""
    return (urlsplit(alert.url).hostname if alert.url else None) or "check502"


def severity(alert: Alert) -> str:
    """critical for an outage; warning for a certificate about to expire."""
    return "warning" if alert.kind is AlertKind.CERT_EXPIRING else "critical"


def summary(alert: Alert, kind: str | None = None, *, limit: int = 1024) -> str:
    """``DOWN #12 shop.example.com — Origin down: <the verdict's sentence>``, within ``limit``."""
    kind = kind or alert.kind.value
    head = f"{_WORD.get(kind, kind.upper())} #{alert.monitor_id} {host(alert)}"
    if alert.kind is AlertKind.CERT_EXPIRING and alert.days_left is not None:
        return cut(f"{head} — certificate expires in {alert.days_left} days", limit)
    if alert.kind is AlertKind.ACKNOWLEDGED and alert.detail:
        return cut(f"{head} — by {alert.detail}", limit)
    if alert.kind in (AlertKind.RECOVERED, AlertKind.RESOLVED) and alert.downtime_s is not None:
        return cut(f"{head} — after {_duration(alert.downtime_s)} down", limit)
    if alert.diagnosis is None:
        return cut(head, limit)
    verdict = alert.diagnosis.verdict
    return cut(f"{head} — {CAUSE_TITLE[verdict.cause]}: {verdict.summary}", limit)


def cause_title(alert: Alert) -> str | None:
    return None if alert.diagnosis is None else CAUSE_TITLE[alert.diagnosis.verdict.cause]


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


def diagnosis_document(alert: Alert, *, budget: int) -> dict[str, Any] | None:
    """The diagnosis as ``check502 --json`` prints it, its JSON within ``budget`` bytes.

    Over budget, the probes' response bodies are cut to 512 characters, then dropped, then
    the probes themselves, leaving the verdict; ``trimmed`` says which was done. None when not
    even the verdict fits.
    """
    if alert.diagnosis is None:
        return None
    doc = diagnosis_to_dict(alert.diagnosis)
    if _size(doc) <= budget:
        return doc
    for probe in doc["probes"]:
        if isinstance(probe.get("body_excerpt"), str):
            probe["body_excerpt"] = cut(probe["body_excerpt"], _BODY_KEEP)
    doc["trimmed"] = "bodies cut"
    if _size(doc) <= budget:
        return doc
    for probe in doc["probes"]:
        probe["body_excerpt"] = None
    doc["trimmed"] = "bodies dropped"
    if _size(doc) <= budget:
        return doc
    verdict = doc["verdict"]
    small = {"url": doc["url"], "checked_at": doc["checked_at"], "verdict": verdict}
    small["trimmed"] = "probes dropped"
    for name in ("evidence", "next_steps", "reproduce"):
        while _size(small) > budget and verdict[name]:
            verdict[name].pop()
    verdict["summary"] = cut(verdict["summary"], max(80, budget // 4))
    return small if _size(small) <= budget else None


def alert_document(
    alert: Alert, kind: str, *, status_url: str | None, budget: int
) -> dict[str, Any]:
    """The monitor, the incident and the diagnosis, as the webhook's ``data`` carries them."""
    doc: dict[str, Any] = {
        "monitor": {"id": alert.monitor_id, "url": alert.url, "host": host(alert)},
        "incident": {
            "id": alert.incident_id,
            "kind": "down",
            "summary": summary(alert, kind),
            "severity": severity(alert),
            "cause": None if alert.diagnosis is None else alert.diagnosis.verdict.cause.value,
            "previous_cause": alert.previous_cause.value if alert.previous_cause else None,
            "down_since": alert.down_since.isoformat() if alert.down_since else None,
            "downtime_s": alert.downtime_s,
            "acknowledged_by": alert.detail if alert.kind is AlertKind.ACKNOWLEDGED else None,
            "expected": alert.expected,
        },
        "status_page": status_url,
        "diagnosis": diagnosis_document(alert, budget=budget),
    }
    if alert.regions:  # a monitor checked from regions: each region's view
        doc["regions"] = regions_document(alert)
    return doc


def regions_document(alert: Alert) -> list[dict[str, Any]]:
    """Each region's result of the check (a regional monitor; [] for one the bot checks
    itself): name, status, latency, IP, cause, outcome label, and whether it counted."""
    return [
        {
            "region": v.region,
            "status": v.status,
            "latency_ms": None if v.latency_ms is None else round(v.latency_ms, 1),
            "ip": v.ip,
            "cause": v.cause,
            "cause_title": region_cause(v),
            "outcome": v.label,
            "ok": v.ok,
            "counted": v.counted,
            "note": v.note or None,
        }
        for v in alert.regions
    ]


def _size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, separators=(",", ":")).encode())


def receiver_id(key: str) -> str:
    """An outbox key as a receiver's id: letters, digits, ``_ : -`` (the webhook-id must not
    contain a dot; cause and reminder keys carry a time with one)."""
    return _ID_SAFE.sub("_", key)


def retry_after(value: str | None, *, cap: float = 3600.0) -> float | None:
    """A ``Retry-After`` header's seconds (a number, or an HTTP date), within ``cap``."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(cap, max(0.0, seconds))
