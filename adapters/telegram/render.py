"""The core's replies and alerts as Telegram messages: HTML parse mode plus an inline keyboard.

No logic: values in, messages out. Everything a remote server or a user wrote (headers, error
pages, URLs, log lines) goes through :func:`esc`, so a ``Server: </code><b>`` header is shown as
text and never breaks the message. Only tags Telegram's HTML mode knows are used (``b``, ``i``,
``code``, ``pre``, ``a``).

Telegram refuses a text over 4,096 characters. Every message here stays within
:data:`TEXT_LIMIT` *as HTML source* (so also after Telegram strips the tags): a diagnosis,
history or explanation is trimmed (long lists end in "… and N more", sections that do not fit
are left out), while a long listing (``list``, ``help``) is split into several messages.

Buttons carry ``<action>:<monitor id>`` (at most 64 bytes, Telegram's limit), never a URL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.present import (
    CAUSE_TITLE,
    HOP_TITLE,
    NO_CHART,
    Card,
    address,
    card,
    cut,
    details_regions,
    down_word,
    escalation_text,
    export_note,
    export_pieces,
    fit,
    gateway_headers,
    grouped_title,
    headline,
    incident_title,
    maintenance_note,
    ms,
    outcome_title,
    pct,
    people_note,
    pings,
    progress_line,
    region_notice,
    region_table,
    regions_head,
    regions_note,
    regions_sentence,
    request_words,
    resolved_ips,
    runs_label,
    sides,
    state_label,
    status_line,
    status_mix,
    status_sentences,
    timings_line,
)
from bot.commands import format_duration
from bot.model import (
    Alert,
    AlertKind,
    DiagnosisReply,
    ErrorReply,
    ExplainReply,
    ExportReply,
    HistoryReply,
    ListReply,
    Monitor,
    RegionView,
    Reply,
    StatusReply,
    TextReply,
    WatchReply,
)
from checks import Cause, Diagnosis, Probe

TEXT_LIMIT = 4096
EXPORT_MESSAGES = 10
"""An export goes in at most this many messages (about 40 KB of TOML)."""
"""Telegram's limit of a message text; we keep the HTML source itself within it."""
CAPTION_LIMIT = 1024
"""Telegram's limit of a photo's caption, counted after entity parsing (what shows)."""
MAX_PARTS = 10
"""A split reply is at most this many messages (the last one says what was left out)."""
CALLBACK_LIMIT = 64
"""Bytes of ``callback_data`` Telegram accepts."""

RECHECK = "recheck"
ALERT_RECHECK = "alert-recheck"
"""Re-check on an alert: the result is posted as a reply, the alert stays the incident's record."""
MUTE = "mute"
ACK = "ack"
DETAILS = "details"
"""Details on an alert: the full diagnosis behind it, posted as a reply to the alert."""
RERUN = "rerun"
"""Run again on a check's result: repeats the command the result answers (no id: no room)."""
ACTIONS = (RECHECK, ALERT_RECHECK, MUTE, ACK, RERUN, DETAILS)
MUTE_SECONDS = 3600

_CELL = 20
"""Characters of a value in the public/origin table before it is cut."""


@dataclass(frozen=True, slots=True)
class Message:
    """One Telegram message: HTML ``text`` (plain when ``html`` is False) and its keyboard."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    html: bool = True


# ------------------------------------------------------------------------------ escaping


def length(text: str) -> int:
    """Telegram's length of ``text``: UTF-16 code units (an emoji counts two), never fewer
    than its characters, so a text within the limit by this measure is within it by any."""
    return len(text.encode("utf-16-le")) // 2


def _prefix(text: str, units: int) -> str:
    """The longest start of ``text`` within ``units`` UTF-16 code units."""
    if length(text) <= units:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return text[:i]
    return text  # pragma: no cover - the length check above returned already


def shorten(text: str, limit: int) -> str:
    """Plain ``text`` within ``limit`` (Telegram's length), ending in "…" when it was cut."""
    if length(text) <= limit:
        return text
    return _prefix(text, max(0, limit - 1)).rstrip() + "…"


def esc(text: str) -> str:
    """Text for Telegram's HTML mode: ``<``, ``>`` and ``&`` as entities (also inside code)."""
    return html.escape(text, quote=False)


def clip(text: str, limit: int) -> str:
    """``text`` escaped, within ``limit`` characters *after* escaping, never splitting an
    entity such as ``&amp;``; ends in "…" when it was cut."""
    escaped = esc(text)
    if length(escaped) <= limit:
        return escaped
    head = _prefix(escaped, max(0, limit - 1))
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + "…"


class _Plain(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain(text: str) -> str:
    """What an HTML message shows, as plain text: the fallback when Telegram refuses the HTML."""
    parser = _Plain()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def as_plain(message: Message) -> Message:
    """``message`` as plain text within the limit, keeping its keyboard."""
    return Message(shorten(plain(message.text), TEXT_LIMIT), message.keyboard, html=False)


_CODE = re.compile(r"`([^`\n]+)`")


def rich(text: str, limit: int) -> str:
    """Like :func:`clip`, with the core's `backticked` commands as ``<code>`` when that still
    fits in ``limit``."""
    clipped = clip(text, limit)
    coded = _CODE.sub(r"<code>\1</code>", clipped)
    return coded if length(coded) <= limit else clipped


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


# ----------------------------------------------------------------------------- buttons


def callback(action: str, monitor_id: int | None = None) -> str:
    data = action if monitor_id is None else f"{action}:{monitor_id}"
    if len(data.encode()) > CALLBACK_LIMIT:  # pragma: no cover - ids are at most 10 digits
        raise ValueError(f"callback data {data!r} is over {CALLBACK_LIMIT} bytes")
    return data


def parse_callback(data: str | None) -> tuple[str, int | None] | None:
    """``("mute", 12)`` from ``"mute:12"``, ``("rerun", None)`` from ``"rerun"``; None if it
    is not one of ours (an old or forged button)."""
    action, colon, rest = (data or "").partition(":")
    if action not in ACTIONS:
        return None
    if action == RERUN or not colon:
        return (action, None) if action == RERUN and not colon else None
    if not (rest.isascii() and rest.isdigit() and 0 < len(rest) <= 10):
        return None
    return action, int(rest)


def monitor_keyboard(
    monitor_id: int, *, alert: bool = False, details: bool = False
) -> InlineKeyboardMarkup:
    """Re-check and Mute 1 h; on an alert, Acknowledge too; ``details``: a Details row first."""
    row = [
        InlineKeyboardButton(
            "🔄 Re-check", callback_data=callback(ALERT_RECHECK if alert else RECHECK, monitor_id)
        ),
        InlineKeyboardButton("🔕 Mute 1 h", callback_data=callback(MUTE, monitor_id)),
    ]
    if alert:
        row.append(InlineKeyboardButton("✋ Acknowledge", callback_data=callback(ACK, monitor_id)))
    if details:
        first = InlineKeyboardButton("📋 Details", callback_data=callback(DETAILS, monitor_id))
        return InlineKeyboardMarkup([[first], row])
    return InlineKeyboardMarkup([row])


def _rerun_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("🔄 Run again", callback_data=RERUN)]])


def without(keyboard: InlineKeyboardMarkup | None, action: str) -> InlineKeyboardMarkup | None:
    """``keyboard`` less the buttons of ``action``; None when none is left."""
    if keyboard is None:
        return None
    rows = []
    for row in keyboard.inline_keyboard:
        kept = [b for b in row if (parse_callback(str(b.callback_data)) or ("",))[0] != action]
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(rows) if rows else None


def annotated(
    text_html: str, note: str, keyboard: InlineKeyboardMarkup | None, *, drop: str
) -> Message | None:
    """A message with ``note`` added and the ``drop`` buttons removed: how a button click shows
    in place ("🔕 Muted for 1 h by Ana"). None when the note would not fit."""
    text = f"{text_html}\n\n{note}"
    if length(text) > TEXT_LIMIT:
        return None
    return Message(text, without(keyboard, drop))


# ---------------------------------------------------------------------------- composing


@dataclass(frozen=True, slots=True)
class _Listing:
    """A titled list: as many whole items as fit, then "… and N more"."""

    title: str
    items: Sequence[str]
    """Escaped (clipped) items, each one line."""
    bullet: str = "•"

    def render(self, room: int) -> str | None:
        if not self.items:
            return None
        lines = [self.title]
        used = length(self.title)
        reserve = 30
        for i, item in enumerate(self.items):
            line = f"{self.bullet} {item}" if self.bullet else item
            last = i == len(self.items) - 1
            if used + 1 + length(line) + (0 if last else reserve) > room:
                lines.append(f"<i>… and {len(self.items) - i} more</i>")
                break
            lines.append(line)
            used += 1 + length(line)
        if len(lines) == 2 and lines[1].startswith("<i>… and"):
            return None  # not even one item fits: leave the section out
        return "\n".join(lines)


_Part = str | _Listing | None


def _compose(parts: Iterable[_Part], limit: int = TEXT_LIMIT) -> str:
    """Sections joined by blank lines, in order, within ``limit``: a section that does not fit
    is left out (a listing keeps what fits), so what comes first always shows."""
    out: list[str] = []
    used = 0
    for part in parts:
        if part is None:
            continue
        gap = 2 if out else 0
        room = limit - used - gap
        text = part.render(room) if isinstance(part, _Listing) else part
        if text is None or not text or length(text) > room:
            continue
        out.append(text)
        used += gap + length(text)
    return "\n\n".join(out)


def _chunks(head: str, lines: Sequence[str], limit: int = TEXT_LIMIT) -> list[str]:
    """``head`` and ``lines`` split into texts within ``limit`` each, at most MAX_PARTS of
    them; a line over the limit is left out (lines are clipped well below it)."""
    texts: list[str] = []
    current = [head] if head else []
    size = length(head)
    for i, line in enumerate(lines):
        if length(line) > limit:
            continue
        if current and size + 1 + length(line) > limit:
            texts.append("\n".join(current))
            if len(texts) == MAX_PARTS - 1:
                rest = lines[i:]
                return [*texts, _last_part(rest, limit)]
            current, size = [], 0
        current.append(line)
        size += (1 if size else 0) + length(line)
    if current:
        texts.append("\n".join(current))
    return texts


def _last_part(lines: Sequence[str], limit: int) -> str:
    out: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        more = f"<i>… and {len(lines) - i} more</i>"
        if size + length(line) + 1 + length(more) + 1 > limit:
            return "\n".join([*out, more])
        out.append(line)
        size += length(line) + 1
    return "\n".join(out)


# ---------------------------------------------------------------------------- diagnosis


def _cell(text: str) -> str:
    return cut(text, _CELL).ljust(_CELL)


def _side_rows(p: Probe) -> dict[str, str]:
    rows = {
        "address": address(p),
        "http": p.http_version or "–",
        "status": f"{p.status} {p.reason or ''}".strip()
        if p.status is not None
        else (p.error.kind.value if p.error is not None else "no response"),
        "total": ms(p.timings.total),
    }
    for key, value in gateway_headers(p)[:6]:
        rows.setdefault(key.lower(), value)
    if p.tls is not None:
        t = p.tls
        rows["tls"] = f"{t.version or '?'} {'ok' if t.verified else 'NOT verified'}"
        if t.days_left is not None:
            rows["cert"] = f"{t.days_left} days left"
    return rows


def sides_table(public: Probe, origin: Probe | None) -> str:
    """Public and origin side by side, one row per fact, in a monospace block."""
    left = _side_rows(public)
    right = _side_rows(origin) if origin is not None else {}
    keys = list(left) + [k for k in right if k not in left]
    width = max(len(k) for k in keys)
    lines = [("".ljust(width) + "  " + _cell("public") + ("  origin" if origin else "")).rstrip()]
    for key in keys:
        line = key.ljust(width) + "  " + _cell(left.get(key, ""))
        if origin is not None:
            line += "  " + cut(right.get(key, ""), _CELL)
        lines.append(line.rstrip())
    return "<pre>" + esc("\n".join(lines)) + "</pre>"


def _errors(public: Probe, origin: Probe | None) -> str | None:
    lines = []
    for title, p in (("Public", public), ("Origin", origin)):
        if p is not None and p.error is not None:
            kind = f"{p.error.kind.value}: " if p.status is not None else ""
            lines.append(f"<b>{title} error</b> {clip(kind + p.error.message, 400)}")
    return "\n".join(lines) or None


def diagnosis_text(d: Diagnosis, *, title: str | None = None, note: str | None = None) -> str:
    """The whole diagnosis within the limit: verdict, facts, timings, IPs, public vs origin,
    evidence, next steps, reproduce. ``note`` (HTML) goes under the title."""
    v = d.verdict
    both = sides(d)
    public = both.public
    head = [f"<b>{clip(title or headline(d), 300)}</b>"]
    if note:
        head.append(note)
    head += [clip(d.url, 600), rich(v.summary, 1000)]
    facts = [
        f"<b>Generated by</b> {clip(v.generated_by, 100) if v.generated_by else 'nothing answered'}"
    ]
    if v.hop is not None:
        facts.append(f"<b>Broken hop</b> {HOP_TITLE[v.hop]}")
    facts.append(f"<b>Confidence</b> {v.confidence:.2f}")
    if v.code:
        facts.append(f"<b>Platform code</b> <code>{clip(v.code, 100)}</code>")
    parts: list[_Part] = ["\n".join(head), " · ".join(facts)]
    if public is not None:
        lines = [
            f"<b>Status</b> <code>{clip(status_line(public), 200)}</code>",
            f"<b>Timings</b> ({clip(public.http_version or 'no response', 20)})"
            f" <code>{esc(timings_line(public))}</code>",
        ]
        ips = resolved_ips(d)
        if ips:
            shown = ", ".join(f"<code>{clip(ip, 60)}</code>" for ip in ips[:8])
            more = f" +{len(ips) - 8} more" if len(ips) > 8 else ""
            lines.append(
                f"<b>Resolved</b> {shown}{more} · <b>used</b> <code>{clip(public.ip or '-', 60)}</code>"
            )
        if (mix := status_mix(d)) is not None:
            lines.append(f"<b>{runs_label(d)}</b> {clip(mix, 300)}")
        parts.append("\n".join(lines))
        parts.append(sides_table(public, both.origin))
        if both.origin is None:
            parts.append(
                "<b>Origin bypass</b> not tried: add <code>origin=&lt;ip&gt;</code> to send the"
                " same request straight to the origin, with the public Host and SNI."
            )
        parts.append(_errors(public, both.origin))
    parts.append(_Listing("<b>Evidence</b>", [rich(e, 500) for e in v.evidence]))
    parts.append(_Listing("<b>Next steps</b>", [rich(s, 500) for s in v.next_steps], "→"))
    if v.reproduce:
        parts.append("<b>Reproduce</b>\n<pre>" + clip("\n".join(v.reproduce), 900) + "</pre>")
    tail = [f"Checked {_when(d.checked_at)}"]
    if v.alternatives:
        tail.append("also possible: " + ", ".join(CAUSE_TITLE[c] for c in v.alternatives))
    parts.append(f"<i>{esc(' · '.join(tail))}</i>")
    return _compose(parts)


# ------------------------------------------------------------------------------ replies


def checking(url: str, done: int | None = None, runs: int | None = None) -> Message:
    """What a check or watch shows at once, edited into the result when it is done; with
    ``done`` and ``runs``, the same while the runs go on."""
    if done is None or runs is None:
        return Message(f"⏳ Checking {clip(url, 1000)}…")
    return Message(f"⏳ {progress_line(clip(url, 1000), done, runs)}")


def monitor_line(m: Monitor) -> str:
    extra = [f"every {format_duration(m.every)}"]
    if m.last_outcome:
        extra.append(f"last {clip(m.last_outcome, 40)}")
    if m.muted_until is not None:
        extra.append(f"🔕 muted until {_when(m.muted_until)}")
    if m.maintenance_until is not None:
        extra.append(f"🛠 {maintenance_note(m.maintenance_until)}")
    if m.origin:
        extra.append(f"origin <code>{clip(m.origin, 100)}</code>")
    if asked := request_words(m):
        extra.append(clip(asked, 300))
    if (people := people_note(m)) is not None:
        # In <code>: a list names the people without pinging them.
        extra.append(f"<code>{esc(people)}</code>")
    if m.source is not None:
        extra.append(f"from {clip(m.source, 100)}")
    if (regions := regions_note(m)) is not None:
        extra.append(esc(regions))
    return f"<b>#{m.id}</b> {state_label(m)} {clip(m.url, 400)} · " + " · ".join(extra)


def reply_messages(reply: Reply, *, rerun: bool = False) -> list[Message]:
    """A command's reply as one message, or several for a long listing. ``rerun``: the reply
    answers a typed check, which a "Run again" button can repeat."""
    match reply:
        case DiagnosisReply(diagnosis=d, monitor_id=mid, details=details):
            if mid is not None:
                what = "Details of the alert of" if details else "Re-check of"
                title = f"{what} #{mid} · {headline(d)}"
                window = reply.maintenance_until
                note = f"🛠 {maintenance_note(window)}" if window is not None else None
                if regional := details_regions(reply):
                    where, table = esc(regional[0]), regional[1:]
                    rows = fit((esc(row) for row in table), 1200)
                    block = f"{where}\n<pre>{chr(10).join(rows)}</pre>" if rows else where
                    note = f"{note}\n{block}" if note else block
                text = diagnosis_text(d, title=title, note=note)
                return [Message(text, monitor_keyboard(mid))]
            return [Message(diagnosis_text(d), _rerun_keyboard() if rerun else None)]
        case WatchReply(monitor=m, diagnosis=d):
            every = format_duration(m.every)
            text = _compose(
                [
                    f"👀 <b>Watching #{m.id}</b> {clip(m.url, 600)} every {every}.\n"
                    f"Alerts post in this chat after {m.confirm} failed checks in a row"
                    f" (expect <code>{clip(str(m.expect), 100)}</code>), with follow-ups as"
                    " replies to the alert." + esc(regions_sentence(m)),
                    f"<b>First check:</b> {clip(headline(d), 300)}\n{clip(d.verdict.summary, 1000)}",
                    f"<i>/check502 history {m.id} · /check502 unwatch {m.id}</i>",
                ]
            )
            return [Message(text, monitor_keyboard(m.id))]
        case ListReply(monitors=monitors):
            if not monitors:
                return [Message("No monitors in this chat. Add one: /check502 watch &lt;url&gt;")]
            many = "monitor" if len(monitors) == 1 else "monitors"
            head = f"<b>{len(monitors)} {many} in this chat.</b>"
            return [Message(t) for t in _chunks(head, [monitor_line(m) for m in monitors])]
        case HistoryReply():
            return [Message(_history(reply))]
        case ExplainReply(explanation=e):
            title = CAUSE_TITLE[e.cause] if e.cause is not Cause.UNKNOWN else "No known cause"
            facts = []
            if e.source:
                facts.append(f"written by {clip(e.source, 100)}")
            if e.status:
                facts.append(f"clients see {e.status}")
            if e.matched:
                facts.append(f"matched <code>{clip(e.matched, 300)}</code>")
            if e.alternatives:
                facts.append("also possible: " + ", ".join(CAUSE_TITLE[c] for c in e.alternatives))
            text = _compose(
                [
                    f"🔎 <b>{esc(title)}</b>\n{rich(e.summary, 1500)}",
                    _Listing("<b>Next steps</b>", [rich(s, 500) for s in e.next_steps], "→"),
                    f"<i>{' · '.join(facts)}</i>" if facts else None,
                ]
            )
            return [Message(text)]
        case StatusReply():
            return reply_messages(TextReply("\n".join(status_sentences(reply))))
        case ExportReply(text=text):
            pieces = export_pieces(esc(text), TEXT_LIMIT - 40)
            keep = pieces[:EXPORT_MESSAGES]
            out = [Message(f"<pre>{p}</pre>") for p in keep]
            if keep != pieces:
                out.append(Message(esc(export_note(len(keep), len(pieces)))))
            return out
        case TextReply(text=text):
            lines = [clip(line, 1000) for line in text.rstrip("\n").split("\n")]
            texts = [t for t in _chunks("", lines) if plain(t).strip()]
            return [Message(t) for t in texts or ["…"]]  # Telegram refuses a blank text
        case ErrorReply(text=text):
            return [Message(f"✗ {rich(text, TEXT_LIMIT - 10)}")]
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def _history(h: HistoryReply) -> str:
    m = h.monitor
    rows = []
    for c in h.checks:
        mark = "✅" if c.ok else "🔴"
        cause = "" if c.ok else f" {CAUSE_TITLE[c.cause]}"
        rows.append(
            f"{mark} {c.at.strftime('%m-%d %H:%M:%S')} <code>{clip(c.outcome, 40)}</code>"
            f" {ms(c.total_ms)} {clip(c.ip or '-', 60)}{cause}"
        )
    incidents = []
    for i in h.incidents:
        end = f"closed {_when(i.closed_at)}" if i.closed_at else "<b>open</b>"
        ack = f" · acked by {clip(i.acked_by, 60)}" if i.acked_by else ""
        incidents.append(f"{_when(i.opened_at)} {incident_title(i)} · {end}{ack}")
    stats = (
        f"<b>Uptime 24 h</b> {pct(h.uptime_24h)} ({h.checks_24h} checks) · "
        f"<b>7 d</b> {pct(h.uptime_7d)}\n"
        f"<b>Latency p50 / p95</b> {ms(h.p50_ms)} / {ms(h.p95_ms)} · <b>State</b> {state_label(m)}"
    )
    return _compose(
        [
            f"📈 <b>#{m.id}</b> {clip(m.url, 600)}",
            stats,
            _Listing("<b>Last checks</b>", rows, "") if rows else "<b>Last checks</b>\n(none yet)",
            _Listing("<b>Incidents</b>", incidents),
            None if h.chartable else f"<i>{esc(NO_CHART)}</i>",
        ]
    )


def as_caption(message: Message) -> Message | None:
    """``message`` as a photo's caption, when what it shows fits in :data:`CAPTION_LIMIT`."""
    shown = plain(message.text) if message.html else message.text
    return message if length(shown) <= CAPTION_LIMIT else None


def chart_caption(title: str) -> Message:
    """The short caption of a chart sent after its history's text."""
    return Message(f"📈 {clip(title, CAPTION_LIMIT - 20)} (UTC)")


def chart_refused(reason: str) -> Message:
    """Said when the chart of ``history`` could not be sent (its text was)."""
    return Message(f"✗ The chart could not be sent ({clip(reason, 300)}).")


# ------------------------------------------------------------------------------- alerts


def alert_message(alert: Alert) -> Message:
    """An alert; a DOWN (or GROUPED) one and an escalation start with the plain ``@username``
    mentions of the monitor's people, which Telegram turns into pings."""
    who = pings(alert)
    msg = _alert_body(alert, TEXT_LIMIT - length(who) - 1 if who else TEXT_LIMIT)
    return Message(f"{who}\n{msg.text}", msg.keyboard, msg.html) if who else msg


def _alert_body(alert: Alert, limit: int) -> Message:
    monitor = f"#{alert.monitor_id}" if alert.monitor_id is not None else ""
    url = alert.url or ""
    d = alert.diagnosis
    match alert.kind:
        case AlertKind.DOWN:
            # A compact card a phone shows whole; the full diagnosis is behind Details.
            c = card(alert.monitor_id, alert.url, d, expected=alert.expected, slow=alert.slow)
            keyboard = (
                monitor_keyboard(alert.monitor_id, alert=True, details=True)
                if alert.monitor_id
                else None
            )
            return Message(card_text(c, regions=alert.regions), keyboard)
        case AlertKind.GROUPED:
            rows = []
            for a in alert.grouped:
                v = a.diagnosis.verdict if a.diagnosis else None
                why = f"{grouped_title(a)}: {clip(v.summary, 300)}" if v else "down"
                rows.append(f"<b>#{a.monitor_id}</b> {clip(a.url or '', 300)} · {why}")
            text = _compose(
                [
                    f"🔴 <b>{len(alert.grouped)} monitors of this chat are DOWN</b>",
                    "<i>Follow-ups for each are replies to this message · /check502 ack &lt;id&gt;"
                    " · /check502 history &lt;id&gt;</i>",
                    _Listing("<b>Down</b>", rows),
                ],
                limit,
            )
            return Message(text)
        case AlertKind.CAUSE_CHANGED:
            before = CAUSE_TITLE[alert.previous_cause] if alert.previous_cause else "?"
            now = CAUSE_TITLE[d.verdict.cause] if d else "?"
            text = _compose(
                [
                    f"🟠 <b>{monitor}</b> {clip(url, 600)} is still down; the cause changed:"
                    f" <b>{before}</b> → <b>{now}</b>."
                    + (f"\n{clip(d.verdict.summary, 1000)}" if d else ""),
                    region_part(alert.regions),
                    _Listing(
                        "<b>Next steps</b>", [rich(s, 500) for s in d.verdict.next_steps[:3]], "→"
                    )
                    if d
                    else None,
                ]
            )
            return Message(text)
        case AlertKind.REMINDER:
            down = format_duration(int(alert.downtime_s or 0))
            why = f" {clip(d.verdict.summary, 1000)}" if d else ""
            keyboard = monitor_keyboard(alert.monitor_id, alert=True) if alert.monitor_id else None
            return Message(
                f"⏰ <b>{monitor}</b> {clip(url, 600)} is still down after {down}.{why}", keyboard
            )
        case AlertKind.ESCALATION:
            keyboard = monitor_keyboard(alert.monitor_id, alert=True) if alert.monitor_id else None
            return Message(esc(escalation_text(alert)), keyboard)
        case AlertKind.RECOVERED:
            down = format_duration(max(1, int(alert.downtime_s or 0)))
            now = ""
            if d is not None and (p := sides(d).public) is not None:
                now = f" Now <code>{clip(status_line(p), 200)}</code> in {ms(p.timings.total)}."
            return Message(
                f"✅ <b>RECOVERED {monitor}</b> {clip(url, 600)} after {down} {down_word(alert)}.{now}"
            )
        case AlertKind.CERT_EXPIRING:
            return Message(
                f"📜 <b>{monitor}</b> {clip(url, 600)}: its TLS certificate expires in"
                f" {alert.days_left} days."
            )
        case AlertKind.DEGRADED:
            return Message(
                f"⚠️ <b>Monitoring degraded</b>: {clip(alert.detail or 'the network is down', 1000)}."
                " Alerts of targets that give no answer wait for the bot's own network."
            )
        case AlertKind.RESTORED:
            return Message("✅ <b>Monitoring restored</b>: the bot's own network works again.")
        case AlertKind.REGION_DEGRADED:
            return Message(f"⚠️ {esc(region_notice(alert))}")
        case AlertKind.REGION_RESTORED:
            return Message(f"✅ {esc(region_notice(alert))}")
    raise AssertionError(f"unrendered alert {alert.kind}")  # pragma: no cover


def region_part(regions: Sequence[RegionView]) -> str | None:
    """Each region's result side by side: a bold count, then a monospace table within what a
    message leaves beside a card (None without regions)."""
    if not regions:
        return None
    room = TEXT_LIMIT - 1200 - 300  # the card's own limit, the step and the tags
    table = fit((esc(row) for row in region_table(regions)), room)
    return f"<b>{esc(regions_head(regions))}</b>\n<pre>" + "\n".join(table) + "</pre>"


def card_text(
    c: Card,
    *,
    title: str | None = None,
    note: str | None = None,
    regions: Sequence[RegionView] = (),
) -> str:
    """The compact card in Telegram HTML: the title and headline bold, one line per part;
    ``regions``: each region's result side by side, a monospace table under the public line."""
    lines = [f"<b>{esc(title or c.title)}</b>"]
    if note is not None:
        lines.append(note)
    lines += [f"<b>{esc(c.headline)}</b>", esc(c.public)]
    if c.origin is not None:
        lines.append(esc(c.origin))
    if (part := region_part(regions)) is not None:
        lines.append(part)
    if c.step is not None:
        lines.append(f"→ {rich(c.step, 1000)}")
    return "\n".join(lines)


def resolved_message(original: Alert, recovered: Alert) -> Message:
    """The DOWN alert re-rendered as resolved, for editing the alert message (no buttons)."""
    monitor = f"#{original.monitor_id}" if original.monitor_id is not None else ""
    d = original.diagnosis
    cause = outcome_title(d) if d else "down"
    down = format_duration(max(1, int(recovered.downtime_s or 0)))
    title = f"✅ RESOLVED {monitor} · was {cause}"
    was = down_word(recovered)
    note = f"<i>Recovered {_when(recovered.at)} after {down} {was} · details in the reply</i>"
    c = card(original.monitor_id, original.url, d, expected=original.expected, slow=original.slow)
    return Message(card_text(c, title=title, note=note, regions=original.regions))
