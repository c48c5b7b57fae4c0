"""The status page as a person sees it: the Debian chromium, driven by Playwright.

A real bot watches two real loopback targets: a healthy origin, and Debian nginx in front of
a port nothing listens on (nginx answers a genuine 502, the bot's verdict: origin down). The
page is served by the real aiohttp app on 127.0.0.1 and opened in headless chromium (never
``playwright install``: ``executable_path`` is the system's ``chromium``, as ``scripts/test``
installs it). One browser for the module.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from adapters.console import ConsoleHarness
from adapters.web.pages import install
from bot.model import StatusReply, WatchReply
from tests.bot.conftest import fast_settings
from tests.support import closed_port, nginx, ok_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.gateways,
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium")
    assert chromium is not None, "chromium is not installed: scripts/test installs it (apt)"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


def _contrast(foreground: str, background: str) -> float:
    """WCAG contrast of two computed CSS colours (``rgb(r, g, b)``)."""

    def luminance(css: str) -> float:
        r, g, b = (int(v) / 255 for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def _open(browser: Any, url: str, **context: Any) -> tuple[Any, Any, list[str]]:
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    response = await page.goto(url, wait_until="load", timeout=15_000)
    return page, response, errors


async def test_the_status_page_in_chromium(browser: Any, tmp_path: Path) -> None:
    with ok_server() as healthy, closed_port() as dead, nginx(dead.url) as gateway:
        async with ConsoleHarness(fast_settings(tmp_path, None)) as chat:
            await chat.push(f"watch {healthy.url} every=24h")
            assert isinstance(chat.last_reply, WatchReply)
            up_id = chat.last_reply.monitor.id
            await chat.push(f"watch {gateway.url} every=24h confirm=1")
            assert isinstance(chat.last_reply, WatchReply)
            down_id = chat.last_reply.monitor.id
            assert chat.last_reply.diagnosis.verdict.cause.value == "origin_down"
            await chat.push("status on")
            reply = chat.last_reply
            assert isinstance(reply, StatusReply) and reply.path is not None

            app = web.Application()
            install(app, chat.bot)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                await _look(browser, base + reply.path, up_id, down_id)
                await _badge(
                    browser, f"{base}{reply.path.replace('/status/', '/badge/')}/{down_id}"
                )
                # Revoked: the same URL is a 404 in the browser, at once.
                await chat.push("status off")
                page, response, _ = await _open(browser, base + reply.path)
                assert response.status == 404
                assert "Status" not in await page.title()
                await page.context.close()
            finally:
                await runner.cleanup()


async def _look(browser: Any, url: str, up_id: int, down_id: int) -> None:
    page, response, errors = await _open(browser, url, viewport={"width": 1280, "height": 800})
    assert response.status == 200
    assert await page.inner_text(f"#monitor-{up_id} .state") == "UP"
    assert await page.inner_text(f"#monitor-{down_id} .state") == "DOWN"
    assert await page.inner_text(".incident .cause") == "Origin down"
    assert "1 of 2 monitors down" in await page.inner_text("header")
    # Contrast as rendered: the state words, the muted text, the body text.
    for selector in (f"#monitor-{up_id} .state", f"#monitor-{down_id} .state", ".muted", "h1"):
        colour, background = await page.eval_on_selector(
            selector,
            """e => {
                let b = e, bg = 'rgba(0, 0, 0, 0)';
                while (b && (bg = getComputedStyle(b).backgroundColor) === 'rgba(0, 0, 0, 0)')
                    b = b.parentElement;
                return [getComputedStyle(e).color, bg];
            }""",
        )
        assert _contrast(colour, background) >= 4.5, (selector, colour, background)
    # Two columns or more on a desktop: the bars sit beside the monitor's name.
    head = await page.locator(f"#monitor-{down_id} .head").bounding_box()
    strips = await page.locator(f"#monitor-{down_id} .strips").bounding_box()
    assert strips["x"] > head["x"] + head["width"] - 1
    assert errors == []
    await page.context.close()

    # A phone: 375 px wide, no horizontal scroll, one column.
    page, response, errors = await _open(
        browser, url, viewport={"width": 375, "height": 740}, is_mobile=True
    )
    assert response.status == 200
    # A phone zooms out a page wider than itself (innerWidth grows): compare with 375 itself.
    scroll, inner = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert (scroll, inner) == (375, 375)
    head = await page.locator(f"#monitor-{down_id} .head").bounding_box()
    strips = await page.locator(f"#monitor-{down_id} .strips").bounding_box()
    assert strips["y"] >= head["y"] + head["height"] - 1  # below it, not beside
    assert errors == []
    await page.context.close()

    # Without JavaScript it reads the same.
    page, response, errors = await _open(browser, url, java_script_enabled=False)
    assert response.status == 200
    assert await page.inner_text(f"#monitor-{down_id} .state") == "DOWN"
    assert errors == []
    await page.context.close()


async def _badge(browser: Any, base: str) -> None:
    page, response, errors = await _open(browser, f"{base}/status.svg")
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    fits = await page.evaluate(
        """() => {
            const svg = document.querySelector('svg');
            const rects = [...svg.querySelectorAll('g rect')].slice(0, 2);
            const texts = [...svg.querySelectorAll('text:not([aria-hidden])')];
            return texts.map((t, i) => {
                const box = t.getBoundingClientRect(), cell = rects[i].getBoundingClientRect();
                return [t.textContent, box.left >= cell.left - 0.5,
                        box.right <= cell.right + 0.5, svg.getAttribute('aria-label')];
            });
        }"""
    )
    assert [f[0] for f in fits] == ["status", "DOWN"]
    assert all(f[1] and f[2] for f in fits), fits
    assert fits[0][3] == "status: DOWN"
    assert errors == []
    await page.context.close()
