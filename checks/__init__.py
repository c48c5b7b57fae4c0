"""check502's diagnosis engine. Knows nothing of chat: takes a URL, returns frozen values.

>>> import asyncio, checks
>>> diagnosis = asyncio.run(checks.diagnose("https://shop.example.com"))  # doctest: +SKIP
>>> diagnosis.verdict.cause  # doctest: +SKIP
<Cause.ORIGIN_DOWN: 'origin_down'>
"""

from checks.dns import DnsResolver, Resolver
from checks.dnscache import CachingResolver
from checks.engine import diagnose
from checks.errors import (
    Check502Error,
    InvalidOrigin,
    InvalidRequest,
    InvalidURL,
    ProbeFailure,
    TargetRefused,
    UsageError,
)
from checks.explain import Explanation, explain
from checks.jsonout import diagnosis_from_dict, diagnosis_to_dict
from checks.model import (
    Cause,
    Diagnosis,
    DnsRecord,
    DnsResult,
    ErrorKind,
    Finding,
    Hop,
    Mismatch,
    OriginProtocols,
    Probe,
    ProbeError,
    Timings,
    TlsInfo,
    Verdict,
)
from checks.policy import AddressPolicy
from checks.probe import Transport
from checks.request import Auth, RequestSpec
from checks.tlssessions import TlsSessions

__all__ = [
    "AddressPolicy",
    "Auth",
    "CachingResolver",
    "Cause",
    "Check502Error",
    "Diagnosis",
    "DnsRecord",
    "DnsResolver",
    "DnsResult",
    "ErrorKind",
    "Explanation",
    "Finding",
    "Hop",
    "InvalidOrigin",
    "InvalidRequest",
    "InvalidURL",
    "Mismatch",
    "OriginProtocols",
    "Probe",
    "ProbeError",
    "ProbeFailure",
    "RequestSpec",
    "Resolver",
    "TargetRefused",
    "Timings",
    "TlsInfo",
    "TlsSessions",
    "Transport",
    "UsageError",
    "Verdict",
    "diagnose",
    "diagnosis_from_dict",
    "diagnosis_to_dict",
    "explain",
]
