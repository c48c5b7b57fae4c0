"""Pings on every surface stay within each platform's limits, however many monitors go down."""

from __future__ import annotations

import pytest

from adapters.discord.render import CONTENT_LIMIT, allowed_mentions
from adapters.discord.render import alert_message as discord_message
from adapters.slack.render import alert_message as slack_message
from adapters.telegram.render import TEXT_LIMIT, length
from adapters.telegram.render import alert_message as telegram_message
from bot.commands import Mention, MentionKind
from bot.model import MAX_PINGS, Alert, AlertKind
from tests.support.replies import NOW, diagnosis
from tests.support.slack_render_check import assert_valid_blocks
from tests.support.telegram_fake import parse_html


def _grouped(kind: MentionKind, make: str) -> Alert:
    """100 monitors down at once, each naming 10 people of its own."""
    alerts = tuple(
        Alert(
            AlertKind.DOWN,
            NOW,
            i,
            f"https://s{i}.example.com/",
            i,
            diagnosis(),
            mentions=tuple(Mention(kind, make.format(i * 10 + j)) for j in range(10)),
        )
        for i in range(100)
    )
    return Alert(AlertKind.GROUPED, NOW, grouped=alerts)


def test_a_grouped_alert_pings_at_most_max_pings_people() -> None:
    grouped = _grouped(MentionKind.DISCORD_USER, "1{:017d}")
    assert len(grouped.pings) == MAX_PINGS
    msg = discord_message(grouped)
    assert msg.content is not None and len(msg.content) <= CONTENT_LIMIT
    assert msg.content.count("<@") == MAX_PINGS
    assert len(allowed_mentions(grouped).to_dict()["users"]) == MAX_PINGS

    slack = slack_message(_grouped(MentionKind.SLACK_USER, "U{:08d}"))
    assert_valid_blocks(slack.blocks)
    assert slack.text.count("<@U") == MAX_PINGS

    telegram = telegram_message(_grouped(MentionKind.NAME, "user{:05d}"))
    assert length(telegram.text) <= TEXT_LIMIT
    text, _ = parse_html(telegram.text)
    assert text.startswith("@user00000 @user00001")


@pytest.mark.parametrize("render", [discord_message, slack_message, telegram_message])
def test_an_escalation_says_how_long_and_how_to_ack(render: object) -> None:
    alert = Alert(
        AlertKind.ESCALATION,
        NOW,
        7,
        "https://shop.example.com/",
        3,
        diagnosis(),
        mentions=(Mention(MentionKind.NAME, "alice"),),
        escalate=900,
    )
    msg = render(alert)  # type: ignore[operator]
    shown = " ".join(
        str(x)
        for x in (
            getattr(msg, "text", ""),
            getattr(msg, "content", ""),
            getattr(getattr(msg, "embed", None), "description", ""),
        )
    )
    assert "not acknowledged for 15m" in shown and "ack 7" in shown
