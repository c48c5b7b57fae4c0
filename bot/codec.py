"""Alerts as JSON, for the outbox: what is stored is exactly what a surface will render."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.commands.mentions import format_mentions, mentions_from_text
from bot.model import Alert, AlertKind, RegionView
from checks import Cause, diagnosis_from_dict, diagnosis_to_dict


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "kind": alert.kind.value,
        "at": alert.at.isoformat(),
        "monitor_id": alert.monitor_id,
        "url": alert.url,
        "incident_id": alert.incident_id,
        "diagnosis": None if alert.diagnosis is None else diagnosis_to_dict(alert.diagnosis),
        "previous_cause": alert.previous_cause.value if alert.previous_cause else None,
        "down_since": alert.down_since.isoformat() if alert.down_since else None,
        "expected": alert.expected,
        "days_left": alert.days_left,
        "detail": alert.detail,
        "grouped": [alert_to_dict(a) for a in alert.grouped],
        "incident_kind": alert.incident_kind,
        "mentions": format_mentions(alert.mentions) if alert.mentions else None,
        "escalate": alert.escalate,
        "regions": [region_to_dict(r) for r in alert.regions],
    }


def region_to_dict(view: RegionView) -> dict[str, Any]:
    return {
        "region": view.region,
        "status": view.status,
        "latency_ms": view.latency_ms,
        "ip": view.ip,
        "cause": view.cause,
        "label": view.label,
        "ok": view.ok,
        "counted": view.counted,
        "note": view.note,
    }


def region_from_dict(data: dict[str, Any]) -> RegionView:
    return RegionView(
        region=str(data["region"]),
        status=None if data["status"] is None else int(data["status"]),
        latency_ms=None if data["latency_ms"] is None else float(data["latency_ms"]),
        ip=data["ip"],
        cause=str(data["cause"]),
        label=str(data["label"]),
        ok=bool(data["ok"]),
        counted=bool(data["counted"]),
        note=str(data.get("note") or ""),
    )


def alert_from_dict(data: dict[str, Any]) -> Alert:
    return Alert(
        kind=AlertKind(data["kind"]),
        at=datetime.fromisoformat(data["at"]),
        monitor_id=data["monitor_id"],
        url=data["url"],
        incident_id=data["incident_id"],
        diagnosis=None if data["diagnosis"] is None else diagnosis_from_dict(data["diagnosis"]),
        previous_cause=Cause(data["previous_cause"]) if data["previous_cause"] else None,
        down_since=datetime.fromisoformat(data["down_since"]) if data["down_since"] else None,
        expected=data["expected"],
        days_left=data["days_left"],
        detail=data["detail"],
        grouped=tuple(alert_from_dict(a) for a in data["grouped"]),
        incident_kind=data.get("incident_kind") or "down",  # absent before slow incidents
        # Absent from rows an older check502 queued.
        mentions=mentions_from_text(data.get("mentions")),
        escalate=data.get("escalate"),
        regions=tuple(region_from_dict(r) for r in data.get("regions") or ()),  # before regions
    )
