"""Telegram HTML rendering: within 4,096 whatever the diagnosis holds, escaped, valid.

Every message is parsed with the fake Bot API's reading of Telegram's HTML mode (unknown tags,
bare ``<`` or ``&``, unbalanced tags are refused as Telegram refuses them); hostile text comes
from hypothesis and from remote-controlled fields such as headers, error pages and URLs.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from adapters.telegram.render import (
    ACK,
    ALERT_RECHECK,
    CALLBACK_LIMIT,
    DETAILS,
    MAX_PARTS,
    MUTE,
    RECHECK,
    RERUN,
    TEXT_LIMIT,
    Message,
    alert_message,
    annotated,
    as_plain,
    clip,
    length,
    monitor_keyboard,
    parse_callback,
    plain,
    reply_messages,
    resolved_message,
)
from bot.model import (
    Alert,
    AlertKind,
    Channel,
    CheckRecord,
    DiagnosisReply,
    ErrorReply,
    ExplainReply,
    HistoryReply,
    IncidentRecord,
    ListReply,
    Monitor,
    TextReply,
    WatchReply,
)
from checks import Cause, Diagnosis, Explanation, ProbeError
from checks.model import ErrorKind
from tests.support.replies import NOW, probe
from tests.support.replies import diagnosis as _diagnosis
from tests.support.replies import monitor as _monitor
from tests.support.telegram_fake import parse_html, utf16

HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab <>&;#`*_\n/é🔥\"'")) | st.characters(codec="utf-8"),
    max_size=5000,
)
TAG = re.compile(r"</?([a-zA-Z-]+)")


def diagnosis(**overrides: Any) -> Diagnosis:
    """The summary quotes a file in backticks, as the core's advice does (shown as code)."""
    return _diagnosis(
        **{"summary": "nginx could not reach the origin: see `error.log`.", **overrides}
    )


def monitor(i: int, url: str | None = None) -> Monitor:
    return _monitor(i, Channel("telegram", "-", "-100123"), url)


def valid(message: Message) -> str:
    """``message`` is HTML Telegram accepts, within its limits; what it shows."""
    assert message.html
    assert length(message.text) <= TEXT_LIMIT
    assert {t.lower() for t in TAG.findall(message.text)} <= {"b", "i", "code", "pre", "a"}
    text, _ = parse_html(message.text)
    assert text.strip()
    if message.keyboard is not None:
        for row in message.keyboard.inline_keyboard:
            for button in row:
                assert 1 <= len(str(button.callback_data).encode()) <= CALLBACK_LIMIT
    return text


@settings(max_examples=60, deadline=None)
@given(summary=HOSTILE, evidence=st.lists(HOSTILE, max_size=60), header=HOSTILE, url=HOSTILE)
def test_any_diagnosis_renders_as_valid_html_within_the_limit(
    summary: str, evidence: list[str], header: str, url: str
) -> None:
    public = probe(headers=(("Server", header), ("Via", header)))
    origin = probe("origin", status=None, error=ProbeError(ErrorKind.CONNECT_REFUSED, header))
    d = diagnosis(summary=summary, evidence=tuple(evidence), url=url, probes=(public, origin))
    down = Alert(AlertKind.DOWN, NOW, 7, url, 1, d)
    recovered = Alert(AlertKind.RECOVERED, NOW, 7, url, 1, d, down_since=NOW - timedelta(minutes=5))
    messages = [
        *reply_messages(DiagnosisReply(d), rerun=True),
        *reply_messages(DiagnosisReply(d, monitor_id=7)),
        alert_message(down),
        alert_message(recovered),
        alert_message(Alert(AlertKind.CAUSE_CHANGED, NOW, 7, url, 1, d, Cause.TIMEOUT)),
        alert_message(Alert(AlertKind.REMINDER, NOW, 7, url, 1, d, down_since=NOW)),
        resolved_message(down, recovered),
    ]
    for message in messages:
        text = valid(message)
        assert "RESOLVED" in text or "Re-check" in text or "#7" in text or "Origin down" in text


@settings(max_examples=40, deadline=None)
@given(text=HOSTILE, lines=st.lists(HOSTILE, max_size=30))
def test_any_text_error_or_explanation_renders_valid(text: str, lines: list[str]) -> None:
    explanation = Explanation(
        cause=Cause.ORIGIN_DOWN,
        summary=text,
        next_steps=tuple(lines),
        source=text[:50] or None,
        status=502,
        matched=text[:300] or None,
        alternatives=(Cause.TIMEOUT,),
    )
    for message in (
        *reply_messages(TextReply("\n".join([text, *lines]))),
        *reply_messages(ErrorReply(text or "x")),
        *reply_messages(ExplainReply(explanation)),
    ):
        valid(message)


def test_the_text_of_escaped_fields_shows_literally() -> None:
    url = "https://x.example/a_b?c=1&d=<e>"
    d = diagnosis(
        url=url,
        summary="</code> & <b>bold</b>",
        probes=(probe(headers=(("Server", "</pre><i>"),)),),
    )
    (message,) = reply_messages(DiagnosisReply(d))
    text = valid(message)
    assert url in text
    assert "</code> & <b>bold</b>" in text
    assert "</pre><i>" in text
    assert "https://x.example/a_b?c=1&amp;d=&lt;e&gt;" in message.text


def test_backticked_commands_become_code_and_hostile_backticks_stay_text() -> None:
    (message,) = reply_messages(DiagnosisReply(diagnosis()))
    assert "<code>error.log</code>" in message.text
    (odd,) = reply_messages(DiagnosisReply(diagnosis(summary="a `<b>` and ` alone")))
    assert "<code>&lt;b&gt;</code>" in odd.text and "` alone" in valid(odd)


@settings(max_examples=40, deadline=None)
@given(text=HOSTILE, header=HOSTILE, url=HOSTILE)
@example(text="word `code` " * 500, header="x" * 5000, url="https://x/" + "y" * 5000)
def test_the_down_card_shows_at_most_1200_characters_whatever_it_holds(
    text: str, header: str, url: str
) -> None:
    public = probe(headers=(("Server", header),))
    d = diagnosis(summary=text, evidence=(text * 3, text), url=url, probes=(public,))
    msg = alert_message(Alert(AlertKind.DOWN, NOW, 7, url * 3, 1, d, expected=text[:300]))
    assert len(valid(msg)) <= 1200
    assert msg.keyboard is not None
    assert msg.keyboard.inline_keyboard[0][0].callback_data == "details:7"


def test_the_down_card_has_the_headline_both_sides_and_the_first_step_as_code() -> None:
    step = "Restart the upstream: `systemctl restart php-fpm`."
    d = diagnosis(evidence=(step, "a second step"))
    msg = alert_message(Alert(AlertKind.DOWN, NOW, 7, "https://shop.example.com/", 1, d))
    shown = valid(msg)
    assert "🔴 DOWN #7 https://shop.example.com/" in shown
    assert "Origin down · generated by nginx · hop: the origin" in shown
    assert "Public: HTTP/1.1 502 Bad Gateway" in shown and "Origin: connect_refused" in shown
    assert "<code>systemctl restart php-fpm</code>" in msg.text
    assert "a second step" not in shown and "curl" not in shown


def test_long_evidence_is_trimmed_with_a_count_not_refused() -> None:
    evidence = tuple(f"line {i}: " + "x" * 200 for i in range(500))
    (message,) = reply_messages(DiagnosisReply(diagnosis(evidence=evidence)))
    text = valid(message)
    assert "line 0:" in text and "more" in text and "line 499:" not in text
    assert "Checked 2026-12-01 12:00:00 UTC" in text  # the footer survives the trimming


def test_emoji_count_double_toward_the_limit() -> None:
    # 3,000 emoji: under 4,096 code points, 6,000 UTF-16 units, so it must be cut.
    (message,) = reply_messages(ErrorReply("🔥" * 3000))
    text = valid(message)
    # Measured apart from ``length``: UTF-16 units within the limit, while the code points
    # alone (about half) would have allowed all 3,000.
    assert utf16(text) <= TEXT_LIMIT and len(text) < TEXT_LIMIT // 2 + 10
    assert text.count("🔥") > TEXT_LIMIT // 2 - 20  # trimmed near the limit, not emptied


def test_a_list_of_a_hundred_monitors_is_split_and_all_shown() -> None:
    parts = reply_messages(ListReply(tuple(monitor(i) for i in range(1, 101))))
    assert 2 <= len(parts) <= MAX_PARTS
    shown = "\n".join(valid(p) for p in parts)
    assert re.findall(r"^#(\d+) ", shown, re.MULTILINE) == [str(i) for i in range(1, 101)]
    assert shown.startswith("100 monitors in this chat.")


def test_a_list_too_long_even_for_ten_messages_says_how_many_are_left_out() -> None:
    huge = "https://x.example/" + "&" * 350
    parts = reply_messages(ListReply(tuple(monitor(i, huge) for i in range(1, 401))))
    assert len(parts) == MAX_PARTS
    last = valid(parts[-1])
    count = int(re.search(r"… and (\d+) more", last).group(1))  # type: ignore[union-attr]
    listed = sum(len(re.findall(r"^#\d+ ", valid(p), re.MULTILINE)) for p in parts)
    assert listed + count == 400


def test_a_long_history_fits() -> None:
    checks = tuple(
        CheckRecord(NOW, i % 2 == 0, "<502>", 12.0, "198.51.100.7", Cause.ORIGIN_DOWN)
        for i in range(500)
    )
    incidents = tuple(
        IncidentRecord(i, NOW, None, Cause.TIMEOUT, NOW, NOW, "<@5001>") for i in range(200)
    )
    history = HistoryReply(monitor(1), checks, 0.5, 0.9, 10.0, 20.0, 500, incidents)
    (message,) = reply_messages(history)
    text = valid(message)
    assert "Last checks" in text and "more" in text and "<502>" in text


def test_a_grouped_alert_of_two_hundred_monitors_fits() -> None:
    alerts = tuple(
        Alert(AlertKind.DOWN, NOW, i, f"https://s{i}.example.com/" + "p" * 100, i, diagnosis())
        for i in range(200)
    )
    message = alert_message(Alert(AlertKind.GROUPED, NOW, grouped=alerts))
    text = valid(message)
    assert "200 monitors" in text and "#0" in text and "more" in text


def test_every_alert_kind_renders() -> None:
    d = diagnosis()
    for alert in (
        Alert(AlertKind.DOWN, NOW, 3, "https://x/", 1, None, expected="200-299"),
        Alert(AlertKind.CERT_EXPIRING, NOW, 3, "https://x/", days_left=7),
        Alert(AlertKind.DEGRADED, NOW, detail="DNS <fails> & more"),
        Alert(AlertKind.RESTORED, NOW),
        Alert(AlertKind.RECOVERED, NOW, 3, "https://x/", 1, d, down_since=NOW),
    ):
        valid(alert_message(alert))
    assert "DNS <fails> & more" in valid(
        alert_message(Alert(AlertKind.DEGRADED, NOW, detail="DNS <fails> & more"))
    )


def test_watch_reply_and_alert_buttons_carry_the_monitor_id() -> None:
    (watch,) = reply_messages(WatchReply(monitor(12), diagnosis()))
    assert "Watching #12" in valid(watch)
    assert _data(watch.keyboard) == [f"{RECHECK}:12", f"{MUTE}:12"]
    alert = alert_message(Alert(AlertKind.DOWN, NOW, 2147483647, "https://x/", 1, diagnosis()))
    valid(alert)
    assert _data(alert.keyboard) == [
        f"{DETAILS}:2147483647",
        f"{ALERT_RECHECK}:2147483647",
        f"{MUTE}:2147483647",
        f"{ACK}:2147483647",
    ]
    resolved = resolved_message(
        Alert(AlertKind.DOWN, NOW, 2, "https://x/", 1, diagnosis()),
        Alert(AlertKind.RECOVERED, NOW, 2, "https://x/", 1, None, down_since=NOW),
    )
    assert resolved.keyboard is None  # nothing left to acknowledge
    assert "RESOLVED #2" in valid(resolved) and "Recovered" in valid(resolved)


def test_callback_data_is_read_back_and_anything_else_refused() -> None:
    assert parse_callback("mute:12") == (MUTE, 12)
    assert parse_callback(f"{ALERT_RECHECK}:7") == (ALERT_RECHECK, 7)
    assert parse_callback(RERUN) == (RERUN, None)
    for bad in (
        None,
        "",
        "mute",
        "mute:",
        "mute:-1",
        "mute:1x",
        "mute:12345678901",
        "x:1",
        "rerun:1",
    ):
        assert parse_callback(bad) is None, bad


def test_a_click_note_replaces_the_button_and_keeps_the_rest() -> None:
    alert = alert_message(Alert(AlertKind.DOWN, NOW, 3, "https://x/", 1, diagnosis()))
    after = annotated(alert.text, "✋ Acknowledged by Ana", alert.keyboard, drop=ACK)
    assert after is not None
    assert valid(after).endswith("✋ Acknowledged by Ana")
    assert _data(after.keyboard) == [f"{DETAILS}:3", f"{ALERT_RECHECK}:3", f"{MUTE}:3"]
    full = Message("x" * (TEXT_LIMIT - 5), monitor_keyboard(3))
    assert annotated(full.text, "✋ Acknowledged by Ana", full.keyboard, drop=ACK) is None


def test_the_plain_fallback_shows_the_same_text() -> None:
    (message,) = reply_messages(DiagnosisReply(diagnosis(summary="a < b & c")))
    fallback = as_plain(message)
    assert not fallback.html and fallback.keyboard is message.keyboard
    assert fallback.text == plain(message.text) == parse_html(message.text)[0]
    assert clip("a&b", 4) == "a…"  # never half an entity


def _data(keyboard: InlineKeyboardMarkup | None) -> list[str]:
    assert keyboard is not None
    return [str(b.callback_data) for row in keyboard.inline_keyboard for b in row]
