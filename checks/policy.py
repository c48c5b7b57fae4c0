"""Which addresses the engine may connect to.

URLs typed in chat are untrusted, so by default only public unicast addresses are allowed. The
policy is applied to the address actually connected (after DNS, with the IP pinned so a second
lookup cannot switch it) and again on every redirect, for the public URL and the origin alike.
Operators open internal networks explicitly, e.g. ``AddressPolicy.allowing("10.0.0.0/8")``.

"Public" means what the IANA IPv4 and IPv6 Special-Purpose Address Registries call globally
reachable (the table below, one row per registry entry, most specific row deciding). An IPv6
address that embeds or translates to an IPv4 address (IPv4-compatible, IPv4-mapped, SIIT,
NAT64, 6to4, Teredo) is judged on each IPv4 address inside it first, so ``::7f00:1`` is
loopback, whatever spelling or DNS answer produced it. Host spellings such as ``127.1`` or
``0x7f000001`` are read as the addresses they are before this (:mod:`checks.target`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_GLOBAL = None
"""A row whose addresses are globally reachable: it carves an exception out of a wider row."""

# Every block the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890, as updated)
# mark "Globally Reachable: False", plus multicast and the deprecated site-local and 6to4-relay
# blocks, with the class a user is told about. The most specific row that holds an address
# decides (so 192.0.0.9/32 carves a global address out of 192.0.0.0/24); an address no row
# holds is global. Rows are (network, label or _GLOBAL, source).
_SPECIAL: tuple[tuple[str, str | None, str], ...] = (
    # Cloud metadata services: named first so the user sees why.
    ("169.254.169.254/32", "a cloud metadata address", "AWS, GCP, Azure, OpenStack"),
    ("100.100.100.200/32", "a cloud metadata address", "Alibaba Cloud"),
    ("192.0.0.192/32", "a cloud metadata address", "Oracle Cloud"),
    ("fd00:ec2::254/128", "a cloud metadata address", "AWS IMDS over IPv6"),
    ("fd20:ce::254/128", "a cloud metadata address", "Google Cloud over IPv6"),
    # IPv4 Special-Purpose Address Registry.
    ("0.0.0.0/8", "a 'this network' address", "RFC 791"),
    ("0.0.0.0/32", "an unspecified address", "RFC 1122"),
    ("10.0.0.0/8", "a private address", "RFC 1918"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address", "RFC 6598"),
    ("127.0.0.0/8", "a loopback address", "RFC 1122"),
    ("169.254.0.0/16", "a link-local address", "RFC 3927"),
    ("172.16.0.0/12", "a private address", "RFC 1918"),
    ("192.0.0.0/24", "an IETF protocol assignment (reserved)", "RFC 6890"),
    ("192.0.0.9/32", _GLOBAL, "RFC 7723: Port Control Protocol anycast"),
    ("192.0.0.10/32", _GLOBAL, "RFC 8155: TURN anycast"),
    ("192.0.2.0/24", "a documentation address (TEST-NET-1)", "RFC 5737"),
    # Globally Reachable "N/A" (deprecated); nothing checkable lives at a relay anycast address.
    ("192.88.99.0/24", "a deprecated 6to4 relay anycast address", "RFC 7526"),
    ("192.168.0.0/16", "a private address", "RFC 1918"),
    ("198.18.0.0/15", "a benchmarking address", "RFC 2544"),
    ("198.51.100.0/24", "a documentation address (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "a documentation address (TEST-NET-3)", "RFC 5737"),
    ("224.0.0.0/4", "a multicast address", "RFC 5771"),
    ("240.0.0.0/4", "a reserved address", "RFC 1112"),
    ("255.255.255.255/32", "the broadcast address", "RFC 919"),
    # IPv6: only 2000::/3 is global unicast; IANA keeps the rest reserved (IPv6 Address Space
    # registry), so anything outside it that no row below names is refused as reserved.
    ("::/0", "a reserved IPv6 address (outside global unicast 2000::/3)", "RFC 4291"),
    ("2000::/3", _GLOBAL, "RFC 4291: global unicast"),
    # IPv6 Special-Purpose Address Registry.
    ("::/128", "an unspecified address", "RFC 4291"),
    ("::1/128", "a loopback address", "RFC 4291"),
    ("::/96", "an IPv4-compatible address (deprecated)", "RFC 4291 section 2.5.5.1"),
    ("::ffff:0:0/96", "an IPv4-mapped address", "RFC 4291"),
    ("::ffff:0:0:0/96", "an IPv4-translated (SIIT) address", "RFC 2765, RFC 6145"),
    ("64:ff9b::/96", _GLOBAL, "RFC 6052: well-known NAT64 prefix, judged on its IPv4"),
    ("64:ff9b:1::/48", "a local-use NAT64 address", "RFC 8215"),
    ("100::/64", "a discard-only address", "RFC 6666"),
    ("100:0:0:1::/64", "a dummy IPv6 prefix address", "RFC 9780"),
    ("2001::/23", "an IETF protocol assignment (reserved)", "RFC 2928"),
    ("2001::/32", _GLOBAL, "RFC 4380: Teredo, Globally Reachable N/A, judged on its IPv4s"),
    ("2001:1::1/128", _GLOBAL, "RFC 7723: Port Control Protocol anycast"),
    ("2001:1::2/128", _GLOBAL, "RFC 8155: TURN anycast"),
    ("2001:1::3/128", _GLOBAL, "RFC 9665: DNS-SD Service Registration Protocol anycast"),
    ("2001:2::/48", "a benchmarking address", "RFC 5180"),
    ("2001:3::/32", _GLOBAL, "RFC 7450: AMT"),
    ("2001:4:112::/48", _GLOBAL, "RFC 7535: AS112-v6"),
    ("2001:20::/28", _GLOBAL, "RFC 7343: ORCHIDv2"),
    ("2001:30::/28", _GLOBAL, "RFC 9374: Drone Remote ID entity tags"),
    ("2001:db8::/32", "a documentation address", "RFC 3849"),
    # 6to4 is Globally Reachable N/A: judged on the IPv4 address inside (2000::/3 holds it).
    ("3fff::/20", "a documentation address", "RFC 9637"),
    ("5f00::/16", "a segment-routing (SRv6) SID", "RFC 9602"),
    ("fc00::/7", "a unique-local address", "RFC 4193"),
    ("fe80::/10", "a link-local address", "RFC 4291"),
    ("fec0::/10", "a site-local address (deprecated)", "RFC 3879"),
    ("ff00::/8", "a multicast address", "RFC 4291"),
)

# Most specific first, so the first row holding an address is the one that decides.
_TABLE: tuple[tuple[IPNetwork, str | None], ...] = tuple(
    sorted(
        ((ipaddress.ip_network(net), label) for net, label, _ in _SPECIAL),
        key=lambda row: -row[0].prefixlen,
    )
)

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIXTOFOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_LOW32 = 0xFFFFFFFF

_OFF = (
    "checks of internal addresses are off (an operator can allow them with CHECK502_ALLOW_NETWORKS)"
)

METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)


def special_class(ip: IPAddress) -> str | None:
    """The special-purpose class of ``ip`` in words ("a loopback address"), or None if global."""
    for network, label in _TABLE:
        if ip.version == network.version and ip in network:
            return label
    return None


def embedded_ipv4(ip: IPAddress) -> tuple[tuple[str, ipaddress.IPv4Address], ...]:
    """Each IPv4 address an IPv6 address embeds or translates to, with the form in words.

    IPv4-mapped ``::ffff:a.b.c.d``, SIIT ``::ffff:0:a.b.c.d``, IPv4-compatible ``::a.b.c.d``
    (``::`` and ``::1`` excepted), NAT64 ``64:ff9b::a.b.c.d`` and the local-use ``64:ff9b:1::/48``
    read with the /96 layout of RFC 6052 (the only one that puts the IPv4 last), 6to4
    ``2002:AABB:CCDD::`` and Teredo (RFC 4380: the server in bits 32-63, the client in the last
    32 bits, inverted).
    """
    if not isinstance(ip, ipaddress.IPv6Address):
        return ()
    value = int(ip)

    def v4(bits: int) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(bits & _LOW32)

    if ip in _MAPPED:
        return (("an IPv4-mapped form of", v4(value)),)
    if ip in _SIIT:
        return (("an IPv4-translated (SIIT) form of", v4(value)),)
    if ip in _COMPATIBLE and value > 1:
        return (("an IPv4-compatible form of", v4(value)),)
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        return (("a NAT64 form of", v4(value)),)
    if ip in _SIXTOFOUR:
        return (("a 6to4 address of", v4(value >> 80)),)
    if ip in _TEREDO:
        return (
            ("a Teredo address whose server is", v4(value >> 64)),
            ("a Teredo address whose client is", v4(~value)),
        )
    return ()


_MAX_JUDGED = 100_000
"""Judged addresses kept at most (then forgotten all at once: judging again is cheap)."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Refuse non-public addresses unless they fall in ``allowed``."""

    allowed: tuple[IPNetwork, ...] = ()
    allow_all: bool = False
    _judged: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Addresses already judged (a monitor's address comes back at every check)."""

    @classmethod
    def allowing(cls, *networks: str | IPNetwork) -> AddressPolicy:
        """A policy that also allows these networks (``"10.0.0.0/8"``, ``"127.0.0.1"``...)."""
        return cls(allowed=tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    @classmethod
    def from_setting(cls, value: str | None) -> AddressPolicy:
        """Parse a comma-separated setting such as ``CHECK502_ALLOW_NETWORKS``; ``*`` allows all."""
        items = [item.strip() for item in (value or "").split(",") if item.strip()]
        if "*" in items:
            return cls(allow_all=True)
        try:
            return cls.allowing(*items)
        except ValueError as exc:
            raise ValueError(f"not a network: {exc}") from None

    def refusal(self, address: str) -> str | None:
        """Why ``address`` is refused, or None when it may be connected.

        An IPv6 address embedding IPv4 is judged on each IPv4 inside it first: one that is not
        global and not allowed refuses it, whatever IPv6 network the operator allowed. When every
        IPv4 inside is allowed by the operator the address is allowed (it reaches those hosts);
        otherwise the IPv6 address is judged itself, against the allowed networks and the table.
        """
        if self.allow_all:
            return None
        if address in self._judged:
            return self._judged[address]
        if len(self._judged) >= _MAX_JUDGED:
            self._judged.clear()
        refusal = self._judge(address)
        self._judged[address] = refusal
        return refusal

    def _judge(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address)
        inner = embedded_ipv4(ip)
        for form, ipv4 in inner:
            label = None if self._allowed(ipv4) else special_class(ipv4)
            if label is not None:
                return f"{address} is {form} {ipv4}, {label}; {_OFF}"
        if inner and all(self._allowed(ipv4) for _, ipv4 in inner):
            return None
        if self._allowed(ip):
            return None
        label = special_class(ip)
        if label is None:
            return None
        if inner and ip not in _NAT64_LOCAL:  # the IPv4 inside is fine: point the user at it
            return f"{address} is {label}; check {inner[0][1]} itself"
        return f"{address} is {label}; {_OFF}"

    def refuse_name(self, host: str) -> str | None:
        """Why a host *name* is refused before any lookup (cloud metadata names)."""
        if self.allow_all:
            return None
        if host.lower().rstrip(".") in METADATA_NAMES:
            return f"{host} is a cloud metadata name; it is never checked"
        return None

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed)
