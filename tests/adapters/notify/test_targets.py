"""Each notification target against its real receiver on loopback.

The webhook's signature is checked by the Standard Webhooks reference library; the PagerDuty
fake answers as the Events API v2 documents; the SMTP server (aiosmtpd) requires STARTTLS with
a trustme certificate. What is asserted is what the receiver saw.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.notify.config import EmailConfig, PagerDutyConfig, WebhookConfig
from adapters.notify.document import diagnosis_document
from adapters.notify.pagerduty import PagerDutyNotifier
from adapters.notify.smtp import EmailNotifier
from adapters.notify.webhook import MAX_BODY, WebhookNotifier
from bot.errors import DeliveryError
from bot.model import Alert, AlertKind, Channel
from bot.notify import Notice
from tests.support.receivers import (
    ROUTING_KEY,
    WEBHOOK_SECRET,
    PagerDutyFake,
    SmtpServer,
    WebhookReceiver,
)
from tests.support.replies import diagnosis, probe

CHANNEL = Channel("console", "local", "terminal")
AT = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
DOWN = Alert(
    AlertKind.DOWN,
    AT,
    monitor_id=7,
    url="https://shop.example.com/cart",
    incident_id=41,
    diagnosis=diagnosis(),
    down_since=AT - timedelta(seconds=60),
)
SECRET = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))


def notice(alert: Alert = DOWN, key: str = "x:down:41", status_url: str | None = None) -> Notice:
    return Notice(key, CHANNEL, alert, status_url=status_url)


# --- webhook ----------------------------------------------------------------------------------


async def test_webhook_is_signed_as_the_reference_library_verifies() -> None:
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, SECRET))
        ref = await hook.send(notice(key="webhook:cause:41:1800000000.5"))
        assert receiver.rejected == []
        [got] = receiver.calls
        assert got.id == ref == "webhook:cause:41:1800000000_5"  # the key; no dot (the spec)
        assert got.type == "monitor.down"
        data = got.body["data"]
        assert data["monitor"] == {"id": 7, "url": "https://shop.example.com/cart",
                                   "host": "shop.example.com"}  # fmt: skip
        assert data["incident"]["id"] == 41 and data["incident"]["severity"] == "critical"
        assert data["diagnosis"]["verdict"]["cause"] == "origin_down"  # as check502 --json
        assert data["diagnosis"]["probes"][0]["status"] == 502


async def test_a_wrong_secret_is_refused_by_the_receiver() -> None:
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, b"another key of 24 bytes!"))
        with pytest.raises(DeliveryError) as failed:
            await hook.send(notice())
        assert not failed.value.permanent  # 401: the operator may be rotating the secret
        assert receiver.calls == [] and len(receiver.rejected) == 1


async def test_a_webhook_retry_keeps_its_id_and_is_signed_anew() -> None:
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, SECRET))
        receiver.fail(503, 1)
        with pytest.raises(DeliveryError) as failed:
            await hook.send(notice())
        assert not failed.value.permanent
        await hook.send(notice())
        await hook.send(notice())  # delivered twice (a lost answer): one event for the receiver
        assert [c.id for c in receiver.calls] == ["x:down:41", "x:down:41"]
        assert list(receiver.events) == ["x:down:41"]


@pytest.mark.parametrize(("status", "permanent"), [(410, True), (400, True), (429, False),
                                                   (500, False), (302, False)])  # fmt: skip
async def test_webhook_statuses_given_up_or_retried(status: int, permanent: bool) -> None:
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, SECRET))
        receiver.fail(status, 1)
        with pytest.raises(DeliveryError) as failed:
            await hook.send(notice())
        assert failed.value.permanent is permanent
        assert receiver.endpoint not in str(failed.value)  # the URL may carry a token


@pytest.mark.parametrize("probes", [1, 12, 15, 16, 18, 40, 400])
@pytest.mark.parametrize("url_length", [20, 4000])
def test_a_huge_diagnosis_is_trimmed_under_20_kb(probes: int, url_length: int) -> None:
    """Bodies of 50 KB on 1 to 400 probes, under a short or a 4,000-character URL."""
    huge = diagnosis(probes=tuple(probe(body_excerpt="x" * 50_000) for _ in range(probes)))
    url = "https://shop.example.com/" + "a" * url_length
    hook = WebhookNotifier(WebhookConfig("http://127.0.0.1:9/h", SECRET))
    body = hook.render(notice(replace(DOWN, diagnosis=huge, url=url)))
    assert len(body.encode()) <= MAX_BODY
    data = json.loads(body)["data"]
    assert data["monitor"]["url"] == url
    assert data["diagnosis"]["trimmed"]
    assert data["diagnosis"]["verdict"]["cause"] == "origin_down"


@pytest.mark.parametrize(
    ("probes", "trimmed", "kept"),
    [(1, None, 50_000), (15, "bodies cut", 512), (18, "bodies dropped", 0),
     (40, "probes dropped", None)],
)  # fmt: skip
def test_the_diagnosis_loses_bodies_then_probes_as_the_budget_asks(
    probes: int, trimmed: str | None, kept: int | None
) -> None:
    huge = diagnosis(probes=tuple(probe(body_excerpt="x" * 50_000) for _ in range(probes)))
    budget = 18_000 if probes > 1 else 60_000
    doc = diagnosis_document(replace(DOWN, diagnosis=huge), budget=budget)
    assert doc is not None
    assert len(json.dumps(doc, separators=(",", ":"))) <= budget
    assert doc.get("trimmed") == trimmed
    if kept is None:
        assert "probes" not in doc and doc["verdict"]["cause"] == "origin_down"
    else:
        assert len(doc["probes"]) == probes
        assert all(len(p["body_excerpt"] or "") == kept for p in doc["probes"])
    tiny = diagnosis_document(replace(DOWN, diagnosis=huge), budget=100)
    assert tiny is None  # not even the verdict fits: no diagnosis rather than a broken one


async def test_a_trimmed_diagnosis_is_still_verified_by_the_receiver() -> None:
    huge = diagnosis(probes=tuple(probe(body_excerpt="é" * 50_000) for _ in range(3)))
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, SECRET))
        await hook.send(notice(replace(DOWN, diagnosis=huge)))
        assert receiver.rejected == [] and len(receiver.calls) == 1


# --- PagerDuty --------------------------------------------------------------------------------


async def test_pagerduty_trigger_acknowledge_resolve_on_one_dedup_key() -> None:
    async with PagerDutyFake() as pd:
        pager = PagerDutyNotifier(PagerDutyConfig(ROUTING_KEY, pd.url))
        status = "https://bot.example.com/status/tok"
        assert await pager.send(notice(status_url=status)) == "check502-41"
        await pager.send(notice())  # a retry after a lost answer: the same alert
        ack = Alert(AlertKind.ACKNOWLEDGED, AT, monitor_id=7, url=DOWN.url, incident_id=41,
                    detail="ana")  # fmt: skip
        await pager.send(notice(ack))
        resolved = Alert(AlertKind.RESOLVED, AT, monitor_id=7, url=DOWN.url, incident_id=41)
        await pager.send(notice(resolved))
        assert pd.refused == []
        assert pd.opened == 1
        assert pd.actions("check502-41") == ["trigger", "trigger", "acknowledge", "resolve"]
        assert pd.alerts["check502-41"].state == "resolved"
        trigger = pd.calls[0].body
        payload = trigger["payload"]
        assert payload["source"] == "shop.example.com" and payload["severity"] == "critical"
        assert payload["summary"].startswith("DOWN #7 shop.example.com — Origin down")
        assert payload["custom_details"]["diagnosis"]["verdict"]["cause"] == "origin_down"
        assert trigger["links"] == [{"href": status, "text": "Status page"}]
        assert "links" not in pd.calls[1].body  # no status page, no link


async def test_pagerduty_summary_fits_1024() -> None:
    long = diagnosis(summary="nginx said so. " * 200)
    async with PagerDutyFake() as pd:
        pager = PagerDutyNotifier(PagerDutyConfig(ROUTING_KEY, pd.url))
        await pager.send(notice(replace(DOWN, diagnosis=long)))
        assert len(pd.calls[0].body["payload"]["summary"]) == 1024


async def test_pagerduty_400_is_given_up_and_429_retried_after_its_wait() -> None:
    async with PagerDutyFake() as pd:
        wrong = PagerDutyNotifier(PagerDutyConfig("X" * 32, pd.url))
        with pytest.raises(DeliveryError) as refused:
            await wrong.send(notice())
        assert refused.value.permanent and "Invalid routing key" in str(refused.value)
        assert "X" * 32 not in str(refused.value)
        pd.throttle(1, retry_after=7)
        pager = PagerDutyNotifier(PagerDutyConfig(ROUTING_KEY, pd.url))
        with pytest.raises(DeliveryError) as throttled:
            await pager.send(notice())
        assert not throttled.value.permanent and throttled.value.retry_after == 7


def test_pagerduty_triggers_on_escalation_when_the_monitor_escalates() -> None:
    pager = PagerDutyNotifier(PagerDutyConfig(ROUTING_KEY))
    assert pager.wants("down", escalates=False)
    assert not pager.wants("escalation", escalates=False)
    assert pager.wants("escalation", escalates=True)
    assert not pager.wants("down", escalates=True)
    for kind in ("acknowledged", "resolved"):
        assert pager.wants(kind, escalates=True) and pager.wants(kind, escalates=False)
    for kind in ("reminder", "cause_changed", "recovered"):
        assert not pager.wants(kind, escalates=False)


# --- email ------------------------------------------------------------------------------------


def email_config(smtp: SmtpServer, **overrides: object) -> EmailConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "sender": "check502@alerts.test",
        "to": ("oncall@example.test",),
        "ca_bundle": smtp.ca_file,
    }
    values.update(overrides)
    return EmailConfig(**values)  # type: ignore[arg-type]


async def test_email_over_starttls_with_text_and_html() -> None:
    with SmtpServer() as smtp:
        mailer = EmailNotifier(email_config(smtp))
        ref = await mailer.send(notice(key="email:down:41", status_url="https://b.test/status/t"))
        [mail] = smtp.received
        assert mail.tls and mail.rcpt_tos == ["oncall@example.test"]
        assert mail.id == ref == "<check502.email.down.41@alerts.test>"
        assert mail.message["Subject"] == "[check502] DOWN #7 shop.example.com — Origin down"
        text = mail.message.get_body(("plain",))
        html = mail.message.get_body(("html",))
        assert text is not None and html is not None
        plain = text.get_content()
        assert "502" in plain and "nginx could not reach the origin." in plain
        assert "https://b.test/status/t" in plain
        assert "<strong>DOWN #7 shop.example.com" in html.get_content()

        recovered = Alert(AlertKind.RECOVERED, AT, monitor_id=7, url=DOWN.url, incident_id=41,
                          down_since=AT - timedelta(minutes=5))  # fmt: skip
        await mailer.send(notice(recovered, key="email:recovered:41"))
        reply = smtp.received[1].message
        assert reply["Subject"] == "[check502] RECOVERED #7 shop.example.com"
        assert reply["In-Reply-To"] == ref  # threads under the DOWN message


async def test_email_never_falls_back_to_plain_text() -> None:
    with SmtpServer() as smtp:
        plain = EmailNotifier(email_config(smtp, starttls=False))
        with pytest.raises(DeliveryError) as refused:
            await plain.send(notice())
        assert refused.value.permanent  # 530 Must issue a STARTTLS command first
        untrusted = EmailNotifier(email_config(smtp, ca_bundle=None))
        with pytest.raises(DeliveryError) as failed:
            await untrusted.send(notice())
        assert not failed.value.permanent
        assert smtp.received == []


def test_webhook_payload_is_json_with_the_documented_envelope() -> None:
    hook = WebhookNotifier(WebhookConfig("http://127.0.0.1:9/h", SECRET))
    doc = json.loads(hook.render(notice()))
    assert set(doc) == {"type", "timestamp", "data"}
    assert datetime.fromisoformat(doc["timestamp"]) == AT
    assert set(doc["data"]) == {"monitor", "incident", "status_page", "diagnosis"}


async def test_a_webhook_that_never_answers_fails_within_its_timeout() -> None:
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, SECRET), timeout=0.5)
        receiver.hold()
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeliveryError) as failed:
            await hook.send(notice())
        assert asyncio.get_running_loop().time() - started < 0.5 + 0.5
        assert not failed.value.permanent and "Timeout" in str(failed.value)
        receiver.release()
