"""Block Kit rendering: within Slack's limits whatever the diagnosis holds, and escaped.

Messages are checked with slack-sdk's own block models (the validators Slack's limits are
written into); hostile text (``<!channel>``, ``<@U1>``, ``&``, 10 k characters) comes from
hypothesis and from remote-controlled fields such as headers and error pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.render import (
    ACK,
    BLOCK_LIMIT,
    MESSAGE_BUDGET,
    MUTE,
    alert_message,
    annotated,
    esc,
    reply_message,
    resolved_message,
)
from bot.model import (
    Alert,
    AlertKind,
    Channel,
    CheckRecord,
    DiagnosisReply,
    ErrorReply,
    HistoryReply,
    IncidentRecord,
    ListReply,
    Monitor,
    TextReply,
)
from checks import Cause
from tests.support.replies import NOW, diagnosis, probe
from tests.support.replies import monitor as _monitor
from tests.support.slack_render_check import assert_valid_blocks, block_text

HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab <>&@!|*_`~\n#:/é🔥")) | st.characters(codec="utf-8"),
    max_size=5000,
)


def monitor(i: int, url: str | None = None) -> Monitor:
    return _monitor(i, Channel("slack", "T1", "C1"), url)


def within_limits(message: Any) -> None:
    assert message.blocks, "fell back to text: the blocks failed validation"
    assert_valid_blocks(message.blocks)
    assert len(message.blocks) <= BLOCK_LIMIT
    assert len(block_text(message.blocks)) <= MESSAGE_BUDGET + 2000
    assert len(message.text) <= 3000


@settings(max_examples=60, deadline=None)
@given(summary=HOSTILE, evidence=st.lists(HOSTILE, max_size=60), header=HOSTILE, url=HOSTILE)
def test_any_diagnosis_renders_within_slack_limits(
    summary: str, evidence: list[str], header: str, url: str
) -> None:
    public = probe(headers=(("Server", header), ("Via", header)))
    d = diagnosis(summary=summary, evidence=tuple(evidence), url=url, probes=(public,))
    for message in (
        reply_message(DiagnosisReply(d), rerun="https://shop.example.com/"),
        reply_message(DiagnosisReply(d, monitor_id=7)),
        alert_message(Alert(AlertKind.DOWN, NOW, 7, url, 1, d)),
        resolved_message(
            Alert(AlertKind.DOWN, NOW, 7, url, 1, d),
            Alert(AlertKind.RECOVERED, NOW, 7, url, 1, d, down_since=NOW - timedelta(minutes=5)),
        ),
    ):
        within_limits(message)
        seen = block_text(message.blocks)
        # Remote text cannot mention anyone: every < it held arrives escaped.
        for raw in (summary, header, url, *evidence):
            if "<" in raw:
                assert esc(raw)[:50] in seen or "…" in seen


def test_long_evidence_is_trimmed_with_a_count_not_refused() -> None:
    evidence = tuple(f"line {i}: " + "x" * 200 for i in range(500))
    message = reply_message(DiagnosisReply(diagnosis(evidence=evidence)))
    within_limits(message)
    text = block_text(message.blocks)
    assert "line 0:" in text and "more" in text and "line 499:" not in text


def test_remote_mentions_are_escaped_in_blocks_and_fallback_text() -> None:
    d = diagnosis(
        summary="<!channel> <@U123> & co",
        probes=(probe(headers=(("Server", "<!here>"),)),),
    )
    message = alert_message(Alert(AlertKind.DOWN, NOW, 3, "https://x/<!channel>", 1, d))
    within_limits(message)
    for text in (block_text(message.blocks), message.text):
        assert "<!channel>" not in text and "<@U123>" not in text and "<!here>" not in text
    assert "&lt;!channel&gt; &lt;@U123&gt; &amp; co" in block_text(message.blocks)


def test_a_grouped_alert_of_two_hundred_monitors_fits() -> None:
    alerts = tuple(
        Alert(AlertKind.DOWN, NOW, i, f"https://s{i}.example.com/" + "p" * 100, i, diagnosis())
        for i in range(200)
    )
    message = alert_message(Alert(AlertKind.GROUPED, NOW, grouped=alerts))
    within_limits(message)
    text = block_text(message.blocks)
    assert "200 monitors" in text and "#0" in text and "more" in text


def test_a_list_of_a_hundred_monitors_and_a_long_history_fit() -> None:
    within_limits(reply_message(ListReply(tuple(monitor(i) for i in range(100)))))
    checks = tuple(
        CheckRecord(NOW, i % 2 == 0, "502", 12.0, "198.51.100.7", Cause.ORIGIN_DOWN)
        for i in range(500)
    )
    incidents = tuple(
        IncidentRecord(i, NOW, None, Cause.TIMEOUT, NOW, NOW, "U1") for i in range(200)
    )
    history = HistoryReply(monitor(1), checks, 0.5, 0.9, 10.0, 20.0, 500, incidents)
    within_limits(reply_message(history))


def test_help_and_errors_are_escaped() -> None:
    help_message = reply_message(TextReply("Usage: /check502 watch <url> & more"))
    within_limits(help_message)
    assert "watch &lt;url&gt; &amp; more" in block_text(help_message.blocks)
    error = reply_message(ErrorReply("Not watching <http://10.0.0.1>: private"))
    assert error.blocks == [] and error.text == "✗ Not watching &lt;http://10.0.0.1&gt;: private"


def test_a_click_note_replaces_the_button_and_keeps_the_rest() -> None:
    message = alert_message(Alert(AlertKind.DOWN, NOW, 3, "https://x/", 1, diagnosis()))
    after = annotated(message.blocks, "✋ Acknowledged by <@U1>", drop=[ACK])
    assert_valid_blocks(after)
    names = [e["action_id"] for b in after if b["type"] == "actions" for e in b["elements"]]
    assert ACK not in names and MUTE in names
    assert "Acknowledged by <@U1>" in block_text(after)
    assert len(after) == len(message.blocks) + 1
