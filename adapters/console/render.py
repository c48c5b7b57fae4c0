"""Render the core's replies and alerts for a terminal. No logic: values in, text out."""

from __future__ import annotations

from datetime import datetime

from adapters.cli.render import Style, render_diagnosis, render_explanation, wrap, wrap_lines
from adapters.present import (
    NO_CHART,
    card,
    details_regions,
    down_word,
    escalation_text,
    grouped_title,
    maintenance_note,
    people_note,
    pings,
    region_notice,
    region_table,
    regions_head,
    regions_note,
    regions_sentence,
    request_words,
    status_sentences,
)
from bot.commands import format_duration
from bot.model import (
    Alert,
    AlertKind,
    Delivery,
    DiagnosisReply,
    ErrorReply,
    ExplainReply,
    ExportReply,
    HistoryReply,
    ListReply,
    Monitor,
    Reply,
    StatusReply,
    TextReply,
    WatchReply,
)
from checks import Cause

_MAX_GROUP_LINES = 20


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.rstrip("\n").split("\n"))


def _state(m: Monitor, style: Style, width: int = 0) -> str:
    """The monitor's state padded to ``width`` visible columns, then coloured: the padding is
    counted on the text a terminal shows, never on the colour codes around it."""
    if m.state == "down":
        return style.red(f"{'DOWN':<{width}}")
    if m.state == "up":
        return style.green(f"{'up':<{width}}")
    if m.state == "slow":
        return style.yellow(f"{'SLOW':<{width}}")
    return style.dim(f"{'new':<{width}}")


def render_monitor_line(m: Monitor, style: Style) -> str:
    extra = []
    if m.last_outcome:
        extra.append(f"last {m.last_outcome}")
    if m.muted_until is not None:
        extra.append(f"muted until {_when(m.muted_until)}")
    if m.maintenance_until is not None:
        extra.append(maintenance_note(m.maintenance_until))
    if m.origin:
        extra.append(f"origin {m.origin}")
    if asked := request_words(m):
        extra.append(asked)
    if (people := people_note(m)) is not None:
        extra.append(people)
    if (regions := regions_note(m)) is not None:
        extra.append(regions)
    if m.source is not None:
        extra.append(f"from {m.source}")
    tail = f"  {style.dim(' · '.join(extra))}" if extra else ""
    return f"#{m.id:<4} {_state(m, style, 6)} every {format_duration(m.every):<6} {m.url}{tail}"


def render_reply(reply: Reply, style: Style) -> str:
    match reply:
        case DiagnosisReply(diagnosis=d, monitor_id=mid, details=details):
            what = "Details of the alert of" if details else "Re-check of"
            head = f"{what} #{mid}\n" if mid is not None else ""
            if reply.maintenance_until is not None:
                head += style.dim(f"🛠 {maintenance_note(reply.maintenance_until)}") + "\n"
            if regional := details_regions(reply):
                head += "\n".join(f"  {line}" for line in regional) + "\n"
            return head + render_diagnosis(d, style, json_hint=False)
        case WatchReply(monitor=m, diagnosis=d):
            head = (
                f"Watching #{m.id} {m.url} every {format_duration(m.every)}"
                f" (alert after {m.confirm} failed checks in a row; expect {m.expect})."
                + regions_sentence(m)
            )
            v = d.verdict
            first = "healthy" if v.cause is Cause.OK else f"{v.cause.value}: {v.summary}"
            lines = [wrap(head, style.width), wrap(f"First check: {first}", style.width, "  ")]
            return f"{style.bold(lines[0])}\n{lines[1]}\n"
        case ListReply(monitors=monitors):
            if not monitors:
                return "No monitors in this channel. Add one: /check502 watch <url>\n"
            return "\n".join(render_monitor_line(m, style) for m in monitors) + "\n"
        case HistoryReply():
            return _history(reply, style)
        case ExplainReply(explanation=e):
            return render_explanation(e, style)
        case ExportReply(text=text):  # the whole file, as is: it is meant to be copied
            return text
        case StatusReply():
            return render_reply(TextReply("\n".join(status_sentences(reply))), style)
        case TextReply(text=text):  # help and the like: prose wraps, command lines do not
            return wrap_lines(text.rstrip("\n"), style.width) + "\n"
        case ErrorReply(text=text):
            return style.red(wrap_lines(f"✗ {text}", style.width)) + "\n"
    raise AssertionError(f"unrendered reply {reply!r}")  # pragma: no cover


def _history(h: HistoryReply, style: Style) -> str:
    m = h.monitor
    lines = [
        style.bold(f"#{m.id} {m.url}"),
        f"  uptime 24 h {_pct(h.uptime_24h)} ({h.checks_24h} checks) · 7 d {_pct(h.uptime_7d)}"
        f" · latency p50 {_ms(h.p50_ms)} p95 {_ms(h.p95_ms)}",
        "",
        style.bold("Last checks"),
    ]
    for c in h.checks:
        mark = style.green("✓") if c.ok else style.red("✗")
        cause = "" if c.ok else f"  {c.cause.value}"
        lines.append(
            f"  {mark} {_when(c.at)}  {c.outcome:<16} {_ms(c.total_ms):>8}  {c.ip or '-'}{cause}"
        )
    if not h.checks:
        lines.append("  (none yet)")
    if h.incidents:
        lines += ["", style.bold("Incidents")]
        for i in h.incidents:
            end = f"closed {_when(i.closed_at)}" if i.closed_at else style.red("open")
            ack = f" · acked by {i.acked_by}" if i.acked_by else ""
            kind = "slow" if i.kind == "slow" else i.cause.value
            lines.append(f"  {_when(i.opened_at)}  {kind:<18} {end}{ack}")
    if not h.chartable:
        lines += ["", style.dim(NO_CHART)]
    return "\n".join(lines) + "\n"


def render_alert(alert: Alert, style: Style) -> str:
    text = _alert_text(alert, style)
    who = pings(alert)
    return f"{who}\n{text}" if who else text


def _alert_text(alert: Alert, style: Style) -> str:
    monitor = f"#{alert.monitor_id} {alert.url}" if alert.monitor_id is not None else ""
    match alert.kind:
        case AlertKind.DOWN:
            c = card(
                alert.monitor_id,
                alert.url,
                alert.diagnosis,
                expected=alert.expected,
                slow=alert.slow,
            )
            lines = [style.yellow(c.title) if alert.slow else style.red(c.title)]
            body = [c.headline, c.public, *([c.origin] if c.origin is not None else [])]
            lines += [wrap(text, style.width, "  ") for text in body]
            if alert.regions:
                lines.append(f"  {regions_head(alert.regions)}")
                lines += [f"    {row}" for row in region_table(alert.regions)]
            if c.step is not None:
                lines.append(wrap(f"Next: {c.step}", style.width, "  ", "      "))
            i = alert.monitor_id
            actions = (
                f"details: {c.details_command}",
                f"ack: /check502 ack {i}",
                f"mute: /check502 mute {i} 1h",
            )
            lines.append(style.dim(_segments(actions, style.width)))
            return "\n".join(lines) + "\n"
        case AlertKind.GROUPED:
            items = alert.grouped
            lines = [style.red(f"🔴 {len(items)} monitors of this channel are DOWN")]
            for a in items[:_MAX_GROUP_LINES]:
                v = a.diagnosis.verdict if a.diagnosis else None
                why = f"{grouped_title(a)}: {v.summary}" if v else "down"
                lines.append(f"  • #{a.monitor_id} {a.url}: {why}")
            if len(items) > _MAX_GROUP_LINES:
                lines.append(f"  … and {len(items) - _MAX_GROUP_LINES} more (/check502 list)")
            return "\n".join(lines) + "\n"
        case AlertKind.CAUSE_CHANGED:
            now = alert.diagnosis.verdict if alert.diagnosis else None
            before = alert.previous_cause.value if alert.previous_cause else "?"
            after = f"{now.cause.value}: {now.summary}" if now else "?"
            text = style.yellow(f"🟠 {monitor} still down, cause changed {before} → {after}")
            if alert.regions:
                rows = [regions_head(alert.regions), *region_table(alert.regions)]
                text += "\n" + "\n".join(f"  {row}" for row in rows)
            return text + "\n"
        case AlertKind.REMINDER:
            down = format_duration(int(alert.downtime_s or 0))
            why = alert.diagnosis.verdict.summary if alert.diagnosis else ""
            return style.yellow(f"⏰ {monitor} still down after {down}. {why}") + "\n"
        case AlertKind.ESCALATION:
            return style.red(escalation_text(alert)) + "\n"
        case AlertKind.RECOVERED:
            down = format_duration(max(1, int(alert.downtime_s or 0)))
            return style.green(f"✅ RECOVERED {monitor} after {down} {down_word(alert)}") + "\n"
        case AlertKind.RESOLVED:
            down = format_duration(max(1, int(alert.downtime_s or 0)))
            return (
                style.green(
                    f"✅ RESOLVED {monitor} after {down} {down_word(alert)} (actions removed)"
                )
                + "\n"
            )
        case AlertKind.CERT_EXPIRING:
            return (
                style.yellow(f"📜 {monitor}: its TLS certificate expires in {alert.days_left} days")
                + "\n"
            )
        case AlertKind.DEGRADED:
            return (
                style.yellow(
                    f"⚠️  Monitoring degraded: {alert.detail}. Alerts of targets that give no"
                    " answer wait for the bot's own network."
                )
                + "\n"
            )
        case AlertKind.RESTORED:
            return style.green("✅ Monitoring restored: the bot's own network works again.") + "\n"
        case AlertKind.REGION_DEGRADED:
            return style.yellow(f"⚠️  {region_notice(alert)}") + "\n"
        case AlertKind.REGION_RESTORED:
            return style.green(f"✅ {region_notice(alert)}") + "\n"
    raise AssertionError(f"unrendered alert {alert.kind}")  # pragma: no cover


def _segments(parts: tuple[str, ...], width: int | None, indent: str = "  ") -> str:
    """``parts`` joined by " · ", a line broken only between two parts (a command stays whole)."""
    lines = [indent + parts[0]]
    for part in parts[1:]:
        if width is not None and len(lines[-1]) + 3 + len(part) > width:
            lines.append(indent + part)
        else:
            lines[-1] += " · " + part
    return "\n".join(lines)


def render_delivery(delivery: Delivery, message_id: str, style: Style) -> str:
    text = render_alert(delivery.alert, style)
    if delivery.edit_only:  # the alert message, edited in place
        return f"[{message_id} edited] " + text
    prefix = f"[{message_id}] "
    if delivery.thread is not None:
        prefix = f"[{message_id} ↳ thread of {delivery.thread.message_id}] "
    tail = ""
    if delivery.resolves is not None:
        tail = style.dim(f"  (alert {delivery.resolves.message_id} marked resolved)") + "\n"
    return prefix + text + tail
