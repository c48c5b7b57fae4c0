"""Who generated an error response: a CDN, a load balancer, a proxy, a PaaS router, or the origin.

:func:`attribute` reads a status, the headers, the start of the body and the reason phrase, and
names the generator with the cause its own code or page implies. The fingerprints are data, in
:mod:`checks._fingerprint_rules`; the facts behind them are in ``docs/fingerprints.md``.

Three ideas carry it (``docs/fingerprints.md``, Part 1 and "Marks by gateway"):

* A gateway's built-in page, code or error-only header proves it generated the status; anything
  else is assumed to be the origin's answer passed through.
* A header every proxied response carries (``Server``, ``cf-ray``, ``Via``) proves only that the
  gateway relayed the response: ``Server: nginx`` on an application's JSON 502 is the origin's.
* A platform marks its own errors in several independent places (headers set only on its errors,
  its page's title and wording, its request id repeated in the page, its reason phrase). When no
  complete fingerprint matches, marks of one gateway read in two different places, one of them
  an error mark, still name it: a page without its usual footer is still attributed.

>>> attribute(502, [("Server", "nginx")], '{"error": "db down"}').generated_by
<SourceId.ORIGIN: 'origin'>
>>> attribute(521, [("Server", "cloudflare")], "").cause
<Cause.ORIGIN_DOWN: 'origin_down'>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from checks._fingerprint_rules import (
    ERROR_MARKS,
    RELAY_MARKS,
    RULES,
    SERVER_ERRORS,
    UNSAID,
    Condition,
    Detail,
    Facts,
    Header,
    Implied,
    Response,
    Rule,
)
from checks.gateways import ORIGIN, GatewayId, Generator
from checks.model import Cause

__all__ = ["GATEWAYS", "Attribution", "Gateway", "attribute"]


@dataclass(frozen=True, slots=True)
class Gateway:
    """Something that can stand between a client and the origin and answer in its place."""

    id: GatewayId
    """Stable identifier, e.g. ``GatewayId.CLOUDFLARE`` (``"cloudflare"``)."""
    name: str
    """Display name, e.g. ``"Cloudflare"``."""
    kind: str
    """``"cdn"``, ``"load_balancer"``, ``"proxy"`` or ``"paas"``."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who generated a response, and the cause its own code, page or status implies."""

    generated_by: Generator
    """A :data:`GATEWAYS` id, or ``ORIGIN`` (``"origin"``) when the status was passed through."""
    cause: Cause | None
    """The cause the generator's code/body/status implies; None when they do not say."""
    alternatives: tuple[Cause, ...]
    """Other plausible causes, most likely first."""
    code: str | None
    """The platform code seen: ``"521"``, ``"FUNCTION_INVOCATION_FAILED"``, ``"UF"``, ``"1016"``."""
    relayed_by: tuple[GatewayId, ...]
    """Gateways whose marks are present but which only relayed the response, in catalogue order."""
    evidence: tuple[str, ...]
    """Short sentences saying what was seen."""
    confidence: float
    """0..1 that ``generated_by`` is right."""


_CATALOGUE = (  # roughly outermost first; relayed_by follows this order
    Gateway(GatewayId.CLOUDFLARE, "Cloudflare", "cdn"),
    Gateway(GatewayId.CLOUDFRONT, "Amazon CloudFront", "cdn"),
    Gateway(GatewayId.FASTLY, "Fastly", "cdn"),
    Gateway(GatewayId.AKAMAI, "Akamai", "cdn"),
    Gateway(GatewayId.AZURE_FRONT_DOOR, "Azure Front Door", "cdn"),
    Gateway(GatewayId.GOOGLE, "Google Cloud Load Balancing / Front End", "load_balancer"),
    Gateway(GatewayId.AWS_ALB, "AWS Application Load Balancer", "load_balancer"),
    Gateway(GatewayId.AWS_ELB, "AWS Classic Load Balancer", "load_balancer"),
    Gateway(GatewayId.AZURE_APP_GATEWAY, "Azure Application Gateway", "load_balancer"),
    Gateway(GatewayId.AWS_API_GATEWAY, "Amazon API Gateway", "proxy"),
    Gateway(GatewayId.VERCEL, "Vercel", "paas"),
    Gateway(GatewayId.NETLIFY, "Netlify", "paas"),
    Gateway(GatewayId.HEROKU, "Heroku router", "paas"),
    Gateway(GatewayId.FLY, "Fly.io proxy", "paas"),
    Gateway(GatewayId.RENDER, "Render", "paas"),
    Gateway(GatewayId.KONG, "Kong", "proxy"),
    Gateway(GatewayId.VARNISH, "Varnish Cache", "proxy"),
    Gateway(GatewayId.HAPROXY, "HAProxy", "load_balancer"),
    Gateway(GatewayId.ENVOY, "Envoy", "proxy"),
    Gateway(GatewayId.TRAEFIK, "Traefik", "proxy"),
    Gateway(GatewayId.INGRESS_NGINX, "ingress-nginx", "proxy"),
    Gateway(GatewayId.NGINX, "nginx", "proxy"),
    Gateway(GatewayId.CADDY, "Caddy", "proxy"),
    Gateway(GatewayId.APACHE, "Apache httpd", "proxy"),
)

GATEWAYS: Mapping[GatewayId, Gateway] = MappingProxyType({g.id: g for g in _CATALOGUE})
"""Every gateway :func:`attribute` can name, by id, in catalogue order."""

_CATALOGUE_INDEX = {g.id: i for i, g in enumerate(_CATALOGUE)}

_ORIGIN = ORIGIN
_PASS_THROUGH_CONFIDENCE = 0.6
_NOT_AN_ERROR_CONFIDENCE = 0.9
_AGREE_CONFIDENCE = 0.8
"""Marks of one gateway in two places; a third place adds :data:`_AGREE_STEP`."""
_AGREE_STEP = 0.05
_AGREE_MAX = 0.9


def attribute(
    status: int, headers: Sequence[tuple[str, str]], body: str, *, reason: str | None = None
) -> Attribution:
    """Say who generated ``status`` and what cause its own marks imply.

    ``headers`` are (name, value) pairs, names in any case; ``body`` is the start of the body
    (16 KiB is plenty) decoded as text, possibly empty; ``reason`` is the status line's reason
    phrase when known (HTTP/2 has none). Never returns :attr:`Cause.UNKNOWN`: when the marks do
    not say, ``cause`` is None.
    """
    response = Response.build(status, headers, body, reason)
    relays = _relays(response)
    found = _winning_rule(response)
    # A complete fingerprint, or a pass-through proof (all at _AGREE_CONFIDENCE or above), wins.
    if found is None or found[0].confidence < _AGREE_CONFIDENCE:
        agreed = _agreeing_marks(response)
        if agreed is not None:
            return _by_marks(response, relays, *agreed)
    if found is None:
        return _passed_through(response, relays)
    rule, facts = found
    code = _code(rule, response)
    implied, detail = _implied(rule, response, code)
    if detail is not None and code is None:
        code = detail.code
    facts = {"status": str(status), **facts}
    evidence = [rule.evidence.format_map(_Blank(facts))]
    if detail is not None:
        evidence.append(detail.evidence)
    generator = rule.gateway
    if code is not None and generator != _ORIGIN:
        evidence.append(f'{GATEWAYS[generator].name} code "{code}"')
    relayed = [g for g in _in_catalogue_order({*relays, *rule.relays}) if g != generator]
    evidence.extend(_relay_sentence(g, relays[g]) for g in relayed if g in relays)
    return Attribution(
        generated_by=generator,
        cause=implied.cause,
        alternatives=implied.alternatives,
        code=code if generator != _ORIGIN else None,
        relayed_by=tuple(relayed),
        evidence=tuple(evidence),
        confidence=rule.confidence,
    )


def _winning_rule(response: Response) -> tuple[Rule, Facts] | None:
    """The first rule of the table that applies, with what its conditions captured."""
    for rule in RULES:
        facts = rule.match(response)
        if facts is not None:
            return rule, facts
    return None


def _code(rule: Rule, response: Response) -> str | None:
    for source in rule.code_from:
        facts = source.match(response)
        if facts and "code" in facts:
            return facts["code"]
    if response.status in rule.status_codes:
        return str(response.status)
    return None


def _implied(rule: Rule, response: Response, code: str | None) -> tuple[Implied, Detail | None]:
    """The cause, read from body phrases, then the code, then the status."""
    for detail in rule.details:
        if detail.statuses is not None and response.status not in detail.statuses:
            continue
        if detail.pattern.search(response.body):
            return detail.implied, detail
    if code is not None and code in rule.by_code:
        return rule.by_code[code], None
    return rule.by_status.get(response.status, rule.default), None


def _agreeing_marks(response: Response) -> tuple[GatewayId, list[str]] | None:
    """The first gateway, innermost first, whose marks agree in two places, with their labels.

    At least one of the marks must be an error mark (a relay mark alone is on every response
    the gateway passes on); marks read in the same place count once. Only for a 5xx: anything
    else is the origin's answer whatever marks it carries.
    """
    if response.status not in SERVER_ERRORS:
        return None
    places: dict[GatewayId, dict[str, str]] = {}
    for error_mark in ERROR_MARKS:
        if error_mark.match(response):
            places.setdefault(error_mark.gateway, {}).setdefault(error_mark.place, error_mark.label)
    for relay_mark in RELAY_MARKS:
        if relay_mark.gateway in places and relay_mark.match(response):
            seen = places[relay_mark.gateway]
            seen.setdefault(_place(relay_mark.when), relay_mark.label)
    agreeing = [g for g, seen in places.items() if len(seen) >= 2]
    if not agreeing:
        return None
    innermost = max(agreeing, key=lambda g: (len(places[g]), _CATALOGUE_INDEX[g]))
    return innermost, list(places[innermost].values())


def _place(conditions: Sequence[Condition]) -> str:
    """Where a relay mark is read: the name of its first header."""
    for condition in conditions:
        if isinstance(condition, Header):
            return condition.name
    return "body"


def _by_marks(
    response: Response, relays: Mapping[GatewayId, list[str]], gateway: GatewayId, labels: list[str]
) -> Attribution:
    """``gateway`` generated ``response``: its marks agree; the cause from its own rules' maps."""
    name = GATEWAYS[gateway].name
    evidence = [f"{len(labels)} independent {name} marks agree: {', '.join(labels)}"]
    rule = _cause_rule(gateway, response.status)
    implied, code = UNSAID, None
    if rule is not None:
        code = _code(rule, response)
        implied, detail = _implied(rule, response, code)
        if detail is not None:
            evidence.append(detail.evidence)
            code = code or detail.code
    if code is not None:
        evidence.append(f'{name} code "{code}"')
    relayed = [g for g in _in_catalogue_order(relays) if g != gateway]
    evidence.extend(_relay_sentence(g, relays[g]) for g in relayed)
    confidence = _AGREE_CONFIDENCE + _AGREE_STEP * (len(labels) - 2)
    return Attribution(
        generated_by=gateway,
        cause=implied.cause,
        alternatives=implied.alternatives,
        code=code,
        relayed_by=tuple(relayed),
        evidence=tuple(evidence),
        confidence=round(min(confidence, _AGREE_MAX), 2),
    )


def _cause_rule(gateway: GatewayId, status: int) -> Rule | None:
    """The first of ``gateway``'s own rules that covers ``status``: its maps give the cause."""
    for rule in RULES:
        if rule.gateway == gateway and status in rule.statuses:
            return rule
    return None


def _relays(response: Response) -> dict[GatewayId, list[str]]:
    """Gateway id -> the labels of its relay marks present on ``response``."""
    seen: dict[GatewayId, list[str]] = {}
    for relay_mark in RELAY_MARKS:
        if relay_mark.match(response):
            seen.setdefault(relay_mark.gateway, []).append(relay_mark.label)
    return seen


def _passed_through(response: Response, relays: Mapping[GatewayId, list[str]]) -> Attribution:
    status = response.status
    if status >= 500:
        first = (
            f"no gateway's error page, code or error-only header matched: the {status} was "
            "passed through from upstream"
        )
        confidence = _PASS_THROUGH_CONFIDENCE
    else:
        first = f"a {status} is not a gateway failure: the origin answered"
        confidence = _NOT_AN_ERROR_CONFIDENCE
    relayed = _in_catalogue_order(relays)
    return Attribution(
        generated_by=_ORIGIN,
        cause=UNSAID.cause,
        alternatives=UNSAID.alternatives,
        code=None,
        relayed_by=relayed,
        evidence=(first, *(_relay_sentence(g, relays[g]) for g in relayed)),
        confidence=confidence,
    )


def _in_catalogue_order(ids: Mapping[GatewayId, object] | set[GatewayId]) -> tuple[GatewayId, ...]:
    return tuple(g for g in GATEWAYS if g in ids)


def _relay_sentence(gateway: GatewayId, labels: Sequence[str]) -> str:
    return f"{', '.join(labels)}: {GATEWAYS[gateway].name} relayed the response"


class _Blank(dict[str, str]):
    """Template facts; a field the conditions did not capture reads as "?"."""

    def __missing__(self, key: str) -> str:
        return "?"
