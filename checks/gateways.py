"""One typed id for each gateway, and for the few other writers the tables name.

Every table that mentions a gateway uses these ids: the fingerprint rules and their marks
(:mod:`checks._fingerprint_rules`), the catalogue (:data:`checks.fingerprints.GATEWAYS`), the
advice (:mod:`checks.advice`) and the sources of the explain rules (:mod:`checks._explain_rules`).
``docs/fingerprints.md`` has a section per id. A test checks the tables agree, so adding a
gateway is a checklist: a member here, a catalogue entry, rules and marks, advice, a doc section.

The values are the strings the JSON output has always carried (``"cloudflare"``, ``"aws_alb"``),
and a :class:`~enum.StrEnum` member equals its value, so ``GatewayId.NGINX == "nginx"``.

>>> parse_source("aws_alb")
<GatewayId.AWS_ALB: 'aws_alb'>
>>> parse_source("go")
<SourceId.GO: 'go'>
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeAlias

__all__ = ["ORIGIN", "GatewayId", "Generator", "Source", "SourceId", "parse_source"]


class GatewayId(StrEnum):
    """Something that can stand between a client and the origin and answer in its place."""

    CLOUDFLARE = "cloudflare"
    CLOUDFRONT = "cloudfront"
    FASTLY = "fastly"
    AKAMAI = "akamai"
    AZURE_FRONT_DOOR = "azure_front_door"
    GOOGLE = "google"
    AWS_ALB = "aws_alb"
    AWS_ELB = "aws_elb"
    AZURE_APP_GATEWAY = "azure_app_gateway"
    AWS_API_GATEWAY = "aws_api_gateway"
    VERCEL = "vercel"
    NETLIFY = "netlify"
    HEROKU = "heroku"
    FLY = "fly"
    RENDER = "render"
    KONG = "kong"
    VARNISH = "varnish"
    HAPROXY = "haproxy"
    ENVOY = "envoy"
    TRAEFIK = "traefik"
    INGRESS_NGINX = "ingress_nginx"
    NGINX = "nginx"
    CADDY = "caddy"
    APACHE = "apache"


class SourceId(StrEnum):
    """Writers that are not gateways but that a table names: the origin, Go, Kubernetes, and
    the application servers whose own log lines people paste beside the proxy's."""

    ORIGIN = "origin"
    """The origin's own answer, passed through (``generated_by``), or the app's own advice."""
    GO = "go"
    """Go's ``net/http`` error texts, which Traefik, Caddy and any ``httputil.ReverseProxy`` log."""
    KUBERNETES = "kubernetes"
    """kube-proxy's rules and the pod network (no endpoints, stale pod addresses)."""
    GUNICORN = "gunicorn"
    """Gunicorn's own log (worker timeouts)."""
    PHP_FPM = "php_fpm"
    """PHP-FPM's own log (``pm.max_children`` reached)."""
    UWSGI = "uwsgi"
    """uWSGI's own log (a full listen queue)."""
    H2O = "h2o"
    """h2o's proxy log lines; a proxy, but one whose responses the catalogue has no marks for
    yet, so only ``explain`` names it."""


ORIGIN: Literal[SourceId.ORIGIN] = SourceId.ORIGIN

Generator: TypeAlias = GatewayId | Literal[SourceId.ORIGIN]
"""Who generated a response: a gateway, or the origin (passed through)."""

Source: TypeAlias = GatewayId | SourceId
"""Who writes a log line or a code, or whom a piece of advice is about."""


def parse_source(value: str) -> Source:
    """The typed id spelt ``value``; ``ValueError`` naming it when no table may use it."""
    for kind in (GatewayId, SourceId):
        try:
            return kind(value)
        except ValueError:
            continue
    raise ValueError(f"unknown gateway or source id {value!r}: add it to checks/gateways.py")
