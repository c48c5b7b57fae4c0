"""The fakes judge mentions as the platforms do: Discord's allowed_mentions, Slack's syntax."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.discord_fake import allowed_mentions_errors, message_errors, pinged
from tests.support.slack_fake import notified

U, R = "140000000000000004", "160000000000000006"


@pytest.mark.parametrize(
    ("allowed", "field"),
    [
        ({"parse": ["users"], "users": [U]}, "users"),  # both parsed and listed
        ({"parse": ["roles"], "roles": [R]}, "roles"),
        ({"parse": ["channel"]}, "parse"),
        ({"users": [str(i) * 18 for i in range(1, 10)] * 12}, "users"),  # 108 > 100
        ({"users": ["alice"]}, "users"),
        ({"replied_user": "yes"}, "replied_user"),
    ],
)
def test_discord_refuses_a_bad_allowed_mentions(allowed: dict[str, Any], field: str) -> None:
    assert field in allowed_mentions_errors(allowed)
    refused = message_errors({"content": "x", "allowed_mentions": allowed})
    assert refused is not None and refused["code"] == 50035


def test_discord_pings_what_content_and_allowed_mentions_both_name() -> None:
    content = f"<@{U}> <@!{U}> <@&{R}> @everyone <@&170000000000000007>"
    assert pinged({"content": content, "allowed_mentions": {"parse": []}}) == ([], [], False)
    listed = {"parse": [], "users": [U], "roles": [R]}
    assert pinged({"content": content, "allowed_mentions": listed}) == ([U], [R], False)
    # No allowed_mentions: Discord parses everything.
    assert pinged({"content": content}) == ([U], [R, "170000000000000007"], True)
    # Mentions in an embed ping no one.
    assert pinged({"embeds": [{"description": f"<@{U}>"}]}) == ([], [], False)


def test_slack_notifies_from_text_and_mrkdwn_only() -> None:
    body = {
        "text": "<@U1|ana> &lt;@U2&gt; @U3",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "<!subteam^S1|@ops> <!here>"}},
            {"type": "header", "text": {"type": "plain_text", "text": "<@U4>"}},
        ],
    }
    assert notified(body) == {"U1", "S1", "!here"}
