"""What every surface shows of a diagnosis, in the same words: the format-free half of rendering.

Each surface's ``render`` module lays these out in its own format (ANSI text, Block Kit, embeds,
Telegram HTML). Nothing here decides anything about the diagnosis; it only picks and names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from checks import Cause, Diagnosis, Finding, Hop, Probe
from checks.model import FINDING_WORDS

if TYPE_CHECKING:  # only a type: the check502 command must not import the bot (its start-up)
    from bot.model import (
        Alert,
        DiagnosisReply,
        IncidentRecord,
        Monitor,
        RegionView,
        StatusReply,
    )

CAUSE_TITLE: dict[Cause, str] = {
    Cause.OK: "Healthy",
    Cause.ORIGIN_DOWN: "Origin down",
    Cause.WORKERS_EXHAUSTED: "Workers exhausted",
    Cause.FIREWALL: "Firewall blocking the proxy",
    Cause.DNS: "DNS failure",
    Cause.TIMEOUT: "Upstream timeout",
    Cause.TLS: "TLS failure",
    Cause.PROTOCOL: "Protocol mismatch",
    Cause.UNKNOWN: "Cause unknown",
}

HOP_TITLE: dict[Hop, str] = {
    Hop.EDGE: "the edge (public name or edge itself)",
    Hop.EDGE_TO_ORIGIN: "edge → origin (the origin answers directly)",
    Hop.ORIGIN: "the origin",
}

NO_CHART = "No chart: no checks in the last 7 days yet."
"""What ``history`` says instead of attaching a chart when there is nothing to draw."""

PHASES = ("DNS", "connect", "TLS", "first byte", "transfer")
"""Per-phase names, in order, as :func:`phases` returns them."""


_FAILED_PHASE: dict[str, str] = {
    "dns_": "DNS",
    "connect_": "connect",
    "tls_": "TLS",
    "read_timeout": "first byte",
    "premature_close": "first byte",
    "invalid_response": "first byte",
    "headers_too_large": "first byte",
    "body_truncated": "transfer",
}


def failed_phase(p: Probe) -> str | None:
    """The phase (a name of :data:`PHASES`) in which the probe failed; None if it did not."""
    if p.error is None:
        return None
    kind = p.error.kind.value
    return next((name for prefix, name in _FAILED_PHASE.items() if kind.startswith(prefix)), None)


def phases(p: Probe) -> list[tuple[str, float | None]]:
    """Per-phase durations (ms) from the probe's cumulative timings; None where it did not happen.

    The time a failed probe spent after its last finished phase belongs to the phase that
    failed (a refused connect is drawn under "connect", not under "transfer"); the phases after
    it did not happen."""
    t = p.timings
    failed = failed_phase(p)
    marks = list(zip(PHASES, (t.dns, t.connect, t.tls, t.ttfb, t.total), strict=True))
    if failed is not None and failed != "transfer":
        at = PHASES.index(failed)
        if marks[at][1] is None:  # the phase never finished: the rest of the time is its own
            marks[at] = (failed, t.total)
            marks[at + 1 :] = [(name, None) for name, _ in marks[at + 1 :]]
    out: list[tuple[str, float | None]] = []
    previous = 0.0
    for name, cumulative in marks:
        if cumulative is None:
            out.append((name, None))
            continue
        out.append((name, max(0.0, cumulative - previous)))
        previous = cumulative
    return out


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def timings_line(p: Probe) -> str:
    """``DNS 1 ms (TTL 300 s) · connect 0 ms · TLS – · first byte 3 ms · total 4 ms`` (the TTL
    where the DNS answer gave one: how long a resolver may keep serving it)."""
    parts = [f"{name} {ms(value)}" for name, value in phases(p)[:4]]
    ttls = [r.ttl for r in p.resolved if r.ttl is not None]
    if ttls:
        parts[0] += f" (TTL {min(ttls)} s)"
    parts.append(f"total {ms(p.timings.total)}")
    return " · ".join(parts)


def headline(d: Diagnosis) -> str:
    """Plain text: ``🔴 Origin down · HTTP/1.1 502 Bad Gateway from nginx``."""
    v = d.verdict
    public = sides(d).public
    status = status_line(public) if public else "no probe"
    if v.cause is Cause.OK and d.findings:
        return f"⚠️ {outcome_title(d)} · {status}"
    if v.cause is Cause.OK:
        return f"✅ Healthy · {status}"
    who = f" from {v.generated_by}" if v.generated_by and public and public.status else ""
    return f"🔴 {CAUSE_TITLE[v.cause]} · {status}{who}"


SLOW_MARK = "🟡"
"""A SLOW incident's mark on every surface: a warning, not an outage."""


def outcome_title(d: Diagnosis) -> str:
    """The headline word of a failed or slow check: its 502 cause, or, where none was found,
    what the answer failed of the request (``Keyword missing``, ``Slow``...)."""
    v = d.verdict
    if d.findings and (v.cause is Cause.OK or d.findings[0] is Finding.AUTH_UNSET):
        words = FINDING_WORDS[d.findings[0]]
        if d.findings[0] is Finding.SLOW and d.request is not None and d.request.slow_ms:
            words += f" (over {d.request.slow_ms} ms)"
        return words[:1].upper() + words[1:]
    return CAUSE_TITLE[v.cause if v.cause is not Cause.OK else Cause.UNKNOWN]


def down_word(alert: Alert) -> str:
    """What an incident was, in "after 5m down": ``down``, or ``slow`` for a SLOW one."""
    return "slow" if alert.slow else "down"


def grouped_title(alert: Alert) -> str:
    """One member's words in a grouped alert: its cause or finding, marked SLOW when it is."""
    title = outcome_title(alert.diagnosis) if alert.diagnosis else "Down"
    return f"{SLOW_MARK} SLOW · {title}" if alert.slow else title


def incident_title(i: IncidentRecord) -> str:
    """An incident in history: its cause, or ``Slow`` for a SLOW one."""
    return "Slow" if i.kind == "slow" else CAUSE_TITLE[i.cause]


def state_label(m: Monitor) -> str:
    return {"down": "🔴 DOWN", "up": "🟢 up", "slow": f"{SLOW_MARK} SLOW"}.get(m.state, "⚪ new")


def request_words(m: Monitor) -> str:
    """A monitor's request options in short (``POST · bearer $API_TOKEN · keyword "ok"``),
    credentials by variable name; empty for a plain GET that follows redirects."""
    spec = m.request
    words: list[str] = []
    if spec.method != "GET":
        words.append(spec.method)
    if spec.headers:
        words.append(", ".join(f"{n}: {v}" for n, v in spec.headers))
    if spec.body:
        words.append(f"body {len(spec.body.encode())} B")
    if spec.auth is not None:
        words.append(spec.auth.display)
    if spec.keyword is not None:
        words.append(f"keyword “{spec.keyword}”")
    if spec.not_keyword is not None:
        words.append(f"not “{spec.not_keyword}”")
    if spec.slow_ms is not None:
        words.append(f"slow > {spec.slow_ms} ms")
    if not m.follow:
        words.append("redirects not followed")
    return cut(" · ".join(words), 300)


def maintenance_note(until: datetime, now: datetime | None = None) -> str:
    """``maintenance until 14:00 UTC`` (with the date when it is not within the next day)."""
    now = now or datetime.now(UTC)
    at = until.astimezone(UTC)
    when = (
        at.strftime("%H:%M UTC")
        if at - now < timedelta(hours=20)
        else at.strftime("%b %d %H:%M UTC")
    )
    return f"maintenance until {when}"


def people_note(m: Monitor) -> str | None:
    """``notify @alice, @oncall · escalate 15m``: who its alerts ping, None for no one."""
    parts = []
    if m.notify:
        parts.append("notify " + ", ".join(x.name for x in m.notify))
    if m.escalate is not None:
        parts.append(f"escalate {_duration(m.escalate)}")
    return " · ".join(parts) or None


def regions_note(m: Monitor) -> str | None:
    """``regions eu, us, ap · quorum 2 of 3``: where a regional monitor is checked from; None
    for one the bot checks itself."""
    if not m.regions:
        return None
    return _setup(m.regions, m.quorum or len(m.regions) // 2 + 1)


def regions_sentence(m: Monitor) -> str:
    """What ``watch`` says of a regional monitor (with a leading space), "" of a local one."""
    if not m.regions:
        return ""
    needed = m.quorum or len(m.regions) // 2 + 1
    return (
        f" Checked from {', '.join(m.regions)}: a check fails when {needed} of the"
        f" {len(m.regions)} regions see it fail."
    )


def _setup(regions: tuple[str, ...], needed: int) -> str:
    return f"regions {', '.join(regions)} · quorum {needed} of {len(regions)}"


def details_regions(reply: DiagnosisReply) -> list[str]:
    """What ``details`` adds for a monitor checked from regions, as plain lines: where it is
    checked from, then each region's result of the alert's check (a table); [] otherwise."""
    lines = [f"Checked from {_setup(reply.regions, reply.quorum)}"] if reply.regions else []
    if reply.views:
        lines += [regions_head(reply.views), *region_table(reply.views)]
    return lines


# --- regions side by side -------------------------------------------------------------------

REGION_MARK = {True: "🟢", False: "🔴"}
_NO_ANSWER = "no answer from this region"
""":data:`bot.model.NO_ANSWER` (this module must not import the bot)."""


def region_cause(view: RegionView) -> str:
    """The region's cause in words (``Origin down``), as the rest of the alert names causes."""
    try:
        return CAUSE_TITLE[Cause(view.cause)]
    except ValueError:
        return view.cause


def region_status(view: RegionView) -> str:
    """``502``, or the error label when the region got no answer (``connect_refused``)."""
    return str(view.status) if view.status is not None else view.label


def region_mark(view: RegionView) -> str:
    """🟢 up, 🔴 failed, ⚪ not counted."""
    return REGION_MARK[view.ok] if view.counted else "⚪"


def region_cells(view: RegionView) -> tuple[str, str, str, str, str]:
    """One region's row: name, status (or error label), latency, IP, cause; never empty."""
    return (
        view.region,
        region_status(view),
        ms(view.latency_ms),
        view.ip or "–",
        region_cause(view) if view.counted or view.note != _NO_ANSWER else "–",
    )


def regions_head(views: Iterable[RegionView]) -> str:
    """``Seen from 3 regions: 2 failing, 1 up`` (``, 1 not counted`` when one is not)."""
    found = list(views)
    failing = sum(1 for v in found if v.counted and not v.ok)
    up = sum(1 for v in found if v.counted and v.ok)
    out = len(found) - failing - up
    parts = [f"{failing} failing", f"{up} up"] + ([f"{out} not counted"] if out else [])
    return f"Seen from {len(found)} region{'s' if len(found) != 1 else ''}: " + ", ".join(parts)


REGION_HEADINGS = ("region", "status", "latency", "IP", "cause")


def region_table(views: Iterable[RegionView]) -> list[str]:
    """The regions as monospace rows under a heading row, columns padded to line up; a region
    not counted gets a note line under its row."""
    found = list(views)
    rows = [REGION_HEADINGS, *(region_cells(v) for v in found)]
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(4)]
    out = []
    for n, row in enumerate(rows):
        cells = [cut(cell, 40).ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.append(" ".join([*cells, cut(row[4], 40)]).rstrip())
        view = found[n - 1] if n else None
        if view is not None and not view.counted:
            out.append(f"  (not counted: {view.note or 'no answer'})")
    return out


def pings(alert: Alert) -> str:
    """The mentions that ping the alert's people, as its platform writes them ('' for none).
    Only a DOWN (or GROUPED) alert and an escalation carry any."""
    return " ".join(m.ping for m in alert.pings)


def escalation_text(alert: Alert) -> str:
    """Plain text: ``🚨 #3 https://x is still down, not acknowledged for 15m.``"""
    after = _duration(alert.escalate or 0)
    return (
        f"🚨 #{alert.monitor_id} {alert.url or ''} is still down, not acknowledged for {after}."
        f" /check502 ack {alert.monitor_id} when someone is on it."
    )


def region_notice(alert: Alert) -> str:
    """A REGION_DEGRADED or REGION_RESTORED notice in words (``detail`` is the region)."""
    region = alert.detail or "?"
    if alert.kind == "region_restored":  # AlertKind: the check502 command does not import bot
        return f"Region {region} answers again: its checks count toward quorums again."
    return (
        f"Region {region} stopped answering: its checks do not count toward any quorum until"
        " it answers again. This is not an outage of your targets."
    )


def _duration(seconds: int) -> str:
    """``15m``, ``1h30m``, ``1d`` (the grammar's own form; the check502 command must not import
    the bot, whose package starts its core)."""
    parts: list[str] = []
    for name, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and len(parts) < 2:
            parts.append(f"{seconds // size}{name}")
            seconds %= size
    return "".join(parts) or "0s"


def status_line(p: Probe) -> str:
    """``HTTP/1.1 502 Bad Gateway``, or the error kind when nothing answered."""
    if p.status is not None:
        return f"{p.http_version or ''} {p.status} {p.reason or ''}".strip()
    return p.error.kind.value if p.error is not None else "no response"


def address(p: Probe) -> str:
    return f"{p.ip}:{p.port}" if p.ip else f"{p.host}:{p.port}"


GATEWAY_HEADERS = (
    "server",
    "via",
    "cf-ray",
    "x-cache",
    "x-served-by",
    "x-vercel-id",
    "x-vercel-error",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    "retry-after",
    "location",
)
"""The response headers that say who answered; the rest are left to ``--json``."""


def gateway_headers(p: Probe) -> list[tuple[str, str]]:
    return [(k, v) for k, v in p.headers if k.lower() in GATEWAY_HEADERS]


@dataclass(frozen=True, slots=True)
class Sides:
    """The probes a chat message compares: the public URL, and the origin bypass if tried."""

    public: Probe | None
    origin: Probe | None


def supports(d: Diagnosis, p: Probe) -> bool:
    """Whether ``p`` shows what the verdict says: an answer below 500 for a healthy verdict, a
    5xx or no answer at all for any other."""
    if d.verdict.cause is Cause.OK:
        return p.status is not None and p.status < 500
    return p.status is None or p.status >= 500


def supporting(d: Diagnosis, probes: Iterable[Probe]) -> Probe | None:
    """Of ``probes``, the one to show for the verdict: the first 5xx answer under a failing
    verdict (else the first failure without an answer), the first good answer under a healthy
    one; the first probe when none supports it. With ``runs=`` a 200 never stands under
    "returns 502"."""
    found = list(probes)
    if not found:
        return None
    if d.verdict.cause is not Cause.OK:
        answered = [p for p in found if p.status is not None and p.status >= 500]
        if answered:
            return answered[0]
    return next((p for p in found if supports(d, p)), found[0])


def sides(d: Diagnosis) -> Sides:
    """The public probe and the origin probe that support the verdict (see :func:`supporting`)."""

    def pick(target: str) -> Probe | None:
        return supporting(d, (p for p in d.probes if p.target == target and not p.protocol_retry))

    return Sides(pick("public"), pick("origin"))


def resolved_ips(d: Diagnosis) -> tuple[str, ...]:
    if d.dns is not None and d.dns.ips:
        return d.dns.ips
    return d.ips_seen


def status_mix(d: Diagnosis) -> str | None:
    """``502 ×7 · 200 ×3`` over several runs; None for a single run."""
    if d.runs <= 1 or not d.status_mix:
        return None
    return " · ".join(f"{outcome} ×{count}" for outcome, count in d.status_mix)


def runs_label(d: Diagnosis) -> str:
    """``10 runs``; ``4 of 10 runs`` when the overall limit left some out."""
    if d.runs_done < d.runs:
        return f"{d.runs_done} of {d.runs} runs"
    return f"{d.runs} runs"


def progress_line(url: str, done: int, runs: int) -> str:
    """What a "Checking <url>…" message becomes while the runs go on (plain text)."""
    return f"Checking {url}… {done}/{runs} runs"


def fit(items: Iterable[str], budget: int, *, more: str = "… and {n} more") -> list[str]:
    """As many of ``items`` as fit in ``budget`` characters (one more for each line break), the
    first one that does not fit cut short, then "… and N more": long evidence is shortened,
    never refused by a platform's limit."""
    rows = list(items)
    out: list[str] = []
    used = 0
    reserve = len(more) + 8
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        if used + len(row) + 1 + (0 if last else reserve) <= budget:
            out.append(row)
            used += len(row) + 1
            continue
        room = budget - used - 1 - reserve
        if room > 40:
            out.append(cut(row, room))
        if len(rows) > len(out):
            out.append(more.format(n=len(rows) - len(out)))
        break
    return out


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, ending in "…" when it was longer."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


# --- the compact alert card -----------------------------------------------------------------

CARD_LIMIT = 1200
"""Visible characters of a DOWN alert card (markup stripped): it fits a phone's screen."""


@dataclass(frozen=True, slots=True)
class Card:
    """A DOWN alert as a phone shows it, format-free; each surface lays the parts out.

    ``title``: ``🔴 DOWN #12 https://shop.example.com/``; ``headline``: cause, who generated the
    answer, the broken hop; ``public`` and ``origin``: one line each (status, latency, IP);
    ``step``: the first next step. The rest of the diagnosis is behind Details.
    """

    title: str
    headline: str
    public: str
    origin: str | None
    step: str | None
    details_command: str
    """The command that shows the full diagnosis (``/check502 details 12``)."""

    def lines(self) -> list[str]:
        """The card as plain lines, in order (what a person reads)."""
        out = [self.title, self.headline, self.public]
        if self.origin is not None:
            out.append(self.origin)
        if self.step is not None:
            out.append(f"Next: {self.step}")
        return out


def probe_line(label: str, p: Probe | None) -> str:
    """``Public: HTTP/1.1 502 Bad Gateway · 41 ms · 203.0.113.7`` (status, latency, IP)."""
    if p is None:
        return f"{label}: not probed"
    parts = [status_line(p), ms(p.timings.total)]
    if p.ip:
        parts.append(p.ip)
    return f"{label}: " + " · ".join(parts)


def card(
    monitor_id: int | None,
    url: str | None,
    d: Diagnosis | None,
    *,
    expected: str | None = None,
    limit: int = CARD_LIMIT,
    slow: bool = False,
) -> Card:
    """The compact DOWN card of an alert (SLOW with ``slow``: up, but over the monitor's latency
    threshold); its visible text stays within ``limit`` characters."""
    name = " ".join(x for x in (f"#{monitor_id}" if monitor_id is not None else None, url) if x)
    title = cut(f"{SLOW_MARK} SLOW {name}" if slow else f"🔴 DOWN {name}", 200)
    details = f"/check502 details {monitor_id}" if monitor_id is not None else "/check502 list"
    if d is None:
        return Card(title, "Cause unknown", "Public: not probed", None, None, details)
    v = d.verdict
    parts = [outcome_title(d)]
    if expected:
        parts.append(f"expected {expected}")
    if v.generated_by:
        parts.append(f"generated by {v.generated_by}")
    if v.hop is not None:
        parts.append(f"hop: {HOP_TITLE[v.hop]}")
    s = sides(d)
    headline = cut(" · ".join(parts), 240)
    public = cut(probe_line("Public", s.public), 200)
    origin = cut(probe_line("Origin", s.origin), 200) if s.origin is not None else None
    used = sum(len(x) + 1 for x in (title, headline, public, origin or ""))
    room = max(60, limit - used - len("Next: ") - 80)  # 80: the surface's own words
    step = cut(v.next_steps[0], room) if v.next_steps else None
    return Card(title, headline, public, origin, step, details)


def status_sentences(reply: StatusReply) -> list[str]:
    """``/check502 status [on|off]`` in plain sentences; the first says what happened, the
    others where the page is and how to revoke it. Every surface shows these as its text."""
    if reply.path is None:
        if reply.action == "off":
            first = (
                "Status page off: its old URL now answers 404."
                if reply.changed
                else "This channel has no status page to turn off."
            )
        else:
            first = "This channel has no status page."
        return [
            first,
            "/check502 status on creates one: its monitors, uptime and incidents on a public"
            " page at an unguessable URL.",
        ]
    if reply.action == "on":
        first = "Status page on." if reply.changed else "This channel's status page is already on."
    else:
        first = "This channel has a status page."
    if reply.url is not None:
        where = [f"Status page: {reply.url}"]
        base = reply.url[: -len(reply.path)]
    else:
        where = [
            f"Status page: {reply.path} on the bot's web server (CHECK502_WEB=on or PORT starts"
            " it). Set CHECK502_PUBLIC_URL to the server's public address to get it as a link."
        ]
        base = ""
    badge = reply.path.replace("/status/", "/badge/", 1)
    return [
        first,
        *where,
        f"Badges: {base}{badge}/<monitor id>/status.svg and …/uptime.svg?window=7d",
        "Anyone with the link can see this channel's monitors (URLs without query strings or"
        " passwords), uptime and incidents. /check502 status off revokes it at once; on again"
        " gives a new URL.",
    ]


def export_pieces(text: str, limit: int) -> list[str]:
    """An export's text (already escaped for its platform) in pieces of at most ``limit``
    characters, cut before a table (``[[…]]``) where one fits, between lines otherwise; a line
    longer than ``limit`` alone is cut."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for whole in text.rstrip("\n").split("\n"):
        line = whole[:limit]
        if current and size + len(line) + 1 > limit:
            cut_at = max(
                (i for i, kept in enumerate(current) if kept.startswith("[[") and i > 0),
                default=len(current),
            )
            pieces.append("\n".join(current[:cut_at]).rstrip("\n"))
            current = current[cut_at:]
            size = sum(len(kept) + 1 for kept in current)
            if current and size + len(line) + 1 > limit:
                pieces.append("\n".join(current).rstrip("\n"))
                current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        pieces.append("\n".join(current).rstrip("\n"))
    return [p for p in pieces if p.strip()]


def export_note(shown: int, total: int) -> str:
    """What a truncated export says under what it shows."""
    return (
        f"Cut at {shown} of {total} pieces to fit this chat's limits: the console"
        " (`check502-bot` with CHECK502_CONSOLE) prints the whole file."
    )
