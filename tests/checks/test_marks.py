"""Every platform's own marks: one typed id across the tables, and two marks that agree.

Part 1: the tables agree. Every gateway id has fingerprint rules, error marks, advice and a
section in docs/fingerprints.md; no table names an id the catalogue does not know, and every
table holds the typed ids, not strings.

Part 2: for every gateway, a page without its usual footer (an older template, a localised
copy, a custom page on top of the platform) is still attributed to it, and the origin's own 502
passed through it is attributed to the origin. Canned responses are in tests/checks/pages.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

from checks import Cause
from checks._explain_rules import RULES as EXPLAIN_RULES
from checks._fingerprint_rules import (
    ERROR_MARKS,
    RELAY_MARKS,
    RULES,
    ErrorMark,
    RelayMark,
    Response,
)
from checks.advice import _BY_SOURCE
from checks.fingerprints import _AGREE_CONFIDENCE as AGREE_CONFIDENCE
from checks.fingerprints import GATEWAYS, _place, attribute
from checks.gateways import ORIGIN, GatewayId, SourceId, parse_source
from checks.mismatch import _LINES as MISMATCH_LINES
from tests.checks.conftest import run
from tests.checks.pages import (
    AFD_HEADERS,
    AFD_PAGE_LOCALISED,
    AKAMAI_HEADERS,
    AKAMAI_NO_REFERENCE,
    ALB_502,
    ALB_HEADERS,
    APACHE_502_NO_SIGNATURE,
    APIGW_HEADERS,
    APP_GATEWAY_HEADERS,
    CLOUDFLARE_521_LOCALISED,
    CLOUDFLARE_HEADERS,
    CLOUDFLARE_HTML_HEADERS,
    CLOUDFRONT_502_NO_FOOTER,
    CLOUDFRONT_HEADERS,
    CLOUDFRONT_RELAYED_HEADERS,
    ELB_AT_CAPACITY_REASON,
    ELB_EMPTY_HEADERS,
    ENVOY_HEADERS,
    FASTLY_CUSTOM_503,
    FASTLY_HEADERS,
    FLY_HEADERS,
    GCLB_502,
    GCLB_HEADERS,
    HAPROXY_502,
    HEROKU_FRAMED_PAGE,
    HEROKU_HEADERS,
    INGRESS_503,
    KONG_HEADERS,
    KONG_LOCALISED_504,
    NETLIFY_HEADERS,
    NGINX_HEADERS,
    NGINX_OLD_502,
    ORIGIN_502_JSON,
    ORIGIN_HEADERS,
    TRAEFIK_HEADERS,
    VARNISH_CUSTOM_503,
    VARNISH_CUSTOM_REASON,
    VARNISH_HEADERS,
    VARNISH_RELAYED_HEADERS,
    VERCEL_HEADERS,
    Headers,
    apache_headers,
    envoy_reset,
    nginx_page,
    vercel_text_page,
)
from tests.support import garbage_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "fingerprints.md"
_DOC_SECTION = re.compile(r"^### `([a-z_]+)`", re.MULTILINE)


# --- Part 1: the tables agree ----------------------------------------------------------------


def _doc_sections() -> list[str]:
    return _DOC_SECTION.findall(DOC.read_text(encoding="utf-8"))


def test_the_catalogue_is_the_enum() -> None:
    assert list(GATEWAYS) == [g.id for g in GATEWAYS.values()]
    assert set(GATEWAYS) == set(GatewayId)
    assert all(type(g) is GatewayId for g in GATEWAYS)


@pytest.mark.parametrize("gateway", list(GatewayId))
def test_every_gateway_has_rules_marks_advice_and_a_doc_section(gateway: GatewayId) -> None:
    assert any(rule.gateway is gateway for rule in RULES), "no fingerprint rule"
    assert any(m.gateway is gateway for m in ERROR_MARKS), "no error mark"
    assert any(source is gateway for source, _ in _BY_SOURCE), "no advice"
    assert _doc_sections().count(gateway.value) == 1, "no single section in docs/fingerprints.md"


def test_no_table_names_an_unknown_id() -> None:
    generators = {*GatewayId, ORIGIN}
    assert all(type(r.gateway) in (GatewayId, SourceId) for r in RULES)
    assert {r.gateway for r in RULES} <= generators
    assert all(type(g) is GatewayId for r in RULES for g in r.relays)
    assert all(type(m.gateway) is GatewayId for m in (*RELAY_MARKS, *ERROR_MARKS))
    sources = {r.source for r in EXPLAIN_RULES} - {None}
    assert all(type(s) in (GatewayId, SourceId) for s in sources)
    assert all(type(s) in (GatewayId, SourceId) for s, _ in _BY_SOURCE)
    assert set(_doc_sections()) <= {g.value for g in GatewayId}
    for _, lines in MISMATCH_LINES.values():
        assert all(type(g) is GatewayId for g in lines)
    assert len(_doc_sections()) == len(set(_doc_sections()))


ONE_PLACE = {
    GatewayId.HAPROXY: "its built-in page; no header of its own, standard reason phrases",
    GatewayId.TRAEFIK: "the status text as the body; no Server header",
    GatewayId.INGRESS_NGINX: "nginx's page; the Server header is cleared",
}
"""Gateways that mark their errors in one place only (docs/fingerprints.md says so)."""


@pytest.mark.parametrize("gateway", list(GatewayId))
def test_every_gateway_has_marks_in_two_places_where_it_has_them(gateway: GatewayId) -> None:
    places = {m.place for m in ERROR_MARKS if m.gateway is gateway}
    places |= {_place(m.when) for m in RELAY_MARKS if m.gateway is gateway}
    assert (len(places) >= 2) == (gateway not in ONE_PLACE), places
    assert ("Only one place" in _doc_section(gateway)) == (gateway in ONE_PLACE)


def _doc_section(gateway: GatewayId) -> str:
    doc = DOC.read_text(encoding="utf-8")
    return doc.split(f"### `{gateway.value}`", 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("gateway", list(GatewayId))
def test_the_doc_lists_each_mark_and_rule_of_the_gateway(gateway: GatewayId) -> None:
    section = _doc_section(gateway)
    errors, relays = section.split("* Relay marks", 1)
    for m in ERROR_MARKS:
        if m.gateway is gateway:
            assert f"{m.label} ({m.place})" in errors
    for r in RELAY_MARKS:
        if r.gateway is gateway:
            assert f"{r.label} ({_place(r.when)})" in relays.split("* Rules", 1)[0]
    for rule in RULES:
        if rule.gateway is gateway or gateway in rule.relays:
            assert f"`{rule.id}`" in section


def test_a_misspelt_id_is_refused_by_name() -> None:
    assert parse_source("aws_alb") is GatewayId.AWS_ALB
    assert parse_source("origin") is SourceId.ORIGIN
    with pytest.raises(ValueError, match="'cloudfare'"):
        parse_source("cloudfare")


def test_the_ids_keep_their_json_strings() -> None:
    """The JSON contract: ids are the strings the output always carried."""
    assert GatewayId.AWS_ALB == "aws_alb"
    assert attribute(502, ORIGIN_HEADERS, ORIGIN_502_JSON).generated_by == "origin"
    assert attribute(502, ALB_HEADERS, ALB_502).generated_by == "aws_alb"


def test_error_marks_and_relay_marks_stay_distinct() -> None:
    """An error mark says the platform made the response; a relay mark only that it was there."""
    assert all(type(m) is ErrorMark for m in ERROR_MARKS)
    assert all(type(m) is RelayMark for m in RELAY_MARKS)
    labels = [(m.gateway, m.label) for m in ERROR_MARKS]
    assert len(labels) == len(set(labels))


# --- Part 2: two marks that agree ------------------------------------------------------------


class Seen(NamedTuple):
    status: int
    headers: Headers
    body: str
    reason: str | None = None


FOOTERLESS: dict[GatewayId, Seen] = {
    GatewayId.CLOUDFLARE: Seen(521, CLOUDFLARE_HTML_HEADERS, CLOUDFLARE_521_LOCALISED),
    GatewayId.CLOUDFRONT: Seen(502, CLOUDFRONT_HEADERS, CLOUDFRONT_502_NO_FOOTER),
    GatewayId.FASTLY: Seen(503, FASTLY_HEADERS, FASTLY_CUSTOM_503),
    GatewayId.AKAMAI: Seen(503, AKAMAI_HEADERS, AKAMAI_NO_REFERENCE),
    GatewayId.AZURE_FRONT_DOOR: Seen(503, AFD_HEADERS, AFD_PAGE_LOCALISED),
    GatewayId.GOOGLE: Seen(502, GCLB_HEADERS, GCLB_502),
    GatewayId.AWS_ALB: Seen(502, ALB_HEADERS, ALB_502),  # the older page's awselb footer gone
    GatewayId.AWS_ELB: Seen(503, ELB_EMPTY_HEADERS, "", ELB_AT_CAPACITY_REASON),
    GatewayId.AZURE_APP_GATEWAY: Seen(
        502, APP_GATEWAY_HEADERS, nginx_page("502 Bad Gateway", None)
    ),
    GatewayId.AWS_API_GATEWAY: Seen(  # a customised gateway response keeps the header
        504,
        (*APIGW_HEADERS, ("x-amzn-ErrorType", "IntegrationTimeout")),
        '{"error": "Die Anfrage hat zu lange gedauert"}',
    ),
    GatewayId.VERCEL: Seen(
        504,
        (*VERCEL_HEADERS, ("Content-Type", "text/plain; charset=utf-8")),
        vercel_text_page("504: GATEWAY_TIMEOUT", "FUNCTION_INVOCATION_TIMEOUT").rsplit("ID:")[0],
    ),
    GatewayId.NETLIFY: Seen(  # the function's payload, no Netlify page around it
        502,
        (*NETLIFY_HEADERS, ("Content-Type", "application/json")),
        '{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 10.00 seconds"}',
    ),
    GatewayId.HEROKU: Seen(503, HEROKU_HEADERS, HEROKU_FRAMED_PAGE),
    GatewayId.FLY: Seen(502, FLY_HEADERS, "PC01\n"),  # the code alone, no sentence
    GatewayId.RENDER: Seen(
        503, (("rndr-id", "3f1c2a9e-8b7d-4c21"), ("x-render-routing", "hibernate-wake-error")), ""
    ),
    GatewayId.KONG: Seen(504, KONG_HEADERS, KONG_LOCALISED_504),
    GatewayId.VARNISH: Seen(503, VARNISH_HEADERS, VARNISH_CUSTOM_503, VARNISH_CUSTOM_REASON),
    GatewayId.HAPROXY: Seen(502, (), HAPROXY_502),  # no footer: the page is one sentence
    GatewayId.ENVOY: Seen(503, ENVOY_HEADERS, envoy_reset("connection timeout")),
    GatewayId.TRAEFIK: Seen(502, TRAEFIK_HEADERS, "Bad Gateway\n"),
    GatewayId.INGRESS_NGINX: Seen(503, (("Content-Type", "text/html"),), INGRESS_503),
    GatewayId.NGINX: Seen(502, NGINX_HEADERS, NGINX_OLD_502),
    GatewayId.CADDY: Seen(502, (("Server", "Caddy"),), ""),
    GatewayId.APACHE: Seen(502, apache_headers(), APACHE_502_NO_SIGNATURE, "Proxy Error"),
}
"""Per gateway: its error without the usual footer (or its bare answer, where it has none)."""

PASSED_THROUGH: dict[GatewayId, Headers] = {
    GatewayId.CLOUDFLARE: (
        *ORIGIN_HEADERS[1:],
        *CLOUDFLARE_HEADERS,
        ("cf-cache-status", "DYNAMIC"),
    ),
    GatewayId.CLOUDFRONT: CLOUDFRONT_RELAYED_HEADERS,
    GatewayId.FASTLY: (*ORIGIN_HEADERS, *FASTLY_HEADERS),
    GatewayId.AKAMAI: (
        *ORIGIN_HEADERS,
        (
            "X-Cache",
            "TCP_MISS from a104-71-131-14.deploy.akamaitechnologies.com (AkamaiGHost/10.4.6-1) (-)",
        ),
    ),
    GatewayId.AZURE_FRONT_DOOR: (*ORIGIN_HEADERS, *AFD_HEADERS),
    GatewayId.GOOGLE: (*ORIGIN_HEADERS, ("Via", "1.1 google")),
    GatewayId.AWS_ALB: ORIGIN_HEADERS,
    GatewayId.AWS_ELB: ORIGIN_HEADERS,
    GatewayId.AZURE_APP_GATEWAY: ORIGIN_HEADERS,
    GatewayId.AWS_API_GATEWAY: (*APIGW_HEADERS, ("Server", "gunicorn")),
    GatewayId.VERCEL: (*VERCEL_HEADERS, ("Content-Type", "application/json")),
    GatewayId.NETLIFY: (*NETLIFY_HEADERS, ("Content-Type", "application/json")),
    GatewayId.HEROKU: (*ORIGIN_HEADERS, *HEROKU_HEADERS[1:]),
    GatewayId.FLY: (*ORIGIN_HEADERS[1:], *FLY_HEADERS),
    GatewayId.RENDER: (*ORIGIN_HEADERS, ("rndr-id", "3f1c2a9e-8b7d-4c21")),
    GatewayId.KONG: (*KONG_HEADERS, ("Content-Type", "application/json")),
    GatewayId.VARNISH: VARNISH_RELAYED_HEADERS,
    GatewayId.HAPROXY: ORIGIN_HEADERS,
    GatewayId.ENVOY: (*ENVOY_HEADERS, ("x-envoy-upstream-service-time", "12")),
    GatewayId.TRAEFIK: ORIGIN_HEADERS,
    GatewayId.INGRESS_NGINX: ORIGIN_HEADERS[1:],
    GatewayId.NGINX: (("Server", "nginx/1.24.0"), ("Content-Type", "application/json")),
    GatewayId.CADDY: (*ORIGIN_HEADERS[1:], ("Via", "1.1 Caddy")),
    GatewayId.APACHE: (("Server", "Apache/2.4.62 (Debian)"), ("Content-Type", "application/json")),
}
"""Per gateway: the headers on the origin's own JSON 502 it relayed (its relay marks, if any)."""

RELAYS_NOTHING = {
    GatewayId.AWS_ALB,  # the target's own Server header is passed on
    GatewayId.AWS_ELB,
    GatewayId.AZURE_APP_GATEWAY,
    GatewayId.HAPROXY,  # adds no header to a relayed response
    GatewayId.TRAEFIK,
    GatewayId.INGRESS_NGINX,  # clears Server
}
"""Gateways that leave no mark on a response they relay."""


def test_every_gateway_has_both_cases() -> None:
    assert set(FOOTERLESS) == set(GatewayId) == set(PASSED_THROUGH)


@pytest.mark.parametrize("gateway", list(GatewayId))
def test_a_page_without_its_footer_is_still_attributed(gateway: GatewayId) -> None:
    seen = FOOTERLESS[gateway]
    result = attribute(seen.status, seen.headers, seen.body, reason=seen.reason)
    assert result.generated_by == gateway, result.evidence
    assert result.confidence >= 0.6


@pytest.mark.parametrize("gateway", list(GatewayId))
def test_an_origin_502_passed_through_is_the_origin(gateway: GatewayId) -> None:
    headers = PASSED_THROUGH[gateway]
    result = attribute(502, headers, ORIGIN_502_JSON, reason="Bad Gateway")
    assert result.generated_by == ORIGIN, result.evidence
    assert (gateway in result.relayed_by) == (gateway not in RELAYS_NOTHING), result.relayed_by
    response = Response.build(502, headers, ORIGIN_502_JSON, "Bad Gateway")
    fired = [m.label for m in ERROR_MARKS if m.match(response)]
    assert fired == []  # no gateway's error mark, this one's or another's


# These footerless variants are attributed only because two marks agree: no single rule fits.
BY_MARKS_ONLY = [
    GatewayId.CLOUDFRONT,
    GatewayId.FASTLY,
    GatewayId.AKAMAI,
    GatewayId.AZURE_FRONT_DOOR,
    GatewayId.GOOGLE,
    GatewayId.AWS_ELB,
    GatewayId.AZURE_APP_GATEWAY,
    GatewayId.HEROKU,
    GatewayId.KONG,
    GatewayId.VARNISH,
]


@pytest.mark.parametrize("gateway", BY_MARKS_ONLY)
def test_agreeing_marks_are_the_evidence(gateway: GatewayId) -> None:
    seen = FOOTERLESS[gateway]
    result = attribute(seen.status, seen.headers, seen.body, reason=seen.reason)
    name = re.escape(GATEWAYS[gateway].name)
    assert re.match(rf"[2-9] independent {name} marks agree: ", result.evidence[0])
    assert 0.8 <= result.confidence <= 0.9


def test_the_marks_keep_the_platform_cause() -> None:
    """The agreeing marks name the gateway; its own code maps still give the cause."""
    fastly = FOOTERLESS[GatewayId.FASTLY]
    result = attribute(fastly.status, fastly.headers, fastly.body)
    assert (result.cause, result.code) == (Cause.TIMEOUT, "first byte timeout")
    cloudflare = attribute(522, CLOUDFLARE_HEADERS, "<title>shop | 522: Zeitüberschreitung</title>")
    assert (cloudflare.generated_by, cloudflare.cause) == ("cloudflare", Cause.FIREWALL)


def test_a_pass_through_proof_beats_agreeing_marks() -> None:
    """Kong's request id is echoed, but X-Kong-Upstream-Status says the upstream sent the 502."""
    kong = FOOTERLESS[GatewayId.KONG]
    assert attribute(502, kong.headers, kong.body).generated_by == GatewayId.KONG
    relayed = attribute(502, (*kong.headers, ("X-Kong-Upstream-Status", "502")), kong.body)
    assert (relayed.generated_by, relayed.relayed_by) == (ORIGIN, (GatewayId.KONG,))
    proofs = [r for r in RULES if r.gateway == ORIGIN]
    assert proofs
    assert all(r.confidence >= AGREE_CONFIDENCE for r in proofs)


def test_one_error_mark_alone_is_not_enough() -> None:
    """Load-balancer wording with no header of the platform: any app can write that page."""
    assert attribute(502, ORIGIN_HEADERS, GCLB_502).generated_by == ORIGIN
    assert attribute(503, ORIGIN_HEADERS, FASTLY_CUSTOM_503).generated_by == ORIGIN


def test_marks_read_in_one_place_count_once() -> None:
    """Heroku's framed page has its title and its frame, both in the body: one place, not two."""
    assert attribute(503, ORIGIN_HEADERS, HEROKU_FRAMED_PAGE).generated_by == ORIGIN


def test_the_reason_phrase_is_a_mark() -> None:
    varnish = FOOTERLESS[GatewayId.VARNISH]
    assert attribute(503, varnish.headers, varnish.body).generated_by == ORIGIN
    named = attribute(503, varnish.headers, varnish.body, reason=varnish.reason)
    assert named.generated_by == GatewayId.VARNISH
    assert 'reason phrase "Backend fetch failed"' in named.evidence[0]


def test_fastly_reason_phrase_names_the_cause_without_a_page() -> None:
    """A custom vcl_error page with no Fastly title: the reason phrase still carries obj.response."""
    page = "<h1>Sorry, try again soon.</h1>"
    assert attribute(503, FASTLY_HEADERS, page).generated_by == ORIGIN
    result = attribute(503, FASTLY_HEADERS, page, reason="first byte timeout")
    assert (result.generated_by, result.cause) == (GatewayId.FASTLY, Cause.TIMEOUT)
    assert result.code == "first byte timeout"
    # obj.response is case sensitive: another spelling is not Fastly's.
    assert attribute(503, FASTLY_HEADERS, page, reason="First Byte Timeout").generated_by == ORIGIN


def test_a_request_id_echoed_in_the_page_is_a_mark() -> None:
    """Kong's custom page: the only Kong mark in the body is its request id."""
    kong = FOOTERLESS[GatewayId.KONG]
    assert attribute(504, kong.headers, kong.body).generated_by == GatewayId.KONG
    other_id = kong.body.replace("6c1f1e0b2d3a4c5e7f80", "0000ffff0000ffff0000")
    assert attribute(504, kong.headers, other_id).generated_by == ORIGIN


def test_a_custom_cloudflare_page_is_named_by_its_ray_id() -> None:
    """Cloudflare's custom error pages fill in ::RAY_ID::; the cf-ray header's hex part is it."""
    page = "<h1>Wartungsarbeiten</h1><p>Ray ID: 8c1e2f3a4b5c6d7e</p>"
    assert attribute(503, CLOUDFLARE_HEADERS, page).generated_by == GatewayId.CLOUDFLARE
    other = page.replace("8c1e2f3a4b5c6d7e", "0123456789abcdef")
    assert attribute(503, CLOUDFLARE_HEADERS, other).generated_by == ORIGIN
    # On a 502 or 504 Cloudflare's own template is the branded page of the origin's error.
    assert attribute(502, CLOUDFLARE_HEADERS, page).generated_by == ORIGIN


def test_non_errors_are_the_origin_whatever_marks_they_carry() -> None:
    heroku = FOOTERLESS[GatewayId.HEROKU]
    assert attribute(200, heroku.headers, heroku.body).generated_by == ORIGIN


async def test_the_reason_phrase_reaches_the_verdict() -> None:
    """End to end: a real server answers Varnish's reason phrase over a custom body."""
    varnish = FOOTERLESS[GatewayId.VARNISH]
    head = f"HTTP/1.1 503 {varnish.reason}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in (*varnish.headers, ("Connection", "close"))
    )
    body = varnish.body.encode()
    raw = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    with garbage_server(raw) as server:  # any fixed bytes: here, a well-formed response
        d = await run(server.url)
    assert d.probes[0].reason == varnish.reason
    assert d.verdict.generated_by == "varnish", d.verdict.evidence
