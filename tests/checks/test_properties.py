"""Property tests: the parsers and the verdict never fail in a way the caller cannot handle.

* ``parse_url`` / ``parse_origin`` on any text either return a value whose own rendering parses
  back to the same value, or raise :class:`checks.UsageError`; nothing else escapes.
* ``decide`` on any mix of probes returns a well-formed verdict that serialises to JSON.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import UsageError
from checks.jsonout import diagnosis_to_dict
from checks.model import (
    Cause,
    Diagnosis,
    DnsRecord,
    DnsResult,
    ErrorKind,
    Probe,
    ProbeError,
    Timings,
    TlsInfo,
    Verdict,
)
from checks.target import OriginTarget, TargetURL, parse_origin, parse_url
from checks.verdict import decide

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PUBLIC = parse_url("https://shop.example.com/cart?id=7")


# --- parse_url -----------------------------------------------------------------------------------


def _check_url(text: str) -> None:
    try:
        url = parse_url(text)
    except UsageError:
        return
    assert isinstance(url, TargetURL)
    assert url.scheme in ("http", "https")
    assert url.path.startswith("/")
    assert 0 < url.port < 65536
    assert parse_url(url.url) == url


_HOSTS = st.one_of(
    st.from_regex(r"[a-zA-Z0-9_-]{1,12}(\.[a-zA-Z0-9_-]{1,12}){0,3}\.?", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.ip_addresses(v=6).map(str),
    st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=12),
    st.sampled_from(["", ".", "..", "a..b", "münchen.de", "xn--mnchen-3ya.de", "[fe80::1%eth0]"]),
)
_PORTS = st.one_of(
    st.just(""),
    st.just(":"),
    st.integers(min_value=0, max_value=70_000).map(lambda p: f":{p}"),
    st.text(alphabet=string.digits + "x-+ ", max_size=6).map(lambda p: f":{p}"),
)
_PATH_CHARS = string.ascii_letters + string.digits + "/?#&=%._~-;:@!$'()*+,"
_PATHS = st.one_of(
    st.just(""),
    st.text(alphabet=_PATH_CHARS, max_size=30).map(lambda p: f"/{p}"),
    st.text(alphabet=_PATH_CHARS, max_size=10).map(lambda p: f"?{p}"),
)
_URLISH = st.builds(
    lambda scheme, sep, user, host, port, path: f"{scheme}{sep}{user}{host}{port}{path}",
    st.sampled_from(["http", "https", "https", "HTTP", "hTtPs", "ftp", "", "javascript"]),
    st.sampled_from(["://", "://", "://", ":", ":/", "//", ""]),
    st.sampled_from(["", "", "", "user@", "u:p@", "@"]),
    _HOSTS,
    _PORTS,
    _PATHS,
)


@BOUNDED
@given(st.text(max_size=200))
def test_parse_url_on_arbitrary_text(text: str) -> None:
    _check_url(text)


@BOUNDED
@given(_URLISH)
def test_parse_url_on_url_like_text(text: str) -> None:
    _check_url(text)


# --- parse_origin --------------------------------------------------------------------------------


def _check_origin(text: str, public: TargetURL) -> None:
    try:
        origin = parse_origin(text, public)
    except UsageError:
        return
    assert isinstance(origin, OriginTarget)
    assert origin.scheme in ("http", "https")
    assert 0 < origin.port < 65536
    assert parse_origin(origin.display, public) == origin


_PUBLICS = st.sampled_from(
    [PUBLIC, parse_url("http://shop.example.com:8080/"), parse_url("https://[2001:db8::1]/")]
)
_ORIGINISH = st.builds(
    lambda scheme, host, port, tail: f"{scheme}{host}{port}{tail}",
    st.sampled_from(["", "", "http://", "https://", "HTTPS://", "ftp://", "://"]),
    _HOSTS,
    _PORTS,
    st.sampled_from(["", "", "/", "//", "/path", "?q"]),
)


@BOUNDED
@given(st.text(max_size=200), _PUBLICS)
def test_parse_origin_on_arbitrary_text(text: str, public: TargetURL) -> None:
    _check_origin(text, public)


@BOUNDED
@given(_ORIGINISH, _PUBLICS)
def test_parse_origin_on_origin_like_text(text: str, public: TargetURL) -> None:
    _check_origin(text, public)


# --- decide --------------------------------------------------------------------------------------


def _nginx_page(status_line: str) -> str:
    return (
        f"<html>\r\n<head><title>{status_line}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status_line}</h1></center>\r\n"
        "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"
    )


_BODIES = st.one_of(
    st.sampled_from(
        [
            "",
            _nginx_page("502 Bad Gateway"),
            _nginx_page("503 Service Temporarily Unavailable"),
            _nginx_page("504 Gateway Time-out"),
            "<html><body><h1>502 Bad Gateway</h1>\n"
            "The server returned an invalid or incomplete response.\n</body></html>\n",
            "<html><body><h1>503 Service Unavailable</h1>\n"
            "No server is available to handle this request.\n</body></html>\n",
            "<html><body><h1>504 Gateway Time-out</h1>\n"
            "The server didn't respond in time.\n</body></html>\n",
            "<!DOCTYPE html><html><head><title>shop.example.com | 521: Web server is down"
            '</title></head><body><div id="cf-error-details"><span class="code-label">'
            "Error code 521</span><span>Cloudflare Ray ID: <strong>8c1e2f3a4b5c6d7e</strong>"
            "</span></div></body></html>",
            "<!DOCTYPE html><html><head><title>shop.example.com | 522: Connection timed out"
            '</title></head><body><div id="cf-error-details"><h1><span class="cf-error-code">'
            "522</span></h1><p>Performance &amp; security by Cloudflare</p></div></body></html>",
            '{"error": "database unavailable"}',
            "Bad Gateway",
            "upstream connect error or disconnect/reset before headers. reset reason: "
            "connection failure",
        ]
    ),
    st.text(max_size=60),
)
_HEADER_POOL = [
    ("Server", "nginx"),
    ("Server", "nginx/1.22.1"),
    ("Server", "cloudflare"),
    ("CF-RAY", "8c1e2f3a4b5c6d7e-FRA"),
    ("Server", "awselb/2.0"),
    ("Server", "envoy"),
    ("Via", "1.1 varnish"),
    ("X-Cache", "Error from cloudfront"),
    ("Content-Type", "text/html"),
    ("Content-Type", "application/json"),
    ("Content-Length", "0"),
]
_HEADERS = st.lists(st.sampled_from(_HEADER_POOL), max_size=4).map(tuple)
_MS = st.one_of(st.none(), st.floats(min_value=0, max_value=120_000, allow_nan=False))
_TIMINGS = st.builds(Timings, dns=_MS, connect=_MS, tls=_MS, ttfb=_MS, total=_MS)
_IPS = st.sampled_from(["198.51.100.7", "198.51.100.8", "2001:db8::7", None])
_KINDS = st.sampled_from(list(ErrorKind))
_ERRORS = st.builds(ProbeError, kind=_KINDS, message=st.sampled_from(["failed", "", "boom: x"]))
_TLS = st.one_of(
    st.none(),
    st.builds(
        TlsInfo,
        subject=st.sampled_from(["CN=shop.example.com", None]),
        sans=st.sampled_from([(), ("shop.example.com", "*.example.com")]),
        issuer=st.sampled_from(["CN=R11", None]),
        not_after=st.one_of(
            st.none(), st.just(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=30))
        ),
        days_left=st.one_of(st.none(), st.integers(min_value=-30, max_value=400)),
        verified=st.booleans(),
        verify_error=st.sampled_from([None, "certificate has expired"]),
    ),
)


@st.composite
def _probes(draw: st.DrawFn, target: str, *, retry: bool = False) -> Probe:
    status = draw(
        st.one_of(
            st.none(),
            st.sampled_from([200, 301, 404, 500, 502, 503, 504, 521, 522, 524]),
            st.integers(min_value=100, max_value=599),
        )
    )
    if status is None:
        error: ProbeError | None = draw(_ERRORS)
    else:
        error = draw(st.one_of(st.none(), st.none(), _ERRORS))
    ip = draw(_IPS)
    return Probe(
        target=target,
        url=PUBLIC.url,
        host=PUBLIC.host,
        ip=ip,
        port=draw(st.sampled_from([443, 8443, 80])),
        resolved=() if ip is None else (DnsRecord(ip, 6 if ":" in ip else 4, 300),),
        status=status,
        http_version=draw(st.sampled_from(["HTTP/1.1", "HTTP/2", None])),
        reason=draw(st.sampled_from(["Bad Gateway", "OK", None])),
        headers=draw(_HEADERS),
        header_bytes=draw(st.integers(min_value=0, max_value=64 * 1024)),
        body_excerpt=draw(_BODIES),
        timings=draw(_TIMINGS),
        error=error,
        tls=draw(_TLS),
        run=draw(st.integers(min_value=0, max_value=2)),
        http2_attempted=draw(st.booleans()),
        protocol_retry=retry,
    )


_URLS = st.sampled_from(
    [
        PUBLIC,
        parse_url("http://shop.example.com:8080/health"),
        parse_url("https://198.51.100.7/"),
        parse_url("https://[2001:db8::1]:8443/x"),
    ]
)
_ORIGIN_TEXTS = st.sampled_from(
    [
        "203.0.113.10",
        "203.0.113.10:8443",
        "http://203.0.113.10",
        "[2001:db8::10]:443",
        "origin.example.net:8443",
    ]
)
_DNS = st.one_of(
    st.none(),
    st.builds(
        DnsResult,
        name=st.just(PUBLIC.host),
        resolver=st.sampled_from(["192.0.2.53:53", "literal", "hosts file"]),
        records=st.sampled_from(
            [(), (DnsRecord("198.51.100.7", 4, 300), DnsRecord("198.51.100.8", 4, None))]
        ),
        duration_ms=st.floats(min_value=0, max_value=5000),
        cname=st.sampled_from([None, "shop.cdn.example.net"]),
    ),
)


@BOUNDED
@given(
    url=_URLS,
    public=st.lists(_probes("public"), min_size=1, max_size=4),
    origin_probes=st.lists(_probes("origin"), max_size=2),
    retries=st.lists(
        st.sampled_from(["public", "origin"]).flatmap(lambda t: _probes(t, retry=True)), max_size=2
    ),
    origin_text=st.one_of(st.none(), _ORIGIN_TEXTS),
    dns=_DNS,
)
def test_decide_always_returns_a_well_formed_verdict(
    url: TargetURL,
    public: list[Probe],
    origin_probes: list[Probe],
    retries: list[Probe],
    origin_text: str | None,
    dns: DnsResult | None,
) -> None:
    if origin_probes and origin_text is None:
        origin_text = "203.0.113.10"
    origin = None if origin_text is None else parse_origin(origin_text, url)

    v = decide(url, origin, public, origin_probes, retries, dns=dns)

    assert isinstance(v, Verdict)
    assert isinstance(v.cause, Cause)
    blocked = any(p.error is not None and p.error.kind is ErrorKind.BLOCKED_ADDRESS for p in public)
    if v.cause is Cause.OK:
        assert v.hop is None
    elif v.hop is None:
        assert blocked and v.cause is Cause.UNKNOWN and v.summary.startswith("Not checked")
    assert 0.0 <= v.confidence <= 1.0
    assert v.cause not in v.alternatives
    assert v.summary.strip()
    assert v.reproduce and all(line.startswith("curl ") for line in v.reproduce)

    probes = (*public, *origin_probes, *retries)
    diagnosis = Diagnosis(
        url=url.url,
        checked_at=datetime(2026, 1, 1, tzinfo=UTC),
        verdict=v,
        probes=probes,
        dns=dns,
        origin=origin.display if origin else None,
        runs=len({p.run for p in public}),
        ips_seen=tuple(sorted({p.ip for p in public if p.ip})),
        status_mix=(("502", 1),),
    )
    document = json.loads(json.dumps(diagnosis_to_dict(diagnosis)))
    assert document["verdict"]["cause"] == v.cause.value
    assert document["verdict"]["confidence"] == v.confidence
    assert len(document["probes"]) == len(probes)


def test_decide_is_pure() -> None:
    probe = Probe(
        target="public",
        url=PUBLIC.url,
        host=PUBLIC.host,
        ip="198.51.100.7",
        port=443,
        resolved=(),
        status=502,
        http_version="HTTP/1.1",
        reason="Bad Gateway",
        headers=(("Server", "nginx"),),
        header_bytes=150,
        body_excerpt=_nginx_page("502 Bad Gateway"),
        timings=Timings(1.0, 10.0, 30.0, 60.0, 62.0),
        error=None,
        tls=None,
    )
    first = decide(PUBLIC, None, [probe], [], [])
    assert decide(PUBLIC, None, [probe], [], []) == first
