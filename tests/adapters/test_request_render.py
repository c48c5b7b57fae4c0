"""SLOW alerts, keyword outcomes and monitors' request options on every surface (console,
Slack, Discord, Telegram): the same values, each surface's own format."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from adapters.cli.render import Style, render_diagnosis
from adapters.console.render import render_alert, render_monitor_line
from adapters.discord import render as discord_render
from adapters.present import CAUSE_TITLE, headline, incident_title
from adapters.slack import render as slack_render
from adapters.telegram import render as telegram_render
from bot.model import Alert, AlertKind, Channel, IncidentRecord
from checks import Auth, Cause, Finding, RequestSpec, Verdict
from tests.support.replies import NOW, diagnosis, probe
from tests.support.replies import monitor as _monitor

SPEC = RequestSpec(
    method="POST",
    body='{"a":1}',
    auth=Auth("bearer", ("API_TOKEN",)),
    keyword="ok",
    slow_ms=800,
)
OK = Verdict(Cause.OK, None, None, 0.95, "answered 200.", (), (), ())


def _found(finding: Finding, *, total: float = 120.0) -> object:
    answered = probe(status=200, reason="OK", findings=(finding,))
    answered = dataclasses.replace(
        answered, timings=dataclasses.replace(answered.timings, total=total)
    )
    return dataclasses.replace(
        diagnosis(probes=(answered,)), verdict=OK, findings=(finding,), request=SPEC
    )


def _text(surface: str, alert: Alert) -> str:
    if surface == "console":
        return render_alert(alert, Style(False))
    if surface == "slack":
        message = slack_render.alert_message(alert)
        return message.text + repr(message.blocks)
    if surface == "discord":
        message = discord_render.alert_message(alert)
        embed = message.embed
        assert embed is not None
        if alert.slow and alert.kind is AlertKind.DOWN:
            assert embed.colour is not None and embed.colour.value == discord_render.SLOW_YELLOW
        return f"{embed.title} {embed.description} {[f.value for f in embed.fields]}"
    return telegram_render.alert_message(alert).text


SURFACES = ("console", "slack", "discord", "telegram")


@pytest.mark.parametrize("surface", SURFACES)
def test_a_slow_alert_reads_slow_not_down(surface: str) -> None:
    d = _found(Finding.SLOW, total=1234.0)
    slow = Alert(AlertKind.DOWN, NOW, 7, "https://api.example.com/", 1, d, incident_kind="slow")  # type: ignore[arg-type]
    text = _text(surface, slow)
    assert "SLOW" in text and "DOWN" not in text
    assert "over 800 ms" in text
    down = _text(surface, dataclasses.replace(slow, incident_kind="down"))
    assert "DOWN" in down and "SLOW" not in down
    recovered = Alert(
        AlertKind.RECOVERED,
        NOW,
        7,
        "https://api.example.com/",
        1,
        d,  # type: ignore[arg-type]
        down_since=NOW - timedelta(minutes=5),
        incident_kind="slow",
    )
    assert "5m slow" in _text(surface, recovered)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_keyword_failure_is_named_not_a_502_cause(surface: str) -> None:
    d = _found(Finding.KEYWORD_MISSING)
    text = _text(surface, Alert(AlertKind.DOWN, NOW, 7, "https://api.example.com/", 1, d))  # type: ignore[arg-type]
    assert "Keyword missing" in text and "Cause unknown" not in text


def test_the_headline_of_a_one_off_check_names_the_finding() -> None:
    assert headline(_found(Finding.KEYWORD_PRESENT)).startswith("⚠️ Keyword present · ")  # type: ignore[arg-type]


LINES: dict[str, Callable[..., str]] = {
    "console": lambda m: render_monitor_line(m, Style(False)),
    "slack": slack_render.monitor_line,
    "discord": discord_render.monitor_line,
    "telegram": telegram_render.monitor_line,
}


@pytest.mark.parametrize("surface", SURFACES)
def test_list_shows_the_request_with_the_variable_name(surface: str) -> None:
    m = dataclasses.replace(
        _monitor(3, Channel("console", "w", "c"), "https://api.example.com/"),
        state="slow",
        request=SPEC,
        follow=False,
    )
    line = LINES[surface](m).replace("\\_", "_")  # Discord escapes markdown's _
    assert "SLOW" in line
    for shown in ("POST", "bearer $API_TOKEN", "ok", "800 ms", "redirects not followed"):
        assert shown in line
    assert "hunter2" not in line


def test_history_and_the_status_page_name_a_slow_incident() -> None:
    slow = IncidentRecord(1, NOW, None, Cause.OK, NOW, NOW, None, kind="slow")
    assert incident_title(slow) == "Slow"
    down = dataclasses.replace(slow, kind="down", cause=Cause.ORIGIN_DOWN)
    assert incident_title(down) == CAUSE_TITLE[Cause.ORIGIN_DOWN]


def test_the_console_and_cli_mark_a_keyword_failure_not_healthy() -> None:
    text = render_diagnosis(_found(Finding.KEYWORD_MISSING), Style(False))  # type: ignore[arg-type]
    assert text.startswith("✗ keyword missing") and "healthy" not in text.splitlines()[0]
