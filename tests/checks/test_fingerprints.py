"""Tests for checks.fingerprints: one realistic response per rule, then the traps.

Bodies and headers come from tests/checks/pages.py, copied from docs/fingerprints.md;
where the reference gives the bytes (nginx, ALB, HAProxy, Fastly, Varnish, CloudFront, Envoy,
Traefik, Kong, Apache) they are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from checks._fingerprint_rules import RELAY_MARKS, RULES, Response
from checks.fingerprints import GATEWAYS, Attribution, _winning_rule, attribute
from checks.model import Cause
from tests.checks.pages import (
    AFD_HEADERS,
    AFD_PAGE,
    AKAMAI_DECODED_TIMEOUT,
    AKAMAI_ENCODED,
    ALB_502,
    ALB_503,
    ALB_504,
    ALB_HEADERS,
    APACHE_503,
    APIGW_HEADERS,
    CLOUDFLARE_521_PAGE,
    CLOUDFLARE_522_PAGE,
    CLOUDFLARE_1016_PAGE,
    CLOUDFLARE_1033_PAGE,
    CLOUDFLARE_1101_PAGE,
    CLOUDFLARE_BRANDED_502,
    CLOUDFLARE_HEADERS,
    CLOUDFRONT_HEADERS,
    ENVOY_HEADERS,
    ENVOY_REFUSED,
    FASTLY_HEADERS,
    FLY_HEADERS,
    GOOGLE_502,
    HAPROXY_502,
    HAPROXY_503,
    HAPROXY_504,
    HEROKU_HEADERS,
    HEROKU_PAGE,
    INGRESS_503,
    KONG_502_MESSAGE,
    KONG_HEADERS,
    KONG_HTML_504,
    KONG_JSON_502,
    KONG_PLAIN_503,
    NETLIFY_HEADERS,
    NGINX_502,
    NGINX_504,
    TRAEFIK_HEADERS,
    VARNISH_503,
    VERCEL_504_PAGE,
    VERCEL_HEADERS,
    Headers,
    apache_headers,
    apache_proxy_error,
    cloudfront_page,
    envoy_reset,
    fastly_page,
    nginx_page,
)

# --- One fixture per rule --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A response and what attribute() must say about it."""

    status: int
    headers: Headers
    body: str
    generated_by: str
    cause: Cause | None
    code: str | None = None
    relayed_by: tuple[str, ...] | None = None  # None: not checked


RULE_FIXTURES: dict[str, Case] = {
    "cloudflare_error_header": Case(
        522,
        (
            *CLOUDFLARE_HEADERS,
            ("cf-error-type", "52x"),
            ("Content-Type", "text/html; charset=UTF-8"),
        ),
        CLOUDFLARE_522_PAGE,
        "cloudflare",
        Cause.FIREWALL,
        "522",
        (),
    ),
    "vercel_error_header": Case(
        500,
        (
            *VERCEL_HEADERS,
            ("x-vercel-error", "FUNCTION_INVOCATION_FAILED"),
            ("content-type", "text/plain; charset=utf-8"),
        ),
        "A server error has occurred\n",
        "vercel",
        Cause.ORIGIN_DOWN,
        "FUNCTION_INVOCATION_FAILED",
        (),
    ),
    # Trap: Render behind Cloudflare -> the inner platform marker wins.
    "render_routing": Case(
        503,
        (
            *CLOUDFLARE_HEADERS,
            ("rndr-id", "3f1c2a9e-8b7d-4c21"),
            ("x-render-routing", "hibernate-wake-error"),
        ),
        "",
        "render",
        Cause.ORIGIN_DOWN,
        "hibernate-wake-error",
        ("cloudflare",),
    ),
    # Trap: Cloudflare's branded 502 is the origin's 502, relayed.
    "cloudflare_branded_origin_error": Case(
        502, CLOUDFLARE_HEADERS, CLOUDFLARE_BRANDED_502, "origin", None, None, ("cloudflare",)
    ),
    "cloudflare_error_page": Case(
        521, CLOUDFLARE_HEADERS, CLOUDFLARE_521_PAGE, "cloudflare", Cause.ORIGIN_DOWN, "521", ()
    ),
    "cloudfront_error_page": Case(
        502,
        CLOUDFRONT_HEADERS,
        cloudfront_page("CloudFront wasn't able to connect to the origin."),
        "cloudfront",
        None,
        None,
        (),
    ),
    "fastly_guru_mediation": Case(
        503,
        FASTLY_HEADERS,
        fastly_page("first byte timeout"),
        "fastly",
        Cause.TIMEOUT,
        "first byte timeout",
        (),
    ),
    "varnish_guru_meditation": Case(
        503,
        (
            ("Server", "Varnish"),
            ("Retry-After", "5"),
            ("X-Varnish", "32770"),
            ("Content-Type", "text/html; charset=utf-8"),
        ),
        VARNISH_503,
        "varnish",
        None,
        "Backend fetch failed",
        (),
    ),
    "akamai_reference": Case(
        503,
        (("Server", "AkamaiGHost"), ("Mime-Version", "1.0"), ("Content-Type", "text/html")),
        AKAMAI_ENCODED,
        "akamai",
        None,
        "18.53b06c9.1785874538.b92b78a6",
        (),
    ),
    "google_error_page": Case(
        502,
        (("Content-Type", "text/html; charset=UTF-8"), ("Referrer-Policy", "no-referrer")),
        GOOGLE_502,
        "google",
        None,
    ),
    "google_cloud_run_timeout": Case(
        504,
        (("server", "Google Frontend"), ("content-type", "text/plain")),
        "upstream request timeout",
        "google",
        Cause.TIMEOUT,
        None,
        (),
    ),
    "azure_front_door_page": Case(503, AFD_HEADERS, AFD_PAGE, "azure_front_door", None),
    "heroku_application_error": Case(
        503,
        (*HEROKU_HEADERS, ("Content-Type", "text/html; charset=utf-8")),
        HEROKU_PAGE,
        "heroku",
        None,
    ),
    "vercel_error_page": Case(
        504,
        (*VERCEL_HEADERS, ("content-type", "text/html; charset=utf-8")),
        VERCEL_504_PAGE,
        "vercel",
        Cause.TIMEOUT,
        "FUNCTION_INVOCATION_TIMEOUT",
    ),
    "netlify_function_error": Case(
        502,
        (*NETLIFY_HEADERS, ("Content-Type", "application/json")),
        '{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 10.00 seconds"}',
        "netlify",
        Cause.TIMEOUT,
        "Sandbox.Timedout",
    ),
    "fly_error_code": Case(
        502,
        FLY_HEADERS,
        "PC01: Machine refused connection on port 8080\n",
        "fly",
        Cause.ORIGIN_DOWN,
        "PC01",
    ),
    "aws_api_gateway_message": Case(
        504,
        APIGW_HEADERS,
        '{"message": "Endpoint request timed out"}',
        "aws_api_gateway",
        Cause.TIMEOUT,
    ),
    "aws_api_gateway_error_type": Case(
        502,
        (
            ("x-amzn-RequestId", "7f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"),
            ("x-amzn-ErrorType", "InternalServerErrorException"),
        ),
        '{"message": null}',
        "aws_api_gateway",
        Cause.PROTOCOL,
        "InternalServerErrorException",
    ),
    "kong_error_message": Case(
        502,
        (*KONG_HEADERS, ("Content-Type", "application/json; charset=utf-8")),
        KONG_JSON_502,
        "kong",
        None,  # Kong shows this message for every 502: refused, reset, TLS, bad header
        None,
        (),
    ),
    "apache_error_page": Case(
        502,
        apache_headers(),
        apache_proxy_error(502, "Error reading from remote server"),
        "apache",
        Cause.TIMEOUT,
        None,
        (),
    ),
    "haproxy_error_page": Case(
        503,
        (
            ("content-length", "107"),
            ("cache-control", "no-cache"),
            ("content-type", "text/html"),
        ),
        HAPROXY_503,
        "haproxy",
        Cause.ORIGIN_DOWN,
        None,
        (),
    ),
    "envoy_local_reply": Case(
        503, ENVOY_HEADERS, ENVOY_REFUSED, "envoy", Cause.ORIGIN_DOWN, "UF", ()
    ),
    "traefik_no_available_server": Case(
        503,
        (*TRAEFIK_HEADERS, ("X-Content-Type-Options", "nosniff")),
        "no available server\n",
        "traefik",
        Cause.ORIGIN_DOWN,
    ),
    "traefik_status_text": Case(
        502, (("Content-Length", "11"),), "Bad Gateway", "traefik", None, None, ()
    ),
    "traefik_tls_500": Case(
        500, (("Content-Length", "21"),), "Internal Server Error", "traefik", Cause.TLS
    ),
    # Trap: nginx's page with no Server header is ingress-nginx.
    "ingress_nginx_page": Case(
        503,
        (("Content-Type", "text/html"), ("Content-Length", "190")),
        INGRESS_503,
        "ingress_nginx",
        Cause.ORIGIN_DOWN,
        None,
        (),
    ),
    "nginx_page": Case(
        502, (("Server", "nginx/1.22.1"), ("Content-Type", "text/html")), NGINX_502, "nginx", None
    ),
    "azure_app_gateway_page": Case(
        502,
        (("Server", "Microsoft-Azure-Application-Gateway/v2"), ("Content-Type", "text/html")),
        nginx_page("502 Bad Gateway", "Microsoft-Azure-Application-Gateway/v2"),
        "azure_app_gateway",
        None,
        None,
        (),
    ),
    "cloudflare_nginx_page": Case(
        502,
        CLOUDFLARE_HEADERS,
        nginx_page("502 Bad Gateway", "cloudflare", nl="\n"),
        "cloudflare",
        None,
        None,
        (),
    ),
    "aws_alb_page_legacy": Case(
        502,
        ALB_HEADERS,
        nginx_page("502 Bad Gateway", "awselb/2.0", old=True),
        "aws_alb",
        None,
        None,
        (),
    ),
    # Trap: no footer + Server: awselb/2.0 is the ALB.
    "aws_alb_page": Case(
        502,
        (*ALB_HEADERS, ("Content-Length", "122")),
        ALB_502,
        "aws_alb",
        None,
        None,
        (),
    ),
    "aws_alb_page_unbranded": Case(
        504, (("Content-Type", "text/html"),), ALB_504, "aws_alb", Cause.TIMEOUT
    ),
    "aws_alb_header": Case(
        502,
        (
            ("server", "awselb/2.0"),
            ("content-type", "application/grpc"),
            ("grpc-status", "14"),
            ("grpc-message", "unavailable"),
            ("content-length", "0"),
        ),
        "",
        "aws_alb",
        None,
    ),
    "caddy_empty": Case(
        502, (("Server", "Caddy"), ("Content-Length", "0")), "", "caddy", None, None, ()
    ),
    "netlify_empty": Case(
        502, (*NETLIFY_HEADERS, ("Content-Length", "0")), "", "netlify", None, None, ()
    ),
    "cloudflare_status_52x": Case(
        524,
        (*CLOUDFLARE_HEADERS, ("Content-Length", "0")),
        "",
        "cloudflare",
        Cause.TIMEOUT,
        "524",
        (),
    ),
    "cloudflare_mentions": Case(
        500, CLOUDFLARE_HEADERS, CLOUDFLARE_1101_PAGE, "cloudflare", None, "1101", ()
    ),
    "aws_elb_empty": Case(504, (("Content-Length", "0"),), "", "aws_elb", Cause.TIMEOUT, None, ()),
    # Trap: Via: 1.1 Caddy means the upstream sent the 502.
    "caddy_via_passthrough": Case(
        502,
        (("Via", "1.1 Caddy"), ("Content-Type", "application/json")),
        '{"error":"upstream database unavailable"}',
        "origin",
        None,
        None,
        ("caddy",),
    ),
    # Trap: an Envoy local reply relayed by another Envoy is upstream's answer.
    "envoy_upstream_passthrough": Case(
        503,
        (*ENVOY_HEADERS, ("x-envoy-upstream-service-time", "12")),
        "no healthy upstream",
        "origin",
        None,
        None,
        ("envoy",),
    ),
    # Trap: Kong's own message, but Kong says its upstream sent the status (X-Kong-Upstream-Status).
    "kong_upstream_passthrough": Case(
        502,
        (*KONG_HEADERS, ("X-Kong-Upstream-Status", "502")),
        KONG_JSON_502.replace(KONG_502_MESSAGE, "db down"),
        "origin",
        None,
        None,
        ("kong",),
    ),
}


def _check(case: Case) -> Attribution:
    result = attribute(case.status, case.headers, case.body)
    assert (result.generated_by, result.cause, result.code) == (
        case.generated_by,
        case.cause,
        case.code,
    ), result.evidence
    if case.relayed_by is not None:
        assert result.relayed_by == case.relayed_by
    return result


@pytest.mark.parametrize("rule_id", list(RULE_FIXTURES))
def test_rule_fixture(rule_id: str) -> None:
    case = RULE_FIXTURES[rule_id]
    found = _winning_rule(Response.build(case.status, case.headers, case.body))
    assert found is not None
    assert found[0].id == rule_id
    _check(case)


def test_every_rule_has_exactly_one_fixture() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(RULE_FIXTURES)


def test_every_gateway_has_a_fixture() -> None:
    generated = {case.generated_by for case in RULE_FIXTURES.values()}
    assert set(GATEWAYS) <= generated
    assert "origin" in generated


def test_rules_and_marks_name_known_gateways() -> None:
    known = {*GATEWAYS, "origin"}
    assert {rule.gateway for rule in RULES} <= known
    assert {g for rule in RULES for g in rule.relays} <= set(GATEWAYS)
    assert {m.gateway for m in RELAY_MARKS} <= set(GATEWAYS)
    assert all(g.kind in {"cdn", "load_balancer", "proxy", "paas"} for g in GATEWAYS.values())
    assert all(key == g.id for key, g in GATEWAYS.items())


# --- Cause maps: codes, reasons and statuses within one generator ----------------------------

CAUSE_CASES: dict[str, Case] = {
    "cloudflare 520": Case(520, CLOUDFLARE_HEADERS, "", "cloudflare", Cause.PROTOCOL, "520"),
    "cloudflare 523": Case(523, CLOUDFLARE_HEADERS, "", "cloudflare", Cause.FIREWALL, "523"),
    "cloudflare 525": Case(525, CLOUDFLARE_HEADERS, "", "cloudflare", Cause.TLS, "525"),
    "cloudflare 526": Case(526, CLOUDFLARE_HEADERS, "", "cloudflare", Cause.TLS, "526"),
    "cloudflare 530 1016": Case(
        530, CLOUDFLARE_HEADERS, CLOUDFLARE_1016_PAGE, "cloudflare", Cause.DNS, "1016"
    ),
    "cloudflare 530 1033": Case(
        530, CLOUDFLARE_HEADERS, CLOUDFLARE_1033_PAGE, "cloudflare", Cause.ORIGIN_DOWN, "1033"
    ),
    "vercel throttled": Case(
        503,
        (*VERCEL_HEADERS, ("x-vercel-error", "FUNCTION_THROTTLED")),
        "",
        "vercel",
        Cause.WORKERS_EXHAUSTED,
        "FUNCTION_THROTTLED",
    ),
    "vercel dns": Case(
        502,
        (("X-Vercel-Error", "DNS_HOSTNAME_RESOLVE_FAILED"),),
        "",
        "vercel",
        Cause.DNS,
        "DNS_HOSTNAME_RESOLVE_FAILED",
    ),
    "vercel handshake": Case(
        502,
        (("x-vercel-error", "ROUTER_EXTERNAL_TARGET_HANDSHAKE_ERROR"),),
        "",
        "vercel",
        Cause.TLS,
        "ROUTER_EXTERNAL_TARGET_HANDSHAKE_ERROR",
    ),
    "render no-server 404": Case(
        404,
        (("rndr-id", "3f1c2a9e"), ("x-render-routing", "no-server")),
        "Not Found",
        "render",
        Cause.ORIGIN_DOWN,
        "no-server",
    ),
    "cloudfront dns": Case(
        502,
        CLOUDFRONT_HEADERS,
        cloudfront_page("CloudFront wasn't able to resolve the origin domain name."),
        "cloudfront",
        Cause.DNS,
    ),
    "cloudfront 504": Case(
        504,
        CLOUDFRONT_HEADERS,
        cloudfront_page("CloudFront wasn't able to connect to the origin.", status=504),
        "cloudfront",
        Cause.TIMEOUT,
    ),
    "fastly unhealthy": Case(
        503,
        FASTLY_HEADERS,
        fastly_page("No healthy backends"),
        "fastly",
        Cause.ORIGIN_DOWN,
        "No healthy backends",
    ),
    "fastly max_conn": Case(
        503,
        FASTLY_HEADERS,
        fastly_page("Backend.max_conn reached"),
        "fastly",
        Cause.WORKERS_EXHAUSTED,
        "Backend.max_conn reached",
    ),
    "fastly network unreachable": Case(
        503,
        FASTLY_HEADERS,
        fastly_page("Network Unreachable"),
        "fastly",
        Cause.FIREWALL,
        "Network Unreachable",
    ),
    "akamai decoded read timeout": Case(
        504,
        (("Server", "AkamaiGHost"),),
        AKAMAI_DECODED_TIMEOUT,
        "akamai",
        Cause.TIMEOUT,
        "1.53b06c9.1785874538.b92b78a6",
    ),
    "google 504": Case(504, (), GOOGLE_502.replace("502", "504"), "google", Cause.TIMEOUT),
    "azure front door 504": Case(504, AFD_HEADERS, AFD_PAGE, "azure_front_door", Cause.TIMEOUT),
    "heroku h12 in body": Case(
        503,
        HEROKU_HEADERS,
        HEROKU_PAGE.replace("</body>", "<!-- code=H12 desc=Request timeout --></body>"),
        "heroku",
        Cause.TIMEOUT,
        "H12",
    ),
    "heroku behind cloudflare": Case(
        503,
        (*CLOUDFLARE_HEADERS, *HEROKU_HEADERS),
        HEROKU_PAGE,
        "heroku",
        None,
        None,
        ("cloudflare",),
    ),
    "api gateway rest lambda proxy": Case(
        502,
        APIGW_HEADERS,
        '{"message": "Internal server error"}',
        "aws_api_gateway",
        Cause.PROTOCOL,
    ),
    "kong ring-balancer": Case(503, KONG_HEADERS, KONG_PLAIN_503, "kong", Cause.ORIGIN_DOWN),
    "kong timeout html": Case(504, KONG_HEADERS, KONG_HTML_504, "kong", Cause.TIMEOUT),
    "kong dns": Case(
        503, KONG_HEADERS, '{\n  "message":"name resolution failed"\n}', "kong", Cause.DNS
    ),
    "apache 503 connect failure": Case(503, (), APACHE_503, "apache", Cause.ORIGIN_DOWN),
    "apache 500 dns": Case(
        500,
        (),
        apache_proxy_error(500, "DNS lookup failure for: backend.internal"),
        "apache",
        Cause.DNS,
    ),
    "apache 500 tls": Case(
        500,
        (),
        apache_proxy_error(500, "Error during SSL Handshake with remote server"),
        "apache",
        Cause.TLS,
    ),
    "haproxy 502": Case(502, (), HAPROXY_502, "haproxy", Cause.PROTOCOL),
    "haproxy 504": Case(504, (), HAPROXY_504, "haproxy", Cause.TIMEOUT),
    "envoy no healthy upstream": Case(
        503, ENVOY_HEADERS, "no healthy upstream", "envoy", Cause.ORIGIN_DOWN, "UH"
    ),
    "envoy route timeout": Case(
        504, ENVOY_HEADERS, "upstream request timeout", "envoy", Cause.TIMEOUT, "UT"
    ),
    "envoy connect timeout": Case(
        503,
        ENVOY_HEADERS,
        envoy_reset("connection timeout"),
        "envoy",
        Cause.FIREWALL,
        "UF",
    ),
    "envoy tls verify": Case(
        503,
        (("server", "istio-envoy"),),
        envoy_reset(
            "remote connection failure",
            "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end",
            retried=True,
        ),
        "envoy",
        Cause.TLS,
        "UF",
    ),
    "envoy termination": Case(
        503,
        ENVOY_HEADERS,
        envoy_reset("connection termination"),
        "envoy",
        Cause.PROTOCOL,
        "UC",
    ),
    "envoy overflow": Case(
        503,
        (*ENVOY_HEADERS, ("x-envoy-overloaded", "true")),
        envoy_reset("overflow"),
        "envoy",
        Cause.WORKERS_EXHAUSTED,
        "UO",
    ),
    "envoy protocol error": Case(
        502,
        ENVOY_HEADERS,
        envoy_reset("protocol error"),
        "envoy",
        Cause.PROTOCOL,
        "UPE",
    ),
    "traefik 504": Case(504, (), "Gateway Timeout", "traefik", Cause.TIMEOUT),
    "nginx server_tokens off": Case(
        502, (("Server", "nginx"),), nginx_page("502 Bad Gateway", "nginx"), "nginx", None
    ),
    "nginx 504": Case(504, (("Server", "nginx/1.22.1"),), NGINX_504, "nginx", Cause.TIMEOUT),
    "alb 503 no targets": Case(
        503, (("Server", "awselb/2.0"),), ALB_503, "aws_alb", Cause.ORIGIN_DOWN
    ),
    "alb 504": Case(504, (("Server", "awselb/2.0"),), ALB_504, "aws_alb", Cause.TIMEOUT),
    "caddy 504": Case(504, (("Server", "Caddy"),), "", "caddy", Cause.TIMEOUT),
    "caddy 503": Case(503, (("Server", "Caddy"),), "", "caddy", Cause.ORIGIN_DOWN),
}


@pytest.mark.parametrize("name", list(CAUSE_CASES))
def test_cause_map(name: str) -> None:
    _check(CAUSE_CASES[name])


def test_nginx_502_leaves_the_cause_open() -> None:
    result = _check(RULE_FIXTURES["nginx_page"])
    assert result.alternatives == (
        Cause.ORIGIN_DOWN,
        Cause.PROTOCOL,
        Cause.TLS,
        Cause.DNS,
        Cause.FIREWALL,
    )
    assert result.evidence[0] == 'body is nginx\'s built-in 502 page (footer "nginx/1.22.1")'


def test_cloudflare_522_offers_workers_exhausted() -> None:
    result = _check(RULE_FIXTURES["cloudflare_error_header"])
    assert result.alternatives == (Cause.WORKERS_EXHAUSTED,)


def test_apache_read_error_may_also_be_a_crash() -> None:
    result = _check(RULE_FIXTURES["apache_error_page"])
    assert result.alternatives[0] is Cause.ORIGIN_DOWN


# --- Traps -----------------------------------------------------------------------------------


def test_server_nginx_on_an_app_json_502_is_the_origin() -> None:
    result = attribute(
        502,
        [("Server", "nginx/1.24.0"), ("Content-Type", "application/json")],
        '{"error":"payment provider returned 502","code":"UPSTREAM"}',
    )
    assert result.generated_by == "origin"
    assert result.relayed_by == ("nginx",)
    assert result.cause is None


def test_nuxt_error_text_without_heroku_headers_is_not_heroku() -> None:
    body = HEROKU_PAGE.replace("Heroku CLI", "CLI")
    result = attribute(500, [("Server", "nginx"), ("X-Powered-By", "Nuxt")], body)
    assert result.generated_by == "origin"
    assert "heroku" not in result.relayed_by


def test_cloudflare_503_without_cloudflare_in_body_is_the_origin() -> None:
    result = attribute(503, CLOUDFLARE_HEADERS, "<h1>Down for maintenance</h1>")
    assert (result.generated_by, result.relayed_by) == ("origin", ("cloudflare",))


def test_nginx_page_is_nginx_even_behind_a_cdn() -> None:
    headers = (("Server", "nginx"), *CLOUDFRONT_HEADERS[1:])
    result = attribute(502, headers, NGINX_502)
    assert result.generated_by == "nginx"
    assert result.relayed_by == ("cloudfront",)


def test_fastly_via_varnish_is_not_self_hosted_varnish() -> None:
    result = attribute(200, FASTLY_HEADERS, "ok")
    assert result.relayed_by == ("fastly",)


@pytest.mark.parametrize("status", [200, 301, 404, 429])
def test_non_5xx_is_the_origin(status: int) -> None:
    result = attribute(status, (*CLOUDFLARE_HEADERS, ("Server", "nginx")), NGINX_502)
    assert (result.generated_by, result.cause, result.code) == ("origin", None, None)
    assert result.relayed_by == ("cloudflare", "nginx")


def test_header_names_are_case_insensitive() -> None:
    upper = attribute(522, [("CF-Error-Type", "52x"), ("SERVER", "cloudflare")], "")
    lower = attribute(522, [("cf-error-type", "52x"), ("server", "cloudflare")], "")
    assert upper == lower
    assert upper.generated_by == "cloudflare"


def test_akamai_reference_reads_the_same_encoded_and_decoded() -> None:
    decoded = AKAMAI_ENCODED.replace(
        "Reference&#32;&#35;18&#46;53b06c9&#46;1785874538&#46;b92b78a6",
        "Reference #18.53b06c9.1785874538.b92b78a6",
    )
    encoded = attribute(503, [], AKAMAI_ENCODED)
    plain = attribute(503, [], decoded)
    assert encoded.generated_by == plain.generated_by == "akamai"
    assert encoded.code == plain.code == "18.53b06c9.1785874538.b92b78a6"


@pytest.mark.parametrize(
    "headers",
    [
        [("Server", "gunicorn"), ("Content-Length", "0")],
        [("Content-Length", "0")],  # Go's httputil.ReverseProxy: not a Classic ELB
        # Caddy < 2.8 relays an upstream's empty 502 with its own Server and no Via.
        [("Server", "Caddy"), ("Content-Type", "text/plain"), ("Content-Length", "0")],
    ],
)
def test_bare_empty_502_is_not_claimed(headers: list[tuple[str, str]]) -> None:
    result = attribute(502, headers, "")
    assert result.generated_by == "origin"


# --- Invariants ------------------------------------------------------------------------------

ALL_CASES = [*RULE_FIXTURES.values(), *CAUSE_CASES.values()]


@pytest.mark.parametrize("case", ALL_CASES)
def test_results_are_well_formed(case: Case) -> None:
    result = attribute(case.status, case.headers, case.body)
    assert result.cause is not Cause.UNKNOWN
    assert Cause.UNKNOWN not in result.alternatives
    assert result.cause not in result.alternatives
    assert len(set(result.alternatives)) == len(result.alternatives)
    assert result.generated_by not in result.relayed_by
    assert 0.0 <= result.confidence <= 1.0
    assert result.evidence
    assert all(e and "?" not in e and "{" not in e for e in result.evidence)


def test_fixture_bodies_match_the_reference_byte_counts() -> None:
    off_502 = nginx_page("502 Bad Gateway", "nginx")
    assert [len(off_502), len(INGRESS_503), len(nginx_page("504 Gateway Time-out", "nginx"))] == [
        150,
        190,
        160,
    ]
    assert len(nginx_page("502 Bad Gateway", "nginx/1.24.0")) == 157
    assert [len(ALB_502), len(ALB_503), len(ALB_504)] == [122, 162, 132]
    assert [len(HAPROXY_502), len(HAPROXY_503), len(HAPROXY_504)] == [107, 107, 92]
