"""A regional DOWN alert to each notification target, as its real receiver on loopback saw it:
the webhook's ``data.regions`` (signature verified), PagerDuty's ``custom_details.regions``,
and the email's text and HTML tables."""

from __future__ import annotations

import base64
import json

from adapters.notify.config import EmailConfig, PagerDutyConfig, WebhookConfig
from adapters.notify.pagerduty import PagerDutyNotifier
from adapters.notify.smtp import EmailNotifier
from adapters.notify.webhook import WebhookNotifier
from bot.model import Alert, AlertKind, Channel
from bot.notify import Notice
from tests.support.receivers import (
    ROUTING_KEY,
    WEBHOOK_SECRET,
    PagerDutyFake,
    SmtpServer,
    WebhookReceiver,
)
from tests.support.region_views import AT, regional_down
from tests.support.replies import diagnosis

CHANNEL = Channel("console", "local", "terminal")
SECRET = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_"))
EU = {
    "region": "eu",
    "status": 502,
    "latency_ms": 41.0,
    "ip": "198.51.100.7",
    "cause": "origin_down",
    "cause_title": "Origin down",
    "outcome": "502",
    "ok": False,
    "counted": True,
    "note": None,
}
AP = {
    "region": "ap",
    "status": None,
    "latency_ms": None,
    "ip": None,
    "cause": "unknown",
    "cause_title": "Cause unknown",
    "outcome": "no_answer",
    "ok": False,
    "counted": False,
    "note": "no answer from this region",
}


def notice(key: str) -> Notice:
    return Notice(key, CHANNEL, regional_down())


async def test_the_webhook_carries_each_regions_view() -> None:
    async with WebhookReceiver() as receiver:
        hook = WebhookNotifier(WebhookConfig(receiver.endpoint, SECRET))
        await hook.send(notice("webhook:down:41"))
        assert receiver.rejected == []
        [event] = receiver.events.values()
    eu, us, ap = event.body["data"]["regions"]
    assert eu == EU and ap == AP
    assert (us["region"], us["outcome"], us["counted"]) == ("us", "connect_refused", True)


def test_a_local_monitors_webhook_has_no_regions_key() -> None:
    hook = WebhookNotifier(WebhookConfig("http://127.0.0.1:9/h", SECRET))
    local = Alert(AlertKind.DOWN, AT, monitor_id=7, url="https://a.test/", diagnosis=diagnosis())
    doc = json.loads(hook.render(Notice("k", CHANNEL, local)))
    assert "regions" not in doc["data"]


async def test_pagerduty_details_list_each_regions_view() -> None:
    async with PagerDutyFake() as pd:
        pager = PagerDutyNotifier(PagerDutyConfig(ROUTING_KEY, pd.url))
        await pager.send(notice("pagerduty:down:41"))
        assert pd.refused == []
        details = pd.calls[0].body["payload"]["custom_details"]
    assert [r["region"] for r in details["regions"]] == ["eu", "us", "ap"]
    assert details["regions"][0] == EU and details["regions"][2] == AP


async def test_the_email_shows_the_regions_as_tables() -> None:
    with SmtpServer() as smtp:
        config = EmailConfig(
            host="127.0.0.1",
            port=smtp.port,
            sender="check502@alerts.test",
            to=("oncall@example.test",),
            ca_bundle=smtp.ca_file,
        )
        await EmailNotifier(config).send(notice("email:down:41"))
        [mail] = smtp.received
    text = mail.message.get_body(("plain",))
    html = mail.message.get_body(("html",))
    assert text is not None and html is not None
    plain = text.get_content()
    assert "Seen from 3 regions: 2 failing, 0 up, 1 not counted" in plain
    assert "eu     502             41 ms   198.51.100.7 Origin down" in plain
    assert "(not counted: no answer from this region)" in plain
    page = html.get_content()
    assert "<td>eu</td><td>502</td><td>41 ms</td><td>198.51.100.7</td>" in page
    assert "<em>(not counted: no answer from this region)</em>" in page
