"""The core's replies and alerts as Slack messages: Block Kit plus a fallback ``text``.

No logic: values in, messages out. Everything a remote server or a user wrote (headers, error
pages, URLs) is escaped, so ``<!channel>`` in a ``Server`` header pings no one. Limits are kept
by trimming: a section's text stays under 3,000 characters, a field under 2,000, a header
under 150, a message under 50 blocks and about 12,000 characters in all (Slack's undocumented
``msg_blocks_too_long``). Every message is checked with slack-sdk's own block models; one that
fails is sent as its fallback text rather than not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

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
    region_cells,
    region_mark,
    region_notice,
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

log = logging.getLogger("check502.slack")

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
BLOCK_LIMIT = 50
MESSAGE_BUDGET = 11_000
"""Characters of block text per message: under Slack's ~13k ``msg_blocks_too_long``."""
TEXT_LIMIT = 3000
"""The fallback ``text`` (notifications, screen readers): Slack cuts at 40,000; we stay short."""

RECHECK = "check502.recheck"
RERUN = "check502.rerun"
MUTE = "check502.mute"
ACK = "check502.ack"
DETAILS = "check502.details"
ACTIONS_BLOCK = "check502.actions"
ALERT_ACTIONS = "check502.alert_actions"
"""The buttons of an alert: a Re-check there answers in the alert's thread."""
MUTE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Message:
    """One Slack message: ``text`` always, ``blocks`` when it has any."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks} if self.blocks else {"text": self.text}


def esc(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask (also inside code)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(escaped: str, limit: int) -> str:
    """Cut escaped text without splitting an entity such as ``&amp;``."""
    if len(escaped) <= limit:
        return escaped
    head = escaped[: max(0, limit - 1)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + "…"


def _when(at: datetime) -> str:
    """A date every reader sees in their own time zone, with UTC as the fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


# ----------------------------------------------------------------------------------- blocks


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, HEADER_LIMIT)}}


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(mrkdwn, SECTION_LIMIT)}}


def fields(*texts: str) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": _cut(t, FIELD_LIMIT)} for t in texts[:10]],
    }


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(mrkdwn, 3000)}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def actions(*buttons: dict[str, Any], block_id: str = ACTIONS_BLOCK) -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(buttons)}


def listing(title: str, rows: Iterable[str], bullet: str = "•") -> dict[str, Any] | None:
    """A titled section of escaped rows, as many as fit in one section."""
    items = [f"{bullet} {row}" for row in rows]
    if not items:
        return None
    head = f"*{title}*"
    kept = fit(items, SECTION_LIMIT - len(head) - 1)
    return section("\n".join([head, *kept]))


def monitor_buttons(
    monitor_id: int, *, alert: bool = False, details: bool = False
) -> dict[str, Any]:
    """Re-check and Mute 1 h; on an alert, Acknowledge too; ``details``: Details first."""
    row = [button("Details", DETAILS, str(monitor_id), "primary")] if details else []
    row.append(button("Re-check", RECHECK, str(monitor_id), None if details else "primary"))
    row.append(button("Mute 1 h", MUTE, str(monitor_id)))
    if alert:
        row.append(button("Acknowledge", ACK, str(monitor_id)))
        return actions(*row, block_id=ALERT_ACTIONS)
    return actions(*row)


def _bounded(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks and the message budget: drop from the end, keeping the actions."""
    tail = [b for b in blocks if b.get("type") == "actions"][-1:]
    body = [b for b in blocks if b.get("type") != "actions"]
    room = BLOCK_LIMIT - len(tail)
    body = body[:room]
    while len(body) > 1 and sum(_size(b) for b in body) > MESSAGE_BUDGET:
        body.pop()
    return body + tail


def _size(block: dict[str, Any]) -> int:
    text = block.get("text")
    n = len(text["text"]) if isinstance(text, dict) else 0
    n += sum(len(f["text"]) for f in block.get("fields", ()))
    n += sum(len(e.get("text", "")) for e in block.get("elements", ()) if isinstance(e, dict))
    return n


def message(text: str, blocks: Sequence[dict[str, Any] | None]) -> Message:
    """A message from raw ``text`` and blocks (None entries skipped), bounded and checked with
    slack-sdk's models.

    A block the models refuse would be refused by Slack: the message then goes as text alone.
    """
    text = _cut(esc(text), TEXT_LIMIT)  # the fallback is mrkdwn too: remote text escaped
    kept = _bounded([b for b in blocks if b is not None])
    try:
        for b in kept:
            parsed = Block.parse(b)
            if parsed is None:
                raise SlackObjectFormationError(f"unknown block {b.get('type')!r}")
            parsed.validate_json()
    except SlackObjectFormationError:
        log.exception("a Slack message failed Block Kit validation; sent as text only")
        return Message(text)
    return Message(text, kept)


# -------------------------------------------------------------------------------- diagnosis


def _probe_field(title: str, p: Probe) -> str:
    lines = [f"*{title}* · `{esc(address(p))}`"]
    took = f" in {ms(p.timings.total)}" if p.timings.total is not None else ""
    lines.append(f"`{esc(status_line(p))}`{took}")
    if p.error is not None:
        kind = "" if p.status is None else f"{esc(p.error.kind.value)}: "  # else shown above
        lines.append(f"{kind}{esc(cut(p.error.message, 300))}")
    for key, value in gateway_headers(p)[:6]:
        lines.append(f"{esc(key.lower())}: `{esc(cut(value, 120))}`")
    if p.tls is not None:
        t = p.tls
        state = "verified" if t.verified else f"*not verified* ({esc(t.verify_error or '?')})"
        days = "" if t.days_left is None else f", {t.days_left} days left"
        lines.append(f"TLS {esc(t.version or '')} {esc(t.alpn or '')}{days}, {state}")
    return "\n".join(lines)


def diagnosis_blocks(d: Diagnosis, *, title: str | None = None) -> list[dict[str, Any] | None]:
    """The whole diagnosis: verdict, facts, timings, IPs, public vs origin, advice, reproduce."""
    v = d.verdict
    both = sides(d)
    public = both.public
    blocks: list[dict[str, Any] | None] = [header(title or headline(d))]
    blocks.append(section(f"*{esc(d.url)}*\n{esc(v.summary)}"))
    facts = [f"*Status*\n`{esc(status_line(public))}`" if public else "*Status*\nnot probed"]
    facts.append(f"*Generated by*\n{esc(v.generated_by) if v.generated_by else 'nothing answered'}")
    if v.hop is not None:
        facts.append(f"*Broken hop*\n{HOP_TITLE[v.hop]}")
    facts.append(f"*Confidence*\n{v.confidence:.2f}")
    if v.code:
        facts.append(f"*Platform code*\n`{esc(v.code)}`")
    blocks.append(fields(*facts))
    if public is not None:
        version = esc(public.http_version or "no response")
        lines = [f"*Timings* ({version})  `{timings_line(public)}`"]
        ips = resolved_ips(d)
        if ips:
            shown = ", ".join(f"`{esc(ip)}`" for ip in ips[:8])
            more = f" +{len(ips) - 8} more" if len(ips) > 8 else ""
            lines.append(f"*Resolved* {shown}{more} · *used* `{esc(public.ip or '-')}`")
        if (mix := status_mix(d)) is not None:
            lines.append(f"*{runs_label(d)}* {esc(mix)}")
        blocks.append(section("\n".join(lines)))
        if both.origin is not None:
            blocks.append(
                fields(_probe_field("Public", public), _probe_field("Origin bypass", both.origin))
            )
        else:
            blocks.append(
                fields(
                    _probe_field("Public", public),
                    "*Origin bypass*\nNot tried: add `origin=<ip>` to send the same request"
                    " straight to the origin, with the public Host and SNI.",
                )
            )
    blocks.append(listing("Evidence", (esc(e) for e in v.evidence)))
    blocks.append(listing("Next steps", (esc(s) for s in v.next_steps), "→"))
    if v.reproduce:
        code = "\n".join(esc(line) for line in v.reproduce)
        blocks.append(section(f"*Reproduce*\n```{_cut(code, SECTION_LIMIT - 40)}```"))
    tail = [f"Checked {_when(d.checked_at)}"]
    if v.alternatives:
        tail.append("also possible: " + ", ".join(CAUSE_TITLE[c] for c in v.alternatives))
    blocks.append(context(" · ".join(tail)))
    return blocks


def _fallback(d: Diagnosis) -> str:
    return f"{headline(d)}: {d.url}. {d.verdict.summary}"


# ---------------------------------------------------------------------------------- replies


def monitor_line(m: Monitor) -> str:
    extra = [f"every {format_duration(m.every)}"]
    if m.last_outcome:
        extra.append(f"last {esc(m.last_outcome)}")
    if m.muted_until is not None:
        extra.append(f"🔕 muted until {_when(m.muted_until)}")
    if m.maintenance_until is not None:
        extra.append(f"🛠 {maintenance_note(m.maintenance_until)}")
    if m.origin:
        extra.append(f"origin `{esc(m.origin)}`")
    if asked := request_words(m):
        extra.append(esc(asked))
    if (people := people_note(m)) is not None:
        extra.append(esc(people))  # names only (@alice): a list pings no one
    if (regions := regions_note(m)) is not None:
        extra.append(esc(regions))
    if m.source is not None:
        extra.append(f"from {esc(m.source)}")
    return f"*#{m.id}* {state_label(m)} {esc(m.url)} · " + " · ".join(extra)


def reply_message(reply: Reply, *, rerun: str | None = None) -> Message:
    """A command's reply. ``rerun``: the command text a "Run again" button repeats."""
    match reply:
        case DiagnosisReply(diagnosis=d, monitor_id=mid, details=details):
            what = "Details of the alert of" if details else "Re-check of"
            title = f"{what} #{mid} · {headline(d)}" if mid is not None else None
            buttons = monitor_buttons(mid) if mid is not None else None
            if buttons is None and rerun is not None and len(rerun) <= 2000:  # a value's limit
                buttons = actions(button("Run again", RERUN, rerun))
            window = reply.maintenance_until
            note = context(f"🛠 {maintenance_note(window)}") if window is not None else None
            blocks = diagnosis_blocks(d, title=title)
            if reply.regions:  # where it is checked from, right under the title
                where = context(esc(details_regions(reply)[0]))
                blocks[1:1] = [where, *region_blocks(reply.views)]
            return message(_fallback(d), [*blocks, note, buttons])
        case WatchReply(monitor=m, diagnosis=d):
            first = headline(d)
            text = (
                f"Watching #{m.id} {m.url} every {format_duration(m.every)}: alert after"
                f" {m.confirm} failed checks in a row (expect {m.expect})."
            )
            blocks = [
                section(
                    f"👀 *Watching #{m.id}* {esc(m.url)} every {format_duration(m.every)}.\n"
                    f"Alerts post in this channel after {m.confirm} failed checks in a row"
                    f" (expect `{esc(str(m.expect))}`), with follow-ups in the alert's thread."
                    + esc(regions_sentence(m))
                ),
                section(f"*First check:* {esc(first)}\n{esc(d.verdict.summary)}"),
                context(
                    "In a private channel, `/invite @check502` so alerts can be posted."
                    f" · `/check502 history {m.id}` · `/check502 unwatch {m.id}`"
                ),
                monitor_buttons(m.id),
            ]
            return message(f"{text} First check: {first}", blocks)
        case ListReply(monitors=monitors):
            if not monitors:
                text = "No monitors in this channel. Add one: /check502 watch <url>"
                return message(text, [section(esc(text))])
            lines = [monitor_line(m) for m in monitors]
            chunks = _chunks(lines, SECTION_LIMIT)
            text = f"{len(monitors)} monitors in this channel."
            return message(text, [section(f"*{text}*"), *(section(c) for c in chunks)])
        case HistoryReply():
            return _history(reply)
        case ExplainReply(explanation=e):
            title = CAUSE_TITLE[e.cause] if e.cause is not Cause.UNKNOWN else "No known cause"
            facts = []
            if e.source:
                facts.append(f"written by {esc(e.source)}")
            if e.status:
                facts.append(f"clients see {e.status}")
            if e.matched:
                facts.append(f"matched `{esc(cut(e.matched, 200))}`")
            if e.alternatives:
                facts.append("also possible: " + ", ".join(CAUSE_TITLE[c] for c in e.alternatives))
            parts: list[dict[str, Any] | None] = [
                header(f"🔎 {title}"),
                section(esc(e.summary)),
                listing("Next steps", (esc(s) for s in e.next_steps), "→"),
                context(" · ".join(facts)) if facts else None,
            ]
            return message(f"{title}: {e.summary}", parts)
        case StatusReply():
            return reply_message(TextReply("\n".join(status_sentences(reply))))
        case ExportReply(text=text, monitors=n):
            pieces = export_pieces(esc(text).replace("```", "`\u200b``"), SECTION_LIMIT - 10)
            keep: list[str] = []
            room = MESSAGE_BUDGET - 500  # the heading and the note
            for piece in pieces[: BLOCK_LIMIT - 3]:
                room -= len(piece) + 6
                if room < 0:
                    break
                keep.append(piece)
            note = context(esc(export_note(len(keep), len(pieces)))) if keep != pieces else None
            head = f"{n} monitors as a monitors file:"
            return message(
                head, [section(f"*{head}*"), *(section(f"```{p}```") for p in keep), note]
            )
        case TextReply(text=text):
            lines = [esc(line) for line in text.rstrip("\n").split("\n")]
            return message(text, [section(c) for c in _chunks(lines, SECTION_LIMIT)])
        case ErrorReply(text=text):
            return Message(_cut(f"✗ {esc(text)}", TEXT_LIMIT))
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """Escaped lines joined into texts under ``limit`` characters each (at most 40 of them)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for raw in lines:
        line = _cut(raw, limit)
        if size + len(line) + 1 > limit and current:
            out.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        out.append("\n".join(current))
    return out[:40]


def _history(h: HistoryReply) -> Message:
    m = h.monitor
    rows = []
    for c in h.checks:
        mark = "✅" if c.ok else "🔴"
        cause = "" if c.ok else f" {CAUSE_TITLE[c.cause]}"
        rows.append(
            f"{mark} {c.at.strftime('%m-%d %H:%M:%S')}  `{esc(c.outcome)}`"
            f" {ms(c.total_ms)} {esc(c.ip or '-')}{cause}"
        )
    incidents = []
    for i in h.incidents:
        end = f"closed {_when(i.closed_at)}" if i.closed_at else "*open*"
        ack = f" · acked by <@{esc(i.acked_by)}>" if i.acked_by else ""
        incidents.append(f"{_when(i.opened_at)} {incident_title(i)} · {end}{ack}")
    blocks = [
        header(f"📈 #{m.id} {m.url}"),
        fields(
            f"*Uptime 24 h*\n{pct(h.uptime_24h)} ({h.checks_24h} checks)",
            f"*Uptime 7 d*\n{pct(h.uptime_7d)}",
            f"*Latency p50 / p95*\n{ms(h.p50_ms)} / {ms(h.p95_ms)}",
            f"*State*\n{state_label(m)}",
        ),
        listing("Last checks", rows, "") or section("*Last checks*\n(none yet)"),
        listing("Incidents", incidents, "•"),
        None if h.chartable else context(NO_CHART),
    ]
    text = f"#{m.id} {m.url}: uptime 24 h {pct(h.uptime_24h)}, 7 d {pct(h.uptime_7d)}."
    return message(text, blocks)


def chart_refused(code: str) -> Message:
    """Said privately when the chart of ``history`` could not be posted (its text was)."""
    why = {
        "not_in_channel": "the bot is not in this channel: `/invite @check502`, then try again",
        "missing_scope": "the app lacks the `files:write` scope: reinstall it to the workspace",
        "channel_not_found": "Slack does not let the bot see this channel: `/invite @check502`",
        "upload_failed": "the upload did not go through; try again later",
    }.get(code, f"Slack said `{esc(code)}`")
    return Message(f"The chart could not be posted: {why}.")


# ----------------------------------------------------------------------------------- alerts


def alert_message(alert: Alert) -> Message:
    """An alert; a DOWN (or GROUPED) one and an escalation ping the monitor's people first."""
    msg = _alert_body(alert)
    who = pings(alert)  # the IDs the grammar validated: nothing here to escape
    if not who:
        return msg
    return Message(f"{who} {msg.text}", [section(who), *msg.blocks] if msg.blocks else [])


def _alert_body(alert: Alert) -> Message:
    monitor = f"#{alert.monitor_id}" if alert.monitor_id is not None else ""
    url = alert.url or ""
    d = alert.diagnosis
    match alert.kind:
        case AlertKind.DOWN:
            # A compact card a phone shows whole; the full diagnosis is behind Details.
            c = card(alert.monitor_id, alert.url, d, expected=alert.expected, slow=alert.slow)
            # No header block: the title holds the URL, remote text, escaped in mrkdwn.
            body: list[dict[str, Any] | None] = [_card_section(c, title=True)]
            body += region_blocks(alert.regions)
            if alert.monitor_id is not None:
                body.append(monitor_buttons(alert.monitor_id, alert=True, details=True))
            return message(f"{c.title}: {c.headline}", body)
        case AlertKind.GROUPED:
            items = alert.grouped
            rows = []
            for a in items:
                v = a.diagnosis.verdict if a.diagnosis else None
                why = f"{grouped_title(a)}: {esc(v.summary)}" if v else "down"
                rows.append(f"*#{a.monitor_id}* {esc(a.url or '')} · {why}")
            blocks = [
                header(f"🔴 {len(items)} monitors of this channel are DOWN"),
                listing("Down", rows),
                context(
                    "Follow-ups for each go in this thread · `/check502 ack <id>` ·"
                    " `/check502 history <id>`"
                ),
            ]
            return message(f"🔴 {len(items)} monitors of this channel are DOWN.", blocks)
        case AlertKind.CAUSE_CHANGED:
            before = CAUSE_TITLE[alert.previous_cause] if alert.previous_cause else "?"
            now = CAUSE_TITLE[d.verdict.cause] if d else "?"
            text = f"🟠 {monitor} {url} is still down; the cause changed: {before} → {now}."
            blocks = [
                section(
                    f"🟠 *{monitor}* {esc(url)} is still down; the cause changed:"
                    f" *{before}* → *{now}*.\n{esc(d.verdict.summary) if d else ''}"
                ),
                *region_blocks(alert.regions),
                listing("Next steps", (esc(s) for s in d.verdict.next_steps[:3]), "→")
                if d
                else None,
            ]
            return message(text, blocks)
        case AlertKind.REMINDER:
            down = format_duration(int(alert.downtime_s or 0))
            why = d.verdict.summary if d else ""
            text = f"⏰ {monitor} {url} is still down after {down}. {why}"
            buttons = monitor_buttons(alert.monitor_id, alert=True) if alert.monitor_id else None
            return message(text, [section(esc(text)), buttons])
        case AlertKind.ESCALATION:
            text = escalation_text(alert)
            buttons = monitor_buttons(alert.monitor_id, alert=True) if alert.monitor_id else None
            return message(text, [section(esc(text)), buttons])
        case AlertKind.RECOVERED:
            down = format_duration(max(1, int(alert.downtime_s or 0)))
            now = ""
            if d is not None and (p := sides(d).public) is not None:
                now = f" Now `{esc(status_line(p))}` in {ms(p.timings.total)}."
            text = f"✅ RECOVERED {monitor} {url} after {down} {down_word(alert)}."
            return message(
                text,
                [
                    section(
                        f"✅ *RECOVERED {monitor}* {esc(url)} after {down} {down_word(alert)}.{now}"
                    )
                ],
            )
        case AlertKind.CERT_EXPIRING:
            text = f"📜 {monitor} {url}: its TLS certificate expires in {alert.days_left} days."
            return message(text, [section(esc(text))])
        case AlertKind.DEGRADED:
            text = (
                f"⚠️ Monitoring degraded: {alert.detail}. Alerts of targets that give no"
                " answer wait for the bot's own network."
            )
            return message(text, [section(esc(text))])
        case AlertKind.RESTORED:
            text = "✅ Monitoring restored: the bot's own network works again."
            return message(text, [section(text)])
        case AlertKind.REGION_DEGRADED | AlertKind.REGION_RESTORED:
            mark = "⚠️" if alert.kind is AlertKind.REGION_DEGRADED else "✅"
            text = f"{mark} {region_notice(alert)}"
            return message(text, [section(esc(text))])
    raise AssertionError(f"unrendered alert {alert.kind}")  # pragma: no cover


def region_blocks(views: Sequence[RegionView]) -> list[dict[str, Any]]:
    """Each region's result side by side: a heading, then sections of up to 10 fields (Slack's
    limit per section), one field per region."""
    if not views:
        return []
    cells = []
    for view in views:
        name, status, latency, ip, cause = region_cells(view)
        lines = [f"{region_mark(view)} *{esc(name)}*", f"`{esc(status)}` · {latency}", esc(ip)]
        lines.append(esc(cause))
        if not view.counted:
            lines.append(f"_(not counted: {esc(view.note or 'no answer')})_")
        cells.append("\n".join(lines))
    out = [context(esc(regions_head(views)))]
    out += [fields(*cells[i : i + 10]) for i in range(0, len(cells), 10)]
    return out


def _card_section(c: Card, *, title: bool = False, first: str = "") -> dict[str, Any]:
    rows = [f"*{esc(c.title)}*"] if title else [first] if first else []
    rows += [f"*{esc(c.headline)}*", esc(c.public)]
    if c.origin is not None:
        rows.append(esc(c.origin))
    if c.step is not None:
        rows.append(f"→ {esc(c.step)}")
    return section("\n".join(rows))


def resolved_message(original: Alert, recovered: Alert) -> Message:
    """The DOWN alert re-rendered as resolved, for ``chat.update`` of the alert message."""
    monitor = f"#{original.monitor_id}" if original.monitor_id is not None else ""
    d = original.diagnosis
    cause = outcome_title(d) if d else "down"
    down = format_duration(max(1, int(recovered.downtime_s or 0)))
    title = f"✅ RESOLVED {monitor} · was {cause}"
    c = card(original.monitor_id, original.url, d, expected=original.expected, slow=original.slow)
    body = [header(title), _card_section(c, first=esc(original.url or ""))]
    body += region_blocks(original.regions)
    note = context(
        f"Recovered {_when(recovered.at)} after {down} {down_word(recovered)} · details in the thread"
    )
    body.insert(1, note)
    return message(
        f"✅ RESOLVED {monitor} {original.url or ''} after {down} {down_word(recovered)}.", body
    )


def annotated(
    blocks: Sequence[dict[str, Any]], note: str, *, drop: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """A message's blocks with ``note`` added as context and the ``drop`` buttons removed:
    how a button click shows in place ("Muted for 1 h by @ana")."""
    gone = set(drop)
    out: list[dict[str, Any]] = []
    for b in blocks:
        if b.get("type") == "actions":
            kept = [e for e in b.get("elements", ()) if e.get("action_id") not in gone]
            if kept:
                out.append({**b, "elements": kept})
            continue
        out.append(b)
    actions_at = next((i for i, b in enumerate(out) if b.get("type") == "actions"), len(out))
    out.insert(actions_at, context(note))
    return _bounded(out)
