"""The generic webhook: the alert as JSON, signed as Standard Webhooks says.

``POST <CHECK502_WEBHOOK_URL>`` with ``{"type": "monitor.down", "timestamp": ..., "data":
{monitor, incident, status_page, diagnosis}}`` (the diagnosis as ``check502 --json`` prints
it, trimmed to keep the body under 20 KB) and the headers ``webhook-id`` (the outbox key: the
same on every retry, so the receiver de-duplicates), ``webhook-timestamp`` (this attempt's) and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``). Redirects are not
followed. 2xx is delivered; 410 Gone and the 4xx that say the document itself is refused (400,
404, 405, 413, 415, 422) are given up; anything else is retried, after Retry-After when given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from adapters.notify.config import WebhookConfig
from adapters.notify.document import (
    EVENT_TYPES,
    alert_document,
    diagnosis_document,
    receiver_id,
    retry_after,
)
from bot.errors import DeliveryError
from bot.model import AlertKind
from bot.notify import Notice

__all__ = ["MAX_BODY", "WebhookNotifier", "sign"]

MAX_BODY = 20_000
"""Bytes: the specification's recommended ceiling for a payload."""
_GIVE_UP = frozenset({400, 404, 405, 410, 413, 415, 422})
_KINDS = frozenset(
    {
        AlertKind.DOWN.value,
        AlertKind.CAUSE_CHANGED.value,
        AlertKind.REMINDER.value,
        AlertKind.RECOVERED.value,
        AlertKind.ACKNOWLEDGED.value,
        AlertKind.CERT_EXPIRING.value,
        "escalation",
    }
)


def sign(secret: bytes, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` of ``body`` sent as ``msg_id`` at ``timestamp``."""
    digest = hmac.new(secret, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookNotifier:
    name = "webhook"

    def __init__(self, config: WebhookConfig, *, timeout: float = 15.0) -> None:
        self.config = config
        self.timeout = timeout

    def wants(self, kind: str, *, escalates: bool) -> bool:
        return kind in _KINDS

    def render(self, notice: Notice) -> str:
        """The body, serialised once: what is signed is exactly what is sent. The diagnosis
        gets what the rest of the document leaves of :data:`MAX_BODY`."""
        kind = notice.alert.kind.value
        doc: dict[str, Any] = {
            "type": EVENT_TYPES.get(kind, f"monitor.{kind}"),
            "timestamp": notice.alert.at.isoformat(),
            "data": alert_document(notice.alert, kind, status_url=notice.status_url, budget=0),
        }
        doc["data"]["diagnosis"] = None
        rest = len(json.dumps(doc, separators=(",", ":")).encode())
        doc["data"]["diagnosis"] = diagnosis_document(notice.alert, budget=MAX_BODY - rest)
        return json.dumps(doc, separators=(",", ":"))

    async def send(self, notice: Notice) -> str:
        msg_id = receiver_id(notice.key)
        body = self.render(notice)
        timestamp = int(time.time())  # this attempt's: a retry is signed anew
        headers = {
            "content-type": "application/json",
            "user-agent": "check502",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.config.secret, msg_id, timestamp, body),
        }
        where = f"webhook at {self.config.host}"  # never the URL: its path may be a secret
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, follow_redirects=False, trust_env=False
            ) as client:
                response = await client.post(
                    self.config.url, content=body.encode(), headers=headers
                )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return msg_id
        if status in _GIVE_UP:
            raise DeliveryError(f"{where} refused the alert ({status})", permanent=True)
        raise DeliveryError(
            f"{where} answered {status}",
            retry_after=retry_after(response.headers.get("retry-after")),
        )
