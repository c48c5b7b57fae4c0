"""The region notices on every chat surface: which region, and that it is no outage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.console.render import Style, render_alert
from adapters.discord.render import alert_message as discord_message
from adapters.slack.render import alert_message as slack_message
from adapters.telegram.render import alert_message as telegram_message
from bot.codec import alert_from_dict, alert_to_dict
from bot.model import Alert, AlertKind

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _texts(alert: Alert) -> list[str]:
    embed = discord_message(alert).embed
    assert embed is not None
    return [
        render_alert(alert, Style(False)),
        slack_message(alert).text,
        f"{embed.title} {embed.description}",
        telegram_message(alert).text,
    ]


@pytest.mark.parametrize("kind", [AlertKind.REGION_DEGRADED, AlertKind.REGION_RESTORED])
def test_every_surface_names_the_region(kind: AlertKind) -> None:
    alert = Alert(kind, NOW, detail="ap-south-1")
    assert alert_from_dict(alert_to_dict(alert)) == alert  # kept in the outbox as JSON
    for text in _texts(alert):
        assert "ap-south-1" in text
        if kind is AlertKind.REGION_DEGRADED:
            assert "stopped answering" in text and "not an outage" in text
        else:
            assert "answers again" in text
