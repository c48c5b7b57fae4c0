"""The fingerprint table behind :mod:`checks.fingerprints`: who generated a 5xx, as data.

Facts come from ``docs/fingerprints.md`` (the "reference"); section numbers in the
comments below point into it. The table is read top to bottom and the first rule whose conditions
all hold wins, so the order is the policy:

1. headers that only a generator sets (``cf-error-type``, ``x-vercel-error``...);
2. pass-through proofs that must beat a generic body match (Cloudflare's branded page);
3. built-in error pages and bodies, innermost platform first (Render/Heroku before Cloudflare);
4. weaker header-plus-status guesses;
5. pass-through marks (``Via: 1.1 Caddy``, ``x-envoy-upstream-service-time``).

A header that every proxied response carries (``Server``, ``cf-ray``, ``Via``) proves only who
relayed the response; those live in :data:`RELAY_MARKS`, not in the rules.

Body patterns are matched against the body with HTML entities decoded, so Akamai's
``Reference&#32;&#35;18`` and ``Reference #18`` read the same.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from checks._lazyre import LazyPattern
from checks.gateways import ORIGIN, Generator
from checks.gateways import GatewayId as G
from checks.model import Cause

_ORIGIN_DOWN = Cause.ORIGIN_DOWN
_POOL = Cause.WORKERS_EXHAUSTED
_FIREWALL = Cause.FIREWALL
_DNS = Cause.DNS
_TIMEOUT = Cause.TIMEOUT
_TLS = Cause.TLS
_PROTOCOL = Cause.PROTOCOL

SERVER_ERRORS = frozenset(range(500, 600))


# --- What the conditions look at -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """The parts of a response the rules read: lower-cased header names, entity-decoded body."""

    status: int
    headers: Mapping[str, tuple[str, ...]]
    body: str
    reason: str = ""
    """The status line's reason phrase ("Backend fetch failed"); empty when unknown or HTTP/2."""

    @classmethod
    def build(
        cls, status: int, headers: Sequence[tuple[str, str]], body: str, reason: str | None = None
    ) -> Response:
        """Index ``headers`` by lower-cased name and decode HTML entities in ``body``."""
        index: dict[str, list[str]] = {}
        for name, value in headers:
            index.setdefault(name.lower(), []).append(value)
        frozen = {name: tuple(values) for name, values in index.items()}
        return cls(status, MappingProxyType(frozen), html.unescape(body), (reason or "").strip())


Facts = dict[str, str]
"""Named groups captured by a matching condition (``footer``, ``code``...)."""


def _groups(match: re.Match[str]) -> Facts:
    return {k: v for k, v in match.groupdict().items() if v is not None}


@dataclass(frozen=True, slots=True)
class Header:
    """Header ``name`` is present; with ``pattern``, one of its values matches (search)."""

    name: str
    pattern: LazyPattern | None = None

    def match(self, r: Response) -> Facts | None:
        values = r.headers.get(self.name, ())
        if not values:
            return None
        if self.pattern is None:
            return {}
        for value in values:
            if m := self.pattern.search(value):
                return _groups(m)
        return None


@dataclass(frozen=True, slots=True)
class NoHeader:
    """Header ``name`` is absent."""

    name: str

    def match(self, r: Response) -> Facts | None:
        return None if self.name in r.headers else {}


@dataclass(frozen=True, slots=True)
class Body:
    """The (entity-decoded) body matches ``pattern`` (search)."""

    pattern: LazyPattern

    def match(self, r: Response) -> Facts | None:
        m = self.pattern.search(r.body)
        return None if m is None else _groups(m)


@dataclass(frozen=True, slots=True)
class EmptyBody:
    """The body is empty or whitespace."""

    def match(self, r: Response) -> Facts | None:
        return None if r.body.strip() else {}


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of ``conditions`` holds; the first that does supplies the facts."""

    conditions: tuple[Condition, ...]

    def match(self, r: Response) -> Facts | None:
        for condition in self.conditions:
            facts = condition.match(r)
            if facts is not None:
                return facts
        return None


@dataclass(frozen=True, slots=True)
class Reason:
    """The status line's reason phrase matches ``pattern`` (search)."""

    pattern: LazyPattern

    def match(self, r: Response) -> Facts | None:
        m = self.pattern.search(r.reason)
        return None if m is None else _groups(m)


@dataclass(frozen=True, slots=True)
class Echo:
    """The body repeats the request id the platform sent in header ``name``.

    ``pattern``, when given, picks the id out of the header value (its first group); ids shorter
    than :data:`_MIN_ECHO` characters are ignored, so a short value cannot match by chance.
    """

    name: str
    pattern: LazyPattern | None = None

    def match(self, r: Response) -> Facts | None:
        for value in r.headers.get(self.name, ()):
            ident = value
            if self.pattern is not None:
                found = self.pattern.search(value)
                ident = found.group(1) if found else ""
            ident = ident.strip()
            if len(ident) >= _MIN_ECHO and ident in r.body:
                return {}
        return None


_MIN_ECHO = 8


@dataclass(frozen=True, slots=True)
class Status:
    """The status is one of ``statuses`` (a platform-only code, like Cloudflare's 52x)."""

    statuses: frozenset[int]

    def match(self, r: Response) -> Facts | None:
        return {} if r.status in self.statuses else None


Condition = Header | NoHeader | Body | EmptyBody | AnyOf | Reason | Echo | Status


def header(name: str, pattern: str | None = None) -> Header:
    """Header ``name`` present (and, with ``pattern``, a value matching it case-insensitively)."""
    return Header(name.lower(), None if pattern is None else LazyPattern(pattern, re.IGNORECASE))


def body(pattern: str, flags: int = 0) -> Body:
    """Body matching ``pattern``."""
    return Body(LazyPattern(pattern, flags))


# --- What a match implies --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Implied:
    """The cause a generator's status, code or body points to, and the other plausible ones."""

    cause: Cause | None
    alternatives: tuple[Cause, ...] = ()


def imp(cause: Cause | None, *alternatives: Cause) -> Implied:
    """Shorthand for :class:`Implied`."""
    return Implied(cause, alternatives)


UNSAID = Implied(None)
"""The status alone does not say which cause."""


@dataclass(frozen=True, slots=True)
class Detail:
    """A finer reading of a matched response: ``implied`` holds where ``pattern`` is in the body."""

    pattern: LazyPattern
    implied: Implied
    evidence: str
    code: str | None = None
    """A code to report when the body names none itself (Envoy's flag for a reset reason)."""
    statuses: frozenset[int] | None = None


def detail(
    pattern: str,
    implied: Implied,
    evidence: str,
    code: str | None = None,
    statuses: Sequence[int] | None = None,
) -> Detail:
    """Shorthand for :class:`Detail`."""
    return Detail(
        LazyPattern(pattern),
        implied,
        evidence,
        code,
        None if statuses is None else frozenset(statuses),
    )


@dataclass(frozen=True, slots=True)
class Rule:
    """One fingerprint: when every condition holds on a status in ``statuses``, ``gateway`` made it.

    The cause is read, first hit wins, from ``details`` (body phrases), ``by_code`` (the code
    taken by ``code_from``, or the status when it is in ``status_codes``), ``by_status``, then
    ``default``.
    ``evidence`` is a template over the status, the code and the named groups the conditions
    captured. ``gateway == ORIGIN`` marks a pass-through proof; ``relays`` names who relayed.
    """

    id: str
    gateway: Generator
    when: tuple[Condition, ...]
    evidence: str
    confidence: float
    statuses: frozenset[int] = SERVER_ERRORS
    code_from: tuple[Condition, ...] = ()
    status_codes: frozenset[int] = frozenset()
    """Statuses that are platform codes in themselves (Cloudflare's 52x)."""
    details: tuple[Detail, ...] = ()
    by_code: Mapping[str, Implied] = field(default_factory=dict)
    by_status: Mapping[int, Implied] = field(default_factory=dict)
    default: Implied = UNSAID
    relays: tuple[G, ...] = ()

    def match(self, r: Response) -> Facts | None:
        """The facts captured when this rule applies to ``r``, else None."""
        if r.status not in self.statuses:
            return None
        facts: Facts = {}
        for condition in self.when:
            found = condition.match(r)
            if found is None:
                return None
            facts.update(found)
        return facts


@dataclass(frozen=True, slots=True)
class RelayMark:
    """Headers every response through ``gateway`` carries: they prove only that it relayed."""

    gateway: G
    label: str
    when: tuple[Condition, ...]

    def match(self, r: Response) -> bool:
        """Whether every condition holds on ``r``."""
        return all(condition.match(r) is not None for condition in self.when)


def mark(gateway: G, label: str, *when: Condition) -> RelayMark:
    """Shorthand for :class:`RelayMark`."""
    return RelayMark(gateway, label, when)


@dataclass(frozen=True, slots=True)
class ErrorMark:
    """A mark ``gateway`` puts only on errors it generates itself, never on a relayed response.

    Its page's title, wording or footer, a header set only on its own errors, its request id
    repeated in the page, its status line's reason phrase, a status only it uses. ``place`` says
    where the mark is read (``"body"``, ``"reason"``, ``"status"`` or a header name): marks read
    in different places are independent, so a page that lost its footer still has the others.
    """

    gateway: G
    label: str
    place: str
    when: tuple[Condition, ...]

    def match(self, r: Response) -> bool:
        """Whether every condition holds on ``r``."""
        return all(condition.match(r) is not None for condition in self.when)


def error_mark(gateway: G, label: str, place: str, *when: Condition) -> ErrorMark:
    """Shorthand for :class:`ErrorMark`."""
    return ErrorMark(gateway, label, place, when)


def reason(pattern: str) -> Reason:
    """Reason phrase matching ``pattern``, case-insensitively."""
    return Reason(LazyPattern(pattern, re.IGNORECASE))


def echo(name: str, pattern: str | None = None) -> Echo:
    """The body repeats header ``name``'s value (or ``pattern``'s first group of it)."""
    return Echo(name.lower(), None if pattern is None else LazyPattern(pattern))


# --- Shared patterns -------------------------------------------------------------------------

# nginx's built-in page head (2.16); ALB, Azure App Gateway, ingress-nginx and Cloudflare reuse it.
_NGINX_HEAD = (
    r"\A<html>\r?\n<head><title>(?P<page_status>\d{3}) [^<]*</title></head>\r?\n"
    r"<body(?: bgcolor=\"white\")?>\r?\n<center><h1>(?P=page_status) [^<]*</h1></center>\r?\n"
)
_NGINX_TAIL = r"</body>\r?\n</html>"


def _nginx_page(footer: str | None) -> Body:
    """nginx's page with ``<hr><center>{footer}</center>``, or with no footer when None."""
    if footer is None:
        return body(_NGINX_HEAD + _NGINX_TAIL)
    return body(_NGINX_HEAD + rf"<hr><center>(?P<footer>{footer})</center>\r?\n" + _NGINX_TAIL)


# Causes of a proxy's generic 502 page, which is the same for every failure (nginx 2.16, 3.1).
_ANY_502 = imp(None, _ORIGIN_DOWN, _PROTOCOL, _TLS, _DNS, _FIREWALL)

_CF_STATUS_CODES = frozenset(range(520, 531))
_CF_MARK = AnyOf((header("server", r"^cloudflare"), header("cf-ray")))
_CF_CODES = (
    body(r"\bError (?P<code>1\d{3})\b"),
    body(r"Error code (?P<code>5\d\d)\b"),
    body(r"cf-error-code\">(?P<code>\d{3,4})<"),
    body(r"<title>[^<|]*\| (?P<code>5\d\d): "),
    header("cf-error-type", r"^(?P<code>\d{3,4})$"),
)
_CF_BY_CODE: Mapping[str, Implied] = {
    "520": imp(_PROTOCOL, _ORIGIN_DOWN),
    "521": imp(_ORIGIN_DOWN, _FIREWALL),
    "522": imp(_FIREWALL, _POOL),
    "523": imp(_FIREWALL),
    "524": imp(_TIMEOUT),
    "525": imp(_TLS),
    "526": imp(_TLS),
    "1016": imp(_DNS),
    "1033": imp(_ORIGIN_DOWN),
}
_CF_OWN_5XX = {502: imp(None, _PROTOCOL), 504: imp(None, _PROTOCOL)}

_VERCEL_CODES: Mapping[str, Implied] = {  # 2.6
    "FUNCTION_INVOCATION_FAILED": imp(_ORIGIN_DOWN),
    "FUNCTION_INVOCATION_TIMEOUT": imp(_TIMEOUT),
    "EDGE_FUNCTION_INVOCATION_FAILED": imp(_ORIGIN_DOWN),
    "EDGE_FUNCTION_INVOCATION_TIMEOUT": imp(_TIMEOUT),
    "MIDDLEWARE_INVOCATION_FAILED": imp(_ORIGIN_DOWN),
    "MIDDLEWARE_INVOCATION_TIMEOUT": imp(_TIMEOUT),
    "NO_RESPONSE_FROM_FUNCTION": imp(_ORIGIN_DOWN, _PROTOCOL),
    "BODY_NOT_A_STRING_FROM_FUNCTION": imp(_PROTOCOL),
    "FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE": imp(_PROTOCOL),
    "FUNCTION_THROTTLED": imp(_POOL),
    "DNS_HOSTNAME_NOT_FOUND": imp(_DNS),
    "DNS_HOSTNAME_RESOLVE_FAILED": imp(_DNS),
    "DNS_HOSTNAME_SERVER_ERROR": imp(_DNS),
    "DNS_HOSTNAME_EMPTY": imp(_DNS),
    "DNS_HOSTNAME_RESOLVED_PRIVATE": imp(_DNS),
    "ROUTER_EXTERNAL_TARGET_CONNECTION_ERROR": imp(_ORIGIN_DOWN, _FIREWALL),
    "ROUTER_EXTERNAL_TARGET_HANDSHAKE_ERROR": imp(_TLS),
    "ROUTER_EXTERNAL_TARGET_ERROR": imp(_PROTOCOL),
}

_FASTLY_RESPONSES: Mapping[str, Implied] = {  # 2.8, obj.response is case sensitive
    "All backends failed or unhealthy": imp(_ORIGIN_DOWN),
    "first byte timeout": imp(_TIMEOUT),
    "backend read error": imp(_TIMEOUT, _PROTOCOL),
    "Backend is unhealthy": imp(_ORIGIN_DOWN),
    "No healthy backends": imp(_ORIGIN_DOWN),
    "Connection refused": imp(_ORIGIN_DOWN),
    "Network Unreachable": imp(_FIREWALL),
    "Backend.max_conn reached": imp(_POOL),
    "backend write error": imp(_PROTOCOL, _ORIGIN_DOWN),
    "Operation now in progress": imp(_FIREWALL),
}

_HEROKU_CODES: Mapping[str, Implied] = {  # 2.13
    "H10": imp(_ORIGIN_DOWN),
    "H11": imp(_POOL),
    "H12": imp(_TIMEOUT),
    "H13": imp(_ORIGIN_DOWN, _PROTOCOL),
    "H14": imp(_ORIGIN_DOWN),
    "H15": imp(_TIMEOUT),
    "H17": imp(_PROTOCOL),
    "H18": imp(_PROTOCOL),
    "H19": imp(_FIREWALL, _POOL),
    "H20": imp(_ORIGIN_DOWN),
    "H21": imp(_ORIGIN_DOWN),
    "H22": imp(_POOL),
}

_FLY_CODES: Mapping[str, Implied] = {  # 2.14
    "PU01": imp(_PROTOCOL),
    "PU02": imp(_PROTOCOL, _ORIGIN_DOWN),
    "PC01": imp(_ORIGIN_DOWN),
    "PC02": imp(_ORIGIN_DOWN),
    "PC03": imp(_ORIGIN_DOWN, _PROTOCOL),
    "PC04": imp(_ORIGIN_DOWN),
    "PC05": imp(_POOL, _TIMEOUT, _FIREWALL),
    "PC07": imp(_ORIGIN_DOWN),
    **{f"PT0{n}": imp(_TLS) for n in range(3, 9)},
    "PM05": imp(_ORIGIN_DOWN),
    "PM06": imp(_ORIGIN_DOWN),
    "PM09": imp(_ORIGIN_DOWN),
    "PM13": imp(_ORIGIN_DOWN),
    "PR01": imp(_ORIGIN_DOWN),
    "PR03": imp(_POOL, _ORIGIN_DOWN),
    "PR04": imp(_POOL, _ORIGIN_DOWN),
}

# obj.response is also the reason phrase on HTTP/1.1 (HTTP/2 sends none): 2.8.
_FASTLY_REASON = Reason(
    LazyPattern(r"^(?P<code>" + "|".join(map(re.escape, _FASTLY_RESPONSES)) + ")$")
)

# Envoy local replies (2.18, 3.2): the reset reason gives the flag and the cause. Order matters:
# the transport failure reason, when present, is more precise than the reset reason.
_ENVOY_RESET = r"reset reason: "
_ENVOY_TRANSPORT = r"transport failure reason: [^\n]*"
_ENVOY_DETAILS = (
    detail(r"\Ano healthy upstream", imp(_ORIGIN_DOWN), "no healthy endpoint in the cluster", "UH"),
    detail(r"\Aupstream request timeout", imp(_TIMEOUT), "route timeout while waiting", "UT"),
    detail(
        _ENVOY_TRANSPORT + "WRONG_VERSION_NUMBER",
        imp(_TLS, _PROTOCOL),
        "TLS spoken to a plaintext port (WRONG_VERSION_NUMBER)",
        "UF",
    ),
    detail(
        _ENVOY_TRANSPORT + r"(?:CERTIFICATE_VERIFY_FAILED|TLS[_ ]error)",
        imp(_TLS),
        "the upstream TLS handshake failed",
        "UF",
    ),
    detail(
        _ENVOY_TRANSPORT + r"delayed connect error: (?:111|Connection refused)",
        imp(_ORIGIN_DOWN),
        "the upstream refused the connection",
        "UF",
    ),
    detail(
        _ENVOY_TRANSPORT
        + r"delayed connect error: (?:110|113|No route to host|Connection timed out)",
        imp(_FIREWALL),
        "the connection to the upstream timed out or had no route",
        "UF",
    ),
    detail(_ENVOY_RESET + "connection timeout", imp(_FIREWALL), "connect timeout", "UF"),
    detail(_ENVOY_RESET + "local connection failure", UNSAID, "proxy-side socket error", "UF"),
    detail(
        _ENVOY_RESET + r"(?:remote )?connection failure",
        imp(None, _ORIGIN_DOWN, _FIREWALL, _TLS),
        "connection failure without a transport reason",
        "UF",
    ),
    detail(
        _ENVOY_RESET + "connection termination",
        imp(_PROTOCOL, _ORIGIN_DOWN),
        "the upstream closed the connection (keep-alive race or crash)",
        "UC",
    ),
    detail(_ENVOY_RESET + "remote error with CONNECT request", UNSAID, "tunnel setup failed", "UR"),
    detail(
        _ENVOY_RESET + r"remote (?:refused stream )?reset",
        imp(_ORIGIN_DOWN, _PROTOCOL),
        "the upstream reset the stream",
        "UR",
    ),
    detail(_ENVOY_RESET + r"local (?:refused stream )?reset", UNSAID, "proxy-side reset", "LR"),
    detail(_ENVOY_RESET + "overflow", imp(_POOL), "circuit breaker overflow", "UO"),
    detail(_ENVOY_RESET + "protocol error", imp(_PROTOCOL), "upstream protocol error", "UPE"),
    detail(_ENVOY_RESET + "overload manager reset", UNSAID, "the proxy itself is overloaded", "OM"),
)


# --- The rules -------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    # 1. Headers set only on errors the platform generated itself.
    Rule(
        id="cloudflare_error_header",
        gateway=G.CLOUDFLARE,
        when=(header("cf-error-type"),),
        evidence="cf-error-type header: set only on error pages Cloudflare generates itself",
        confidence=0.97,
        code_from=_CF_CODES,
        status_codes=_CF_STATUS_CODES,
        by_code=_CF_BY_CODE,
        by_status=_CF_OWN_5XX,
    ),
    Rule(
        id="vercel_error_header",
        gateway=G.VERCEL,
        when=(header("x-vercel-error"),),
        evidence="x-vercel-error header: the Vercel platform generated this error",
        confidence=0.97,
        code_from=(header("x-vercel-error", r"^(?P<code>[A-Z0-9_]+)$"),),
        by_code=_VERCEL_CODES,
    ),
    Rule(
        id="render_routing",
        gateway=G.RENDER,
        when=(header("x-render-routing"),),
        evidence="x-render-routing header: Render's router answered, no instance served it",
        confidence=0.9,
        statuses=SERVER_ERRORS | {404},
        code_from=(header("x-render-routing", r"^(?P<code>[a-z-]+)$"),),
        by_code={"no-server": imp(_ORIGIN_DOWN), "hibernate-wake-error": imp(_ORIGIN_DOWN)},
    ),
    # 2. Cloudflare's branded page wraps an error the origin returned (2.1).
    Rule(
        id="cloudflare_branded_origin_error",
        gateway=ORIGIN,
        when=(
            body(
                r"The web server reported a (?:bad gateway|gateway time-?out) error"
                r"|<title>[^<|]*\| 50[24]: (?:Bad gateway|Gateway time-out)</title>"
            ),
        ),
        evidence="Cloudflare's branded {status} page: the origin returned the {status}",
        confidence=0.9,
        statuses=frozenset({502, 504}),
        relays=(G.CLOUDFLARE,),
    ),
    # 3. Built-in pages and bodies, innermost platforms first.
    Rule(
        id="cloudflare_error_page",
        gateway=G.CLOUDFLARE,
        when=(
            body(r"cf-error-details|cf-wrapper|cf-error-code|/cdn-cgi/styles/(?:main|cf\.errors)"),
        ),
        evidence="body is Cloudflare's {status} error page",
        confidence=0.95,
        statuses=_CF_STATUS_CODES,
        code_from=_CF_CODES,
        status_codes=_CF_STATUS_CODES,
        by_code=_CF_BY_CODE,
    ),
    Rule(
        id="cloudfront_error_page",
        gateway=G.CLOUDFRONT,
        when=(body(r"Generated by cloudfront \(CloudFront\)"),),
        evidence='body is CloudFront\'s error page ("Generated by cloudfront (CloudFront)")',
        confidence=0.95,
        details=(
            detail(
                r"CloudFront wasn['’]t able to resolve the origin domain name",
                imp(_DNS),
                "CloudFront could not resolve the origin's name",
            ),
            detail(
                r"The Lambda function associated with the CloudFront distribution is invalid",
                UNSAID,
                "a Lambda@Edge function is invalid or lacks permissions",
            ),
        ),
        by_status={
            502: imp(None, _ORIGIN_DOWN, _TLS, _FIREWALL, _DNS),
            503: imp(_POOL),
            504: imp(_TIMEOUT, _FIREWALL),
        },
    ),
    Rule(
        id="fastly_guru_mediation",
        gateway=G.FASTLY,
        when=(body(r"Guru Mediation:"),),
        evidence='body is Fastly\'s synthetic error ("Guru Mediation")',
        confidence=0.95,
        code_from=(body(r"<title>\d{3} (?P<code>[^<]+)</title>"), _FASTLY_REASON),
        by_code=_FASTLY_RESPONSES,
    ),
    Rule(
        id="varnish_guru_meditation",
        gateway=G.VARNISH,
        when=(body(r"Guru Meditation:|<title>503 Backend fetch failed</title>"),),
        evidence='body is Varnish\'s synthetic error ("Guru Meditation")',
        confidence=0.9,
        code_from=(body(r"<title>\d{3} (?P<code>[^<]+)</title>"),),
        # A failed fetch also covers a backend that reset, sent garbage or overflowed
        # http_resp_hdr_len (FetchError "HTC eof", "http format error"): protocol too.
        by_code={
            "Backend fetch failed": imp(None, _ORIGIN_DOWN, _TIMEOUT, _FIREWALL, _POOL, _PROTOCOL)
        },
    ),
    Rule(
        id="akamai_reference",
        gateway=G.AKAMAI,
        when=(body(r"Reference #(?P<ref>\d+\.[0-9a-f]+(?:\.[0-9a-f]+)*)"),),
        evidence='body carries an Akamai error reference ("Reference #{ref}")',
        confidence=0.9,
        code_from=(body(r"Reference #(?P<code>\d+\.[0-9a-f]+(?:\.[0-9a-f]+)*)"),),
        details=(  # reference prefix -> error (low confidence in the reference)
            detail(r"Reference #1\.", imp(_TIMEOUT), "prefix 1 = ERR_READ_TIMEOUT"),
            detail(r"Reference #3\.", imp(_PROTOCOL, _ORIGIN_DOWN), "prefix 3 = ERR_READ_ERROR"),
            detail(r"Reference #4\.", imp(_PROTOCOL, _ORIGIN_DOWN), "prefix 4 = ERR_WRITE_ERROR"),
            detail(r"Reference #6\.", imp(_ORIGIN_DOWN, _FIREWALL), "prefix 6 = ERR_CONNECT_FAIL"),
        ),
    ),
    Rule(
        id="google_error_page",
        gateway=G.GOOGLE,
        when=(body(r"<title>Error \d{3} \(Server Error\)!!1</title>"),),
        evidence='body is the Google Front End error page ("Error {status} (Server Error)!!1")',
        confidence=0.95,
        by_status={
            502: imp(None, _ORIGIN_DOWN, _TIMEOUT, _PROTOCOL, _TLS, _FIREWALL),
            503: imp(None, _ORIGIN_DOWN, _POOL),
            504: imp(_TIMEOUT),
        },
    ),
    Rule(
        id="google_cloud_run_timeout",
        gateway=G.GOOGLE,
        when=(header("server", r"^Google Frontend$"), body(r"\Aupstream request timeout\s*\Z")),
        evidence='"upstream request timeout" from Server: Google Frontend: Cloud Run\'s timeout',
        confidence=0.8,
        statuses=frozenset({504}),
        default=imp(_TIMEOUT),
    ),
    Rule(
        id="azure_front_door_page",
        gateway=G.AZURE_FRONT_DOOR,
        when=(body(r"Our services aren['’]t available right now"),),
        evidence="body is Azure Front Door's page (\"Our services aren't available right now\")",
        confidence=0.85,
        by_status={503: imp(None, _PROTOCOL, _ORIGIN_DOWN), 504: imp(_TIMEOUT, _FIREWALL)},
    ),
    Rule(
        id="heroku_application_error",
        gateway=G.HEROKU,
        when=(
            body(r"An error occurred in the application and your page could not be served"),
            AnyOf((header("via", r"heroku-router|\bvegur\b"), header("server", r"^Heroku$"))),
        ),
        evidence='body is Heroku\'s "Application Error" page and Heroku router headers are set',
        confidence=0.9,
        code_from=(body(r"(?:code=|Error )(?P<code>H\d\d)\b"),),
        by_code=_HEROKU_CODES,
        by_status={503: imp(None, _ORIGIN_DOWN, _TIMEOUT, _POOL, _PROTOCOL)},
    ),
    Rule(
        id="vercel_error_page",
        gateway=G.VERCEL,
        when=(
            AnyOf((header("x-vercel-id"), header("server", r"^Vercel$"))),
            body(r"Code: [A-Z_]+|\AA server error has occurred"),
        ),
        evidence="body is Vercel's error text and Vercel's headers are set",
        confidence=0.85,
        code_from=(body(r"Code: (?P<code>[A-Z_]+)"),),
        details=(
            detail(r"\AA server error has occurred", imp(_ORIGIN_DOWN), "the function crashed"),
        ),
        by_code=_VERCEL_CODES,
    ),
    Rule(
        id="netlify_function_error",
        gateway=G.NETLIFY,
        when=(
            AnyOf((header("server", r"^Netlify$"), header("x-nf-request-id"))),
            body(r"\"errorType\"\s*:"),
        ),
        evidence="Netlify function error payload (errorType) from Netlify",
        confidence=0.85,
        code_from=(body(r"\"errorType\"\s*:\s*\"(?P<code>[^\"]+)\""),),
        by_code={"Sandbox.Timedout": imp(_TIMEOUT)},
    ),
    Rule(
        id="fly_error_code",
        gateway=G.FLY,
        when=(
            AnyOf(
                (header("fly-request-id"), header("server", r"^Fly/"), header("via", r"fly\.io"))
            ),
            body(r"\bP[UCTMRAE]\d\d\b"),
        ),
        evidence="Fly.io proxy error code in the body from Fly's proxy",
        confidence=0.85,
        code_from=(body(r"\b(?P<code>P[UCTMRAE]\d\d)\b"),),
        by_code=_FLY_CODES,
    ),
    Rule(
        id="aws_api_gateway_message",
        gateway=G.AWS_API_GATEWAY,
        when=(
            AnyOf(
                (header("x-amz-apigw-id"), header("x-amzn-errortype"), header("x-amzn-requestid"))
            ),
            body(
                r"\A\s*\{\s*\"message\"\s*:\s*\"(?P<message>Endpoint request timed out"
                r"|Internal server error|Internal Server Error)\"\s*\}\s*\Z"
            ),
        ),
        evidence='API Gateway\'s own JSON error ("{message}") with API Gateway headers',
        confidence=0.9,
        code_from=(header("x-amzn-errortype", r"^(?P<code>[A-Za-z]+)"),),
        details=(
            detail(r"Endpoint request timed out", imp(_TIMEOUT), "the integration timed out"),
        ),
        by_status={
            500: imp(None, _ORIGIN_DOWN, _PROTOCOL),
            502: imp(_PROTOCOL, _ORIGIN_DOWN),
            504: imp(_TIMEOUT, _ORIGIN_DOWN),
        },
    ),
    Rule(
        id="kong_error_message",
        gateway=G.KONG,
        when=(
            body(
                r"An invalid response was received from the upstream server"
                r"|The upstream server is currently unavailable|The upstream server is timing out"
                r"|failure to get a peer from the (?:ring-balancer|retry handler)"
                r"|\bname resolution failed\b"
            ),
        ),
        evidence="body is Kong's error message",
        confidence=0.85,
        details=(
            detail(
                r"failure to get a peer from the ring-balancer",
                imp(_ORIGIN_DOWN),
                "every target is unhealthy",
            ),
            detail(
                r"failure to get a peer from retry handler",
                imp(None, _ORIGIN_DOWN, _FIREWALL),
                "retries exhausted",
            ),
            detail(r"name resolution failed", imp(_DNS), "upstream name did not resolve"),
            detail(
                r"The upstream server is timing out", imp(_TIMEOUT, _FIREWALL), "upstream timeout"
            ),
            detail(
                # Kong (OpenResty) shows this for every 502: refused, reset, TLS, bad header.
                r"An invalid response was received from the upstream server",
                imp(None, _ORIGIN_DOWN, _PROTOCOL, _TLS),
                "generic upstream failure",
            ),
            detail(
                r"The upstream server is currently unavailable",
                imp(None, _ORIGIN_DOWN),
                "upstream unavailable",
            ),
        ),
    ),
    Rule(
        id="apache_error_page",
        gateway=G.APACHE,
        when=(
            body(
                r"<h1>Proxy Error</h1>"
                r"|The proxy server received an invalid\s+response from an upstream server"
                r"|The server is temporarily unable to service your\s+request due to maintenance"
                r"|The gateway did not receive a timely response\s+from the upstream server"
            ),
        ),
        evidence="body is Apache httpd's {status} error page",
        confidence=0.9,
        details=(
            detail(
                r"Error reading from remote server",
                imp(_TIMEOUT, _ORIGIN_DOWN, _PROTOCOL),
                'reason "Error reading from remote server" (mod_proxy_http got no status line:'
                " a read timeout, or a backend that reset, closed or sent garbage)",
                statuses=(502,),
            ),
            detail(r"DNS lookup failure for:", imp(_DNS), 'reason "DNS lookup failure"'),
            detail(
                r"Error during SSL Handshake with remote server",
                imp(_TLS),
                'reason "Error during SSL Handshake with remote server"',
            ),
            detail(
                r"Corrupt status line returned by remote server|Malformed connection header"
                r"|Unexpected Upgrade:|interim responses from origin server",
                imp(_PROTOCOL),
                "the upstream's response was malformed",
            ),
            detail(r"Timeout on 100-Continue", imp(_TIMEOUT), 'reason "Timeout on 100-Continue"'),
            # Seen from Debian's Apache 2.4: a refused or timed-out connect is a 503, a failed
            # read is "502 Proxy Error" with a reason; a bare "502 Bad Gateway" page is
            # mod_proxy_http rejecting the backend's response head.
            detail(
                r"<title>502 Bad Gateway</title>",
                imp(_PROTOCOL, _ORIGIN_DOWN),
                '"502 Bad Gateway" with no reason: Apache rejected the backend\'s response head'
                " (AH01106 bad header, AH10124 a line over ResponseFieldSize, AH10404 reset)",
                statuses=(502,),
            ),
        ),
        by_status={
            502: imp(None, _TIMEOUT, _ORIGIN_DOWN, _PROTOCOL),
            503: imp(_ORIGIN_DOWN, _FIREWALL, _POOL),
            504: imp(_TIMEOUT),
        },
    ),
    Rule(
        id="haproxy_error_page",
        gateway=G.HAPROXY,
        when=(
            body(
                r"\A<html><body><h1>50[234] [^<]+</h1>\n(?:"
                r"The server returned an invalid or incomplete response\."
                r"|No server is available to handle this request\."
                r"|The server didn't respond in time\.)\n</body></html>\n?\Z"
            ),
        ),
        evidence="body is HAProxy's built-in {status} message",
        confidence=0.95,
        by_status={
            502: imp(_PROTOCOL, _ORIGIN_DOWN),
            503: imp(_ORIGIN_DOWN, _POOL, _FIREWALL),
            504: imp(_TIMEOUT, _FIREWALL),
        },
    ),
    Rule(
        id="envoy_local_reply",
        gateway=G.ENVOY,
        when=(
            body(
                r"\A(?:no healthy upstream|upstream request timeout"
                r"|upstream connect error or disconnect/reset before headers\.)"
            ),
            NoHeader("x-envoy-upstream-service-time"),
        ),
        evidence="body is an Envoy local reply and x-envoy-upstream-service-time is absent",
        confidence=0.9,
        details=_ENVOY_DETAILS,
    ),
    Rule(
        id="traefik_no_available_server",
        gateway=G.TRAEFIK,
        when=(body(r"\Ano available server\n?\Z"),),
        evidence='body is Traefik\'s "no available server": no healthy server in the service',
        confidence=0.9,
        statuses=frozenset({503}),
        default=imp(_ORIGIN_DOWN),
    ),
    Rule(
        id="traefik_status_text",
        gateway=G.TRAEFIK,
        when=(body(r"\A(?:Bad Gateway|Gateway Timeout)\n?\Z"),),
        evidence="body is only the status text, as Traefik's proxy error handler writes it",
        confidence=0.7,
        statuses=frozenset({502, 504}),
        by_status={502: imp(None, _ORIGIN_DOWN, _DNS, _PROTOCOL), 504: imp(_TIMEOUT, _FIREWALL)},
    ),
    Rule(
        id="traefik_tls_500",
        gateway=G.TRAEFIK,
        when=(body(r"\AInternal Server Error\n?\Z"), NoHeader("server")),
        evidence='bare "Internal Server Error" with no Server header: Traefik\'s answer to an '
        "upstream TLS error",
        confidence=0.45,
        statuses=frozenset({500}),
        default=imp(_TLS, _PROTOCOL),
    ),
    Rule(
        id="ingress_nginx_page",
        gateway=G.INGRESS_NGINX,
        when=(_nginx_page("nginx"), NoHeader("server")),
        evidence='body is nginx\'s built-in {page_status} page (footer "nginx") with no Server '
        "header, as ingress-nginx sends it",
        confidence=0.85,
        by_status={503: imp(_ORIGIN_DOWN), 504: imp(_TIMEOUT, _FIREWALL)},
        default=_ANY_502,
    ),
    Rule(
        id="nginx_page",
        gateway=G.NGINX,
        when=(_nginx_page(r"(?:nginx|openresty)(?:/[^<]*)?"),),
        evidence='body is nginx\'s built-in {page_status} page (footer "{footer}")',
        confidence=0.95,
        by_status={502: _ANY_502, 504: imp(_TIMEOUT, _FIREWALL)},
    ),
    Rule(
        id="azure_app_gateway_page",
        gateway=G.AZURE_APP_GATEWAY,
        when=(_nginx_page(r"Microsoft-Azure-Application-Gateway/v\d+"),),
        evidence='body is Azure Application Gateway\'s {page_status} page (footer "{footer}")',
        confidence=0.95,
        by_status={502: _ANY_502, 504: imp(_TIMEOUT, _FIREWALL)},
    ),
    Rule(
        id="cloudflare_nginx_page",
        gateway=G.CLOUDFLARE,
        when=(_nginx_page(r"cloudflare(?:-nginx)?"),),
        evidence='body is Cloudflare\'s own unbranded {page_status} page (footer "{footer}")',
        confidence=0.9,
        by_status=_CF_OWN_5XX,
    ),
    Rule(
        id="aws_alb_page_legacy",
        gateway=G.AWS_ALB,
        when=(_nginx_page(r"awselb/2\.0"),),
        evidence='body is an older ALB {page_status} page (footer "{footer}")',
        confidence=0.9,
        by_status={
            502: imp(None, _ORIGIN_DOWN, _PROTOCOL, _TLS, _FIREWALL),
            503: imp(_ORIGIN_DOWN),
            504: imp(_TIMEOUT, _FIREWALL, _PROTOCOL),
        },
    ),
    Rule(
        id="aws_alb_page",
        gateway=G.AWS_ALB,
        when=(_nginx_page(None), header("server", r"^awselb/")),
        evidence="body is the ALB's {page_status} page (nginx skeleton without footer) "
        "and Server: awselb/2.0",
        confidence=0.95,
        by_status={
            502: imp(None, _ORIGIN_DOWN, _PROTOCOL, _TLS, _FIREWALL),
            503: imp(_ORIGIN_DOWN),
            504: imp(_TIMEOUT, _FIREWALL, _PROTOCOL),
        },
    ),
    Rule(
        id="aws_alb_page_unbranded",
        gateway=G.AWS_ALB,
        when=(_nginx_page(None),),
        evidence="body is an nginx-style {page_status} page without footer, as an ALB sends it "
        "(no Server: awselb/2.0 seen)",
        confidence=0.6,
        by_status={
            502: imp(None, _ORIGIN_DOWN, _PROTOCOL, _TLS, _FIREWALL),
            503: imp(_ORIGIN_DOWN),
            504: imp(_TIMEOUT, _FIREWALL, _PROTOCOL),
        },
    ),
    # 4. Weaker: a generator's header with the status it uses, no known body.
    Rule(
        id="aws_api_gateway_error_type",
        gateway=G.AWS_API_GATEWAY,
        when=(header("x-amzn-errortype"),),
        evidence="x-amzn-ErrorType header: API Gateway generated this error",
        confidence=0.8,
        code_from=(header("x-amzn-errortype", r"^(?P<code>[A-Za-z]+)"),),
        by_status={502: imp(_PROTOCOL, _ORIGIN_DOWN), 504: imp(_TIMEOUT, _ORIGIN_DOWN)},
    ),
    Rule(
        id="aws_alb_header",
        gateway=G.AWS_ALB,
        when=(header("server", r"^awselb/"),),
        evidence="Server: awselb/2.0 on a {status}: set on responses the ALB generates itself",
        confidence=0.75,
        by_status={
            502: imp(None, _ORIGIN_DOWN, _PROTOCOL, _TLS, _FIREWALL),
            503: imp(_ORIGIN_DOWN),
            504: imp(_TIMEOUT, _FIREWALL, _PROTOCOL),
            505: imp(_PROTOCOL),
        },
    ),
    Rule(
        id="caddy_empty",
        gateway=G.CADDY,
        # Caddy < 2.8 adds no Via on proxied responses; no Content-Type narrows it to
        # Caddy's bare WriteHeader (a relayed upstream error usually carries one).
        when=(header("server", r"^Caddy$"), NoHeader("via"), NoHeader("content-type"), EmptyBody()),
        evidence="empty body, Server: Caddy, no Via and no Content-Type: Caddy's own error",
        confidence=0.9,
        by_status={
            502: imp(None, _ORIGIN_DOWN, _DNS, _TLS, _PROTOCOL),
            503: imp(_ORIGIN_DOWN),
            504: imp(_TIMEOUT, _FIREWALL),
        },
    ),
    Rule(
        id="netlify_empty",
        gateway=G.NETLIFY,
        when=(header("server", r"^Netlify$"), EmptyBody()),
        evidence="empty body with Server: Netlify, as Netlify's platform errors are sent",
        confidence=0.6,
        statuses=frozenset({502, 504}),
    ),
    Rule(
        id="cloudflare_status_52x",
        gateway=G.CLOUDFLARE,
        when=(_CF_MARK,),
        evidence="status {status} is a Cloudflare-only code and Cloudflare relayed the response",
        confidence=0.85,
        statuses=_CF_STATUS_CODES,
        code_from=_CF_CODES,
        status_codes=_CF_STATUS_CODES,
        by_code=_CF_BY_CODE,
    ),
    Rule(
        id="cloudflare_mentions",
        gateway=G.CLOUDFLARE,
        when=(body(r"(?i)\bcloudflare"),),
        evidence='an unbranded {status} page that mentions "cloudflare": Cloudflare-side error',
        confidence=0.75,
        statuses=frozenset({500, 502, 503, 504}),
        code_from=_CF_CODES[:1],
        by_code=_CF_BY_CODE,
        by_status=_CF_OWN_5XX,
    ),
    Rule(
        id="aws_elb_empty",
        gateway=G.AWS_ELB,
        when=(EmptyBody(), header("content-length", r"^0$"), NoHeader("server")),
        evidence="empty {status} with Content-Length: 0 and no Server header, as a Classic ELB "
        "answers (weak)",
        confidence=0.35,
        statuses=frozenset({503, 504}),  # a bare 502 is also Go's httputil.ReverseProxy
        by_status={
            503: imp(_ORIGIN_DOWN, _POOL),
            504: imp(_TIMEOUT, _PROTOCOL),
        },
    ),
    # 5. Pass-through proofs.
    Rule(
        id="caddy_via_passthrough",
        gateway=ORIGIN,
        when=(header("via", r"\bCaddy\b"),),
        evidence="Via: 1.1 Caddy: Caddy proxied a response its upstream sent",
        confidence=0.85,
        relays=(G.CADDY,),
    ),
    Rule(
        id="envoy_upstream_passthrough",
        gateway=ORIGIN,
        when=(header("x-envoy-upstream-service-time"),),
        evidence="x-envoy-upstream-service-time: Envoy received this status from its upstream",
        confidence=0.85,
        relays=(G.ENVOY,),
    ),
    Rule(
        id="kong_upstream_passthrough",
        gateway=ORIGIN,
        when=(header("x-kong-upstream-status", r"^\d{3}$"),),
        evidence="X-Kong-Upstream-Status: Kong received this status from its upstream",
        confidence=0.85,
        relays=(G.KONG,),
    ),
)


RELAY_MARKS: tuple[RelayMark, ...] = (
    mark(G.CLOUDFLARE, "Server: cloudflare", header("server", r"^cloudflare")),
    mark(G.CLOUDFLARE, "cf-ray", header("cf-ray")),
    # Hit/miss marks say the platform relayed (or cached) a response: never an error mark.
    mark(G.CLOUDFLARE, "cf-cache-status", header("cf-cache-status")),
    mark(G.CLOUDFRONT, "Server: CloudFront", header("server", r"^CloudFront$")),
    mark(G.CLOUDFRONT, "X-Amz-Cf-Id", header("x-amz-cf-id")),
    mark(G.CLOUDFRONT, "Via: (CloudFront)", header("via", r"\(CloudFront\)")),
    mark(G.CLOUDFRONT, "X-Amz-Cf-Pop", header("x-amz-cf-pop")),
    # "Error from cloudfront" is on every error CloudFront relays too (2.4), so it is no proof.
    mark(G.CLOUDFRONT, "X-Cache: from cloudfront", header("x-cache", r" from cloudfront$")),
    mark(G.FASTLY, "x-served-by: cache-", header("x-served-by", r"^cache-")),
    mark(G.FASTLY, "x-fastly-request-id", header("x-fastly-request-id")),
    mark(G.FASTLY, "x-timer: S…,VS0", header("x-timer", r"^S\d+\.\d+,VS\d+")),
    mark(G.VARNISH, "X-Varnish", header("x-varnish")),
    mark(G.VARNISH, "Server: Varnish", header("server", r"^Varnish")),
    mark(G.VARNISH, "Via: varnish", header("via", r"\bvarnish\b"), NoHeader("x-served-by")),
    mark(G.AKAMAI, "Server: AkamaiGHost", header("server", r"^AkamaiGHost")),
    mark(G.AKAMAI, "X-Akamai-Request-ID", header("x-akamai-request-id")),
    mark(G.AKAMAI, "X-Cache: (AkamaiGHost)", header("x-cache", r"\(AkamaiGHost/")),
    mark(G.AZURE_FRONT_DOOR, "X-Azure-Ref", header("x-azure-ref")),
    mark(G.GOOGLE, "Server: Google Frontend", header("server", r"^Google Frontend$")),
    mark(G.GOOGLE, "Via: 1.1 google", header("via", r"\bgoogle\b")),
    mark(G.AWS_ALB, "Server: awselb", header("server", r"^awselb/")),
    mark(
        G.AZURE_APP_GATEWAY,
        "Server: Microsoft-Azure-Application-Gateway",
        header("server", r"^Microsoft-Azure-Application-Gateway"),
    ),
    mark(G.AWS_API_GATEWAY, "x-amz-apigw-id", header("x-amz-apigw-id")),
    mark(G.AWS_API_GATEWAY, "x-amzn-RequestId", header("x-amzn-requestid")),
    mark(G.VERCEL, "Server: Vercel", header("server", r"^Vercel$")),
    mark(G.VERCEL, "x-vercel-id", header("x-vercel-id")),
    mark(G.NETLIFY, "Server: Netlify", header("server", r"^Netlify$")),
    mark(G.NETLIFY, "X-Nf-Request-Id", header("x-nf-request-id")),
    mark(G.HEROKU, "Via: heroku-router", header("via", r"heroku-router|\bvegur\b")),
    mark(G.HEROKU, "Server: Heroku", header("server", r"^Heroku$")),
    mark(G.HEROKU, "Nel: heroku-nel", header("nel", r"heroku-nel")),
    mark(G.FLY, "fly-request-id", header("fly-request-id")),
    mark(G.FLY, "Server: Fly/", header("server", r"^Fly/")),
    mark(G.FLY, "Via: fly.io", header("via", r"fly\.io")),
    mark(G.RENDER, "rndr-id", header("rndr-id")),
    mark(G.KONG, "Server: kong", header("server", r"^kong/")),
    mark(G.KONG, "Via: kong", header("via", r"\bkong/")),
    mark(G.KONG, "X-Kong-Request-Id", header("x-kong-request-id")),
    mark(G.NGINX, "Server: nginx", header("server", r"^(?:nginx|openresty)\b")),
    mark(G.ENVOY, "Server: envoy", header("server", r"^(?:istio-)?envoy$")),
    mark(G.ENVOY, "x-envoy-upstream-service-time", header("x-envoy-upstream-service-time")),
    mark(G.CADDY, "Server: Caddy", header("server", r"^Caddy$")),
    mark(G.CADDY, "Via: Caddy", header("via", r"\bCaddy\b")),
    mark(G.APACHE, "Server: Apache", header("server", r"^Apache\b")),
)


# --- Error marks -----------------------------------------------------------------------------
# Each platform marks its own errors in several independent places (docs/fingerprints.md,
# "Marks by gateway"). None of these is on a response the platform merely relayed; RELAY_MARKS
# above are. fingerprints.attribute names a gateway when its marks in two places agree (one of
# them an error mark), so a page without its usual footer, a localised page or a custom error
# page on top of the platform is still attributed.

# Cloudflare's template pages for 502/504 are its branded pass-through pages (2.1).
_CF_OWN_TEMPLATE = Status(SERVER_ERRORS - {502, 504})
_NOT_RELAYED_BY_CADDY = NoHeader("via")

ERROR_MARKS: tuple[ErrorMark, ...] = (
    error_mark(G.CLOUDFLARE, "cf-error-type", "cf-error-type", header("cf-error-type")),
    error_mark(G.CLOUDFLARE, "cf-error-origin", "cf-error-origin", header("cf-error-origin")),
    error_mark(G.CLOUDFLARE, "a Cloudflare-only status", "status", Status(_CF_STATUS_CODES)),
    error_mark(
        G.CLOUDFLARE,
        "Cloudflare's error title",
        "body",
        body(r"<title>[^<]*\| 5(?:2\d|30): [^<]*</title>"),
    ),
    error_mark(
        G.CLOUDFLARE,
        "Cloudflare's error page markup",
        "body",
        body(r"cf-error-details|cf-wrapper|cf-error-code|/cdn-cgi/styles/(?:main|cf\.errors)"),
        _CF_OWN_TEMPLATE,
    ),
    error_mark(
        G.CLOUDFLARE,
        "the cf-ray id repeated in the page",
        "body",
        echo("cf-ray", r"^([0-9a-f]{16})"),
        _CF_OWN_TEMPLATE,
    ),
    error_mark(
        G.CLOUDFRONT,
        "CloudFront's error title",
        "body",
        body(r"(?i)<title>ERROR: The request could not be satisfied</title>"),
    ),
    error_mark(
        G.CLOUDFRONT,
        "CloudFront's footer",
        "body",
        body(r"Generated by cloudfront \(CloudFront\)"),
    ),
    error_mark(
        G.CLOUDFRONT,
        "CloudFront's reason sentence",
        "body",
        body(
            r"CloudFront (?:wasn['’]t able to|attempted to establish)"
            r"|associated with the CloudFront distribution"
        ),
    ),
    error_mark(G.CLOUDFRONT, "the X-Amz-Cf-Id repeated in the page", "body", echo("x-amz-cf-id")),
    error_mark(G.FASTLY, "Fastly's Guru Mediation block", "body", body(r"Guru Mediation:")),
    error_mark(
        G.FASTLY,
        "Fastly's error title",
        "body",
        body(
            r"<title>5\d\d (?:" + "|".join(re.escape(r) for r in _FASTLY_RESPONSES) + r")</title>"
        ),
    ),
    error_mark(
        G.FASTLY,
        "Fastly's reason phrase",
        "reason",
        _FASTLY_REASON,
    ),
    error_mark(
        G.FASTLY,
        "the x-served-by node repeated in the page",
        "body",
        echo("x-served-by", r"(cache-[\w-]+)$"),
    ),
    error_mark(G.FASTLY, "the Varnish footer", "body", body(r"<p>Varnish cache server</p>")),
    error_mark(G.VARNISH, "Varnish's Guru Meditation block", "body", body(r"Guru Meditation:")),
    error_mark(
        G.VARNISH, "Varnish's error title", "body", body(r"<title>503 Backend fetch failed</title>")
    ),
    error_mark(G.VARNISH, "Varnish's transaction id line", "body", body(r"<p>XID: \d+</p>")),
    error_mark(G.VARNISH, "the Varnish footer", "body", body(r"<p>Varnish cache server</p>")),
    error_mark(
        G.VARNISH,
        'reason phrase "Backend fetch failed"',
        "reason",
        reason(r"^Backend fetch failed$"),
    ),
    error_mark(
        G.AKAMAI,
        "Akamai's error reference",
        "body",
        body(r"Reference #\d+\.[0-9a-f]+(?:\.[0-9a-f]+)*"),
    ),
    error_mark(
        G.AKAMAI, "Akamai's errors.edgesuite.net link", "body", body(r"errors\.edgesuite\.net")
    ),
    error_mark(
        G.AKAMAI,
        "Akamai's error wording",
        "body",
        body(r"An error occurred while processing your request\."),
    ),
    error_mark(
        G.AZURE_FRONT_DOOR,
        "Front Door's page wording",
        "body",
        body(r"Our services aren['’]t available right now"),
    ),
    error_mark(
        G.AZURE_FRONT_DOOR,
        "Front Door's Ref A/B/C line",
        "body",
        body(r"Ref A: \S+ Ref B: \S+ Ref C: "),
    ),
    error_mark(
        G.GOOGLE,
        "the Google Front End's error title",
        "body",
        body(r"<title>Error \d{3} \(Server Error\)!!1</title>"),
    ),
    error_mark(
        G.GOOGLE,
        "Google's error wording",
        "body",
        body(r"That['’]s an error\.|That['’]s all we know\."),
    ),
    error_mark(
        G.GOOGLE,
        "Google Cloud Load Balancing's error page",
        "body",
        body(r"<h1>Error: Server Error</h1>|<title>50\d Server Error</title>"),
    ),
    error_mark(
        G.GOOGLE,
        "Google's temporary-error sentence",
        "body",
        body(r"The server encountered a temporary error and could not complete your request\."),
    ),
    error_mark(G.AWS_ALB, "Server: awselb", "server", header("server", r"^awselb/")),
    error_mark(G.AWS_ALB, "the ALB's footerless nginx-style page", "body", _nginx_page(None)),
    error_mark(G.AWS_ALB, 'the "awselb/2.0" footer', "body", _nginx_page(r"awselb/2\.0")),
    error_mark(
        G.AWS_ELB,
        "the Classic ELB's reason phrase",
        "reason",
        reason(r"^Service Unavailable: Back-end server is at capacity$|^GATEWAY_TIMEOUT$"),
    ),
    error_mark(
        G.AWS_ELB,
        "an empty body with Content-Length: 0 and no Server",
        "body",
        EmptyBody(),
        header("content-length", r"^0$"),
        NoHeader("server"),
    ),
    error_mark(
        G.AZURE_APP_GATEWAY,
        "App Gateway's footer",
        "body",
        _nginx_page(r"Microsoft-Azure-Application-Gateway/v\d+"),
    ),
    error_mark(G.AZURE_APP_GATEWAY, "an nginx-style error page", "body", _nginx_page(None)),
    error_mark(
        G.AZURE_APP_GATEWAY,
        "App Gateway v1's error sentence",
        "body",
        body(r"Web server received an invalid response while acting as a gateway or proxy server"),
    ),
    error_mark(
        G.AWS_API_GATEWAY,
        "x-amzn-ErrorType",
        "x-amzn-errortype",
        header("x-amzn-errortype"),
    ),
    error_mark(
        G.AWS_API_GATEWAY,
        "API Gateway's JSON message",
        "body",
        body(
            r"\A\s*\{\s*\"message\"\s*:\s*\"(?:Endpoint request timed out|Internal server error"
            r"|Internal Server Error|Service Unavailable)\"\s*\}\s*\Z"
        ),
    ),
    error_mark(G.VERCEL, "x-vercel-error", "x-vercel-error", header("x-vercel-error")),
    error_mark(G.VERCEL, "Vercel's code line", "body", body(r"\bCode: [A-Z][A-Z_]{3,}")),
    error_mark(G.VERCEL, "Vercel's status line", "body", body(r"\b5\d\d: [A-Z][A-Z_]{3,}\b")),
    error_mark(
        G.VERCEL,
        "Vercel's wording",
        "body",
        body(r"An error occurred with your deployment|\AA server error has occurred"),
    ),
    error_mark(G.VERCEL, "the x-vercel-id repeated in the page", "body", echo("x-vercel-id")),
    error_mark(G.NETLIFY, "Netlify's function error payload", "body", body(r"\"errorType\"\s*:")),
    error_mark(
        G.NETLIFY, "the X-Nf-Request-Id repeated in the page", "body", echo("x-nf-request-id")
    ),
    error_mark(G.HEROKU, "Heroku's error title", "body", body(r"<title>Application Error</title>")),
    error_mark(
        G.HEROKU,
        "Heroku's error wording",
        "body",
        body(r"An error occurred in the application and your page could not be served"),
    ),
    error_mark(G.HEROKU, "Heroku's log command", "body", body(r"heroku logs --tail")),
    error_mark(
        G.HEROKU, "Heroku's framed error page", "body", body(r"herokucdn\.com/error-pages/")
    ),
    error_mark(G.FLY, "a Fly proxy error code", "body", body(r"\bP[UCTMRAE]\d\d\b")),
    error_mark(G.RENDER, "x-render-routing", "x-render-routing", header("x-render-routing")),
    error_mark(
        G.KONG,
        "Kong's error message",
        "body",
        body(
            r"An invalid response was received from the upstream server"
            r"|The upstream server is currently unavailable|The upstream server is timing out"
            r"|failure to get a peer from the (?:ring-balancer|retry handler)"
        ),
    ),
    error_mark(
        G.KONG, "the X-Kong-Request-Id repeated in the page", "body", echo("x-kong-request-id")
    ),
    error_mark(
        G.HAPROXY,
        "HAProxy's built-in page",
        "body",
        body(r"\A<html><body><h1>50[234] [^<]+</h1>\n"),
    ),
    error_mark(
        G.ENVOY,
        "Envoy's local reply",
        "body",
        body(
            r"\A(?:no healthy upstream|upstream request timeout"
            r"|upstream connect error or disconnect/reset before headers\.)"
        ),
    ),
    error_mark(
        G.ENVOY, "x-envoy-overloaded", "x-envoy-overloaded", header("x-envoy-overloaded", "^true$")
    ),
    error_mark(
        G.TRAEFIK,
        "Traefik's status-text body",
        "body",
        body(r"\A(?:Bad Gateway|Gateway Timeout|no available server)\n?\Z"),
    ),
    error_mark(
        G.INGRESS_NGINX, 'nginx\'s page with the bare "nginx" footer', "body", _nginx_page("nginx")
    ),
    error_mark(
        G.NGINX,
        "nginx's built-in page",
        "body",
        _nginx_page(r"(?:nginx|openresty)(?:/[^<]*)?"),
    ),
    error_mark(
        G.CADDY,
        "Caddy's empty error",
        "body",
        EmptyBody(),
        NoHeader("content-type"),
        _NOT_RELAYED_BY_CADDY,
    ),
    error_mark(
        G.APACHE,
        "Apache's Proxy Error page",
        "body",
        body(r"<h1>Proxy Error</h1>|<title>\d{3} Proxy Error</title>"),
    ),
    error_mark(
        G.APACHE,
        "Apache's canned error text",
        "body",
        body(
            r"The proxy server received an invalid\s+response from an upstream server"
            r"|The server is temporarily unable to service your\s+request due to maintenance"
            r"|The gateway did not receive a timely response\s+from the upstream server"
        ),
    ),
    error_mark(
        G.APACHE,
        "Apache's server signature",
        "body",
        body(r"<address>Apache(?:/[^<]{0,100})? Server at [^<]{1,300} Port \d{1,5}</address>"),
    ),
    error_mark(G.APACHE, 'reason phrase "Proxy Error"', "reason", reason(r"^Proxy Error$")),
)
