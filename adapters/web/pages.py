"""Public status pages and SVG badges, on the web server (``/check502 status on``).

``install(app, bot)`` adds::

    GET /status/<token>                                   the channel's page (HTML, no JS)
    GET /badge/<token>/<monitor id>/status.svg            UP / DOWN / PENDING
    GET /badge/<token>/<monitor id>/uptime.svg?window=    24h (default), 7d or 30d

The token is the capability: an unknown or revoked one, or a monitor of another channel, is
aiohttp's own 404, the same as any other unknown path, so a guess learns nothing. The page is
loaded and rendered from :mod:`bot.statuspage` values with Jinja2 (autoescaped) in worker
threads, never on the event loop; concurrent requests for one token share a single render, and
a render serves the next :data:`CACHE_SECONDS` seconds of requests. Nothing here runs
JavaScript in the reader's browser, and the Content-Security-Policy forbids it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.present import CAUSE_TITLE
from bot.commands import format_duration
from bot.statuspage import (
    RECENT_DAYS,
    WINDOW_BY_KEY,
    MonitorStatus,
    StatusPage,
    Window,
    display_url,
)
from bot.statuspage import uptime as window_uptime

if TYPE_CHECKING:
    import jinja2

    from bot.core import Bot

__all__ = ["BADGE_COLOURS", "STATE_WORDS", "badge_svg", "install", "text_width"]

TEMPLATES = Path(__file__).with_name("templates")
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MONITOR_ID = re.compile(r"[0-9]{1,10}")
PAGE_MAX_AGE = 30
CACHE_SECONDS = 5.0
"""A page is rendered at most once per this long (and per token): reloading it in a loop costs
the bot nothing more. Browsers and proxies may keep it ``PAGE_MAX_AGE`` seconds anyway."""
CACHED_PAGES = 32
BADGE_MAX_AGE = 60

STATE_WORDS = {"up": "UP", "down": "DOWN", "new": "PENDING"}
"""The word shown for each monitor state; colour is never the only signal."""
BADGE_COLOURS = {
    "up": "#1a7f37",
    "down": "#c62828",
    "new": "#57606a",
    "good": "#1a7f37",
    "fair": "#9a6700",
    "poor": "#c62828",
    "none": "#57606a",
    "label": "#555555",
}
"""Badge backgrounds; white text on each has a contrast of at least 4.5:1."""


# ------------------------------------------------------------------------------------ routes


def install(app: web.Application, bot: Bot) -> None:
    """Add the status page and badge routes to ``app``."""
    pages = _Pages(bot)
    app.router.add_get("/status/{token}", pages.status_page)
    app.router.add_get("/badge/{token}/{monitor_id}/status.svg", pages.status_badge)
    app.router.add_get("/badge/{token}/{monitor_id}/uptime.svg", pages.uptime_badge)


class _Pages:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._renders: dict[str, asyncio.Future[str]] = {}
        self._cache: dict[str, tuple[float, str]] = {}

    def _token(self, request: web.Request) -> str:
        token = request.match_info["token"]
        if not TOKEN.fullmatch(token):
            raise web.HTTPNotFound()
        return token

    async def status_page(self, request: web.Request) -> web.Response:
        token = self._token(request)
        # Asked of the database on every request, cached page or not: a revoked token is a
        # 404 from the next request on.
        if self.bot.store.status_channel(token) is None:
            self._cache.pop(token, None)
            raise web.HTTPNotFound()
        html = self._cached(token)
        if html is None:
            running = self._renders.get(token)
            if running is None:  # one render at a time per token; the others wait for it
                running = asyncio.ensure_future(self._render(token))
                self._renders[token] = running
                running.add_done_callback(lambda _: self._renders.pop(token, None))
            html = await asyncio.shield(running)
        if not html:
            raise web.HTTPNotFound()
        return web.Response(
            text=html,
            content_type="text/html",
            charset="utf-8",
            headers=_headers(PAGE_MAX_AGE, csp=_csp()),
        )

    def _cached(self, token: str) -> str | None:
        found = self._cache.get(token)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    async def _render(self, token: str) -> str:
        page = await self.bot.status_page(token)
        if page is None:
            return ""
        html = await asyncio.to_thread(render_page, page)
        now = time.monotonic()
        self._cache = {t: c for t, c in self._cache.items() if c[0] >= now}
        if len(self._cache) < CACHED_PAGES:
            self._cache[token] = (now + CACHE_SECONDS, html)
        return html

    def _monitor(self, request: web.Request) -> tuple[int, str, str]:
        """``(id, state, shown name)`` of the badge's monitor, or 404."""
        token = self._token(request)
        text = request.match_info["monitor_id"]
        channel = self.bot.store.status_channel(token)
        if channel is None or not MONITOR_ID.fullmatch(text):
            raise web.HTTPNotFound()
        monitor = self.bot.store.monitor(int(text), channel)
        if monitor is None:
            raise web.HTTPNotFound()
        return monitor.id, monitor.state, display_url(monitor.url)

    async def status_badge(self, request: web.Request) -> web.Response:
        _, state, name = self._monitor(request)
        word = STATE_WORDS.get(state, "PENDING")
        colour = BADGE_COLOURS.get(state, BADGE_COLOURS["new"])
        return _svg(badge_svg("status", word, colour, title=f"{name}: {word}"))

    async def uptime_badge(self, request: web.Request) -> web.Response:
        monitor_id, _, name = self._monitor(request)
        key = request.query.get("window", "24h")
        spec = WINDOW_BY_KEY.get(key)
        if spec is None:
            raise web.HTTPBadRequest(text="window must be 24h, 7d or 30d\n")
        value = window_uptime(self.bot.store, monitor_id, spec, self.bot.clock())
        figure = _pct(value)
        label = f"uptime {spec.key}"
        colour = BADGE_COLOURS[_grade(value)]
        title = f"{name}: uptime over the last {spec.title}: {figure}"
        return _svg(badge_svg(label, figure, colour, title=title))


def _headers(max_age: int, *, csp: str) -> dict[str, str]:
    return {
        "Cache-Control": f"max-age={max_age}",
        "X-Robots-Tag": "noindex, nofollow",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": csp,
    }


def _svg(body: str) -> web.Response:
    return web.Response(
        text=body,
        content_type="image/svg+xml",
        charset="utf-8",
        headers=_headers(BADGE_MAX_AGE, csp="default-src 'none'; style-src 'unsafe-inline'"),
    )


# -------------------------------------------------------------------------------------- page


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES / "status.css").read_text(encoding="utf-8").strip()


@lru_cache(maxsize=1)
def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_css().encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none';"
        " form-action 'none'; frame-ancestors 'none'"
    )


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - only the web server needs it, not the CLI or console start

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(page: StatusPage) -> str:
    """The page's HTML (pure: safe to run in a worker thread)."""
    from markupsafe import Markup  # noqa: PLC0415 - jinja2's, as lazily

    down = sum(1 for m in page.monitors if m.state == "down")
    total = len(page.monitors)
    if total == 0:
        summary = "No monitors yet"
    elif down == 0:
        summary = f"All {total} monitors up" if total > 1 else "The monitor is up"
    else:
        summary = f"{down} of {total} monitors down" if total > 1 else "The monitor is down"
    now = page.generated_at
    open_incidents = [
        _incident(i.monitor_name, i.incident.cause, i.incident.first_failure_at, None, now)
        for i in page.incidents
        if i.incident.closed_at is None
    ]
    recent_incidents = [
        _incident(
            i.monitor_name, i.incident.cause, i.incident.first_failure_at, i.incident.closed_at, now
        )
        for i in page.incidents
        if i.incident.closed_at is not None
    ]
    # Each monitor's view is made as the template reaches it and dropped after: a list of them
    # all would keep some 20,000 objects alive at once, enough for a full garbage collection
    # (a pause of every thread, the event loop's too).
    views = (_monitor_view(m) for m in page.monitors)
    template = _environment().get_template("status.html")
    return "".join(
        template.generate(
            css=Markup(_css()),  # our own file, its hash in the Content-Security-Policy
            summary=summary,
            generated=_when(now),
            generated_iso=now.isoformat(),
            has_monitors=bool(page.monitors),
            monitors=views,
            open_incidents=open_incidents,
            recent_incidents=recent_incidents,
            recent_days=RECENT_DAYS,
        )
    )


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _pct(value: float | None) -> str:
    if value is None:
        return "no data"
    if value >= 1.0:
        return "100%"
    return f"{min(value * 100, 99.99):.2f}%"  # 99.996% is not 100%: a failure happened


def _grade(value: float | None) -> str:
    if value is None:
        return "none"
    return "good" if value >= 0.999 else "fair" if value >= 0.99 else "poor"


def _incident(
    name: str, cause: Any, start: datetime, end: datetime | None, now: datetime
) -> dict[str, str]:
    length = int(((end or now) - start).total_seconds())
    return {
        "name": name,
        "cause": CAUSE_TITLE[cause],
        "start": _when(start),
        "start_iso": start.isoformat(),
        "end": _when(end) if end is not None else "",
        "end_iso": end.isoformat() if end is not None else "",
        "length": format_duration(max(length, 60)),
    }


@dataclass(frozen=True, slots=True)
class _Strip:
    label: str
    figure: str
    alt: str
    width: int
    paths: list[tuple[str, str]]


_SEGMENT = 4  # each bar is 3 units wide with a 1-unit gap
_SPARK_W, _SPARK_H = 240, 40


def _strip(window: Window) -> _Strip:
    spec = window.spec
    paths: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    levels = window.levels
    for index, kind in enumerate(levels):
        paths.setdefault(kind, []).append(f"M{index * _SEGMENT} 0h3v16h-3z")
        counts[kind] = counts.get(kind, 0) + 1
    unit = "hours" if spec.bucket_hours == 1 else f"{spec.bucket_hours}-hour periods"
    if spec.bucket_hours == 24:
        unit = "days"
    figure = _pct(window.uptime)
    parts = [f"Uptime over the last {spec.title}: {figure}"]
    failed = counts.get("partial", 0) + counts.get("down", 0)
    parts.append(f"{failed} of {len(levels)} {unit} with failures")
    if counts.get("none"):
        parts.append(f"{counts['none']} without checks")
    label = spec.key.replace("h", " h").replace("d", " d")
    return _Strip(
        label=label,
        figure=figure,
        alt="; ".join(parts) + ".",
        width=len(levels) * _SEGMENT - 1,
        paths=[
            (level, "".join(paths[level]))
            for level in ("up", "partial", "down", "none")
            if level in paths
        ],
    )


@dataclass(frozen=True, slots=True)
class _Spark:
    width: int
    height: int
    lines: list[str]
    dots: list[tuple[str, str]]
    alt: str
    text: str


def _spark(values: tuple[float | None, ...]) -> _Spark:
    known = [v for v in values if v is not None]
    if not known:
        text = "No responses in the last 24 hours."
        return _Spark(_SPARK_W, _SPARK_H, [], [], text, text)
    low, high = min(known), max(known)
    span = high - low or 1.0
    step = _SPARK_W / max(1, len(values) - 1)

    def point(index: int, value: float) -> tuple[float, float]:
        return index * step, _SPARK_H - 3 - (value - low) / span * (_SPARK_H - 6)

    lines: list[str] = []
    dots: list[tuple[str, str]] = []
    for run in _runs(values):
        if len(run) == 1:
            x, y = point(*run[0])
            dots.append((f"{max(0.0, x - 1):.1f}", f"{y - 1:.1f}"))
        else:
            lines.append(" ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in run)))
    latest = next(v for v in reversed(values) if v is not None)
    text = f"{_ms(low)} to {_ms(high)}, latest {_ms(latest)}"
    alt = f"Latency p95 per hour over the last 24 hours: from {text}."
    return _Spark(_SPARK_W, _SPARK_H, lines, dots, alt, text)


def _runs(values: Iterable[float | None]) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def _monitor_view(m: MonitorStatus) -> dict[str, Any]:
    checked = f"Last checked {_when(m.last_checked)}" if m.last_checked else "Not checked yet"
    return {
        "id": m.id,
        "name": m.name,
        "name_parts": re.findall(r"[^/.?]*[/.?]?", m.name)[:-1] or [m.name],
        "state": m.state if m.state in STATE_WORDS else "new",
        "word": STATE_WORDS.get(m.state, "PENDING"),
        "checked": checked,
        "strips": [_strip(w) for w in m.windows],
        "spark": _spark(m.latency),
    }


# ------------------------------------------------------------------------------------ badges

# Advance widths of Verdana at 11 px (as shields.io measures its badges), from space (32) to
# tilde (126); anything else counts as wide as "@".
_VERDANA_11 = (
    3.87, 4.33, 5.05, 9.00, 6.99, 11.84, 7.99, 2.95, 5.00, 5.00, 6.99, 9.00, 4.00, 5.00, 4.00,
    5.00, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 5.00, 5.00, 9.00, 9.00,
    9.00, 6.00, 11.00, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5.00, 7.62, 6.12,
    9.27, 8.23, 8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54, 5.00,
    5.00, 5.00, 9.00, 6.99, 6.99, 6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79,
    6.51, 3.02, 10.70, 6.96, 6.68, 6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9.00, 6.51, 6.51,
    5.78, 6.98, 5.00, 6.98, 9.00,
)  # fmt: skip
_WIDE = 11.0
_BADGE_TEXT_MAX = 60


def text_width(text: str) -> float:
    """The width of ``text`` in Verdana 11 px, in pixels."""
    return sum(_VERDANA_11[ord(ch) - 32] if 32 <= ord(ch) <= 126 else _WIDE for ch in text)


def _xml(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def badge_svg(label: str, message: str, colour: str, *, title: str) -> str:
    """A flat badge (shields.io's look): ``label`` on grey, ``message`` on ``colour``.

    Each text's box is its Verdana width plus 10 px of padding per side, and ``textLength``
    holds the text to that width in whatever font the viewer has, so nothing overflows."""
    label = "".join(ch for ch in label if ch.isprintable())[:_BADGE_TEXT_MAX]
    message = "".join(ch for ch in message if ch.isprintable())[:_BADGE_TEXT_MAX]
    lw_text, mw_text = round(text_width(label)), round(text_width(message))
    lw, mw = lw_text + 10, mw_text + 10
    width = lw + mw
    spoken = _xml(f"{label}: {message}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20"'
        f' role="img" aria-label="{spoken}">',
        f"<title>{_xml(title)}</title>",
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>',
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>',
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{BADGE_COLOURS["label"]}"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{_xml(colour)}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>',
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'
        ' text-rendering="geometricPrecision" font-size="110">',
    ]
    for x, text_w, text in ((lw / 2, lw_text, label), (lw + mw / 2, mw_text, message)):
        shown = _xml(text)
        x10, length = round(x * 10), text_w * 10
        parts.append(
            f'<text aria-hidden="true" x="{x10}" y="150" fill="#010101" fill-opacity=".3"'
            f' transform="scale(.1)" textLength="{length}">{shown}</text>'
            f'<text x="{x10}" y="140" transform="scale(.1)" fill="#fff"'
            f' textLength="{length}">{shown}</text>'
        )
    parts.append("</g></svg>")
    return "".join(parts)
