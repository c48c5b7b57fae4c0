"""advice.next_steps(): cause tables, gateway additions and hop focus."""

from __future__ import annotations

import pytest

from checks.advice import MAX_STEPS, next_steps
from checks.model import Cause, Hop

CAUSES = [cause for cause in Cause if cause is not Cause.OK]

GATEWAYS = (
    "cloudflare", "cloudfront", "aws_alb", "aws_elb", "aws_api_gateway", "vercel", "netlify",
    "fastly", "varnish", "akamai", "google", "azure_front_door", "azure_app_gateway", "heroku",
    "fly", "render", "nginx", "ingress_nginx", "haproxy", "envoy", "traefik", "caddy", "apache",
    "kong", "origin",
)  # fmt: skip


def _joined(steps: tuple[str, ...]) -> str:
    return "\n".join(steps)


def test_ok_has_no_steps() -> None:
    assert next_steps(Cause.OK) == ()
    assert next_steps(Cause.OK, "nginx", Hop.ORIGIN) == ()


@pytest.mark.parametrize("gateway", [None, *GATEWAYS])
def test_every_cause_has_three_to_six_unique_steps(gateway: str | None) -> None:
    for cause in CAUSES:
        for hop in (None, *Hop):
            steps = next_steps(cause, gateway, hop)
            assert 3 <= len(steps) <= MAX_STEPS, (cause, hop)
            assert len(set(steps)) == len(steps), (cause, hop)
            for step in steps:
                assert step.strip() == step
                assert step.endswith("."), step
                assert len(step) <= 250, step


def test_unknown_diagnoses_from_the_origin_outward() -> None:
    steps = next_steps(Cause.UNKNOWN)
    assert "origin outward" in steps[0]
    assert "ss -tlnp | grep :PORT" in steps[0]
    assert "tail -f /var/log/nginx/error.log" in _joined(steps)


def test_origin_down_restarts_the_upstream_not_the_proxy() -> None:
    text = _joined(next_steps(Cause.ORIGIN_DOWN))
    assert "Restart the upstream, not the proxy" in text
    for command in ("systemctl restart php-fpm", "pm2 restart <app>", "docker compose restart app"):
        assert command in text
    assert "ss -tlnp | grep :PORT" in text


@pytest.mark.parametrize(
    ("cause", "needle"),
    [
        (Cause.WORKERS_EXHAUSTED, "pm.max_children"),
        (Cause.FIREWALL, "security group"),
        (Cause.DNS, "dig +trace"),
        (Cause.TIMEOUT, "proxy_read_timeout"),
        (Cause.TIMEOUT, "fastcgi_read_timeout"),
        (Cause.TLS, "openssl s_client -connect ORIGIN:443 -servername HOST"),
        (Cause.TLS, "proxy_ssl_verify"),
        (Cause.PROTOCOL, "proxy_buffer_size"),
        (Cause.PROTOCOL, "proxy_http_version 1.1"),
    ],
)
def test_generic_steps_name_the_tool(cause: Cause, needle: str) -> None:
    assert needle in _joined(next_steps(cause))


@pytest.mark.parametrize(
    ("gateway", "cause", "needle"),
    [
        ("nginx", Cause.ORIGIN_DOWN, "tail -f /var/log/nginx/error.log"),
        ("nginx", Cause.DNS, "resolver"),
        ("nginx", Cause.FIREWALL, "proxy_connect_timeout"),
        ("nginx", Cause.PROTOCOL, "proxy_buffer_size 16k"),
        ("cloudflare", Cause.FIREWALL, "https://www.cloudflare.com/ips/"),
        ("cloudflare", Cause.ORIGIN_DOWN, "cloudflared"),
        ("cloudflare", Cause.TIMEOUT, "120 s"),
        ("cloudflare", Cause.TLS, "Origin CA"),
        ("aws_alb", Cause.ORIGIN_DOWN, "describe-target-health"),
        ("aws_alb", Cause.PROTOCOL, "keep-alive timeout above the ALB idle timeout"),
        ("vercel", Cause.ORIGIN_DOWN, "function logs"),
        ("vercel", Cause.TIMEOUT, "maxDuration"),
        ("haproxy", Cause.TIMEOUT, "timeout server"),
        ("haproxy", Cause.FIREWALL, "timeout connect"),
        ("haproxy", Cause.ORIGIN_DOWN, "SC--"),
        ("envoy", Cause.FIREWALL, "connect_timeout"),
        ("envoy", Cause.WORKERS_EXHAUSTED, "max_pending_requests"),
        ("heroku", Cause.ORIGIN_DOWN, "heroku logs --tail"),
        ("ingress_nginx", Cause.ORIGIN_DOWN, "kubectl get endpoints"),
        ("apache", Cause.ORIGIN_DOWN, "AH00957"),
    ],
)
def test_gateway_steps_come_first(gateway: str, cause: Cause, needle: str) -> None:
    steps = next_steps(cause, gateway)
    assert needle in _joined(steps)
    assert steps != next_steps(cause)
    assert needle not in steps[-1] or len(steps) < MAX_STEPS
    assert steps[0] not in next_steps(cause)


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_every_engine_gateway_has_its_own_advice(gateway: str) -> None:
    assert any(next_steps(cause, gateway) != next_steps(cause) for cause in CAUSES)


def test_unknown_gateway_adds_nothing() -> None:
    for cause in CAUSES:
        assert next_steps(cause, "no-such-gateway") == next_steps(cause)
        assert next_steps(cause, "") == next_steps(cause)


@pytest.mark.parametrize("cause", CAUSES)
def test_hop_changes_the_steps(cause: Cause) -> None:
    plain = next_steps(cause)
    edge_to_origin = next_steps(cause, hop=Hop.EDGE_TO_ORIGIN)
    origin = next_steps(cause, hop=Hop.ORIGIN)
    assert edge_to_origin != plain
    assert origin != plain
    assert edge_to_origin != origin


def test_edge_to_origin_focuses_on_the_path() -> None:
    firewall = _joined(next_steps(Cause.FIREWALL, "cloudflare", Hop.EDGE_TO_ORIGIN))
    assert "allow-list" in firewall.lower() or "Allow" in firewall
    assert "From the proxy host" in firewall
    dns = next_steps(Cause.DNS, hop=Hop.EDGE_TO_ORIGIN)
    assert "proxy host" in dns[0]
    down = next_steps(Cause.ORIGIN_DOWN, "nginx", Hop.EDGE_TO_ORIGIN)
    assert any("proxy_pass" in step for step in down)


def test_origin_hop_focuses_on_the_app() -> None:
    steps = next_steps(Cause.ORIGIN_DOWN, hop=Hop.ORIGIN)
    assert "origin host" in steps[0]
    assert "Restart the upstream, not the proxy" in _joined(steps)


def test_edge_hop_checks_the_public_name() -> None:
    assert "dig +trace HOST" in next_steps(Cause.DNS, hop=Hop.EDGE)[0]
    assert "openssl s_client -connect HOST:443" in next_steps(Cause.TLS, hop=Hop.EDGE)[0]


def test_gateway_and_hop_steps_both_survive_the_cap() -> None:
    steps = next_steps(Cause.FIREWALL, "cloudflare", Hop.EDGE_TO_ORIGIN)
    assert len(steps) <= MAX_STEPS
    assert steps[0] == next_steps(Cause.FIREWALL, "cloudflare")[0]
    assert next_steps(Cause.FIREWALL, hop=Hop.EDGE_TO_ORIGIN)[0] in steps
