"""End to end through ``diagnose``: a local server plays a CDN, PaaS or proxy edge.

Each edge serves one platform's exact error response (headers and body from tests/checks/pages.py,
copied from docs/fingerprints.md); with ``--origin`` a second local server plays the
origin, healthy, refused or slow. The verdict must name the cause, the generator, the hop and the
platform's own code, and its evidence must name the platform.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from checks import Cause, Hop
from tests.checks.conftest import run
from tests.checks.pages import (
    ALB_502,
    ALB_503,
    ALB_504,
    ALB_HEADERS,
    APACHE_2_4_57_502,
    APACHE_2_4_57_HEADERS,
    CLOUDFLARE_1016_TRANSLATED_PAGE,
    CLOUDFLARE_HTML_HEADERS,
    CLOUDFRONT_502_PAGE,
    CLOUDFRONT_HTML_HEADERS,
    ENVOY_SERVER_FIRST_HEADERS,
    FASTLY_503_HEADERS,
    HEROKU_HTML_HEADERS,
    HEROKU_PAGE_WITH_PRE,
    KONG_3_4_HEADERS,
    KONG_3_4_JSON_502,
    NGINX_HEADERS,
    TRAEFIK_HEADERS,
    Headers,
    cloudflare_page,
    envoy_reset,
    fastly_page,
    nginx_page,
    vercel_error_headers,
    vercel_text_page,
)
from tests.support import closed_port, ok_server

ORIGIN_DOWN, FIREWALL, DNS = Cause.ORIGIN_DOWN, Cause.FIREWALL, Cause.DNS
TIMEOUT, TLS, PROTOCOL = Cause.TIMEOUT, Cause.TLS, Cause.PROTOCOL
POOL, UNKNOWN = Cause.WORKERS_EXHAUSTED, Cause.UNKNOWN
ORIGIN, LINK = Hop.ORIGIN, Hop.EDGE_TO_ORIGIN

SLOW = 1.5
"""Seconds a slow origin takes to answer: longer than the edge waited, inside run()'s 3 s."""


# --- Responses (the platforms' own are in tests/checks/pages.py) -----------------------------

APP_JSON: Headers = (("Server", "nginx/1.24.0"), ("Content-Type", "application/json"))
"""Not a platform's page: the application's own JSON 502, relayed by nginx."""


# --- Cases ------------------------------------------------------------------------------------


class Edge(NamedTuple):
    status: int
    headers: Headers
    body: str
    delay: float = 0.0


class Want(NamedTuple):
    cause: Cause
    generated_by: str
    hop: Hop
    code: str | None
    mention: str
    """A word the evidence must contain: the platform's name or mark."""


def case(id_: str, edge: Edge, origin: str | None, want: Want) -> object:
    return pytest.param(edge, origin, want, id=id_)


CASES = [
    # Cloudflare (2.1): the 52x code names the cause.
    case(
        "cloudflare-521",
        Edge(
            521,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(
                521, "Web server is down", "The web server is not returning a connection."
            ),
        ),
        None,
        Want(ORIGIN_DOWN, "cloudflare", ORIGIN, "521", "Cloudflare"),
    ),
    case(
        "cloudflare-521-origin-refuses-too",
        Edge(
            521,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(
                521, "Web server is down", "The web server is not returning a connection."
            ),
        ),
        "refused",
        Want(ORIGIN_DOWN, "cloudflare", ORIGIN, "521", "Cloudflare"),
    ),
    case(
        "cloudflare-522",
        Edge(
            522,
            (*CLOUDFLARE_HTML_HEADERS, ("cf-error-type", "52x")),
            cloudflare_page(
                522,
                "Connection timed out",
                "The initial connection between Cloudflare's network and the origin web server "
                "timed out. As a result, the web page can not be displayed.",
            ),
        ),
        None,
        Want(FIREWALL, "cloudflare", LINK, "522", "Cloudflare"),
    ),
    case(
        "cloudflare-522-origin-answers-us",
        Edge(
            522,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(522, "Connection timed out", "The initial connection timed out."),
        ),
        "healthy",
        Want(FIREWALL, "cloudflare", LINK, "522", "Cloudflare"),
    ),
    case(
        "cloudflare-523",
        Edge(
            523,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(523, "Origin is unreachable", "The origin is unreachable."),
        ),
        None,
        Want(FIREWALL, "cloudflare", LINK, "523", "Cloudflare"),
    ),
    case(
        "cloudflare-524",
        Edge(
            524,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(
                524,
                "A timeout occurred",
                "The origin web server timed out responding to this request.",
            ),
        ),
        None,
        Want(TIMEOUT, "cloudflare", ORIGIN, "524", "Cloudflare"),
    ),
    case(
        "cloudflare-525",
        Edge(
            525,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(525, "SSL handshake failed", "The SSL handshake failed."),
        ),
        None,
        Want(TLS, "cloudflare", LINK, "525", "Cloudflare"),
    ),
    case(
        "cloudflare-526",
        Edge(
            526,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(526, "Invalid SSL certificate", "The SSL certificate is invalid."),
        ),
        None,
        Want(TLS, "cloudflare", LINK, "526", "Cloudflare"),
    ),
    case(
        "cloudflare-530-1016",
        Edge(
            530,
            (*CLOUDFLARE_HTML_HEADERS, ("cf-error-type", "1016")),
            CLOUDFLARE_1016_TRANSLATED_PAGE,
        ),
        None,
        Want(DNS, "cloudflare", LINK, "1016", "Cloudflare"),
    ),
    case(
        "cloudflare-branded-502-is-the-origins",
        Edge(
            502,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(502, "Bad gateway", "The web server reported a bad gateway error."),
        ),
        None,
        Want(UNKNOWN, "origin", ORIGIN, None, "Cloudflare relayed"),
    ),
    # AWS (2.2, 2.4).
    case(
        "aws-alb-502",
        Edge(502, ALB_HEADERS, ALB_502),
        None,
        Want(ORIGIN_DOWN, "aws_alb", ORIGIN, None, "awselb"),
    ),
    case(  # a fast 502 while the origin answers, in plain HTTP only: an HTTPS target group
        "aws-alb-502-origin-answers-us",
        Edge(502, ALB_HEADERS, ALB_502),
        "healthy",
        Want(TLS, "aws_alb", LINK, None, "awselb"),
    ),
    case(
        "aws-alb-503",
        Edge(503, ALB_HEADERS, ALB_503),
        None,
        Want(ORIGIN_DOWN, "aws_alb", ORIGIN, None, "awselb"),
    ),
    case(
        "aws-alb-504",
        Edge(504, ALB_HEADERS, ALB_504),
        None,
        Want(TIMEOUT, "aws_alb", ORIGIN, None, "awselb"),
    ),
    case(
        "aws-alb-504-origin-slow",
        Edge(504, ALB_HEADERS, ALB_504),
        "slow",
        Want(TIMEOUT, "aws_alb", ORIGIN, None, "awselb"),
    ),
    case(
        "cloudfront-502",
        Edge(502, CLOUDFRONT_HTML_HEADERS, CLOUDFRONT_502_PAGE),
        None,
        Want(ORIGIN_DOWN, "cloudfront", ORIGIN, None, "CloudFront"),
    ),
    # Vercel (2.6): the x-vercel-error code.
    case(
        "vercel-function-timeout",
        Edge(
            504,
            vercel_error_headers("FUNCTION_INVOCATION_TIMEOUT"),
            vercel_text_page("504: GATEWAY_TIMEOUT", "FUNCTION_INVOCATION_TIMEOUT"),
        ),
        None,
        Want(TIMEOUT, "vercel", ORIGIN, "FUNCTION_INVOCATION_TIMEOUT", "Vercel"),
    ),
    case(
        "vercel-no-response-from-function",
        Edge(
            502,
            vercel_error_headers("NO_RESPONSE_FROM_FUNCTION"),
            vercel_text_page("502: BAD_GATEWAY", "NO_RESPONSE_FROM_FUNCTION"),
        ),
        None,
        Want(ORIGIN_DOWN, "vercel", ORIGIN, "NO_RESPONSE_FROM_FUNCTION", "Vercel"),
    ),
    # Envoy (2.18, 3.2): the reset reason gives the flag.
    case(
        "envoy-connection-refused",
        Edge(
            503,
            ENVOY_SERVER_FIRST_HEADERS,
            envoy_reset("connection failure", "delayed connect error: 111"),
        ),
        None,
        Want(ORIGIN_DOWN, "envoy", ORIGIN, "UF", "Envoy"),
    ),
    case(
        "envoy-overflow",
        Edge(
            503,
            (*ENVOY_SERVER_FIRST_HEADERS, ("x-envoy-overloaded", "true")),
            envoy_reset("overflow"),
        ),
        None,
        Want(POOL, "envoy", ORIGIN, "UO", "Envoy"),
    ),
    case(
        "envoy-protocol-error",
        Edge(502, ENVOY_SERVER_FIRST_HEADERS, envoy_reset("protocol error")),
        None,
        Want(PROTOCOL, "envoy", ORIGIN, "UPE", "Envoy"),
    ),
    case(
        "envoy-no-healthy-upstream",
        Edge(503, ENVOY_SERVER_FIRST_HEADERS, "no healthy upstream"),
        None,
        Want(ORIGIN_DOWN, "envoy", ORIGIN, "UH", "Envoy"),
    ),
    # PaaS routers and CDNs.
    case(
        "heroku-application-error",
        Edge(503, HEROKU_HTML_HEADERS, HEROKU_PAGE_WITH_PRE),
        None,
        Want(ORIGIN_DOWN, "heroku", ORIGIN, None, "Heroku"),
    ),
    case(
        "fastly-first-byte-timeout",
        Edge(503, FASTLY_503_HEADERS, fastly_page("first byte timeout")),
        None,
        Want(TIMEOUT, "fastly", ORIGIN, "first byte timeout", "Fastly"),
    ),
    # Proxies.
    case(
        "kong-502-origin-refuses",
        Edge(502, KONG_3_4_HEADERS, KONG_3_4_JSON_502),
        "refused",
        Want(ORIGIN_DOWN, "kong", ORIGIN, None, "Kong"),
    ),
    case(
        "apache-502-error-reading-from-remote-server",
        Edge(
            502, APACHE_2_4_57_HEADERS, APACHE_2_4_57_502, delay=1.0
        ),  # mod_proxy waited for the status line
        None,
        Want(TIMEOUT, "apache", ORIGIN, None, "Apache"),
    ),
    case(
        "kong-502-alone-is-generic",
        Edge(502, KONG_3_4_HEADERS, KONG_3_4_JSON_502),
        None,
        Want(ORIGIN_DOWN, "kong", ORIGIN, None, "Kong"),
    ),
    case(
        "apache-502-error-reading-fast-is-not-a-timeout",
        Edge(
            502, APACHE_2_4_57_HEADERS, APACHE_2_4_57_502
        ),  # answered at once: the upstream reset, it was not slow
        None,
        Want(ORIGIN_DOWN, "apache", ORIGIN, None, "Apache"),
    ),
    case(
        "cloudflare-521-but-origin-answers-us",
        Edge(
            521,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(
                521, "Web server is down", "The web server is not returning a connection."
            ),
        ),
        "healthy",
        Want(FIREWALL, "cloudflare", LINK, "521", "Cloudflare"),
    ),
    case(
        "cloudflare-524-origin-slower-than-the-edge-waited",
        Edge(
            524,
            CLOUDFLARE_HTML_HEADERS,
            cloudflare_page(
                524, "A timeout occurred", "The origin web server timed out responding."
            ),
            delay=1.0,
        ),
        "slow",
        Want(TIMEOUT, "cloudflare", ORIGIN, "524", "Cloudflare"),
    ),
    case(
        "traefik-bad-gateway",
        Edge(502, TRAEFIK_HEADERS, "Bad Gateway"),
        None,
        Want(ORIGIN_DOWN, "traefik", ORIGIN, None, "Traefik"),
    ),
    # Pass-through: the application's own 502 behind nginx.
    case(
        "app-json-502-behind-nginx",
        Edge(502, APP_JSON, '{"error": "payment provider unreachable", "retry": true}'),
        None,
        Want(UNKNOWN, "origin", ORIGIN, None, "nginx relayed"),
    ),
    # The origin bypass agrees: the origin fails the same way, so the problem is the origin's;
    # the public page is still nginx's own (issue 12, part 2).
    case(
        "nginx-502-origin-502-too",
        Edge(502, NGINX_HEADERS, nginx_page("502 Bad Gateway", "nginx/1.24.0")),
        "error502",
        Want(UNKNOWN, "nginx", ORIGIN, None, "the origin returns 502 too"),
    ),
]


@contextlib.contextmanager
def origin_server(kind: str | None) -> Iterator[str | None]:
    """The origin behind the edge: absent, healthy, refusing, slow, or failing with its own 502."""
    if kind is None:
        yield None
    elif kind == "refused":
        with closed_port() as dead:
            yield dead.address
    else:
        status, delay, body = {
            "healthy": (200, 0.0, b"ok"),
            "slow": (200, SLOW, b"ok"),
            "error502": (
                502,
                0.0,
                b"<h1>Bad Gateway</h1><p>The payments service did not answer.</p>",
            ),
        }[kind]
        with ok_server(
            status=status, body=body, headers=[("Content-Type", "text/html")], delay=delay
        ) as app:
            yield app.address


@pytest.mark.parametrize(("edge", "origin", "want"), CASES)
async def test_platform_error_page(edge: Edge, origin: str | None, want: Want) -> None:
    with (
        ok_server(edge.status, edge.body.encode(), edge.headers, edge.delay) as server,
        origin_server(origin) as origin_address,
    ):
        d = await run(server.url, origin=origin_address)
    v = d.verdict
    assert d.probes[0].status == edge.status
    assert (origin_address is not None) == any(p.target == "origin" for p in d.probes)
    assert (v.cause, v.generated_by, v.hop, v.code) == want[:4], v
    assert any(want.mention.lower() in e.lower() for e in v.evidence), v.evidence
    assert v.summary and v.next_steps
