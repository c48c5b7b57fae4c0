"""Parsing what the user typed: the public URL and the ``--origin`` bypass target.

Hosts are read as the WHATWG URL Standard's host parser reads them (https://url.spec.whatwg.org/
#host-parsing), which is what browsers do and what curl does for IPv4: a host that *ends in a
number* is an IPv4 address in any of its spellings (``127.1``, ``0x7f000001``, ``2130706433``,
``017700000001``, ``0``, ``127.0.0.1.``) and becomes the dotted address it is, or, when it does
not parse as one, the URL is invalid. The address policy then judges the address, never a
"name" that a resolver might read differently. IPv6 literals are canonicalised the same way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

from checks.errors import InvalidOrigin, InvalidURL

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
_MAX_URL = 2048
_SCHEME_ONLY = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")


@dataclass(frozen=True, slots=True)
class TargetURL:
    """A parsed, normalised http(s) URL."""

    scheme: str
    host: str
    """Lower-case ASCII host name or IP literal (IPv6 without brackets)."""
    port: int
    path: str
    """Path plus query, always starting with ``/``."""
    netloc: str = field(init=False, repr=False, compare=False)
    """``host[:port]`` as sent in ``Host`` (IPv6 in brackets, the scheme's port left out)."""
    url: str = field(init=False, repr=False, compare=False)
    """The whole URL, normalised (every probe and diagnosis of the target names it)."""

    def __post_init__(self) -> None:
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"
        object.__setattr__(self, "netloc", netloc)
        object.__setattr__(self, "url", urlunsplit((self.scheme, netloc, self.path, "", "")))

    @property
    def is_ip(self) -> bool:
        return _ip_or_none(self.host) is not None

    def resolve(self, location: str) -> TargetURL:
        """The target a redirect ``Location`` points at, relative to this URL.

        Header values arrive decoded as latin-1; a Location's bytes are read as UTF-8, as
        browsers read them, so a host is parsed the same whether typed or redirected to.
        """
        with contextlib.suppress(UnicodeError):
            location = location.encode("latin-1").decode("utf-8")
        if location.startswith("//"):
            return parse_url(f"{self.scheme}:{location}")
        if "://" in location.split("?", 1)[0]:
            return parse_url(location)
        if location.startswith("/"):
            return parse_url(f"{self.scheme}://{self.netloc}{location}")
        base = self.path.split("?", 1)[0].rsplit("/", 1)[0]
        return parse_url(f"{self.scheme}://{self.netloc}{base}/{location}")


@dataclass(frozen=True, slots=True)
class OriginTarget:
    """Where to send the origin-bypass request; path, Host and SNI come from the public URL."""

    scheme: str
    host: str
    port: int

    @property
    def is_ip(self) -> bool:
        return _ip_or_none(self.host) is not None

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _ip_or_none(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


_RADIX_DIGITS = {
    10: frozenset("0123456789"),
    8: frozenset("01234567"),
    16: frozenset("0123456789abcdefABCDEF"),
}


def _ipv4_number(part: str) -> int | None:
    """The URL Standard's *IPv4 number parser*: decimal, ``0x`` hex or ``0``-prefixed octal.

    None is its "failure". Digits are checked by hand: ``int()`` would also take ``1_0`` and
    non-ASCII digits, which no browser reads as a number.
    """
    if not part:
        return None
    radix = 10
    if part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) >= 2 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    if not set(part) <= _RADIX_DIGITS[radix]:
        return None
    return int(part, radix)


def ends_in_a_number(host: str) -> bool:
    """The URL Standard's *ends in a number checker* on an ASCII host.

    True when the last label (a trailing dot ignored) is all digits or a ``0x`` hex number:
    such a host can only be an IPv4 address, never a domain name.
    """
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and set(last) <= _RADIX_DIGITS[10]:
        return True
    return _ipv4_number(last) is not None


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The URL Standard's *IPv4 parser*: 1 to 4 numbers, the last one filling the rest.

    ``127.1`` is 127.0.0.1, ``0x7f.1`` too, ``2130706433`` and ``017700000001`` as well; None
    when the standard says failure (more than four parts, a part that is not a number, a part
    above 255 before the last, or a last part too large for the bytes left).
    """
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    if any(number > 255 for number in numbers[:-1]):
        return None
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number * 256 ** (3 - index)
    return ipaddress.IPv4Address(value)


def serialise_ipv6(ip: ipaddress.IPv6Address) -> str:
    """The URL Standard's IPv6 serializer: lower-case hex, the first longest run of two or more
    zero pieces compressed, never a dotted IPv4 tail (whatever this Python's ``str`` does)."""
    value = int(ip)
    pieces = [(value >> (112 - 16 * index)) & 0xFFFF for index in range(8)]
    start, length = -1, 1
    index = 0
    while index < 8:
        if pieces[index] != 0:
            index += 1
            continue
        end = index
        while end < 8 and pieces[end] == 0:
            end += 1
        if end - index > length:
            start, length = index, end - index
        index = end
    if start < 0:
        return ":".join(f"{piece:x}" for piece in pieces)
    head = ":".join(f"{piece:x}" for piece in pieces[:start])
    tail = ":".join(f"{piece:x}" for piece in pieces[start + length :])
    return f"{head}::{tail}"


def _ipv6_host(text: str, error: type[InvalidURL] | type[InvalidOrigin]) -> str:
    """An IPv6 literal (without brackets) in canonical form; zone identifiers are refused, as
    the URL Standard refuses them (``fe80::1%eth0`` names an interface of *this* machine)."""
    if "%" in text:
        raise error(f"[{text}] has a zone identifier (%...); URLs cannot carry one")
    ip = _ip_or_none(text)
    if not isinstance(ip, ipaddress.IPv6Address):
        raise error(f"[{text}] is not an IPv6 address; only IPv6 addresses go in brackets")
    return serialise_ipv6(ip)


def _require_ipv6(text: str, error: type[InvalidURL] | type[InvalidOrigin]) -> None:
    """Brackets hold an IPv6 address and nothing else."""
    _ipv6_host(text, error)


def _normalise_host(raw: str, *, error: type[InvalidURL] | type[InvalidOrigin], what: str) -> str:
    """The URL Standard's host parser for http(s): an IPv6 literal, an IPv4 address in any of
    its spellings, or a lower-case ASCII domain name (IDNA), trailing dot dropped."""
    host = raw.strip("[]")
    if ":" in host:
        return _ipv6_host(host, error)
    try:
        decoded = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what}: {raw!r} is not a valid host name") from None
    try:
        ascii_host = (
            decoded.lower() if decoded.isascii() else decoded.encode("idna").decode("ascii")
        ).lower()
    except UnicodeError:
        raise error(f"{what}: {raw!r} is not a valid host name") from None
    if ends_in_a_number(ascii_host):
        ipv4 = parse_ipv4(ascii_host)
        if ipv4 is None:
            raise error(
                f"{what}: {raw!r} ends in a number, so it can only be an IPv4 address,"
                " and it is not a valid one"
            )
        return str(ipv4)
    if not _HOSTNAME.match(ascii_host):
        raise error(f"{what}: {raw!r} is not a valid host name")
    return ascii_host.rstrip(".")


def _port(raw: str | None, default: int, *, error: type[InvalidURL] | type[InvalidOrigin]) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:
        raise error(f"port {raw!r} is not a number from 1 to 65535")
    return int(raw)


def parse_url(text: str) -> TargetURL:
    """Parse a URL typed by a user. ``shop.example.com`` means ``https://shop.example.com/``."""
    text = text.strip()
    if not text:
        raise InvalidURL("give a URL to check, e.g. https://shop.example.com")
    if len(text) > _MAX_URL:
        raise InvalidURL(f"the URL is longer than {_MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidURL("the URL contains spaces or control characters")
    if "://" not in text:
        if _SCHEME_ONLY.match(text):
            raise InvalidURL(f"only http and https URLs can be checked, not {text.split(':')[0]}:")
        text = f"https://{text}"
    scheme_part = text.split("://", 1)[0].lower()
    if scheme_part not in _DEFAULT_PORTS:
        raise InvalidURL(f"only http and https URLs can be checked, not {scheme_part}://")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # unbalanced brackets, look-alike characters in the host
        raise InvalidURL(f"the URL cannot be parsed: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("URLs with a user name or password are not checked")
    raw_host = parts.netloc.rsplit("@", 1)[-1]
    if raw_host.startswith("["):
        host_text, _, rest = raw_host[1:].partition("]")
        _require_ipv6(host_text, InvalidURL)
        if rest and not rest.startswith(":"):
            raise InvalidURL(f"{raw_host!r} is not a valid host")
        port_text = rest[1:] if rest else None
    elif raw_host.count(":") == 1:
        host_text, port_text = raw_host.split(":")
    elif ":" in raw_host:
        raise InvalidURL("write IPv6 addresses in brackets, e.g. http://[2001:db8::1]:8080/")
    else:
        host_text, port_text = raw_host, None
    if not host_text:
        raise InvalidURL("the URL has no host")
    host = _normalise_host(host_text, error=InvalidURL, what="URL")
    port = _port(port_text, _DEFAULT_PORTS[scheme_part], error=InvalidURL)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return TargetURL(scheme=scheme_part, host=host, port=port, path=path)


def parse_origin(text: str, public: TargetURL) -> OriginTarget:
    """Parse ``--origin``: ``IP``, ``IP:PORT``, ``[IPv6]:PORT``, ``host:PORT`` or ``scheme://host:PORT``.

    What the value leaves out comes from the public URL: the scheme, and the port (unless a
    scheme is given, which implies its default port).
    """
    text = text.strip()
    if not text:
        raise InvalidOrigin("--origin is empty")
    scheme = public.scheme
    explicit_scheme = False
    if "://" in text:
        scheme, text = text.split("://", 1)
        scheme = scheme.lower()
        explicit_scheme = True
        if scheme not in _DEFAULT_PORTS:
            raise InvalidOrigin(f"origin scheme must be http or https, not {scheme}")
        text = text.rstrip("/")
        if "/" in text:
            raise InvalidOrigin("the origin is a host and port; the path comes from the URL")
    default_port = _DEFAULT_PORTS[scheme] if explicit_scheme else public.port
    if _ip_or_none(text) is not None:  # bare IPv6 (or IPv4) without a port
        host_text, port_text = text, None
    elif text.startswith("["):
        host_text, closed, rest = text[1:].partition("]")
        if not closed:
            raise InvalidOrigin(f"{text!r} has no closing bracket")
        _require_ipv6(host_text, InvalidOrigin)
        if rest and not rest.startswith(":"):
            raise InvalidOrigin(f"{text!r} is not [IPv6]:PORT")
        port_text = rest[1:] or None
    elif text.count(":") == 1:
        host_text, port_text = text.split(":")
    elif ":" in text:
        raise InvalidOrigin("write an IPv6 origin with a port as [2001:db8::1]:443")
    else:
        host_text, port_text = text, None
    if not host_text:
        raise InvalidOrigin("the origin has no host")
    host = _normalise_host(host_text, error=InvalidOrigin, what="origin")
    port = _port(port_text, default_port, error=InvalidOrigin)
    return OriginTarget(scheme=scheme, host=host, port=port)
