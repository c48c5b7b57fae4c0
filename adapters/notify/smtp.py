"""Email: the alert as a plain-text diagnosis with a short HTML alternative, over SMTP.

Sent with aiosmtplib to ``CHECK502_SMTP_HOST``; STARTTLS is required by default (no silent
downgrade to plain text when a server does not offer it), and the server's certificate is
checked against the system's certificates or ``CHECK502_CA_BUNDLE``. Subject
``[check502] DOWN #12 shop.example.com — Origin down``. The ``Message-ID`` is derived from the
outbox key, so a message sent again after a crash has the same id (mail clients and archives
show it once), and an incident's follow-ups and recovery reply to its DOWN message
(``In-Reply-To``), so they thread together.

A 5xx answer (a recipient or sender refused, authentication failed) is given up; connection
failures, timeouts and 4xx answers are retried.
"""

from __future__ import annotations

import html
import ssl
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from adapters.cli.render import Style, render_diagnosis
from adapters.notify.config import EmailConfig
from adapters.notify.document import cause_title, host, receiver_id, summary
from adapters.present import REGION_HEADINGS, region_cells, region_table, regions_head
from bot.errors import DeliveryError
from bot.model import Alert, AlertKind
from bot.notify import Notice, target_key

__all__ = ["EmailNotifier", "message_id"]

_KINDS = frozenset(
    {
        AlertKind.DOWN.value,
        AlertKind.CAUSE_CHANGED.value,
        AlertKind.REMINDER.value,
        AlertKind.RECOVERED.value,
        AlertKind.CERT_EXPIRING.value,
        "escalation",
    }
)
_WORD = {
    AlertKind.DOWN.value: "DOWN",
    AlertKind.CAUSE_CHANGED.value: "STILL DOWN",
    AlertKind.REMINDER.value: "STILL DOWN",
    AlertKind.RECOVERED.value: "RECOVERED",
    AlertKind.CERT_EXPIRING.value: "CERTIFICATE",
    "escalation": "NOT ACKNOWLEDGED",
}


def message_id(key: str, sender: str) -> str:
    """``<check502.<outbox key>@<the sender's domain>>``: the same for the same outbox row."""
    domain = sender.rpartition("@")[2] or "check502.invalid"
    return f"<check502.{receiver_id(key).replace(':', '.')}@{domain}>"


def _regions_html(alert: Alert) -> str:
    """Each region's result as an HTML table (name, status, latency, IP, cause, counted)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in REGION_HEADINGS)
    rows = []
    for view in alert.regions:
        cells = "".join(f"<td>{html.escape(c)}</td>" for c in region_cells(view))
        if not view.counted:
            note = html.escape(f"(not counted: {view.note or 'no answer'})")
            cells += f"<td><em>{note}</em></td>"
        rows.append(f"<tr>{cells}</tr>")
    return (
        f"<p>{html.escape(regions_head(alert.regions))}</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>"
    )


def subject(alert: Alert) -> str:
    """``[check502] DOWN #12 shop.example.com — Origin down``."""
    kind = alert.kind.value
    head = f"[check502] {_WORD.get(kind, kind.upper())} #{alert.monitor_id} {host(alert)}"
    if alert.kind is AlertKind.RECOVERED:
        return head
    if alert.kind is AlertKind.CERT_EXPIRING and alert.days_left is not None:
        return f"{head} — expires in {alert.days_left} days"
    title = cause_title(alert)
    return f"{head} — {title}" if title else head


class EmailNotifier:
    name = "email"

    def __init__(self, config: EmailConfig, *, timeout: float = 20.0) -> None:
        self.config = config
        self.timeout = timeout

    def wants(self, kind: str, *, escalates: bool) -> bool:
        return kind in _KINDS

    def message(self, notice: Notice) -> EmailMessage:
        alert = notice.alert
        msg = EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = ", ".join(self.config.to)
        msg["Subject"] = subject(alert)
        msg["Date"] = formatdate(alert.at.timestamp(), usegmt=True)
        msg["Message-ID"] = message_id(notice.key, self.config.sender)
        if alert.kind is not AlertKind.DOWN and alert.incident_id is not None:
            first = message_id(
                target_key(self.name, f"down:{alert.incident_id}"), self.config.sender
            )
            msg["In-Reply-To"] = first
            msg["References"] = first
        line = summary(alert)
        text = [line, ""]
        if notice.status_url:
            text += [f"Status page: {notice.status_url}", ""]
        if alert.regions:
            text += [regions_head(alert.regions), *region_table(alert.regions), ""]
        if alert.diagnosis is not None and alert.kind is not AlertKind.RECOVERED:
            text.append(render_diagnosis(alert.diagnosis, Style(False, 78), json_hint=False))
        msg.set_content("\n".join(text).rstrip() + "\n")
        parts = [f"<p><strong>{html.escape(line)}</strong></p>"]
        if alert.regions:
            parts.append(_regions_html(alert))
        if alert.diagnosis is not None and alert.kind is not AlertKind.RECOVERED:
            verdict = alert.diagnosis.verdict
            steps = "".join(f"<li>{html.escape(s)}</li>" for s in verdict.next_steps[:5])
            if steps:
                parts.append(f"<p>Next steps:</p><ul>{steps}</ul>")
        if notice.status_url:
            href = html.escape(notice.status_url, quote=True)
            parts.append(f'<p><a href="{href}">Status page</a></p>')
        msg.add_alternative(
            "<!doctype html><html><body>" + "".join(parts) + "</body></html>", subtype="html"
        )
        return msg

    async def send(self, notice: Notice) -> str:
        msg = self.message(notice)
        config = self.config
        context = None
        if config.starttls:
            context = ssl.create_default_context(cafile=config.ca_bundle)
        try:
            await aiosmtplib.send(
                msg,
                hostname=config.host,
                port=config.port,
                username=config.user,
                password=config.password,
                start_tls=config.starttls,
                tls_context=context,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            permanent = all(500 <= r.code < 600 for r in exc.recipients)
            raise DeliveryError(
                f"SMTP server at {config.host} refused every recipient", permanent=permanent
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            raise DeliveryError(
                f"SMTP server at {config.host} answered {exc.code}", permanent=permanent
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server at {config.host}: {type(exc).__name__}") from None
        return str(msg["Message-ID"])
