"""Parsing the URL and the --origin value users type."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.errors import InvalidOrigin, InvalidURL
from checks.target import ends_in_a_number, parse_origin, parse_url


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


# The URL Standard's host parser, with examples from its web-platform-tests (urltestdata.json)
# and the spellings curl and browsers read as IPv4 numbers.
@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("127.000.000.001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("2130706433.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("0x.0x.0", "0.0.0.0"),
        ("192.0x00A80001", "192.168.0.1"),
        ("0Xc0.0250.01", "192.168.0.1"),
        ("%30%78%63%30%2e%30%32%35%30.01", "192.168.0.1"),
        ("%30%78%63%30%2e%30%32%35%30.01%2e", "192.168.0.1"),
        ("4294967295", "255.255.255.255"),
        ("0xffffffff", "255.255.255.255"),
        ("1.16777215", "1.255.255.255"),
        ("1.2.65535", "1.2.255.255"),
        ("１２７．０．０．１", "127.0.0.1"),  # full-width digits and dots map to ASCII first
        ("1.2.3.4.example", "1.2.3.4.example"),  # does not end in a number: a name
        ("example.com.", "example.com"),
        ("EXAMPLE.COM", "example.com"),
        ("example%2Ecom", "example.com"),
        ("1_0", "1_0"),  # not a number (int() would say 10): a name
        ("1.2.3.1_0", "1.2.3.1_0"),
    ],
)
def test_hosts_are_parsed_as_the_url_standard_does(host: str, expected: str) -> None:
    assert parse_url(f"http://{host}:8080/p").host == expected
    assert parse_url(f"http://{host}:8080/p").url == f"http://{expected}:8080/p"


@pytest.mark.parametrize(
    "host",
    [
        "192.168.0.257",
        "256.256.256.256",
        "1.2.3.4.5",
        "1.2.3.4.5.",
        "1.2.3.4.0",
        "0.0.0.0.0",
        "0..0x300",
        "0..0x300.",
        "10000000000",
        "4294967296",
        "0xffffffff1",
        "0x100000000",
        "256.0.0.1",
        "1.256.65536",
        "1.2.16777216",
        "0999999999999999999",
        "1.2.3.08",
        "1.2.3.09",
        "09.2.3.4",
        "0x100.2.3.4",
        "foo.09",
        "foo.09.",
        "foo.0x4",
        "foo.0x",
        "foo.1.2.3.4",
        "foo.2.3.4",
        "example.123",
        "%3g%78%63%30%2e%30%32%35%30%2E.01",
    ],
)
def test_a_host_that_ends_in_a_number_but_is_no_ipv4_address_is_an_invalid_url(
    host: str,
) -> None:
    with pytest.raises(InvalidURL, match="not a valid"):
        parse_url(f"http://{host}/")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("", False),
        (".", False),
        ("example.com", False),
        ("example.com.", False),
        ("1.2.3.4.example", False),
        ("a.0x1g", False),
        ("a.0a", False),
        ("1", True),
        ("1.", True),
        ("a.1", True),
        ("a.0x", True),
        ("a.0XfF", True),
        ("a.09", True),
    ],
)
def test_ends_in_a_number(host: str, expected: bool) -> None:
    assert ends_in_a_number(host) is expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("[1:0::]", "1::"),
        ("[0:0:0:0:0:0:13.1.68.3]", "::d01:4403"),
        ("[::127.0.0.1]", "::7f00:1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[::ffff:0:127.0.0.1]", "::ffff:0:7f00:1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("[1:0:0:2:0:0:3:4]", "1::2:0:0:3:4"),  # of equal runs, the first is compressed
        ("[1:0:2:0:0:0:3:4]", "1:0:2::3:4"),  # the longest run is compressed
        ("[1:0:2:3:4:5:6:7]", "1:0:2:3:4:5:6:7"),  # a single zero piece is not
        ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1"),
    ],
)
def test_ipv6_literals_are_serialised_as_the_url_standard_does(literal: str, expected: str) -> None:
    assert parse_url(f"http://{literal}/").host == expected
    assert parse_url(f"http://{literal}:81/").url == f"http://[{expected}]:81/"


@pytest.mark.parametrize("literal", ["[fe80::1%25eth0]", "[::1%251]", "[127.0.0.1]", "[::1x]"])
def test_bad_ipv6_literals_are_invalid_urls(literal: str) -> None:
    with pytest.raises(InvalidURL):
        parse_url(f"http://{literal}/")


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("2130706433", "127.0.0.1", 443),
        ("127.1:8080", "127.0.0.1", 8080),
        ("0x7f.1:81", "127.0.0.1", 81),
        ("http://017700000001:81", "127.0.0.1", 81),
        ("0", "0.0.0.0", 443),
        ("[::127.0.0.1]:80", "::7f00:1", 80),
        ("::ffff:127.0.0.1", "::ffff:7f00:1", 443),
    ],
)
def test_origins_are_parsed_with_the_same_host_parser(text: str, host: str, port: int) -> None:
    origin = parse_origin(text, PUBLIC)
    assert (origin.host, origin.port) == (host, port)


@pytest.mark.parametrize("text", ["1.2.3.4.5", "256.1", "foo.09:80", "fe80::1%eth0"])
def test_origins_that_end_in_a_number_but_are_no_address_are_refused(text: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_origin(text, PUBLIC)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("http://0x7f000001:81/a", "http://127.0.0.1:81/a"),
        ("//2130706433/", "https://127.0.0.1/"),
        ("http://[::127.0.0.1]/", "http://[::7f00:1]/"),
        ("https://127.1./x?y", "https://127.0.0.1/x?y"),
    ],
)
def test_redirect_locations_use_the_same_host_parser(location: str, expected: str) -> None:
    assert parse_url("https://x.test/dir/page").resolve(location).url == expected


def test_a_redirect_to_a_host_that_is_no_address_is_an_invalid_url() -> None:
    with pytest.raises(InvalidURL, match="ends in a number"):
        parse_url("https://x.test/").resolve("http://1.2.3.4.5/")


@pytest.mark.parametrize(
    "text", ["https://0x7f000001/", "https://127.1:8443/", "https://[::127.0.0.1]/"]
)
def test_a_number_spelling_is_an_ip_url_so_no_sni_is_sent(text: str) -> None:
    # The probe sends SNI only for names (an IP in SNI is forbidden by RFC 6066), and the
    # Host header is the canonical netloc: what curl and browsers send for these spellings.
    url = parse_url(text)
    assert url.is_ip
    assert url.netloc in ("127.0.0.1", "127.0.0.1:8443", "[::7f00:1]")


def _spell(number: int, radix: str) -> str:
    if radix == "hex":
        return f"0x{number:x}"
    if radix == "octal":
        return f"0{number:o}"
    return str(number)


RADIXES = st.sampled_from(["decimal", "hex", "octal"])


@settings(max_examples=300, deadline=None)
@given(
    address=st.integers(0, 2**32 - 1),
    parts=st.integers(1, 4),
    radixes=st.lists(RADIXES, min_size=4, max_size=4),
    trailing_dot=st.booleans(),
)
def test_every_spelling_of_every_ipv4_address_is_that_address(
    address: int, parts: int, radixes: list[str], trailing_dot: bool
) -> None:
    # 1 to 4 numbers: leading bytes one each, the last number fills the rest (URL Standard).
    octets = address.to_bytes(4, "big")
    numbers = [*octets[: parts - 1], int.from_bytes(octets[parts - 1 :], "big")]
    host = ".".join(_spell(n, r) for n, r in zip(numbers, radixes, strict=False))
    host += "." if trailing_dot else ""
    assert parse_url(f"http://{host}/").host == str(ipaddress.IPv4Address(address))
