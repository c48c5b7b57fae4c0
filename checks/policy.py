"""Which addresses the engine may connect to.

URLs typed in chat are untrusted, so by default only public unicast addresses are allowed. The
policy is applied to the address actually connected (after DNS, with the IP pinned so a second
lookup cannot switch it) and again on every redirect, for the public URL and the origin alike.
Operators open internal networks explicitly, e.g. ``AddressPolicy.allowing("10.0.0.0/8")``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# (network, the class a user is told about). Order matters only for the message.
_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("169.254.169.254/32", "a cloud metadata address"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("fd00:ec2::254/128", "a cloud metadata address"),
        ("0.0.0.0/8", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("192.0.0.0/24", "a reserved address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fc00::/7", "a unique-local address"),
        ("fe80::/10", "a link-local address"),
        ("ff00::/8", "a multicast address"),
        ("64:ff9b:1::/48", "a private NAT64 address"),
    )
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


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, 6to4 or NAT64 IPv6 address, if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Refuse non-public addresses unless they fall in ``allowed``."""

    allowed: tuple[IPNetwork, ...] = ()
    allow_all: bool = False

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
        """Why ``address`` is refused, or None when it may be connected."""
        if self.allow_all:
            return None
        ip = ipaddress.ip_address(address)
        if self._allowed(ip):
            return None
        for candidate in (ip, _embedded_ipv4(ip)):
            if candidate is None:
                continue
            if self._allowed(candidate):
                return None
            for network, label in _REFUSED:
                if candidate.version == network.version and candidate in network:
                    return (
                        f"{address} is {label}; checks of internal addresses are off "
                        "(an operator can allow them with CHECK502_ALLOW_NETWORKS)"
                    )
        return None

    def refuse_name(self, host: str) -> str | None:
        """Why a host *name* is refused before any lookup (cloud metadata names)."""
        if self.allow_all:
            return None
        if host.lower().rstrip(".") in METADATA_NAMES:
            return f"{host} is a cloud metadata name; it is never checked"
        return None

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed)
