"""The same misbehaving origins behind real Debian Apache httpd (mod_proxy) and Varnish.

One Apache and one Varnish serve the whole module: each maps a first path segment to one
misbehaving origin (``/refused/`` → a closed port, ``/stall/`` → a server that never answers…),
so every scenario costs a request, not a gateway start. As in ``test_gateways.py``, each scenario
asks check502 from the outside only (honest about what a generic page cannot tell) and with the
origin bypass (names the cause and the hop). What the gateways really send, checked here too:
Apache answers a refused backend with ``503 Service Unavailable`` and a read timeout with
``502 Proxy Error``; Varnish answers every failed fetch with ``503 Backend fetch failed`` and its
Guru Meditation page, and passes an application's own 502 through with ``Via: 1.1 varnish``;
HAProxy turns a reset during the response head into its 502 but passes a reset mid-body on as a
cut 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from checks import Cause, Diagnosis, Hop
from tests.checks.conftest import run
from tests.support import (
    Apache,
    Varnish,
    apache,
    bad_header_server,
    closed_port,
    cut_body_server,
    garbage_server,
    haproxy,
    huge_headers_server,
    long_header_server,
    ok_server,
    reset_in_headers_server,
    reset_server,
    stall_server,
    syn_drop_server,
    tls_server,
    varnish,
)

pytestmark = pytest.mark.gateways

ORIGINS: dict[str, Callable[[], Any]] = {
    "ok": ok_server,
    "refused": closed_port,
    "stall": stall_server,
    "reset": reset_server,
    "garbage": garbage_server,
    "badheader": bad_header_server,
    "headreset": reset_in_headers_server,
    "longheader": long_header_server,  # one 9 KB line: over Apache's ResponseFieldSize
    # ~190 header lines: over Varnish's http_max_hdr (64); Apache takes them.
    "bigheaders": lambda: huge_headers_server(size=20 * 1024),
    "app502": lambda: ok_server(status=502, body=b"the app's own bad gateway"),
    # The pause lets a streaming proxy start passing the 200 on before the origin closes.
    "cutbody": lambda: cut_body_server(pause=0.3),
    "dropped": syn_drop_server,
}


@pytest.fixture(scope="module")
def origins() -> Iterator[dict[str, Any]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(make()) for name, make in ORIGINS.items()}


@pytest.fixture(scope="module")
def httpd(origins: dict[str, Any]) -> Iterator[Apache]:
    routes = {name: f"http://{o.address}" for name, o in origins.items()}
    with apache(origins["ok"].url, routes=routes, timeout=1, connect_timeout=1) as gw:
        yield gw


@pytest.fixture(scope="module")
def cache(origins: dict[str, Any]) -> Iterator[Varnish]:
    routes = {name: ("127.0.0.1", o.port) for name, o in origins.items()}
    with varnish("127.0.0.1", origins["ok"].port, routes=routes) as gw:
        yield gw


def url(gw: Apache | Varnish, route: str) -> str:
    return f"{gw.url}{route}/"


def assert_verdict(d: Diagnosis, cause: Cause, generated_by: str | None, hop: Hop | None) -> None:
    v = d.verdict
    assert (v.cause, v.generated_by, v.hop) == (cause, generated_by, hop), v
    assert v.summary and v.evidence and v.next_steps and v.reproduce


def assert_ambiguous(d: Diagnosis, truth: Cause, generated_by: str) -> None:
    """Outside-only view of a generic gateway page: honest about what it cannot know."""
    v = d.verdict
    assert v.generated_by == generated_by, v
    assert truth is v.cause or truth in v.alternatives, v
    assert v.confidence <= 0.5, v
    assert "--origin" in v.next_steps[0]


GATEWAY_LOG: dict[str, dict[str, str]] = {
    # What each gateway logs for each origin: proof the scenario failed the intended way.
    "apache": {
        "refused": "(111)Connection refused: AH00957",
        "dropped": "(70007)The timeout specified has expired: AH00957",
        "stall": "(70007)The timeout specified has expired",
        "reset": "(104)Connection reset by peer",
        "garbage": "AH01102: error reading status line",
        "badheader": "AH01106: bad HTTP/1.1 header",
        "headreset": "AH01106: bad HTTP/1.1 header",
        "longheader": "AH01106: bad HTTP/1.1 header",
    },
    "varnish": {
        "refused": "errno 111 (Connection refused)",
        "dropped": "errno 110",
        "stall": "first byte timeout",
        "reset": "HTC eof",
        "garbage": "http format error",
        "badheader": "http format error",
        "headreset": "HTC eof",
        "bigheaders": "http format error",
    },
}


def expect_logged(gw: Apache | Varnish, route: str, origin: Any) -> None:
    """Wait (≤2 s) until the gateway logged its failure for this route's origin."""
    text = GATEWAY_LOG[gw.name][route]
    if isinstance(gw, Varnish):
        gw.wait_for_log(text, source=lambda: "\n".join(gw.fetch_errors_for(route)))
        return
    marks = (origin.address, f" /{route}/ ")

    def lines() -> str:
        return "\n".join(
            line for line in gw.error_log_text().splitlines() if any(m in line for m in marks)
        )

    gw.wait_for_log(text, source=lines)


def gateway(request: pytest.FixtureRequest, name: str) -> Any:
    return request.getfixturevalue({"apache": "httpd", "varnish": "cache"}[name])


async def fetch(target: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5.0) as client:
        return await client.get(target)


# --- the pages themselves --------------------------------------------------------------------


async def test_apache_sends_its_own_pages(httpd: Apache) -> None:
    refused, slow = await asyncio.gather(fetch(url(httpd, "refused")), fetch(url(httpd, "stall")))
    assert (refused.status_code, refused.reason_phrase) == (503, "Service Unavailable")
    assert (slow.status_code, slow.reason_phrase) == (502, "Proxy Error")
    assert refused.headers["server"].startswith("Apache/2.4")
    assert "<h1>Proxy Error</h1>" in slow.text
    assert "Error reading from remote server" in slow.text
    httpd.wait_for_log("(111)Connection refused: AH00957")
    httpd.wait_for_log("(70007)The timeout specified has expired")


async def test_varnish_sends_its_own_pages(cache: Varnish) -> None:
    failed = await fetch(url(cache, "refused"))
    passed = await fetch(url(cache, "app502"))
    assert (failed.status_code, failed.reason_phrase) == (503, "Backend fetch failed")
    assert "Guru Meditation:" in failed.text
    assert failed.headers["server"] == "Varnish"
    assert "x-varnish" in failed.headers
    assert failed.headers["via"].startswith("1.1 varnish")
    assert (passed.status_code, passed.text) == (502, "the app's own bad gateway")
    assert passed.headers["via"].startswith("1.1 varnish")


# --- 1. origin down -------------------------------------------------------------------------


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
async def test_origin_down(request: pytest.FixtureRequest, gateway_name: str) -> None:
    gw = gateway(request, gateway_name)
    dead = request.getfixturevalue("origins")["refused"]
    outside, bypass = await asyncio.gather(
        run(url(gw, "refused")), run(url(gw, "refused"), origin=dead.address)
    )
    assert outside.probes[0].status == 503
    assert outside.verdict.cause is Cause.ORIGIN_DOWN, outside.verdict
    assert (outside.verdict.generated_by, outside.verdict.hop) == (gateway_name, Hop.ORIGIN)
    assert_verdict(bypass, Cause.ORIGIN_DOWN, gateway_name, Hop.ORIGIN)
    assert bypass.verdict.confidence > outside.verdict.confidence
    expect_logged(gw, "refused", dead)


# --- 3. firewall ----------------------------------------------------------------------------


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
async def test_dropped_connect_to_the_origin(
    request: pytest.FixtureRequest, gateway_name: str
) -> None:
    gw = gateway(request, gateway_name)
    blackhole = request.getfixturevalue("origins")["dropped"]
    outside, bypass = await asyncio.gather(
        run(url(gw, "dropped")), run(url(gw, "dropped"), origin=blackhole.address, timeout=1.5)
    )
    assert outside.probes[0].status == 503
    # From outside, a page after the connect timeout: a firewall, or a gateway that retried.
    assert_ambiguous(outside, Cause.FIREWALL, gateway_name)
    assert Cause.FIREWALL in (outside.verdict.cause, outside.verdict.alternatives[0])
    # Varnish's "Backend fetch failed" names no cause: its wait is evidence, not proof that it
    # connected, so a dropped SYN from us too is the firewall, not "the origin only allows the
    # edge".
    assert_verdict(bypass, Cause.FIREWALL, gateway_name, Hop.ORIGIN)
    expect_logged(gw, "dropped", blackhole)
    # The step names what this gateway logs for a dropped connect.
    logged = {"apache": "AH00957 with `(70007)", "varnish": "fail errno 110"}[gateway_name]
    assert any(logged in step for step in bypass.verdict.next_steps), bypass.verdict.next_steps


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
async def test_blocked_path_from_an_origin_that_answers_us(
    request: pytest.FixtureRequest, gateway_name: str
) -> None:
    gw = gateway(request, gateway_name)
    app = request.getfixturevalue("origins")["ok"]
    d = await run(url(gw, "dropped"), origin=app.address)
    assert_verdict(d, Cause.FIREWALL, gateway_name, Hop.EDGE_TO_ORIGIN)
    assert any("the edge gives up after" in e for e in d.verdict.evidence), d.verdict.evidence


# --- 5. timeout -----------------------------------------------------------------------------


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
async def test_slow_origin_times_out(request: pytest.FixtureRequest, gateway_name: str) -> None:
    gw = gateway(request, gateway_name)
    stalled = request.getfixturevalue("origins")["stall"]
    outside, bypass = await asyncio.gather(
        run(url(gw, "stall")), run(url(gw, "stall"), origin=stalled.address, timeout=2.0)
    )
    assert outside.probes[0].status == {"apache": 502, "varnish": 503}[gateway_name]
    assert outside.verdict.cause is Cause.TIMEOUT, outside.verdict
    assert (outside.verdict.generated_by, outside.verdict.hop) == (gateway_name, Hop.ORIGIN)
    assert_verdict(bypass, Cause.TIMEOUT, gateway_name, Hop.ORIGIN)
    assert bypass.verdict.confidence > outside.verdict.confidence
    expect_logged(gw, "stall", stalled)


# --- 7. protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
@pytest.mark.parametrize("route", ["reset", "garbage", "badheader", "headreset"])
async def test_origin_breaks_the_response(
    request: pytest.FixtureRequest, gateway_name: str, route: str
) -> None:
    """A reset before any byte, non-HTTP bytes, a header line without a colon, a reset while
    sending the head."""
    gw = gateway(request, gateway_name)
    broken = request.getfixturevalue("origins")[route]
    outside, bypass = await asyncio.gather(
        run(url(gw, route)), run(url(gw, route), origin=broken.address)
    )
    assert outside.probes[0].status == {"apache": 502, "varnish": 503}[gateway_name]
    if gateway_name == "apache" and route in ("badheader", "headreset"):
        # Apache's bare "502 Bad Gateway" (no reason) only follows a response head it rejected.
        assert outside.verdict.cause is Cause.PROTOCOL, outside.verdict
        assert (outside.verdict.generated_by, outside.verdict.hop) == ("apache", Hop.ORIGIN)
        assert "--origin" in outside.verdict.next_steps[0]
    else:
        # A fast generic page: refused, reset and garbage read the same from outside.
        assert_ambiguous(outside, Cause.PROTOCOL, gateway_name)
    if (gateway_name, route) in (("apache", "reset"), ("apache", "garbage")):
        # Apache gives a reset and garbage the read timeout's reason; the evidence says so.
        reason = [e for e in outside.verdict.evidence if "Error reading from remote" in e]
        assert reason and "reset" in reason[0] and "garbage" in reason[0], reason
    assert_verdict(bypass, Cause.PROTOCOL, gateway_name, Hop.ORIGIN)
    expect_logged(gw, route, broken)


@pytest.mark.parametrize(
    ("gateway_name", "route"), [("apache", "longheader"), ("varnish", "bigheaders")]
)
async def test_origin_headers_too_big_for_the_proxy(
    request: pytest.FixtureRequest, gateway_name: str, route: str
) -> None:
    gw = gateway(request, gateway_name)
    big = request.getfixturevalue("origins")[route]
    outside, bypass = await asyncio.gather(
        run(url(gw, route)), run(url(gw, route), origin=big.address)
    )
    assert bypass.probes[0].status == {"apache": 502, "varnish": 503}[gateway_name]
    # From outside, Apache's bare 502 already says "protocol"; Varnish's page cannot.
    assert Cause.PROTOCOL in (outside.verdict.cause, *outside.verdict.alternatives)
    assert (outside.verdict.cause is Cause.PROTOCOL) is (gateway_name == "apache")
    assert_verdict(bypass, Cause.PROTOCOL, gateway_name, Hop.EDGE_TO_ORIGIN)
    expect_logged(gw, route, big)
    if gateway_name == "apache":  # the line names the limit (it carries no address or path)
        assert "AH10124: header size is over the limit allowed by ResponseFieldSize" in (
            gw.error_log_text()
        )
    # The gateway's own knob, not nginx's proxy_buffer_size, is among the steps.
    knob = {"apache": "responsefieldsize=16384", "varnish": "-p http_max_hdr=256"}[gateway_name]
    assert any(knob in step for step in bypass.verdict.next_steps), bypass.verdict.next_steps


# --- 6. TLS ---------------------------------------------------------------------------------


async def test_apache_origin_certificate_expired() -> None:
    with (
        tls_server("expired") as origin,
        apache(
            f"https://{origin.address}", verify_upstream_tls=True, trusted_ca=origin.ca_pem_path
        ) as gw,
    ):
        outside, bypass = await asyncio.gather(
            run(gw.url),
            run(gw.url, origin=f"https://{origin.address}", ca_bundle=origin.ca_pem_path),
        )
        gw.wait_for_log("AH00898: Error during SSL Handshake with remote server")
    # mod_proxy answers a failed handshake with 500 "Proxy Error", not 502.
    assert outside.probes[0].status == 500
    assert outside.verdict.cause is Cause.TLS and outside.verdict.generated_by == "apache"
    assert_verdict(bypass, Cause.TLS, "apache", Hop.ORIGIN)
    assert any("expired" in e for e in bypass.verdict.evidence)


# --- what the gateway passes on is the origin's -------------------------------------------


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
async def test_the_apps_own_502_is_passed_through(
    request: pytest.FixtureRequest, gateway_name: str
) -> None:
    gw = gateway(request, gateway_name)
    app = request.getfixturevalue("origins")["app502"]
    outside, bypass = await asyncio.gather(
        run(url(gw, "app502")), run(url(gw, "app502"), origin=app.address)
    )
    for d in (outside, bypass):
        assert d.probes[0].status == 502
        assert (d.verdict.generated_by, d.verdict.hop) == ("origin", Hop.ORIGIN), d.verdict
        assert any("relayed" in e for e in d.verdict.evidence), d.verdict.evidence


@pytest.mark.parametrize("gateway_name", ["apache", "varnish"])
async def test_a_body_cut_by_the_origin_stays_the_origins(
    request: pytest.FixtureRequest, gateway_name: str
) -> None:
    gw = gateway(request, gateway_name)
    d = await run(url(gw, "cutbody"))
    assert d.probes[0].status == 200
    assert_verdict(d, Cause.PROTOCOL, "origin", Hop.ORIGIN)


# --- HAProxy: only a reset during the headers is its 502 ----------------------------------


async def test_haproxy_reset_during_headers_is_its_502_mid_body_passes_a_cut_200() -> None:
    with reset_in_headers_server() as up1, cut_body_server(pause=0.2, reset=True) as up2:
        with haproxy("127.0.0.1", up1.port) as gw:
            in_headers = await run(gw.url, origin=up1.address)
        with haproxy("127.0.0.1", up2.port) as gw:
            in_body = await run(gw.url, origin=up2.address)
    assert in_headers.probes[0].status == 502
    assert_verdict(in_headers, Cause.PROTOCOL, "haproxy", Hop.ORIGIN)
    assert in_body.probes[0].status == 200
    assert_verdict(in_body, Cause.PROTOCOL, "origin", Hop.ORIGIN)


async def test_haproxy_retrying_a_refused_server_stays_origin_down() -> None:
    """HAProxy's default 3 retries make a refused server's 503 slow: slow is not firewall."""
    with closed_port() as dead, haproxy("127.0.0.1", dead.port, timeout_connect="500ms") as gw:
        outside, bypass = await asyncio.gather(
            run(gw.url, timeout=5.0), run(gw.url, origin=dead.address, timeout=5.0)
        )
    assert outside.probes[0].status == 503
    assert_ambiguous(outside, Cause.FIREWALL, "haproxy")
    assert outside.verdict.cause is Cause.ORIGIN_DOWN
    assert any("or it retried" in e for e in outside.verdict.evidence)
    assert_verdict(bypass, Cause.ORIGIN_DOWN, "haproxy", Hop.ORIGIN)
