"""Name resolution with the detail a 502 diagnosis needs: every record, its TTL, who answered,
and NXDOMAIN, SERVFAIL, timeout and "no records" told apart."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from checks.errors import InvalidURL
from checks.model import DnsRecord, DnsResult, ErrorKind, ProbeError

if TYPE_CHECKING:
    import dns.asyncresolver

# dnspython is imported by the first lookup that needs a DNS server, not at import: an IP
# literal, ``localhost`` or a hosts-file name (the check502 command's cold start) never loads it.

HOSTS_FILE = Path("/etc/hosts")


class Resolver(Protocol):
    """The engine's one DNS seam: anything that turns a host name into a ``DnsResult``."""

    async def resolve(self, host: str) -> DnsResult: ...


def parse_nameserver(text: str) -> tuple[str, int]:
    """Parse ``IP``, ``IP:PORT`` or ``[IPv6]:PORT`` into (ip, port)."""
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidURL(f"--resolver wants an IP address (IP[:PORT]), not {text!r}") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidURL(f"--resolver port {port!r} is not a number from 1 to 65535")
    return ip.compressed, int(port)


def _hosts_lookup(host: str, path: Path) -> tuple[DnsRecord, ...]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    found: list[DnsRecord] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2 or host not in (name.lower() for name in fields[1:]):
            continue
        try:
            ip = ipaddress.ip_address(fields[0].split("%", 1)[0])
        except ValueError:
            continue
        record = DnsRecord(ip=ip.compressed, family=ip.version, ttl=None)
        if record not in found:
            found.append(record)
    return tuple(found)


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


class DnsResolver:
    """Resolve A and AAAA with dnspython, through a given server or the system's configuration.

    With no server, ``localhost`` names and ``/etc/hosts`` are honoured first, as the system's
    own resolver would. The dnspython resolver (and ``/etc/resolv.conf``) is set up by the first
    lookup that needs it.
    """

    def __init__(
        self,
        nameserver: str | None = None,
        *,
        timeout: float = 5.0,
        hosts_file: Path | None = HOSTS_FILE,
    ) -> None:
        self._timeout = timeout
        self._hosts_file = hosts_file if nameserver is None else None
        self._server = None if nameserver is None else parse_nameserver(nameserver)
        self._made: dns.asyncresolver.Resolver | None = None
        self._description: str | None = None

    def _dns(self) -> dns.asyncresolver.Resolver:
        """The dnspython resolver, set up on first use."""
        if self._made is not None:
            return self._made
        import dns.asyncresolver  # noqa: PLC0415 - on first use (see the module's top)
        import dns.resolver  # noqa: PLC0415

        made = dns.asyncresolver.Resolver(configure=False)
        if self._server is None:
            try:
                made.read_resolv_conf("/etc/resolv.conf")
            except (OSError, dns.resolver.NoResolverConfiguration):
                made.nameservers = []
            servers = ", ".join(str(s) for s in made.nameservers)
            self._description = f"system ({servers})" if servers else "system"
        else:
            ip, port = self._server
            made.nameservers = [ip]
            made.port = port
            self._description = f"{ip}:{port}" if ":" not in ip else f"[{ip}]:{port}"
        made.lifetime = self._timeout
        made.timeout = min(2.0, self._timeout)
        made.retry_servfail = False
        made.cache = None
        self._made = made
        return made

    @property
    def description(self) -> str:
        """Who answers: ``system (10.0.0.2)`` or ``IP:PORT`` of the given server."""
        if self._description is None:
            self._dns()
        assert self._description is not None
        return self._description

    async def resolve(self, host: str) -> DnsResult:
        start = time.perf_counter()
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            record = DnsRecord(ip=ip.compressed, family=ip.version, ttl=None)
            return DnsResult(host, "literal", (record,), 0.0)
        lowered = host.lower().rstrip(".")
        if self._hosts_file is not None:
            if lowered == "localhost" or lowered.endswith(".localhost"):
                records = (DnsRecord("127.0.0.1", 4, None), DnsRecord("::1", 6, None))
                return DnsResult(host, "localhost (RFC 6761)", records, _elapsed_ms(start))
            from_hosts = _hosts_lookup(lowered, self._hosts_file)
            if from_hosts:
                return DnsResult(host, f"hosts file ({self._hosts_file})", from_hosts, 0.0)
        return await self._query(host, start)

    async def _query(self, host: str, start: float) -> DnsResult:
        import dns.name  # noqa: PLC0415 - on first use (see the module's top)

        resolver = self._dns()
        qname = dns.name.from_text(host)  # absolute: the search list is never applied
        answers = await asyncio.gather(
            resolver.resolve(qname, "A", search=False),
            resolver.resolve(qname, "AAAA", search=False),
            return_exceptions=True,
        )
        duration = _elapsed_ms(start)
        records: list[DnsRecord] = []
        cname: str | None = None
        errors: list[BaseException] = []
        for family, answer in zip((4, 6), answers, strict=True):
            if isinstance(answer, BaseException):
                errors.append(answer)
                continue
            if answer.rrset is None:
                continue
            if answer.canonical_name != qname:
                cname = answer.canonical_name.to_text(omit_final_dot=True)
            for rdata in answer.rrset:
                records.append(DnsRecord(ip=rdata.address, family=family, ttl=answer.rrset.ttl))
        if records:
            return DnsResult(host, self.description, tuple(records), duration, cname=cname)
        return DnsResult(host, self.description, (), duration, error=self._classify(host, errors))

    def _classify(self, host: str, errors: list[BaseException]) -> ProbeError:
        import dns.exception  # noqa: PLC0415 - loaded already by the lookup that failed
        import dns.resolver  # noqa: PLC0415

        server = self.description
        if any(isinstance(e, dns.resolver.NXDOMAIN) for e in errors):
            return ProbeError(
                ErrorKind.DNS_NXDOMAIN, f"{host} does not exist (NXDOMAIN from {server})"
            )
        if any(isinstance(e, dns.resolver.NoNameservers) for e in errors):
            return ProbeError(
                ErrorKind.DNS_SERVFAIL,
                f"{server} failed to answer for {host} (SERVFAIL or REFUSED)",
            )
        if any(isinstance(e, dns.exception.Timeout) for e in errors):
            return ProbeError(
                ErrorKind.DNS_TIMEOUT,
                f"no DNS answer for {host} from {server} in {self._timeout:g} s",
            )
        if all(isinstance(e, dns.resolver.NoAnswer) for e in errors):
            return ProbeError(
                ErrorKind.DNS_NO_RECORDS,
                f"{host} exists but has no A or AAAA records (asked {server})",
            )
        if any(isinstance(e, dns.resolver.NoResolverConfiguration) for e in errors):
            return ProbeError(ErrorKind.DNS_SERVFAIL, "no DNS server is configured on this machine")
        detail = "; ".join(f"{type(e).__name__}: {e}" for e in errors)
        return ProbeError(ErrorKind.DNS_SERVFAIL, f"DNS lookup of {host} failed: {detail}")
