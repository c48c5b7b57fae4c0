"""Parsing what the user typed: the public URL and the ``--origin`` bypass target."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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

    @property
    def is_ip(self) -> bool:
        return _ip_or_none(self.host) is not None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return urlunsplit((self.scheme, self.netloc, self.path, "", ""))

    def resolve(self, location: str) -> TargetURL:
        """The target a redirect ``Location`` points at, relative to this URL."""
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


def _require_ipv6(text: str, error: type[InvalidURL] | type[InvalidOrigin]) -> None:
    """Brackets hold an IPv6 address and nothing else."""
    if not isinstance(_ip_or_none(text), ipaddress.IPv6Address):
        raise error(f"[{text}] is not an IPv6 address; only IPv6 addresses go in brackets")


def _normalise_host(raw: str, *, error: type[InvalidURL] | type[InvalidOrigin], what: str) -> str:
    host = raw.strip("[]")
    ip = _ip_or_none(host)
    if ip is not None:
        return ip.compressed
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise error(f"{what}: {raw!r} is not a valid host name") from None
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
