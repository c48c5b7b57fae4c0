"""Discord rendering: within Discord's embed limits whatever the diagnosis holds, and escaped.

Discord refuses a message (HTTP 400) over its limits: 256 a title, 4,096 the description, 25
fields of 1,024, 6,000 characters in all; 2,000 for ``content``. Hostile text comes from
hypothesis and from remote-controlled fields such as headers and error pages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import discord
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adapters.discord.app import ActionButton, view_for
from adapters.discord.render import (
    EMBED_LIMIT,
    GREEN,
    Message,
    alert_message,
    annotated,
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
from checks import Cause, Diagnosis
from tests.support.replies import NOW, probe
from tests.support.replies import diagnosis as _diagnosis
from tests.support.replies import monitor as _monitor

HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab <>&@!|*_`~\n#:/é🔥")) | st.characters(codec="utf-8"),
    max_size=5000,
)


def diagnosis(**overrides: Any) -> Diagnosis:
    """With a 2,000-character reproduce line: a code block the embed has to cut and keep closed."""
    long = ("curl -sv https://shop.example.com/" + "x" * 2000,)
    return _diagnosis(**{"reproduce": long, **overrides})


def monitor(i: int, url: str | None = None) -> Monitor:
    return _monitor(i, Channel("discord", "1", "2"), url)


def within_limits(msg: Message) -> None:
    if msg.content is not None:
        assert len(msg.content) <= 2000
    e = msg.embed
    if e is None:
        return
    assert len(e) <= EMBED_LIMIT, len(e)
    assert len(e.title or "") <= 256 and len(e.description or "") <= 4096
    assert len(e.fields) <= 25
    for f in e.fields:
        assert 0 < len(f.name or "") <= 256 and 0 < len(f.value or "") <= 1024
        assert (f.value or "").count("```") % 2 == 0, f.value  # no code block left open
    assert len(e.footer.text or "") <= 2048
    e.to_dict()  # serialises as discord.py would send it


def text_of(msg: Message) -> str:
    e = msg.embed
    assert e is not None
    parts = [e.title or "", e.description or "", e.footer.text or ""]
    parts += [f"{f.name}\n{f.value}" for f in e.fields]
    return "\n".join(parts)


@settings(max_examples=60, deadline=None)
@given(summary=HOSTILE, evidence=st.lists(HOSTILE, max_size=60), header=HOSTILE, url=HOSTILE)
def test_any_diagnosis_renders_within_discord_limits(
    summary: str, evidence: list[str], header: str, url: str
) -> None:
    public = probe(headers=(("Server", header), ("Via", header)))
    d = diagnosis(summary=summary, evidence=tuple(evidence), url=url, probes=(public,))
    down = Alert(AlertKind.DOWN, NOW, 7, url, 1, d)
    up = Alert(AlertKind.RECOVERED, NOW, 7, url, 1, d, down_since=NOW - timedelta(minutes=5))
    for msg in (
        reply_message(DiagnosisReply(d)),
        reply_message(DiagnosisReply(d, monitor_id=7)),
        alert_message(down),
        alert_message(up),
        resolved_message(down, up),
    ):
        within_limits(msg)


def test_the_diagnosis_embed_shows_every_fact_side_by_side() -> None:
    msg = reply_message(DiagnosisReply(diagnosis()))
    within_limits(msg)
    text = text_of(msg)
    for shown in ("Origin down", "HTTP/1.1 502 Bad Gateway", "nginx", "the origin", "Timings"):
        assert shown in text
    names = [f.name for f in msg.embed.fields] if msg.embed else []
    assert "Public" in names and "Origin bypass" in names
    assert "connect\\_refused" in text  # markdown-escaped
    reproduce = (
        next(f.value for f in msg.embed.fields if f.name == "Reproduce") if msg.embed else ""
    )
    assert reproduce and reproduce.startswith("```") and reproduce.endswith("```")
    assert msg.embed is not None and msg.embed.colour is not None
    assert msg.embed.colour.value != GREEN


def test_remote_markdown_is_shown_literally() -> None:
    d = diagnosis(summary="**bold** @everyone `tick` [link](https://evil)")
    text = text_of(reply_message(DiagnosisReply(d)))
    assert "\\*\\*bold\\*\\*" in text and "**bold**" not in text.replace("\\*\\*", "")
    assert "\\[link\\]" in text or "\\[link]" in text


def test_our_backticked_commands_are_inline_code_not_literal_backticks() -> None:
    step = "Restart the upstream: `systemctl restart php-fpm`, then **retry**."
    d = diagnosis(evidence=(step,), summary="Read `error.log` first.")
    for msg in (
        reply_message(DiagnosisReply(d)),
        alert_message(Alert(AlertKind.DOWN, NOW, 7, "https://shop.example.com/", 1, d)),
    ):
        text = text_of(msg)
        assert "`systemctl restart php-fpm`" in text, text
        assert "\\`" not in text  # an escaped backtick shows as a literal one
        assert "\\*\\*retry\\*\\*" in text  # the rest is still escaped
    assert "`error.log`" in text_of(reply_message(DiagnosisReply(d)))


def visible(msg: Message) -> str:
    """What a person reads of the card: markdown's escapes and bold marks undone."""
    e = msg.embed
    assert e is not None
    text = f"{e.title}\n{e.description}".replace("**", "")
    return re.sub(r"\\(.)", r"\1", text)


@settings(max_examples=40, deadline=None)
@given(text=HOSTILE, header=HOSTILE, url=HOSTILE)
@example(text="word `code` " * 500, header="x" * 5000, url="https://x/" + "y" * 5000)
def test_the_down_card_shows_at_most_1200_characters_whatever_it_holds(
    text: str, header: str, url: str
) -> None:
    public = probe(headers=(("Server", header),))
    d = diagnosis(summary=text, evidence=(text * 3, text), url=url, probes=(public,))
    msg = alert_message(Alert(AlertKind.DOWN, NOW, 7, url * 3, 1, d, expected=text[:300]))
    within_limits(msg)
    assert len(visible(msg)) <= 1200
    assert msg.buttons is not None and msg.buttons.details


def test_long_evidence_is_trimmed_with_a_count() -> None:
    evidence = tuple(f"line {i}: " + "x" * 200 for i in range(500))
    msg = reply_message(DiagnosisReply(diagnosis(evidence=evidence)))
    within_limits(msg)
    text = text_of(msg)
    assert "line 0:" in text and "more" in text and "line 499:" not in text


def test_lists_histories_groups_and_help_fit() -> None:
    within_limits(reply_message(ListReply(tuple(monitor(i) for i in range(100)))))
    checks = tuple(
        CheckRecord(NOW, i % 2 == 0, "502", 12.0, "198.51.100.7", Cause.TIMEOUT) for i in range(500)
    )
    incidents = tuple(
        IncidentRecord(i, NOW, None, Cause.TIMEOUT, NOW, NOW, "U1") for i in range(200)
    )
    within_limits(
        reply_message(HistoryReply(monitor(1), checks, 0.5, 0.9, 10.0, 20.0, 500, incidents))
    )
    alerts = tuple(
        Alert(AlertKind.DOWN, NOW, i, f"https://s{i}.example.com/" + "p" * 100, i, diagnosis())
        for i in range(200)
    )
    within_limits(alert_message(Alert(AlertKind.GROUPED, NOW, grouped=alerts)))
    within_limits(reply_message(TextReply("help " * 3000)))
    error = reply_message(ErrorReply("x" * 5000))
    within_limits(error)
    assert error.embed is None and error.content is not None and error.content.startswith("✗")


def test_buttons_carry_the_monitor_id_within_100_characters() -> None:
    down = alert_message(Alert(AlertKind.DOWN, NOW, 123456789012, "https://x/", 1, diagnosis()))
    view = view_for(down)
    assert view is not None
    ids = [getattr(c, "custom_id", "") for c in view.children]
    assert ids == [
        "check502:details:123456789012:a",
        "check502:recheck:123456789012:a",
        "check502:mute:123456789012:a",
        "check502:ack:123456789012:a",
    ]
    assert all(len(i) <= 100 for i in ids)
    for custom_id in ids:
        assert ActionButton.__discord_ui_compiled_template__.fullmatch(custom_id)
    result = view_for(reply_message(DiagnosisReply(diagnosis(), monitor_id=5)))
    assert result is not None
    assert [getattr(c, "custom_id", "") for c in result.children] == [
        "check502:recheck:5",
        "check502:mute:5",
    ]
    assert view_for(reply_message(DiagnosisReply(diagnosis()))) is None


def test_the_resolved_alert_is_green_and_says_when() -> None:
    down = Alert(AlertKind.DOWN, NOW, 3, "https://x/", 1, diagnosis())
    up = Alert(
        AlertKind.RECOVERED, NOW, 3, "https://x/", 1, None, down_since=NOW - timedelta(minutes=4)
    )
    msg = resolved_message(down, up)
    within_limits(msg)
    assert msg.embed is not None and msg.embed.colour == discord.Colour(GREEN)
    assert "RESOLVED #3" in (msg.embed.title or "") and "4m" in (msg.embed.description or "")
    assert msg.buttons is None


def test_a_click_note_goes_in_the_footer() -> None:
    embed = reply_message(DiagnosisReply(diagnosis(), monitor_id=5)).embed
    assert embed is not None
    after = annotated(embed, "🔕 Muted for 1 h by ana")
    assert (after.footer.text or "").endswith("🔕 Muted for 1 h by ana")
    assert len(after) <= EMBED_LIMIT
