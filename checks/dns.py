"""Name resolution with the detail a 502 diagnosis needs: every record, its TTL, who answered,
and NXDOMAIN, SERVFAIL, timeout and "no records" told apart."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from checks.errors import InvalidURL
from checks.model import DnsRecord, DnsResult, ErrorKind, ProbeError

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
    own resolver would.
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
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        if nameserver is None:
            try:
                self._resolver.read_resolv_conf("/etc/resolv.conf")
            except (OSError, dns.resolver.NoResolverConfiguration):
                self._resolver.nameservers = []
        if nameserver is not None:
            ip, port = parse_nameserver(nameserver)
            self._resolver.nameservers = [ip]
            self._resolver.port = port
            self.description = f"{ip}:{port}" if ":" not in ip else f"[{ip}]:{port}"
        else:
            servers = ", ".join(str(s) for s in self._resolver.nameservers)
            self.description = f"system ({servers})" if servers else "system"
        self._resolver.lifetime = timeout
        self._resolver.timeout = min(2.0, timeout)
        self._resolver.retry_servfail = False
        self._resolver.cache = None

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
        qname = dns.name.from_text(host)  # absolute: the search list is never applied
        answers = await asyncio.gather(
            self._resolver.resolve(qname, "A", search=False),
            self._resolver.resolve(qname, "AAAA", search=False),
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
