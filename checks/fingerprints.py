"""Who generated an error response: a CDN, a load balancer, a proxy, a PaaS router, or the origin.

:func:`attribute` reads a status, the headers and the start of the body, and names the generator
with the cause its own code or page implies. The fingerprints are data, in
:mod:`checks._fingerprint_rules`; the facts behind them are in ``shared/reference/fingerprints.md``.

Two ideas carry it (reference, Part 1):

* A gateway's built-in page, code or error-only header proves it generated the status; anything
  else is assumed to be the origin's answer passed through.
* A header every proxied response carries (``Server``, ``cf-ray``, ``Via``) proves only that the
  gateway relayed the response: ``Server: nginx`` on an application's JSON 502 is the origin's.

>>> attribute(502, [("Server", "nginx")], '{"error": "db down"}').generated_by
'origin'
>>> attribute(521, [("Server", "cloudflare")], "").cause
<Cause.ORIGIN_DOWN: 'origin_down'>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from checks._fingerprint_rules import (
    RELAY_MARKS,
    RULES,
    UNSAID,
    Detail,
    Facts,
    Implied,
    Response,
    Rule,
)
from checks.model import Cause

__all__ = ["GATEWAYS", "Attribution", "Gateway", "attribute"]


@dataclass(frozen=True, slots=True)
class Gateway:
    """Something that can stand between a client and the origin and answer in its place."""

    id: str
    """Stable identifier, e.g. ``"cloudflare"``."""
    name: str
    """Display name, e.g. ``"Cloudflare"``."""
    kind: str
    """``"cdn"``, ``"load_balancer"``, ``"proxy"`` or ``"paas"``."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who generated a response, and the cause its own code, page or status implies."""

    generated_by: str
    """A :data:`GATEWAYS` id, or ``"origin"`` when the status was passed through from upstream."""
    cause: Cause | None
    """The cause the generator's code/body/status implies; None when they do not say."""
    alternatives: tuple[Cause, ...]
    """Other plausible causes, most likely first."""
    code: str | None
    """The platform code seen: ``"521"``, ``"FUNCTION_INVOCATION_FAILED"``, ``"UF"``, ``"1016"``."""
    relayed_by: tuple[str, ...]
    """Gateways whose marks are present but which only relayed the response, in catalogue order."""
    evidence: tuple[str, ...]
    """Short sentences saying what was seen."""
    confidence: float
    """0..1 that ``generated_by`` is right."""


_CATALOGUE = (  # roughly outermost first; relayed_by follows this order
    Gateway("cloudflare", "Cloudflare", "cdn"),
    Gateway("cloudfront", "Amazon CloudFront", "cdn"),
    Gateway("fastly", "Fastly", "cdn"),
    Gateway("akamai", "Akamai", "cdn"),
    Gateway("azure_front_door", "Azure Front Door", "cdn"),
    Gateway("google", "Google Cloud Load Balancing / Front End", "load_balancer"),
    Gateway("aws_alb", "AWS Application Load Balancer", "load_balancer"),
    Gateway("aws_elb", "AWS Classic Load Balancer", "load_balancer"),
    Gateway("azure_app_gateway", "Azure Application Gateway", "load_balancer"),
    Gateway("aws_api_gateway", "Amazon API Gateway", "proxy"),
    Gateway("vercel", "Vercel", "paas"),
    Gateway("netlify", "Netlify", "paas"),
    Gateway("heroku", "Heroku router", "paas"),
    Gateway("fly", "Fly.io proxy", "paas"),
    Gateway("render", "Render", "paas"),
    Gateway("kong", "Kong", "proxy"),
    Gateway("varnish", "Varnish Cache", "proxy"),
    Gateway("haproxy", "HAProxy", "load_balancer"),
    Gateway("envoy", "Envoy", "proxy"),
    Gateway("traefik", "Traefik", "proxy"),
    Gateway("ingress_nginx", "ingress-nginx", "proxy"),
    Gateway("nginx", "nginx", "proxy"),
    Gateway("caddy", "Caddy", "proxy"),
    Gateway("apache", "Apache httpd", "proxy"),
)

GATEWAYS: Mapping[str, Gateway] = MappingProxyType({g.id: g for g in _CATALOGUE})
"""Every gateway :func:`attribute` can name, by id."""

_ORIGIN = "origin"
_PASS_THROUGH_CONFIDENCE = 0.6
_NOT_AN_ERROR_CONFIDENCE = 0.9


def attribute(status: int, headers: Sequence[tuple[str, str]], body: str) -> Attribution:
    """Say who generated ``status`` and what cause its own marks imply.

    ``headers`` are (name, value) pairs, names in any case; ``body`` is the start of the body
    (16 KiB is plenty) decoded as text, possibly empty. Never returns :attr:`Cause.UNKNOWN`:
    when the marks do not say, ``cause`` is None.
    """
    response = Response.build(status, headers, body)
    relays = _relays(response)
    found = _winning_rule(response)
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


def _relays(response: Response) -> dict[str, list[str]]:
    """Gateway id -> the labels of its relay marks present on ``response``."""
    seen: dict[str, list[str]] = {}
    for relay_mark in RELAY_MARKS:
        if relay_mark.match(response):
            seen.setdefault(relay_mark.gateway, []).append(relay_mark.label)
    return seen


def _passed_through(response: Response, relays: Mapping[str, list[str]]) -> Attribution:
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


def _in_catalogue_order(ids: Mapping[str, object] | set[str]) -> tuple[str, ...]:
    return tuple(g for g in GATEWAYS if g in ids)


def _relay_sentence(gateway: str, labels: Sequence[str]) -> str:
    return f"{', '.join(labels)}: {GATEWAYS[gateway].name} relayed the response"


class _Blank(dict[str, str]):
    """Template facts; a field the conditions did not capture reads as "?"."""

    def __missing__(self, key: str) -> str:
        return "?"
