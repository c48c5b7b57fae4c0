"""PagerDuty Events API v2: trigger on DOWN, acknowledge on an ack in chat, resolve on recovery.

``POST <CHECK502_PAGERDUTY_URL>/v2/enqueue``. Every event of an incident carries the same
``dedup_key``, ``check502-<incident id>``: PagerDuty folds a repeated trigger into the open
alert, so a retry never pages twice. A trigger's payload: ``summary`` (at most 1024
characters), ``source`` (the monitored host), ``severity`` (critical), ``timestamp``,
``class`` (the cause), ``custom_details`` (the diagnosis as ``check502 --json`` prints it,
trimmed to 20 KB), and a link to the channel's status page when it has one.

A monitor with an escalation time (``escalate=``) triggers on its ``escalation`` event, not on
DOWN. The resolve is sent when the incident closes (the chat's RESOLVED, which a mute does not
hold back): a pager must not ring for an outage that is over.

202 is delivered. 400 (an invalid event) is given up: resending the same body cannot succeed.
429 and 5xx are retried, after Retry-After when given.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from adapters.notify.config import PagerDutyConfig
from adapters.notify.document import (
    diagnosis_document,
    host,
    regions_document,
    retry_after,
    severity,
    summary,
)
from bot.errors import DeliveryError
from bot.model import AlertKind
from bot.notify import Notice

__all__ = ["DETAILS_BUDGET", "PagerDutyNotifier", "dedup_key"]

DETAILS_BUDGET = 20_000
_TRIGGER = (AlertKind.DOWN.value, "escalation")


def dedup_key(notice: Notice) -> str:
    """One key per incident (at most 255 characters)."""
    alert = notice.alert
    if alert.incident_id is not None:
        return f"check502-{alert.incident_id}"
    return f"check502-monitor-{alert.monitor_id}"


class PagerDutyNotifier:
    name = "pagerduty"

    def __init__(self, config: PagerDutyConfig, *, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout

    def wants(self, kind: str, *, escalates: bool) -> bool:
        trigger = "escalation" if escalates else AlertKind.DOWN.value
        return kind in (trigger, AlertKind.ACKNOWLEDGED.value, AlertKind.RESOLVED.value)

    def event(self, notice: Notice) -> dict[str, Any]:
        """The Events API v2 body for ``notice``."""
        alert = notice.alert
        kind = alert.kind.value
        body: dict[str, Any] = {
            "routing_key": self.config.routing_key,
            "dedup_key": dedup_key(notice),
        }
        if kind == AlertKind.ACKNOWLEDGED.value:
            body["event_action"] = "acknowledge"
            return body
        if kind == AlertKind.RESOLVED.value:
            body["event_action"] = "resolve"
            return body
        if kind not in _TRIGGER:
            raise DeliveryError(f"PagerDuty takes no {kind} event", permanent=True)
        body["event_action"] = "trigger"
        details: dict[str, Any] = {
            "monitor_id": alert.monitor_id,
            "url": alert.url,
            "incident_id": alert.incident_id,
            "diagnosis": diagnosis_document(alert, budget=DETAILS_BUDGET),
        }
        if alert.regions:  # each region's view, side by side in PagerDuty's details
            details["regions"] = regions_document(alert)
        payload: dict[str, Any] = {
            "summary": summary(alert, limit=1024),
            "source": host(alert),
            "severity": severity(alert),
            "timestamp": alert.at.isoformat(),
            "component": alert.url,
            "custom_details": details,
        }
        if alert.diagnosis is not None:
            payload["class"] = alert.diagnosis.verdict.cause.value
        body["payload"] = payload
        body["client"] = "check502"
        if notice.status_url is not None:
            body["client_url"] = notice.status_url
            body["links"] = [{"href": notice.status_url, "text": "Status page"}]
        return body

    async def send(self, notice: Notice) -> str:
        body = json.dumps(self.event(notice), separators=(",", ":"))
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.post(
                    f"{self.config.url}/v2/enqueue",
                    content=body.encode(),
                    headers={"content-type": "application/json", "user-agent": "check502"},
                )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"PagerDuty: {type(exc).__name__}") from None
        status = response.status_code
        if status == 202:
            return dedup_key(notice)
        if status == 400:
            raise DeliveryError(
                f"PagerDuty refused the event (400): {_errors(response)}", permanent=True
            )
        raise DeliveryError(
            f"PagerDuty answered {status}",
            retry_after=retry_after(response.headers.get("retry-after")),
        )


def _errors(response: httpx.Response) -> str:
    """PagerDuty's ``errors`` list, short (it names fields, never the routing key's value)."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return "no reason given"
    if not isinstance(errors, list) or not errors:
        return "no reason given"
    return "; ".join(str(e) for e in errors)[:300]
