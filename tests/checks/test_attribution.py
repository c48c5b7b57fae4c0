"""Who generated the error, when the origin misbehaves too (issue 12, part 2).

A gateway's own page stays that gateway's whatever the origin bypass answers: the origin's
failure is evidence for the cause and the hop, never for who generated the public response.
The property test runs ``decide`` over every combination of public × origin, each side one of

* ok (a 2xx or 3xx),
* a gateway's generated error page (real captures from tests/checks/pages.py),
* a passed-through error (the application's own 4xx/5xx, relayed with relay marks only),
* a probe error (refused, reset, timeout, TLS, invalid response, DNS...), with or without a
  status line before it broke (huge headers, a cut body),

and the origin side also "not asked" and "not checked" (a blocked address), with variants of
status codes, gateways, timings and header sizes; it asserts that no summary or evidence
sentence contradicts another. The examples at the end are the issue's cases with REAL nginx,
HAProxy and Caddy in front of such an origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import Cause, Diagnosis, Hop
from checks.fingerprints import GATEWAYS, attribute
from checks.model import ErrorKind, Probe, ProbeError, Timings, Verdict
from checks.target import parse_origin
from checks.verdict import decide
from tests.checks.conftest import run
from tests.checks.pages import (
    ALB_502,
    ALB_504,
    ALB_HEADERS,
    APACHE_2_4_57_502,
    APACHE_2_4_57_HEADERS,
    CLOUDFLARE_521_PAGE,
    CLOUDFLARE_522_PAGE,
    CLOUDFLARE_HEADERS,
    CLOUDFLARE_HTML_HEADERS,
    CLOUDFRONT_502_PAGE,
    CLOUDFRONT_HTML_HEADERS,
    ENVOY_REFUSED,
    ENVOY_SERVER_FIRST_HEADERS,
    FASTLY_503_HEADERS,
    HAPROXY_502,
    HAPROXY_504,
    HEROKU_HTML_HEADERS,
    HEROKU_PAGE_WITH_PRE,
    KONG_3_4_HEADERS,
    KONG_3_4_JSON_502,
    NGINX_502,
    NGINX_504,
    NGINX_HEADERS,
    Headers,
    cloudflare_page,
    fastly_page,
    vercel_error_headers,
    vercel_text_page,
)
from tests.checks.test_verdict import ORIGIN_IP, URL, answered, failed, make_probe, origin_probe
from tests.support import bad_header_server, caddy, haproxy, huge_headers_server, nginx
from tests.support.servers import garbage_server

ORIGIN = parse_origin(ORIGIN_IP, URL)

# --- the two sides ------------------------------------------------------------------------------

GATEWAY_PAGES: list[tuple[str, int, Headers, str]] = [
    ("nginx", 502, NGINX_HEADERS, NGINX_502),
    ("nginx", 504, NGINX_HEADERS, NGINX_504),
    ("aws_alb", 502, ALB_HEADERS, ALB_502),
    ("aws_alb", 504, ALB_HEADERS, ALB_504),
    ("cloudflare", 521, CLOUDFLARE_HTML_HEADERS, CLOUDFLARE_521_PAGE),
    ("cloudflare", 522, CLOUDFLARE_HTML_HEADERS, CLOUDFLARE_522_PAGE),
    ("cloudflare", 524, CLOUDFLARE_HTML_HEADERS, cloudflare_page(524, "A timeout occurred")),
    ("cloudfront", 502, CLOUDFRONT_HTML_HEADERS, CLOUDFRONT_502_PAGE),
    ("fastly", 503, FASTLY_503_HEADERS, fastly_page("first byte timeout")),
    ("heroku", 503, HEROKU_HTML_HEADERS, HEROKU_PAGE_WITH_PRE),
    ("envoy", 503, ENVOY_SERVER_FIRST_HEADERS, ENVOY_REFUSED),
    ("haproxy", 502, (("Content-Type", "text/html"),), HAPROXY_502),
    ("haproxy", 504, (("Content-Type", "text/html"),), HAPROXY_504),
    ("kong", 502, KONG_3_4_HEADERS, KONG_3_4_JSON_502),
    ("apache", 502, APACHE_2_4_57_HEADERS, APACHE_2_4_57_502),
    (
        "vercel",
        502,
        vercel_error_headers("NO_RESPONSE_FROM_FUNCTION"),
        vercel_text_page("502: BAD_GATEWAY", "NO_RESPONSE_FROM_FUNCTION"),
    ),
    ("caddy", 502, (("Server", "Caddy"),), ""),
]
"""(gateway id, status, headers, body) of a page the gateway generates itself."""

APP_BODIES = [
    '{"error": "database unavailable"}',
    '{"message": "upstream payment service failed", "request": "7f3a"}',
    "<html><body><h1>Oops</h1><p>Our shop hit a snag (request 7f3a).</p></body></html>",
]
RELAY_HEADERS: list[Headers] = [
    (("Content-Type", "application/json"),),
    (("Server", "nginx/1.24.0"), ("Content-Type", "application/json")),
    (*CLOUDFLARE_HEADERS, ("Content-Type", "application/json")),
    (("Server", "gunicorn"), ("Content-Type", "text/html")),
]
"""Headers every relayed response may carry: they prove a relay, never a generator."""

EDGE_KINDS = {
    ErrorKind.DNS_NXDOMAIN,
    ErrorKind.DNS_SERVFAIL,
    ErrorKind.DNS_TIMEOUT,
    ErrorKind.DNS_NO_RECORDS,
    ErrorKind.CONNECT_REFUSED,
    ErrorKind.CONNECT_TIMEOUT,
    ErrorKind.CONNECT_UNREACHABLE,
    ErrorKind.TLS_EXPIRED,
    ErrorKind.TLS_HOSTNAME_MISMATCH,
    ErrorKind.TLS_UNTRUSTED,
    ErrorKind.TLS_HANDSHAKE,
}
"""Failures before any HTTP exchange: nothing past the address answered."""

PROBE_ERROR_KINDS = [k for k in ErrorKind if k is not ErrorKind.BLOCKED_ADDRESS]

UNUSABLE = [
    (200, ErrorKind.HEADERS_TOO_LARGE, "response headers are 70 KiB", 70 * 1024),
    (200, ErrorKind.BODY_TRUNCATED, "connection reset mid-body", 180),
    (200, ErrorKind.READ_TIMEOUT, "body stalled after 100 bytes", 180),
    (302, ErrorKind.INVALID_RESPONSE, "bad redirect Location: ::", 180),
]
"""A status line, then a response no client can use: (status, kind, message, header bytes)."""

FAST = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=60.0, total=62.0)
SLOW = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=30_030.0, total=30_032.0)
TIMED_OUT = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=60_030.0, total=60_032.0)
TIMINGS = st.sampled_from([FAST, SLOW, TIMED_OUT])


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the combination, and what it is known to be (not read from the engine)."""

    kind: str
    """``ok``, ``page``, ``relayed``, ``error`` (no status), ``unusable`` (status, then broken),
    ``not_asked`` or ``blocked``."""
    probe: Probe | None
    gateway: str | None = None
    """The gateway whose own page this is (``page`` only)."""


def _ok(target: str) -> st.SearchStrategy[Side]:
    return st.builds(
        lambda status, timings, header_bytes: Side(
            "ok",
            make_probe(target=target, status=status, timings=timings, header_bytes=header_bytes),
        ),
        st.sampled_from([200, 204, 301]),
        TIMINGS,
        st.sampled_from([180, 2_000, 16 * 1024]),  # 16 KiB overflows a proxy's default buffer
    )


def _page(target: str) -> st.SearchStrategy[Side]:
    return st.builds(
        lambda page, timings: Side(
            "page",
            answered(page[1], page[2], page[3], target=target, timings=timings),
            gateway=page[0],
        ),
        st.sampled_from(GATEWAY_PAGES),
        TIMINGS,
    )


def _relayed(target: str) -> st.SearchStrategy[Side]:
    return st.builds(
        lambda status, headers, body, timings: Side(
            "relayed", answered(status, headers, body, target=target, timings=timings)
        ),
        st.sampled_from([500, 502, 503, 504, 404, 429]),
        st.sampled_from(RELAY_HEADERS),
        st.sampled_from(APP_BODIES),
        TIMINGS,
    )


def _error(target: str) -> st.SearchStrategy[Side]:
    return st.builds(
        lambda kind, timings: Side(
            "error", failed(kind, "what the socket said", target=target, timings=timings)
        ),
        st.sampled_from(PROBE_ERROR_KINDS),
        st.sampled_from([Timings(dns=1.0, connect=10.0, total=50.0), TIMED_OUT]),
    )


def _unusable(target: str) -> st.SearchStrategy[Side]:
    return st.builds(
        lambda case, timings: Side(
            "unusable",
            make_probe(
                target=target,
                status=case[0],
                error=ProbeError(case[1], case[2]),
                header_bytes=case[3],
                timings=timings,
            ),
        ),
        st.sampled_from(UNUSABLE),
        TIMINGS,
    )


def _side(target: str) -> st.SearchStrategy[Side]:
    return st.one_of(
        _ok(target), _page(target), _relayed(target), _error(target), _unusable(target)
    )


PUBLIC_SIDES = _side("public")
ORIGIN_SIDES = st.one_of(
    _side("origin").map(
        lambda s: replace(s, probe=None if s.probe is None else origin_probe(s.probe))
    ),
    st.just(Side("not_asked", None)),
    st.just(
        Side(
            "blocked",
            origin_probe(failed(ErrorKind.BLOCKED_ADDRESS, "203.0.113.10 is refused by policy")),
        )
    ),
)


def verdict(public: Side, origin: Side) -> Verdict:
    assert public.probe is not None
    if origin.probe is None:
        return decide(URL, None, [public.probe], [], [])
    return decide(URL, ORIGIN, [public.probe], [origin.probe], [])


# --- what a verdict may say -----------------------------------------------------------------------

_ORIGIN_STATUS = re.compile(
    r"\bthe origin(?: itself)?(?:, asked directly,)? (?:answers|answered|returns|returned)"
    r"(?: us)? (\d{3})\b",
    re.IGNORECASE,
)
"""A sentence claiming a status from the origin."""
_ORIGIN_UP_CLAIMS = ("so the application is up", "the origin answers, but takes")
_ORIGIN_DOWN_CLAIMS = (
    "the origin bypass fails",
    "does not accept our connection",
    "does not resolve",
    "its response is unusable",
    "the problem is at the origin",
)


def _is_up(p: Probe) -> bool:
    return p.error is None and p.status is not None and p.status < 400


def check_consistent(v: Verdict, public: Side, origin: Side) -> None:
    """The invariants no combination of public × origin may break."""
    assert public.probe is not None
    check_generator(v, public, [public.probe], origin)
    check_origin_claims(v, public.probe, origin)
    check_hop(v, public.probe, origin)


def check_generator(v: Verdict, public: Side, probes: list[Probe], origin: Side) -> None:
    """Who generated the public response is read from it alone, and the summary agrees."""
    o = origin.probe
    main = public.probe
    assert main is not None
    expected_generator = {
        "ok": None,
        "page": public.gateway,
        "relayed": "origin",
        "error": None,
    }.get(public.kind, "origin")  # unusable: a status line with no gateway's marks
    assert v.generated_by == expected_generator, v
    alone = decide(URL, None, probes, [], [])
    assert (v.generated_by, v.code) == (alone.generated_by, alone.code), v

    generator = v.generated_by
    if generator is None or generator == "origin":
        assert "generated by" not in v.summary, v
    else:
        assert generator in GATEWAYS
        assert f"generated by {generator}" in v.summary, v
        assert "from the origin" not in v.summary, v
        assert not v.summary.startswith("The origin"), v
        assert not any(
            "passed through from upstream" in e and not e.startswith("the origin's own answer")
            for e in v.evidence
        ), v
    origin_denies = (
        o is not None and origin.kind != "blocked" and o.status is not None and o.status < 400
    )
    if generator is None or (origin_denies and main.status is not None and main.status >= 400):
        assert "from the origin" not in v.summary, v  # the origin, asked, has no error status
    unmarked = any("no gateway's page or code marks the public" in e for e in v.evidence)
    if unmarked or "with no gateway's marks" in v.summary:
        assert generator == "origin" and origin_denies, v


def check_origin_claims(v: Verdict, main: Probe, origin: Side) -> None:
    """No sentence claims an origin status, or an origin up or down, the probes do not show."""
    o = origin.probe
    asked = o is not None and origin.kind != "blocked"
    sentences = (v.summary, *v.evidence)
    text = " ".join(sentences)
    for sentence in sentences:
        for claimed in _ORIGIN_STATUS.findall(sentence):
            if o is not None and asked:
                assert o.status is not None and int(claimed) == o.status, (sentence, v)
            else:  # without the bypass, only the status the origin's relayed answer carried
                assert v.generated_by == "origin" and int(claimed) == main.status, (sentence, v)
        if " too" in sentence and "the origin returns" in sentence:
            assert o is not None and o.status == main.status, (sentence, v)
    origin_up = asked and o is not None and _is_up(o)
    at_once = any(e.startswith("the gateway answered in") for e in v.evidence)
    if at_once and origin.kind not in ("page", "relayed"):  # (unless the origin says 504 itself)
        assert v.cause is not Cause.TIMEOUT, v  # the public gateway did not wait on a timeout
    if any(claim in text for claim in _ORIGIN_UP_CLAIMS):
        assert origin_up, v
    if any(claim in text for claim in _ORIGIN_DOWN_CLAIMS):
        assert asked and not origin_up, v


def check_hop(v: Verdict, main: Probe, origin: Side) -> None:
    """The summary tells what the public URL returned; the hop agrees with which side failed."""
    o = origin.probe
    asked = o is not None and origin.kind != "blocked"
    outcome = main.error.kind.value if main.error else str(main.status)
    assert outcome in v.summary, v
    public_up = _is_up(main)
    assert (v.cause is Cause.OK) == public_up, v
    if public_up:
        assert v.hop is None and v.generated_by is None, v
        return
    edge_failure = main.error is not None and main.error.kind in EDGE_KINDS and main.status is None
    assert (v.hop is Hop.EDGE) == edge_failure, v
    if edge_failure:
        return
    origin_up = asked and o is not None and _is_up(o)
    if origin_up and v.hop is Hop.ORIGIN:
        assert v.cause is Cause.TIMEOUT, v  # the origin answers, only too slowly
    if asked and not origin_up and v.hop is Hop.EDGE_TO_ORIGIN:
        assert o is not None and o.error is not None, v
        assert o.error.kind.value.startswith("dns_") or (
            o.error.kind is ErrorKind.HEADERS_TOO_LARGE
        ), v


def test_every_gateway_page_of_the_property_test_is_that_gateways() -> None:
    """The test's own premise: each page is attributed to its gateway, each app body relayed."""
    for gateway, status, headers, body in GATEWAY_PAGES:
        assert attribute(status, headers, body).generated_by == gateway, gateway
    for headers in RELAY_HEADERS:
        for body in APP_BODIES:
            for status in (500, 502, 503, 504, 404, 429):
                assert attribute(status, headers, body).generated_by == "origin", (headers, body)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(public=PUBLIC_SIDES, origin=ORIGIN_SIDES)
def test_no_sentence_contradicts_another_for_any_public_and_origin(
    public: Side, origin: Side
) -> None:
    check_consistent(verdict(public, origin), public, origin)


@st.composite
def _runs(draw: st.DrawFn) -> tuple[Side, list[Probe], list[Probe]]:
    """One public side over several runs, some runs healthy, and maybe an HTTP/1.1 retry."""
    side = draw(PUBLIC_SIDES)
    assert side.probe is not None
    probes = [
        replace(side.probe, run=run, timings=draw(TIMINGS))
        for run in range(draw(st.integers(min_value=1, max_value=3)))
    ]
    healthy = [
        make_probe(run=len(probes) + i, timings=draw(TIMINGS))
        for i in range(draw(st.integers(min_value=0, max_value=2)))
    ]
    public = draw(st.permutations([*probes, *healthy]))
    retries = draw(
        st.lists(
            st.sampled_from(
                [
                    make_probe(protocol_retry=True),
                    answered(502, body=APP_BODIES[0], protocol_retry=True),
                    failed(ErrorKind.INVALID_RESPONSE, protocol_retry=True),
                ]
            ).map(lambda p: replace(p, http_version="HTTP/1.1")),
            max_size=1,
        )
    )
    if retries:  # the retry repeats a request that negotiated HTTP/2
        public = [replace(public[0], http2_attempted=True), *public[1:]]
    return side, public, retries


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=_runs(), origin=ORIGIN_SIDES)
def test_patterns_across_runs_and_retries_keep_the_public_generator(
    runs: tuple[Side, list[Probe], list[Probe]], origin: Side
) -> None:
    """Exhausted workers, HTTP/2 against HTTP/1.1: rules over several probes name the generator
    of the public response too, and their sentences claim nothing the origin probe denies."""
    side, public, retries = runs
    failing = [p for p in public if not _is_up(p)]
    o = [] if origin.probe is None else [origin.probe]
    v = decide(URL, None if origin.probe is None else ORIGIN, public, o, retries)
    if failing:
        check_generator(v, side, public, origin)
        check_origin_claims(v, failing[0], origin)
    else:
        assert v.generated_by is None, v
        check_origin_claims(v, public[0], origin)


# Each class of public × origin at least once, so no combination is left to chance.
_PUBLIC_EXAMPLES = [
    Side("ok", make_probe()),
    Side("page", answered(502, NGINX_HEADERS, NGINX_502, timings=FAST), gateway="nginx"),
    Side("page", answered(521, CLOUDFLARE_HTML_HEADERS, CLOUDFLARE_521_PAGE), gateway="cloudflare"),
    Side("relayed", answered(502, RELAY_HEADERS[1], APP_BODIES[0])),
    Side("error", failed(ErrorKind.CONNECT_REFUSED)),
    Side("error", failed(ErrorKind.READ_TIMEOUT, timings=TIMED_OUT)),
    Side("unusable", make_probe(status=200, error=ProbeError(ErrorKind.BODY_TRUNCATED, "cut"))),
]
_ORIGIN_EXAMPLES = [
    Side("ok", origin_probe()),
    Side("ok", origin_probe(header_bytes=16 * 1024)),
    Side("page", origin_probe(answered(502, NGINX_HEADERS, NGINX_502)), gateway="nginx"),
    Side("relayed", origin_probe(answered(502, body=APP_BODIES[0]))),
    Side("relayed", origin_probe(answered(500, body=APP_BODIES[0]))),
    Side("error", origin_probe(failed(ErrorKind.CONNECT_REFUSED))),
    Side("error", origin_probe(failed(ErrorKind.INVALID_RESPONSE))),
    Side("error", origin_probe(failed(ErrorKind.DNS_NXDOMAIN), ip=None)),
    Side(
        "unusable",
        origin_probe(
            status=200,
            error=ProbeError(ErrorKind.HEADERS_TOO_LARGE, "70 KiB"),
            header_bytes=70 * 1024,
        ),
    ),
    Side("not_asked", None),
    Side("blocked", origin_probe(failed(ErrorKind.BLOCKED_ADDRESS, "refused by policy"))),
]


@pytest.mark.parametrize("origin", _ORIGIN_EXAMPLES, ids=lambda s: s.kind)
@pytest.mark.parametrize("public", _PUBLIC_EXAMPLES, ids=lambda s: s.kind)
def test_every_class_of_public_and_origin(public: Side, origin: Side) -> None:
    check_consistent(verdict(public, origin), public, origin)


# --- the cases, on hand-built probes -----------------------------------------------------

HUGE_HEADERS_ORIGIN = origin_probe(
    status=200,
    header_bytes=70 * 1024,
    error=ProbeError(ErrorKind.HEADERS_TOO_LARGE, "response headers are 70 KiB"),
)


def test_origin_headers_too_large_for_the_proxy_keep_the_gateways_page() -> None:
    public = answered(502, NGINX_HEADERS, NGINX_502, timings=FAST)
    v = decide(URL, ORIGIN, [public], [HUGE_HEADERS_ORIGIN], [])
    assert (v.cause, v.generated_by, v.hop) == (Cause.PROTOCOL, "nginx", Hop.EDGE_TO_ORIGIN)
    assert v.summary.startswith("shop.example.com returns 502 generated by nginx: ")
    assert not any("returns 200 too" in e for e in v.evidence)
    assert any("70 KiB" in e and "the edge cannot take" in e for e in v.evidence)


def test_origin_headers_too_large_relayed_as_they_are_stay_at_the_origin() -> None:
    public = make_probe(
        status=200, error=HUGE_HEADERS_ORIGIN.error, header_bytes=70 * 1024, target="public"
    )
    v = decide(URL, ORIGIN, [public], [HUGE_HEADERS_ORIGIN], [])
    assert (v.cause, v.generated_by, v.hop) == (Cause.PROTOCOL, "origin", Hop.ORIGIN)
    assert any(
        "its response is unusable (headers_too_large)" in e and "the edge relays it as it is" in e
        for e in v.evidence
    )


def test_origin_cut_body_behind_a_gateway_page_is_the_origins_fault() -> None:
    cut = origin_probe(status=200, error=ProbeError(ErrorKind.BODY_TRUNCATED, "reset mid-body"))
    v = decide(URL, ORIGIN, [answered(502, NGINX_HEADERS, NGINX_502)], [cut], [])
    assert (v.cause, v.generated_by, v.hop) == (Cause.PROTOCOL, "nginx", Hop.ORIGIN)
    assert any(
        "the origin answers 200, but its response is unusable" in e and "only reports it" in e
        for e in v.evidence
    )


def test_origin_answering_garbage_keeps_the_gateways_page() -> None:
    garbage = origin_probe(failed(ErrorKind.INVALID_RESPONSE, "illegal status line"))
    v = decide(URL, ORIGIN, [answered(502, NGINX_HEADERS, NGINX_502)], [garbage], [])
    assert (v.cause, v.generated_by, v.hop) == (Cause.PROTOCOL, "nginx", Hop.ORIGIN)
    assert "generated by nginx" in v.summary


@pytest.mark.parametrize(
    "hung",
    [
        origin_probe(failed(ErrorKind.READ_TIMEOUT, "no response headers in time")),
        origin_probe(status=200, error=ProbeError(ErrorKind.READ_TIMEOUT, "body stalled")),
    ],
    ids=["no-headers", "body-stalled"],
)
def test_a_gateway_turned_away_at_once_is_no_timeout_when_the_origin_keeps_us_waiting(
    hung: Probe,
) -> None:
    v = decide(URL, ORIGIN, [answered(502, NGINX_HEADERS, NGINX_502, timings=FAST)], [hung], [])
    assert (v.cause, v.hop, v.generated_by) == (Cause.WORKERS_EXHAUSTED, Hop.ORIGIN, "nginx")
    assert v.alternatives == (Cause.TIMEOUT, Cause.ORIGIN_DOWN)
    assert any("turned away at once" in e for e in v.evidence)
    # A gateway that waited before its page is a timeout as before.
    slow = decide(URL, ORIGIN, [answered(502, NGINX_HEADERS, NGINX_502, timings=SLOW)], [hung], [])
    assert slow.cause is Cause.TIMEOUT


@pytest.mark.parametrize(
    ("status", "title", "timings", "turned_away"),
    [
        (521, "Web server is down", FAST, True),
        (521, "Web server is down", SLOW, False),  # it waited before giving up
        (524, "A timeout occurred", FAST, False),
        (525, "SSL handshake failed", FAST, False),
    ],
)
def test_a_platform_code_says_whether_the_gateway_was_turned_away(
    status: int, title: str, timings: Timings, turned_away: bool
) -> None:
    page = answered(
        status, CLOUDFLARE_HTML_HEADERS, cloudflare_page(status, title), timings=timings
    )
    hung = origin_probe(failed(ErrorKind.READ_TIMEOUT, "no response headers in time"))
    v = decide(URL, ORIGIN, [page], [hung], [])
    assert (v.cause is Cause.WORKERS_EXHAUSTED) == turned_away, v
    assert (v.generated_by, v.code) == ("cloudflare", str(status))


def test_a_gateway_page_inside_the_origin_does_not_take_the_public_pages_place() -> None:
    public = answered(521, CLOUDFLARE_HTML_HEADERS, CLOUDFLARE_521_PAGE)
    inner = origin_probe(answered(502, NGINX_HEADERS, NGINX_502))
    v = decide(URL, ORIGIN, [public], [inner], [])
    assert (v.generated_by, v.code, v.hop) == ("cloudflare", "521", Hop.ORIGIN)
    assert any(e.startswith("the origin's own answer: body is nginx's") for e in v.evidence)
    assert any(e.startswith("the gateway inside the origin answered in") for e in v.evidence)
    assert any("the origin itself returns 502: " in e for e in v.evidence)


def test_an_application_error_at_the_origin_is_not_the_summary_of_a_gateway_page() -> None:
    v = decide(
        URL,
        ORIGIN,
        [answered(502, NGINX_HEADERS, NGINX_502)],
        [origin_probe(answered(500, body=APP_BODIES[0]))],
        [],
    )
    assert v.generated_by == "nginx"
    assert v.summary.startswith("shop.example.com returns 502 generated by nginx")
    assert "not a gateway error" not in v.summary


def test_an_unmarked_502_while_the_origin_answers_is_not_from_the_origin() -> None:
    relayed = answered(502, RELAY_HEADERS[1], APP_BODIES[0])
    v = decide(URL, ORIGIN, [relayed], [origin_probe()], [])
    assert v.generated_by == "origin"
    assert "with no gateway's marks" in v.summary and "from the origin" not in v.summary
    assert any("a gateway this check does not recognise" in e for e in v.evidence)


def test_a_public_edge_failure_stays_at_the_edge_when_the_origin_fails_too() -> None:
    v = decide(
        URL,
        ORIGIN,
        [failed(ErrorKind.TLS_EXPIRED)],
        [origin_probe(failed(ErrorKind.CONNECT_REFUSED))],
        [],
    )
    assert (v.cause, v.hop) == (Cause.TLS, Hop.EDGE)
    assert any("the public edge is the first thing to fix" in e for e in v.evidence)


@pytest.mark.parametrize(
    ("origin", "said"),
    [
        (
            origin_probe(answered(503, body=APP_BODIES[0])),
            "the origin, asked directly, answers 503",
        ),
        (
            origin_probe(failed(ErrorKind.CONNECT_REFUSED)),
            "the origin bypass fails (connect_refused)",
        ),
        (
            origin_probe(failed(ErrorKind.BLOCKED_ADDRESS, "203.0.113.10 is private")),
            "the origin bypass was not checked: 203.0.113.10 is private",
        ),
    ],
    ids=["answers-503", "refused", "blocked"],
)
def test_a_healthy_public_url_says_what_the_origin_did(origin: Probe, said: str) -> None:
    v = decide(URL, ORIGIN, [make_probe()], [origin], [])
    assert v.cause is Cause.OK and said in v.summary


def test_the_generator_is_the_public_pages_even_for_a_pattern_across_runs() -> None:
    """A rule over several probes (exhausted workers) names the public page's gateway too."""
    slow_ok = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=1990.0, total=2000.0)
    public = [
        make_probe(run=0, timings=slow_ok),
        answered(502, ALB_HEADERS, ALB_502, run=1, timings=FAST),
        make_probe(run=2, timings=slow_ok),
        answered(502, ALB_HEADERS, ALB_502, run=3, timings=FAST),
    ]
    v = decide(URL, ORIGIN, public, [origin_probe(failed(ErrorKind.CONNECT_REFUSED))], [])
    assert (v.cause, v.generated_by) == (Cause.WORKERS_EXHAUSTED, "aws_alb")
    assert "generated by aws_alb" in v.summary


# --- the cases, with real gateways -------------------------------------------------------


def _real(d: Diagnosis) -> tuple[Side, Side]:
    public = next(p for p in d.probes if p.target == "public" and not p.protocol_retry)
    origin = next(p for p in d.probes if p.target == "origin" and not p.protocol_retry)
    kind = "page" if d.verdict.generated_by not in (None, "origin") else "relayed"
    return Side(kind, public, gateway=d.verdict.generated_by), Side("unusable", origin)


@pytest.mark.gateways
@pytest.mark.parametrize("gateway", ["nginx", "haproxy"])
async def test_real_gateway_in_front_of_an_origin_whose_headers_are_too_large(
    gateway: str,
) -> None:
    with huge_headers_server(size=70 * 1024) as big:
        gw = nginx(big.url) if gateway == "nginx" else haproxy("127.0.0.1", big.port)
        with gw:
            d = await run(gw.url, origin=big.address)
    v = d.verdict
    assert (v.cause, v.generated_by, v.hop) == (Cause.PROTOCOL, gateway, Hop.EDGE_TO_ORIGIN), v
    assert f"returns 502 generated by {gateway}" in v.summary
    assert not any("too:" in e for e in v.evidence), v.evidence
    public, origin = _real(d)
    assert origin.probe is not None and origin.probe.error is not None
    assert origin.probe.error.kind is ErrorKind.HEADERS_TOO_LARGE
    check_consistent(v, public, origin)


@pytest.mark.gateways
@pytest.mark.parametrize("gateway", ["nginx", "haproxy", "caddy"])
async def test_real_gateway_in_front_of_an_origin_that_answers_garbage(gateway: str) -> None:
    # nginx relays a reply with no status line as HTTP/0.9; a bad header line it refuses.
    make = bad_header_server if gateway == "nginx" else garbage_server
    with make() as broken:
        if gateway == "nginx":
            gw = nginx(broken.url)
        elif gateway == "haproxy":
            gw = haproxy("127.0.0.1", broken.port)
        else:
            gw = caddy(f"http://{broken.address}")
        with gw:
            d = await run(gw.url, origin=broken.address)
    v = d.verdict
    assert (v.cause, v.generated_by, v.hop) == (Cause.PROTOCOL, gateway, Hop.ORIGIN), v
    assert f"returns 502 generated by {gateway}" in v.summary
    public, origin = _real(d)
    check_consistent(v, public, replace(origin, kind="error"))


def test_a_protocol_mismatch_on_the_origin_keeps_the_public_pages_generator() -> None:
    """The failing HTTP/1.1 retry is the origin's answer: it says nothing of who made the 502."""
    h2 = origin_probe(http_version="HTTP/2", http2_attempted=True)
    h1 = origin_probe(answered(502, body=APP_BODIES[0]), protocol_retry=True)
    public = answered(502, NGINX_HEADERS, NGINX_502, timings=FAST)
    v = decide(URL, ORIGIN, [public], [h2], [h1])
    assert (v.cause, v.hop, v.generated_by) == (Cause.PROTOCOL, Hop.ORIGIN, "nginx")
    assert "generated by nginx" in v.summary


def test_a_public_url_answering_well_over_http2_names_no_generator() -> None:
    h2 = make_probe(http_version="HTTP/2", http2_attempted=True)
    h1 = answered(502, body=APP_BODIES[0], protocol_retry=True)
    v = decide(URL, None, [h2], [], [h1])
    assert (v.cause, v.generated_by) == (Cause.PROTOCOL, None)
    assert "from the origin" not in v.summary


def test_an_unmarked_502_while_the_origin_answers_200_unusably_is_not_from_the_origin() -> None:
    relayed = answered(502, RELAY_HEADERS[1], APP_BODIES[0])
    v = decide(URL, ORIGIN, [relayed], [HUGE_HEADERS_ORIGIN], [])
    assert (v.generated_by, v.hop) == ("origin", Hop.EDGE_TO_ORIGIN)
    assert "with no gateway's marks" in v.summary
    assert any("yet the origin answers us 200 directly" in e for e in v.evidence)


def test_a_cut_200_is_not_called_an_unmarked_error() -> None:
    cut = make_probe(status=200, error=ProbeError(ErrorKind.BODY_TRUNCATED, "reset mid-body"))
    v = decide(URL, ORIGIN, [cut], [origin_probe()], [])
    assert v.generated_by == "origin"
    assert not any("no gateway's page or code marks" in e for e in v.evidence), v.evidence
