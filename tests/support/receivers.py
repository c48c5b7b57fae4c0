"""Real receivers of the notification targets, on 127.0.0.1: a webhook consumer, PagerDuty's
Events API v2, an SMTP server with STARTTLS.

* :class:`WebhookReceiver` (aiohttp) verifies each request with the Standard Webhooks
  reference library (``standardwebhooks.Webhook.verify``: signature, timestamp tolerance) and
  records it by ``webhook-id``, as a consumer that de-duplicates would: :attr:`events` holds
  each id once, :attr:`attempts` every accepted request. It can answer a status for a while
  (:meth:`fail`) to play a receiver that is down.
* :class:`PagerDutyFake` follows the Events API v2's documented rules: 202 with the
  ``dedup_key`` for a valid event; 400 with ``errors`` for a missing ``routing_key``, a bad
  ``event_action``, a trigger without ``payload.summary``/``source``/a valid ``severity``,
  a summary over 1024 characters, an acknowledge or resolve without ``dedup_key``; 429 on
  demand (:meth:`throttle`). It keeps each alert's state by ``dedup_key``: a repeated trigger
  of an open alert updates it, it does not open another (:attr:`opened` counts alerts opened).
* :class:`SmtpServer` (aiosmtpd in its own thread) requires STARTTLS with a trustme
  certificate (:attr:`ca_file` for the client) and records messages by ``Message-ID``.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import trustme
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.gateways import free_port
from tests.support.loopback import LoopbackFake

WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, for tests only
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Hook:
    """One verified webhook request."""

    id: str
    timestamp: str
    body: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.body["type"])


class WebhookReceiver(LoopbackFake[Hook]):
    """A webhook consumer that verifies as the reference library does and de-duplicates."""

    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        super().__init__()
        self.verifier = Webhook(secret)
        self.events: dict[str, Hook] = {}
        """Each ``webhook-id`` once: what a de-duplicating consumer acts on."""
        self.rejected: list[str] = []
        self.refusals = 0
        """Requests answered with a :meth:`fail` status."""
        self._failing: list[int] = []
        self.held = asyncio.Event()
        """Set when a request is held (:meth:`hold`)."""
        self._hold = False
        self._release = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/check502", self._post)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/hooks/check502"

    def fail(self, status: int, times: int) -> None:
        """Answer ``status`` to the next ``times`` requests (a receiver down for a while)."""
        self._failing = [status] * times

    def hold(self) -> None:
        """Hold the next request, unanswered, until :meth:`release`; then refuse it (503): a
        receiver that hangs while the sender dies."""
        self._hold = True
        self.held.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def recover(self) -> None:
        """Accept again from the next request."""
        self._failing = []

    def of(self, key: str) -> list[Hook]:
        """Accepted requests of type ``key`` (``monitor.down``), retries included."""
        return [c for c in self.calls if c.type == key]

    def describe(self, call: Hook) -> str:
        return f"{call.type} {call.id}"

    def types(self) -> list[str]:
        """The event types acted on, once per ``webhook-id``, in arrival order."""
        return [hook.type for hook in self.events.values()]

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.text()
        if self._hold:
            self._hold = False
            self.held.set()
            await self._release.wait()
            return web.Response(status=503, text="gone away")
        if self._failing:
            self.refusals += 1
            self.changed()
            return web.Response(status=self._failing.pop(0), text="down for a while")
        try:
            parsed = self.verifier.verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            self.changed()
            return web.Response(status=401, text="bad signature")
        hook = Hook(
            request.headers["webhook-id"], request.headers["webhook-timestamp"], dict(parsed)
        )
        self.record(hook)
        self.events.setdefault(hook.id, hook)
        return web.Response(status=204)


@dataclass
class PdEvent:
    """One accepted Events API v2 request."""

    action: str
    dedup_key: str
    body: dict[str, Any]


@dataclass
class PdAlert:
    state: str = "triggered"
    events: list[str] = field(default_factory=list)


class PagerDutyFake(LoopbackFake[PdEvent]):
    """``POST /v2/enqueue`` as the Events API v2 documents it."""

    def __init__(self, routing_key: str = ROUTING_KEY) -> None:
        super().__init__()
        self.routing_key = routing_key
        self.alerts: dict[str, PdAlert] = {}
        self.opened = 0
        """Alerts opened (a trigger of a key with no open alert)."""
        self.refused: list[dict[str, Any]] = []
        self.throttled = 0
        """Events answered 429."""
        self._throttle: list[float] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    def throttle(self, times: int, retry_after: float = 1.0) -> None:
        """Answer 429 (with Retry-After) to the next ``times`` events."""
        self._throttle = [retry_after] * times

    def of(self, key: str) -> list[PdEvent]:
        return [c for c in self.calls if c.action == key]

    def describe(self, call: PdEvent) -> str:
        return f"{call.action} {call.dedup_key}"

    def actions(self, dedup_key: str) -> list[str]:
        alert = self.alerts.get(dedup_key)
        return [] if alert is None else alert.events

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return self._bad(["Malformed JSON"], {})
        if not isinstance(body, dict):
            return self._bad(["Event object is invalid"], {})
        if self._throttle:
            wait = self._throttle.pop(0)
            self.throttled += 1
            self.changed()
            return web.json_response(
                {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving"
                    " too quickly.  Please retry later.",
                },
                status=429,
                headers={"Retry-After": f"{wait:g}"},
            )
        errors = self._errors(body)
        if errors:
            return self._bad(errors, body)
        action = body["event_action"]
        key = body.get("dedup_key") or f"pd-{len(self.alerts) + 1}"
        alert = self.alerts.get(key)
        if action == "trigger":
            if alert is None or alert.state == "resolved":
                self.opened += 1
                alert = self.alerts[key] = PdAlert()
            alert.events.append("trigger")
        elif alert is not None and alert.state != "resolved":
            alert.state = "acknowledged" if action == "acknowledge" else "resolved"
            alert.events.append(action)
        self.record(PdEvent(action, key, body))
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )

    def _errors(self, body: dict[str, Any]) -> list[str]:
        errors = []
        key = body.get("routing_key")
        if not key:
            errors.append("'routing_key' is missing or blank")
        elif key != self.routing_key:
            errors.append("Invalid routing key")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        dedup = body.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is missing or blank")
        if action == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                return [*errors, "'payload' is missing or blank"]
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary:
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
            if not payload.get("source"):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (expected one of critical, error,"
                    " warning or info)"
                )
            for link in body.get("links") or []:
                if not isinstance(link, dict) or not link.get("href"):
                    errors.append("'links' entries need an href")
        return errors

    def _bad(self, errors: list[str], body: dict[str, Any]) -> web.Response:
        self.refused.append(body)
        self.changed()
        return web.json_response(
            {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
            status=400,
        )


@dataclass
class Mail:
    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    tls: bool

    @property
    def id(self) -> str:
        return str(self.message["Message-ID"])


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        mail = Mail(
            message, str(envelope.mail_from), list(envelope.rcpt_tos), session.ssl is not None
        )
        self.server.received.append(mail)
        self.server.messages.setdefault(mail.id, mail)
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS, with a trustme certificate for 127.0.0.1."""

    def __init__(self, *, require_starttls: bool = True) -> None:
        self.received: list[Mail] = []
        """Every message, a repeat included."""
        self.messages: dict[str, Mail] = {}
        """Each Message-ID once."""
        self._dir = tempfile.TemporaryDirectory()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.port = free_port()
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=require_starttls,
            ready_timeout=10.0,
        )

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.controller.stop()
        self._dir.cleanup()

    def subjects(self) -> list[str]:
        return [str(m.message["Subject"]) for m in self.messages.values()]


def notify_env(webhook: WebhookReceiver, pd: PagerDutyFake, smtp: SmtpServer) -> dict[str, str]:
    """The variables that point every target at these receivers."""
    return {
        "CHECK502_WEBHOOK_URL": webhook.endpoint,
        "CHECK502_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CHECK502_PAGERDUTY_ROUTING_KEY": pd.routing_key,
        "CHECK502_PAGERDUTY_URL": pd.url,
        "CHECK502_SMTP_HOST": "127.0.0.1",
        "CHECK502_SMTP_PORT": str(smtp.port),
        "CHECK502_SMTP_FROM": "check502@alerts.test",
        "CHECK502_SMTP_TO": "oncall@example.test,team@example.test",
        "CHECK502_CA_BUNDLE": smtp.ca_file,
    }
