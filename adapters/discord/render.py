"""The core's replies and alerts as Discord messages: an embed (or short content) and buttons.

No logic: values in, messages out. Remote text (headers, error pages, URLs) is escaped for
Discord's markdown, and every message is sent with no mentions allowed, so a ``@everyone`` in a
``Server`` header pings no one. Limits are kept by trimming: a title under 256 characters, the
description under 4,096, at most 25 fields of 1,024, and 6,000 in all (Discord answers 400
beyond); ``content`` under 2,000.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import discord
from discord.utils import escape_markdown

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
from bot.commands import MentionKind, format_duration
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

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
FIELDS = 25
EMBED_LIMIT = 6000
CONTENT_LIMIT = 2000
MUTE_SECONDS = 3600

GREEN = 0x2EB67D
GREY = 0x95A5A6
SLOW_YELLOW = 0xF1C40F
"""A SLOW alert's colour: a warning, not an outage."""
COLOUR: dict[Cause, int] = {
    Cause.OK: GREEN,
    Cause.ORIGIN_DOWN: 0xE01E5A,
    Cause.WORKERS_EXHAUSTED: 0xE8712D,
    Cause.FIREWALL: 0xB03A2E,
    Cause.DNS: 0xC0392B,
    Cause.TIMEOUT: 0xE67E22,
    Cause.TLS: 0xA93226,
    Cause.PROTOCOL: 0xD35400,
    Cause.UNKNOWN: GREY,
}
"""Green when healthy; a red or an orange per cause (orange: slow or overloaded)."""


def md(text: str) -> str:
    """Remote or user text, shown literally in Discord's markdown."""
    return escape_markdown(text, as_needed=False)


_CODE = re.compile(r"`([^`\n]+)`")


def rich(text: str) -> str:
    """Like :func:`md`, with the core's `backticked` commands kept as inline code (escaping
    them would show literal backticks)."""
    out: list[str] = []
    at = 0
    for m in _CODE.finditer(text):
        out += [md(text[at : m.start()]), code(m.group(1))]
        at = m.end()
    out.append(md(text[at:]))
    return "".join(out)


def code(text: str) -> str:
    """Inline code; a backtick inside cannot be escaped, so it becomes a look-alike."""
    return "`" + text.replace("`", "ˋ") + "`" if text else ""


def block(lines: Iterable[str]) -> str:
    return "```\n" + "\n".join(line.replace("```", "ˋˋˋ") for line in lines) + "\n```"


@dataclass(frozen=True, slots=True)
class Buttons:
    """Which buttons a message carries, for the app to build its view from."""

    monitor_id: int
    alert: bool = False
    """On an alert: Acknowledge too, and Re-check answers in the alert's thread."""
    mute: bool = True
    ack: bool = True
    details: bool = False
    """Details first: the full diagnosis behind an alert, posted in its thread."""


@dataclass(frozen=True, slots=True)
class Message:
    content: str | None = None
    embed: discord.Embed | None = None
    buttons: Buttons | None = None


# ----------------------------------------------------------------------------------- embeds


def _field(embed: discord.Embed, name: str, value: str, *, inline: bool = False) -> None:
    if value and len(embed.fields) < FIELDS:
        embed.add_field(name=cut(name, TITLE_LIMIT), value=cut(value, FIELD_LIMIT), inline=inline)


def _listing(rows: Iterable[str], bullet: str = "•") -> str:
    return "\n".join(fit((f"{bullet} {r}" for r in rows), FIELD_LIMIT))


def bounded(embed: discord.Embed) -> discord.Embed:
    """Within 6,000 characters in all: cut the longest field until it fits (bounded)."""
    for _ in range(FIELDS * 4):
        over = len(embed) - EMBED_LIMIT
        if over <= 0:
            break
        fields = embed.fields
        if not fields:
            embed.description = cut(
                embed.description or "", max(0, len(embed.description or "") - over)
            )
            break
        i = max(range(len(fields)), key=lambda n: len(fields[n].value or ""))
        value = fields[i].value or ""
        keep = max(1, len(value) - over - 1)
        fenced = value.endswith("\n```")  # a code block keeps its closing fence
        shorter = cut(value[:-4], max(5, keep - 4)) + "\n```" if fenced else cut(value, keep)
        embed.set_field_at(
            i, name=fields[i].name or "-", value=shorter, inline=bool(fields[i].inline)
        )
    return embed


def _probe(p: Probe) -> str:
    lines = [code(address(p))]
    took = f" in {ms(p.timings.total)}" if p.timings.total is not None else ""
    lines.append(f"**{md(status_line(p))}**{took}")
    if p.error is not None:
        kind = "" if p.status is None else f"{p.error.kind.value}: "
        lines.append(md(kind + cut(p.error.message, 200)))
    for key, value in gateway_headers(p)[:5]:
        lines.append(f"{md(key.lower())}: {code(cut(value, 100))}")
    if p.tls is not None:
        t = p.tls
        state = "verified" if t.verified else f"**not verified** ({md(t.verify_error or '?')})"
        days = "" if t.days_left is None else f", {t.days_left} days left"
        lines.append(f"TLS {md(t.version or '')} {md(t.alpn or '')}{days}, {state}")
    return "\n".join(lines)


def diagnosis_embed(d: Diagnosis, *, title: str | None = None) -> discord.Embed:
    """The whole diagnosis: verdict, facts, timings, IPs, public vs origin, advice, reproduce."""
    v = d.verdict
    both = sides(d)
    public = both.public
    embed = discord.Embed(
        title=cut(title or headline(d), TITLE_LIMIT),
        description=cut(f"**{md(d.url)}**\n{rich(v.summary)}", DESCRIPTION_LIMIT),
        colour=COLOUR[v.cause],
        timestamp=d.checked_at,
    )
    _field(embed, "Status", md(status_line(public)) if public else "not probed", inline=True)
    _field(embed, "Generated by", md(v.generated_by or "nothing answered"), inline=True)
    if v.hop is not None:
        _field(embed, "Broken hop", HOP_TITLE[v.hop], inline=True)
    _field(embed, "Confidence", f"{v.confidence:.2f}", inline=True)
    if v.code:
        _field(embed, "Platform code", code(v.code), inline=True)
    if public is not None:
        version = public.http_version or "no response"
        _field(embed, f"Timings ({version})", code(timings_line(public)))
        ips = resolved_ips(d)
        if ips:
            shown = ", ".join(code(ip) for ip in ips[:8])
            more = f" +{len(ips) - 8} more" if len(ips) > 8 else ""
            _field(embed, "Resolved", f"{shown}{more} · used {code(public.ip or '-')}")
        if (mix := status_mix(d)) is not None:
            _field(embed, runs_label(d), md(mix))
        _field(embed, "Public", _probe(public), inline=True)
        if both.origin is not None:
            _field(embed, "Origin bypass", _probe(both.origin), inline=True)
        else:
            _field(
                embed,
                "Origin bypass",
                "Not tried: add `origin:` to send the same request straight to the origin,"
                " with the public Host and SNI.",
                inline=True,
            )
    _field(embed, "Evidence", _listing(rich(e) for e in v.evidence))
    _field(embed, "Next steps", _listing((rich(s) for s in v.next_steps), "→"))
    if v.reproduce:
        lines = fit((cut(line, 900) for line in v.reproduce), FIELD_LIMIT - 10, more="…")
        _field(embed, "Reproduce", block(lines))
    footer = "check502"
    if v.alternatives:
        footer += " · also possible: " + ", ".join(CAUSE_TITLE[c] for c in v.alternatives)
    embed.set_footer(text=cut(footer, 2048))
    return bounded(embed)


# ---------------------------------------------------------------------------------- replies


def monitor_line(m: Monitor) -> str:
    extra = [f"every {format_duration(m.every)}"]
    if m.last_outcome:
        extra.append(f"last {md(m.last_outcome)}")
    if m.muted_until is not None:
        extra.append(f"🔕 muted until {discord.utils.format_dt(m.muted_until, 'R')}")
    if m.maintenance_until is not None:
        extra.append(f"🛠 {maintenance_note(m.maintenance_until)}")
    if m.origin:
        extra.append(f"origin {code(m.origin)}")
    if asked := request_words(m):
        extra.append(md(asked))
    if (people := people_note(m)) is not None:
        extra.append(people)  # mentions as typed: the reply allows none, so they only show
    if (regions := regions_note(m)) is not None:
        extra.append(md(regions))
    if m.source is not None:
        extra.append(f"from {md(m.source)}")
    return f"**#{m.id}** {state_label(m)} {md(m.url)} · " + " · ".join(extra)


def _text_embed(title: str, text: str, colour: int = GREY) -> discord.Embed:
    return discord.Embed(
        title=cut(title, TITLE_LIMIT), description=cut(text, DESCRIPTION_LIMIT), colour=colour
    )


def reply_message(reply: Reply) -> Message:
    match reply:
        case DiagnosisReply(diagnosis=d, monitor_id=mid, details=details):
            what = "Details of the alert of" if details else "Re-check of"
            title = f"{what} #{mid} · {headline(d)}" if mid is not None else None
            buttons = Buttons(mid, ack=False) if mid is not None else None
            embed = diagnosis_embed(d, title=title)
            if reply.regions:
                regional = details_regions(reply)
                embed.description = cut(
                    f"{md(regional[0])}\n{embed.description or ''}", DESCRIPTION_LIMIT
                )
                embed = region_fields(embed, reply.views)
            if reply.maintenance_until is not None:
                embed.set_footer(text=f"🛠 {maintenance_note(reply.maintenance_until)}")
            return Message(embed=embed, buttons=buttons)
        case WatchReply(monitor=m, diagnosis=d):
            embed = discord.Embed(
                title=cut(f"👀 Watching #{m.id} every {format_duration(m.every)}", TITLE_LIMIT),
                description=cut(
                    f"{md(m.url)}\nAlerts post in this channel after {m.confirm} failed checks in"
                    f" a row (expect {code(str(m.expect))}), with follow-ups in the alert's"
                    " thread." + md(regions_sentence(m)),
                    DESCRIPTION_LIMIT,
                ),
                colour=COLOUR[d.verdict.cause],
            )
            _field(embed, "First check", f"{md(headline(d))}\n{rich(d.verdict.summary)}")
            embed.set_footer(text=f"/check502 history id:{m.id} · /check502 unwatch id:{m.id}")
            return Message(embed=bounded(embed), buttons=Buttons(m.id, ack=False))
        case ListReply(monitors=monitors):
            if not monitors:
                return Message(
                    embed=_text_embed(
                        "No monitors in this channel", "Add one: `/check502 watch url:<url>`"
                    )
                )
            lines = fit((monitor_line(m) for m in monitors), DESCRIPTION_LIMIT)
            return Message(
                embed=_text_embed(f"{len(monitors)} monitors in this channel", "\n".join(lines))
            )
        case HistoryReply():
            return Message(embed=_history(reply))
        case ExplainReply(explanation=e):
            title = CAUSE_TITLE[e.cause] if e.cause is not Cause.UNKNOWN else "No known cause"
            embed = _text_embed(f"🔎 {title}", rich(e.summary), COLOUR[e.cause])
            facts = []
            if e.source:
                facts.append(f"written by {md(e.source)}")
            if e.status:
                facts.append(f"clients see {e.status}")
            if e.matched:
                facts.append(f"matched {code(cut(e.matched, 200))}")
            if e.alternatives:
                facts.append("also possible: " + ", ".join(CAUSE_TITLE[c] for c in e.alternatives))
            _field(embed, "Next steps", _listing((rich(s) for s in e.next_steps), "→"))
            if facts:
                _field(embed, "Matched", " · ".join(facts))
            return Message(embed=bounded(embed))
        case StatusReply():
            return reply_message(TextReply("\n".join(status_sentences(reply))))
        case ExportReply(text=text, monitors=n):
            pieces = export_pieces(text.replace("```", "`\u200b``"), DESCRIPTION_LIMIT - 20)
            embed = _text_embed(f"{n} monitors as a monitors file", f"```toml\n{pieces[0]}\n```")
            if len(pieces) > 1:
                embed.set_footer(text=cut(export_note(1, len(pieces)), 2048))
            return Message(embed=embed)
        case TextReply(text=text):
            return Message(embed=_text_embed("check502", text))
        case ErrorReply(text=text):
            return Message(content=cut(f"✗ {text}", CONTENT_LIMIT))
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def _history(h: HistoryReply) -> discord.Embed:
    m = h.monitor
    embed = _text_embed(
        f"📈 #{m.id} {m.url}", f"{state_label(m)} · every {format_duration(m.every)}"
    )
    _field(embed, "Uptime 24 h", f"{pct(h.uptime_24h)} ({h.checks_24h} checks)", inline=True)
    _field(embed, "Uptime 7 d", pct(h.uptime_7d), inline=True)
    _field(embed, "Latency p50 / p95", f"{ms(h.p50_ms)} / {ms(h.p95_ms)}", inline=True)
    rows = [
        f"{'✅' if c.ok else '🔴'} {discord.utils.format_dt(c.at, 'T')} {code(c.outcome)}"
        f" {ms(c.total_ms)}{'' if c.ok else ' ' + CAUSE_TITLE[c.cause]}"
        for c in h.checks
    ]
    _field(embed, "Last checks", _listing(rows, "") or "(none yet)")
    incidents = [
        f"{discord.utils.format_dt(i.opened_at, 'f')} {incident_title(i)} · "
        + (f"closed {discord.utils.format_dt(i.closed_at, 'R')}" if i.closed_at else "**open**")
        + (f" · acked by <@{i.acked_by}>" if i.acked_by else "")
        for i in h.incidents
    ]
    _field(embed, "Incidents", _listing(incidents))
    if not h.chartable:
        embed.set_footer(text=NO_CHART)
    return bounded(embed)


def with_chart(embed: discord.Embed, filename: str) -> discord.Embed:
    """``embed`` showing the attached chart ``filename`` (sent with it) as its image."""
    shown = embed.copy()
    shown.set_image(url=f"attachment://{filename}")
    return shown


def chart_refused(reason: str) -> str:
    """Said privately when the chart of ``history`` could not be attached (its text was)."""
    return cut(f"✗ The chart could not be attached ({md(reason)}).", CONTENT_LIMIT)


# ----------------------------------------------------------------------------------- alerts


def alert_message(alert: Alert) -> Message:
    """An alert; a DOWN (or GROUPED) one and an escalation ping the monitor's people in the
    content (mentions in an embed ping no one). The surface sends it with ``allowed_mentions``
    listing exactly them: :func:`allowed_mentions`."""
    msg = _alert_body(alert)
    who = pings(alert)
    if not who:
        return msg
    return Message(content=who, embed=msg.embed, buttons=msg.buttons)


def allowed_mentions(alert: Alert) -> discord.AllowedMentions:
    """Exactly the users and roles of the alert's pings: never everyone or here, nor anyone a
    diagnosis's text happens to name."""
    if not alert.pings:
        return discord.AllowedMentions.none()
    users = [discord.Object(int(m.id)) for m in alert.pings if m.kind is MentionKind.DISCORD_USER]
    roles = [discord.Object(int(m.id)) for m in alert.pings if m.kind is MentionKind.DISCORD_ROLE]
    return discord.AllowedMentions(everyone=False, users=users, roles=roles, replied_user=False)


def _alert_body(alert: Alert) -> Message:
    monitor = f"#{alert.monitor_id}" if alert.monitor_id is not None else ""
    url = md(alert.url or "")
    d = alert.diagnosis
    match alert.kind:
        case AlertKind.DOWN:
            # A compact card a phone shows whole; the full diagnosis is behind Details.
            c = card(alert.monitor_id, alert.url, d, expected=alert.expected, slow=alert.slow)
            colour = COLOUR[d.verdict.cause] if d else COLOUR[Cause.UNKNOWN]
            embed = card_embed(c, SLOW_YELLOW if alert.slow else colour)
            embed = region_fields(embed, alert.regions)
            buttons = (
                Buttons(alert.monitor_id, alert=True, details=True)
                if alert.monitor_id is not None
                else None
            )
            return Message(embed=embed, buttons=buttons)
        case AlertKind.GROUPED:
            rows = []
            for a in alert.grouped:
                v = a.diagnosis.verdict if a.diagnosis else None
                why = f"{grouped_title(a)}: {rich(v.summary)}" if v else "down"
                rows.append(f"**#{a.monitor_id}** {md(a.url or '')} · {why}")
            embed = _text_embed(
                f"🔴 {len(alert.grouped)} monitors of this channel are DOWN",
                "\n".join(fit(rows, DESCRIPTION_LIMIT - 200)),
                COLOUR[Cause.ORIGIN_DOWN],
            )
            embed.set_footer(text="Follow-ups for each go in this thread · /check502 ack id:<id>")
            return Message(embed=embed)
        case AlertKind.CAUSE_CHANGED:
            before = CAUSE_TITLE[alert.previous_cause] if alert.previous_cause else "?"
            now = CAUSE_TITLE[d.verdict.cause] if d else "?"
            embed = _text_embed(
                f"🟠 {monitor} still down: {before} → {now}",
                f"{url}\n{rich(d.verdict.summary) if d else ''}",
                COLOUR[d.verdict.cause] if d else GREY,
            )
            if d:
                _field(
                    embed, "Next steps", _listing((rich(s) for s in d.verdict.next_steps[:3]), "→")
                )
            return Message(embed=region_fields(embed, alert.regions))
        case AlertKind.REMINDER:
            down = format_duration(int(alert.downtime_s or 0))
            why = rich(d.verdict.summary) if d else ""
            embed = _text_embed(f"⏰ {monitor} still down after {down}", f"{url}\n{why}", 0xE67E22)
            buttons = (
                Buttons(alert.monitor_id, alert=True) if alert.monitor_id is not None else None
            )
            return Message(embed=embed, buttons=buttons)
        case AlertKind.ESCALATION:
            embed = _text_embed(
                f"🚨 {monitor} not acknowledged",
                md(escalation_text(alert)),
                COLOUR[Cause.ORIGIN_DOWN],
            )
            buttons = (
                Buttons(alert.monitor_id, alert=True) if alert.monitor_id is not None else None
            )
            return Message(embed=embed, buttons=buttons)
        case AlertKind.RECOVERED:
            down = format_duration(max(1, int(alert.downtime_s or 0)))
            now = ""
            if d is not None and (p := sides(d).public) is not None:
                now = f"\nNow **{md(status_line(p))}** in {ms(p.timings.total)}."
            return Message(
                embed=_text_embed(
                    f"✅ RECOVERED {monitor} after {down} {down_word(alert)}", f"{url}{now}", GREEN
                )
            )
        case AlertKind.CERT_EXPIRING:
            return Message(
                embed=_text_embed(
                    f"📜 {monitor}: its TLS certificate expires in {alert.days_left} days",
                    url,
                    0xE67E22,
                )
            )
        case AlertKind.DEGRADED:
            return Message(
                embed=_text_embed(
                    "⚠️ Monitoring degraded",
                    f"{md(alert.detail or '')}. Alerts of targets that give no answer wait for"
                    " the bot's own network.",
                    0xE67E22,
                )
            )
        case AlertKind.RESTORED:
            return Message(
                embed=_text_embed(
                    "✅ Monitoring restored", "The bot's own network works again.", GREEN
                )
            )
        case AlertKind.REGION_DEGRADED:
            return Message(
                embed=_text_embed("⚠️ Region degraded", md(region_notice(alert)), 0xE67E22)
            )
        case AlertKind.REGION_RESTORED:
            return Message(embed=_text_embed("✅ Region back", md(region_notice(alert)), GREEN))
    raise AssertionError(f"unrendered alert {alert.kind}")  # pragma: no cover


def card_embed(c: Card, colour: int) -> discord.Embed:
    """The compact card: its title, then the headline in bold and one line per part."""
    rows = [f"**{md(c.headline)}**", md(c.public)]
    if c.origin is not None:
        rows.append(md(c.origin))
    if c.step is not None:
        rows.append(f"→ {rich(c.step)}")
    return _text_embed(c.title, "\n".join(rows), colour)


def region_fields(embed: discord.Embed, views: Sequence[RegionView]) -> discord.Embed:
    """Each region's result side by side: one inline field per region (three to a row), under
    a line that counts them; within Discord's 25 fields and 6,000 characters."""
    if not views:
        return embed
    embed.description = cut(
        f"{embed.description or ''}\n\n**{md(regions_head(views))}**", DESCRIPTION_LIMIT
    )
    for view in views:
        _, status, latency, ip, cause = region_cells(view)
        lines = [f"{code(status)} · {latency}", md(ip), md(cause)]
        if not view.counted:
            lines.append(f"*(not counted: {md(view.note or 'no answer')})*")
        _field(embed, f"{region_mark(view)} {view.region}", "\n".join(lines), inline=True)
    return bounded(embed)


def resolved_message(original: Alert, recovered: Alert) -> Message:
    """The DOWN alert re-rendered as resolved, to edit the alert message with (no buttons)."""
    monitor = f"#{original.monitor_id}" if original.monitor_id is not None else ""
    d = original.diagnosis
    cause = outcome_title(d) if d else "down"
    down = format_duration(max(1, int(recovered.downtime_s or 0)))
    title = f"✅ RESOLVED {monitor} · was {cause}"
    c = card(original.monitor_id, original.url, d, expected=original.expected, slow=original.slow)
    embed = region_fields(card_embed(c, GREEN), original.regions)
    embed.title = cut(title, TITLE_LIMIT)
    recovered_at = discord.utils.format_dt(recovered.at, "f")
    embed.description = cut(
        f"Recovered {recovered_at} after {down} {down_word(recovered)} · details in the thread\n\n"
        + (embed.description or ""),
        DESCRIPTION_LIMIT,
    )
    return Message(embed=bounded(embed))


def annotated(embed: discord.Embed, note: str) -> discord.Embed:
    """A message's embed with ``note`` added to its footer ("🔕 Muted for 1 h by …")."""
    copy = embed.copy()
    footer = copy.footer.text or ""
    text = f"{footer} · {note}" if footer else note
    copy.set_footer(text=cut(text, 2048))
    return bounded(copy)
