"""The status page and badges over real HTTP: the app served by aiohttp's AppRunner on
127.0.0.1, read with an aiohttp client, the HTML and SVG parsed as a browser or a README would.

The channel's history is seeded (:mod:`tests.support.status_seed`): 30 days of hourly rollups,
one monitor down with an open incident, two resolved incidents, one monitor not checked yet.
"""

from __future__ import annotations

import itertools
import re
import secrets
import sqlite3
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adapters.web.pages import BADGE_COLOURS, badge_svg, install, text_width
from bot.core import Bot
from bot.model import Channel, Context, StatusReply
from bot.statuspage import WINDOW_BY_KEY, load, uptime
from bot.storage import Store
from tests.bot.conftest import fast_settings
from tests.support.status_seed import MIX, Seeded, seed_channel

CHANNEL = Channel("slack", "T1", "C1")
OTHER = Channel("slack", "T1", "C2")
SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Site:
    bot: Bot
    base: str
    http: aiohttp.ClientSession
    ids: list[int]
    path: str

    async def get(self, path: str) -> tuple[int, dict[str, str], str]:
        async with self.http.get(self.base + path) as response:
            return response.status, dict(response.headers), await response.text()

    async def status(self, text: str, channel: Channel = CHANNEL) -> StatusReply:
        reply = await self.bot.handle(Context(channel, "U1"), text)
        assert isinstance(reply, StatusReply), reply
        return reply


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    bot = Bot(fast_settings(tmp_path, None))
    ids = seed_channel(bot.store, CHANNEL, now=time.time(), every=300)
    other = (Seeded("https://other.example.com/", "up"),)
    seed_channel(bot.store, OTHER, other, now=time.time(), days=1, every=3600)
    app = web.Application()
    install(app, bot)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            site = Site(bot, f"http://127.0.0.1:{port}", http, ids, "")
            reply = await site.status("status on")
            assert reply.path is not None
            site.path = reply.path
            yield site
    finally:
        await runner.cleanup()
        bot.close()


class _Outline(HTMLParser):
    """What a screen reader and a phone read of a page: headings, images' names, meta."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.viewport: str | None = None
        self.headings: list[tuple[int, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.scripts = 0
        self._heading: int | None = None
        self._text: list[str] = []
        self._svg_titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "meta" and a.get("name") == "viewport":
            self.viewport = a.get("content")
        elif tag == "script" or any(k.startswith("on") for k in a):
            self.scripts += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading, self._text = int(tag[1]), []
        elif tag == "svg":
            self.images.append(a)
        elif tag == "title" and self.images:
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == f"h{self._heading}":
            self.headings.append((self._heading, "".join(self._text).strip()))
            self._heading = None
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._text.append(data)
        if self._in_title:
            self.images[-1]["title"] = (self.images[-1].get("title") or "") + data


def _outline(html: str) -> _Outline:
    parser = _Outline()
    parser.feed(html)
    return parser


# ---------------------------------------------------------------------------------- the page


async def test_the_page_shows_each_monitor_its_state_bars_latency_and_incidents(
    site: Site,
) -> None:
    status, headers, html = await site.get(site.path)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "max-age=30"
    assert "noindex" in headers["X-Robots-Tag"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]

    page = _outline(html)
    assert page.lang == "en"
    assert page.viewport == "width=device-width, initial-scale=1"
    assert page.scripts == 0
    names = [h for level, h in page.headings if level == 3][: len(MIX)]
    assert names == [
        "https://shop.example.com/",
        "https://api.example.com/v1/health",  # no query string: it held an API key
        "https://checkout.example.com/cart",
        "https://cdn.example.net/assets/app.js",
        "https://blog.example.org/",
    ]
    assert "s3cret" not in html and "key=" not in html
    assert "1 of 5 monitors down" in html
    for seeded, monitor_id in zip(MIX, site.ids, strict=True):
        card = html.split(f'id="monitor-{monitor_id}"', 1)[1].split("</li>", 1)[0]
        word = {"up": "UP", "down": "DOWN", "new": "PENDING"}[seeded.state]
        assert f'class="state state-{seeded.state}">{word}<' in card, card[:300]
        assert card.count('role="img"') == 4  # three uptime strips and the sparkline

    # Every image has a text alternative, the same in aria-label and <title>.
    assert len(page.images) == 4 * len(MIX)
    for image in page.images:
        assert image.get("role") == "img"
        assert image.get("aria-label") and image.get("title") == image.get("aria-label")
    alts = [str(i["aria-label"]) for i in page.images]
    down = alts[8:12]  # the third monitor: down for the last 1.5 hours of 24
    now = time.time()
    hours = int(now // 3600 - (now - 1.5 * 3600) // 3600) + 1  # 2 or 3, by the minute
    assert re.fullmatch(
        rf"Uptime over the last 24 hours: 9\d\.\d\d%; {hours} of 24 hours with failures\.",
        down[0],
    ), down[0]
    assert down[3].startswith("Latency p95 per hour over the last 24 hours: from ")
    assert alts[-1] == "No responses in the last 24 hours."
    assert alts[-4] == "Uptime over the last 24 hours: no data; 0 of 24 hours with failures;" + (
        " 24 without checks."
    )

    # Open incident first, cause in plain words; the resolved ones under Recent.
    incidents = html.split('id="incidents-heading"', 1)[1]
    open_part, recent_part = incidents.split("<h3>Recent</h3>", 1)
    assert "Origin down</span> · https://checkout.example.com/cart" in open_part
    assert "Workers exhausted</span> · https://shop.example.com/" in recent_part
    assert "Upstream timeout</span> · https://cdn.example.net/assets/app.js" in recent_part
    assert "UTC" in open_part


async def test_headings_go_in_order_without_skipping_a_level(site: Site) -> None:
    _, _, html = await site.get(site.path)
    levels = [level for level, _ in _outline(html).headings]
    assert levels[0] == 1 and levels.count(1) == 1
    for before, after in itertools.pairwise(levels):
        assert after <= before + 1, levels


async def test_the_other_channels_monitors_never_show(site: Site) -> None:
    _, _, html = await site.get(site.path)
    assert "other." not in html
    other = await site.status("status on", OTHER)
    _, _, theirs = await site.get(str(other.path))
    assert "other.<wbr>example.<wbr>com/" in theirs and "shop." not in theirs


async def test_text_from_a_monitor_is_escaped(site: Site) -> None:
    from bot.commands import Expect, Watch

    hostile = 'https://evil.test/"><script>alert(1)</script><img src=x onerror=alert(2)>'
    site.bot.store.add_monitor(
        CHANNEL, Watch(hostile, expect=Expect.default()), created_by="x", now=time.time()
    )
    status, _, html = await site.get(site.path)
    assert status == 200
    assert "<script" not in html and "<img" not in html
    assert _outline(html).scripts == 0
    assert "&lt;script&gt;" in html


async def test_a_channel_of_1000_monitors_loads_in_a_fixed_number_of_queries(
    tmp_path: Path,
) -> None:
    """No query per monitor: 3 monitors and 1,000 cost the same statements."""

    def statements(count: int) -> int:
        store = Store.open(tmp_path / f"{count}.db")
        try:
            many = tuple(Seeded(f"https://m{i}.example.com/", "up") for i in range(count))
            seed_channel(store, CHANNEL, many, now=time.time(), days=2, every=3600)
            seen: list[str] = []
            store.db.conn.set_trace_callback(seen.append)
            page = load(store, CHANNEL, time.time())
            store.db.conn.set_trace_callback(None)
            assert page is not None and len(page.monitors) == count
            assert all(m.windows[0].checks > 0 for m in page.monitors)
            return len(seen)
        finally:
            store.close()

    assert statements(3) == statements(1000)


async def test_a_page_is_read_on_a_connection_of_its_own_off_the_event_loop(site: Site) -> None:
    """The bot's own connection (the event loop's) only looks the token up; the page's queries
    run in a worker thread on a read-only connection, which a write cannot go through."""
    token = site.path.rsplit("/", 1)[1]
    seen: list[str] = []
    site.bot.store.db.conn.set_trace_callback(seen.append)
    try:
        page = await site.bot.status_page(token)
    finally:
        site.bot.store.db.conn.set_trace_callback(None)
    assert page is not None and len(page.monitors) == len(MIX)
    assert len(seen) == 1 and "FROM status_pages WHERE token" in seen[0], seen
    reader = site.bot.store.reader()
    assert reader is not None
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.db.conn.execute("DELETE FROM monitors")
    finally:
        reader.close()


# ---------------------------------------------------------------------------------------- 404


async def test_unknown_revoked_and_malformed_tokens_are_the_same_404_as_any_path(
    site: Site,
) -> None:
    _, _, nothing = await site.get("/no-such-page")
    token = site.path.rsplit("/", 1)[1]
    badge = f"/badge/{token}/{site.ids[0]}/status.svg"
    assert (await site.get(badge))[0] == 200
    for path in (
        f"/status/{secrets.token_urlsafe(24)}",
        "/status/short",
        "/status/" + "%2e%2e%2f" * 8,
        f"/badge/{secrets.token_urlsafe(24)}/{site.ids[0]}/status.svg",
    ):
        status, _, body = await site.get(path)
        assert (status, body) == (404, nothing), path

    assert (await site.get(site.path))[0] == 200  # rendered and cached: revoking beats the cache
    off = await site.status("status off")
    assert off.changed
    for path in (site.path, badge, badge.replace("status.svg", "uptime.svg")):
        status, _, body = await site.get(path)
        assert (status, body) == (404, nothing), path

    renewed = await site.status("status on")
    assert renewed.path != site.path
    assert (await site.get(str(renewed.path)))[0] == 200
    assert (await site.get(site.path))[0] == 404


# ------------------------------------------------------------------------------------- badges


def _badge(body: str) -> tuple[ET.Element, list[str]]:
    root = ET.fromstring(body)
    texts = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("aria-hidden") != "true"]
    return root, texts


async def test_status_badges_say_up_down_or_pending_in_words_and_colour(site: Site) -> None:
    token = site.path.rsplit("/", 1)[1]
    for seeded, monitor_id in zip(MIX, site.ids, strict=True):
        status, headers, body = await site.get(f"/badge/{token}/{monitor_id}/status.svg")
        assert status == 200
        assert headers["Content-Type"] == "image/svg+xml; charset=utf-8"
        assert headers["Cache-Control"] == "max-age=60"
        root, texts = _badge(body)
        word = {"up": "UP", "down": "DOWN", "new": "PENDING"}[seeded.state]
        assert texts == ["status", word]
        assert root.get("role") == "img" and root.get("aria-label") == f"status: {word}"
        title = root.find(f"{SVG}title")
        assert title is not None and title.text is not None
        assert title.text.endswith(f": {word}") and "key=" not in title.text
        fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
        assert BADGE_COLOURS[seeded.state] in fills


async def test_uptime_badges_agree_with_the_page(site: Site) -> None:
    token = site.path.rsplit("/", 1)[1]
    _, _, html = await site.get(site.path)
    card = html.split(f'id="monitor-{site.ids[2]}"', 1)[1].split("</li>", 1)[0]
    figures = re.findall(r'class="figure">([^<]+)<', card)
    for key, figure in zip(("24h", "7d", "30d"), figures, strict=True):
        path = f"/badge/{token}/{site.ids[2]}/uptime.svg?window={key}"
        status, headers, body = await site.get(path)
        assert status == 200 and headers["Cache-Control"] == "max-age=60"
        _root, texts = _badge(body)
        assert texts == [f"uptime {key}", figure]
        expected = uptime(site.bot.store, site.ids[2], WINDOW_BY_KEY[key], time.time())
        assert expected is not None and figure == f"{expected * 100:.2f}%"
    _, _, default = await site.get(f"/badge/{token}/{site.ids[2]}/uptime.svg")
    assert _badge(default)[1][0] == "uptime 24h"
    _, _, fresh = await site.get(f"/badge/{token}/{site.ids[4]}/uptime.svg")
    assert _badge(fresh)[1] == ["uptime 24h", "no data"]
    status, _, text = await site.get(f"/badge/{token}/{site.ids[2]}/uptime.svg?window=1y")
    assert status == 400 and "24h, 7d or 30d" in text


async def test_a_badge_of_another_channels_monitor_is_404(site: Site) -> None:
    token = site.path.rsplit("/", 1)[1]
    _, _, nothing = await site.get("/no-such-page")
    theirs = site.bot.store.monitors_in(OTHER)[0].id
    for monitor in (str(theirs), "999999", "abc", "-1", "1" * 30):
        for kind in ("status.svg", "uptime.svg"):
            status, _, body = await site.get(f"/badge/{token}/{monitor}/{kind}")
            assert (status, body) == (404, nothing), (monitor, kind)


@pytest.mark.parametrize("message", ["UP", "DOWN", "PENDING", "99.95%", "no data", "WWWWWWWW"])
def test_a_badge_is_as_wide_as_its_words(message: str) -> None:
    root, texts = _badge(badge_svg("uptime 30d", message, "#1a7f37", title="t"))
    assert texts == ["uptime 30d", message]
    width = int(root.get("width") or 0)
    rects = list(root.iter(f"{SVG}rect"))
    label_w, message_w = (int(r.get("width") or 0) for r in rects[1:3])
    assert label_w + message_w == width
    assert message_w == round(text_width(message)) + 10  # 5 px of padding on each side
    assert label_w == round(text_width("uptime 30d")) + 10
    for text in root.iter(f"{SVG}text"):  # the browser fits each text to its box
        box = label_w if text.text == "uptime 30d" else message_w
        assert int(text.get("textLength") or 0) == (box - 10) * 10


def test_the_widths_are_verdanas() -> None:
    # Verdana 11 px, as shields.io measures: narrow letters narrow, wide ones wide.
    assert round(text_width("i"), 1) == 3.0
    assert round(text_width("W"), 1) == 10.9
    # u p t i m e _ 2 4 h: 6.96+6.85+4.33+3.02+10.70+6.55+3.87+6.99+6.99+6.96
    assert round(text_width("uptime 24h"), 2) == 63.22
    assert text_width("é") == text_width("@")  # outside ASCII: counted wide, never too narrow


def test_badge_colours_have_enough_contrast_for_white_text() -> None:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for name, colour in BADGE_COLOURS.items():
        assert (1.05) / (luminance(colour) + 0.05) >= 4.5, name
