"""What a server's certificate says, read even when verification fails."""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from checks.model import TlsInfo

if TYPE_CHECKING:
    from cryptography import x509

# cryptography is imported where a certificate is read, not at import: a plain-HTTP check (the
# check502 command's cold start) never loads it.


def _name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID  # noqa: PLC0415 - on first use (see above)

    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common:
        value = common[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return name.rfc4514_string()


def describe_certificate(
    der: bytes,
    *,
    verified: bool,
    version: str | None = None,
    alpn: str | None = None,
    verify_error: str | None = None,
    now: datetime | None = None,
) -> TlsInfo:
    """Turn a DER certificate into a ``TlsInfo``."""
    from cryptography import x509  # noqa: PLC0415 - on first use (see above)

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = tuple(
            [str(n) for n in san.get_values_for_type(x509.DNSName)]
            + [str(n) for n in san.get_values_for_type(x509.IPAddress)]
        )
    except x509.ExtensionNotFound:
        sans = ()
    not_after = cert.not_valid_after_utc
    days_left = days_until(not_after, now)
    return TlsInfo(
        subject=_name(cert.subject),
        sans=sans,
        issuer=_name(cert.issuer),
        not_after=not_after,
        days_left=days_left,
        verified=verified,
        version=version,
        alpn=alpn,
        verify_error=verify_error,
    )


def days_until(not_after: datetime, now: datetime | None = None) -> int:
    """Whole days from ``now`` to ``not_after``; negative once it has passed."""
    current = now or datetime.now(UTC)
    if not_after >= current:
        return (not_after - current).days
    return -((current - not_after).days + 1)


@functools.lru_cache(maxsize=4096)
def _verified(der: bytes) -> TlsInfo:
    """A verified certificate's facts, parsed once per certificate: a monitor meets the same
    one at every check, and parsing it costs more CPU than the rest of a healthy check."""
    return describe_certificate(der, verified=True)


def from_ssl_object(obj: ssl.SSLObject | ssl.SSLSocket) -> TlsInfo | None:
    """The certificate of a verified, established TLS connection."""
    der = obj.getpeercert(binary_form=True)
    if not der:
        return None
    facts = _verified(der)
    days_left = facts.days_left if facts.not_after is None else days_until(facts.not_after)
    return replace(
        facts, version=obj.version(), alpn=obj.selected_alpn_protocol(), days_left=days_left
    )


async def fetch_unverified(
    ip: str, port: int, server_name: str | None, *, timeout: float, verify_error: str
) -> TlsInfo | None:
    """Connect again without verifying, only to read the certificate and show why it failed.

    Everything, closing included, ends within ``timeout`` seconds (the rest of the probe's own
    deadline); a peer that does not close in time is dropped.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = asyncio.get_running_loop().time() + timeout
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout_at(deadline):
            _, writer = await asyncio.open_connection(
                ip, port, ssl=context, server_hostname=server_name or None
            )
            ssl_object = writer.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
            if not der:
                return None
            return describe_certificate(
                der, verified=False, version=ssl_object.version(), verify_error=verify_error
            )
    except (OSError, TimeoutError, ssl.SSLError, ValueError):
        return None
    finally:
        if writer is not None:
            writer.close()
            try:
                async with asyncio.timeout_at(deadline):
                    await writer.wait_closed()
            except (OSError, TimeoutError, ssl.SSLError):
                writer.transport.abort()
