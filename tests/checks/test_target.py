"""Parsing the URL and the --origin value users type."""

import pytest

from checks.errors import InvalidOrigin, InvalidURL
from checks.target import parse_origin, parse_url


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port", "path"),
    [
        ("shop.example.com", "https", "shop.example.com", 443, "/"),
        ("http://a.b:8080/x?y=1", "http", "a.b", 8080, "/x?y=1"),
        ("https://[::1]:8443/p", "https", "::1", 8443, "/p"),
        ("HTTPS://Shop.Example.COM./", "https", "shop.example.com", 443, "/"),
        ("https://münchen.de/", "https", "xn--mnchen-3ya.de", 443, "/"),
        ("http://127.0.0.1:1/", "http", "127.0.0.1", 1, "/"),
        ("  https://x.test  ", "https", "x.test", 443, "/"),
    ],
)
def test_parse_url(text: str, scheme: str, host: str, port: int, path: str) -> None:
    url = parse_url(text)
    assert (url.scheme, url.host, url.port, url.path) == (scheme, host, port, path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "give a URL"),
        ("ftp://x.test/", "only http and https"),
        ("http://a b/", "spaces"),
        ("https://ex.com:99999/", "port"),
        ("https://ex.com:0/", "port"),
        ("https://user:pw@ex.com/", "password"),
        ("https://exa_mple..com/", "not a valid host"),
        ("http://2001:db8::1/", "brackets"),
        ("https:///path", "no host"),
        ("https://" + "a" * 3000, "longer than"),
        ("javascript:alert(1)", "http and https"),
    ],
)
def test_parse_url_rejects_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(InvalidURL, match=fragment):
        parse_url(text)


def test_url_round_trips_with_default_port_elided() -> None:
    assert parse_url("https://x.test:443/a").url == "https://x.test/a"
    assert parse_url("http://x.test:8080").url == "http://x.test:8080/"
    assert parse_url("http://[2001:db8::1]:80/").url == "http://[2001:db8::1]/"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/next", "https://x.test/next"),
        ("https://other.test/z", "https://other.test/z"),
        ("//cdn.test/a", "https://cdn.test/a"),
        ("sibling", "https://x.test/dir/sibling"),
    ],
)
def test_redirect_locations_resolve_against_the_url(location: str, expected: str) -> None:
    assert parse_url("https://x.test/dir/page").resolve(location).url == expected


PUBLIC = parse_url("https://shop.example.com/a")


@pytest.mark.parametrize(
    ("text", "scheme", "host", "port"),
    [
        ("1.2.3.4", "https", "1.2.3.4", 443),
        ("1.2.3.4:8443", "https", "1.2.3.4", 8443),
        ("[2001:db8::1]:443", "https", "2001:db8::1", 443),
        ("::1", "https", "::1", 443),
        ("[::1]", "https", "::1", 443),
        ("origin.internal:8080", "https", "origin.internal", 8080),
        ("http://10.0.0.1:8080", "http", "10.0.0.1", 8080),
        ("http://10.0.0.1", "http", "10.0.0.1", 80),
        ("https://10.0.0.1/", "https", "10.0.0.1", 443),
    ],
)
def test_parse_origin_fills_gaps_from_the_public_url(
    text: str, scheme: str, host: str, port: int
) -> None:
    origin = parse_origin(text, PUBLIC)
    assert (origin.scheme, origin.host, origin.port) == (scheme, host, port)


def test_origin_port_defaults_to_the_public_port() -> None:
    assert parse_origin("10.0.0.9", parse_url("http://x.test:8080/")).port == 8080


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("ftp://1.2.3.4", "http or https"),
        ("1.2.3.4:http", "port"),
        ("2001:db8:::1", "IPv6"),
        ("http://1.2.3.4:80/path", "path comes from the URL"),
        ("[::1]x", "IPv6"),
        ("bad host:80", "not a valid host"),
    ],
)
def test_parse_origin_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InvalidOrigin, match=fragment):
        parse_origin(text, PUBLIC)
