"""Protocol mismatches on the edge-to-origin link, and the order of next steps, on values.

What the origin speaks is given here as an ``OriginProtocols`` value (what
:func:`checks.protocols.ask_origin` returns); real gateways and origins are in
``test_mismatch_gateways.py`` and ``test_protocols.py``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from checks.advice import next_steps
from checks.jsonout import diagnosis_from_dict, diagnosis_to_dict
from checks.mismatch import fix_steps, link_failed_fast, mismatches, points_at_link
from checks.model import Cause, Diagnosis, ErrorKind, Hop, OriginProtocols, Probe, Timings, Verdict
from checks.steps import arrange, is_timeout_advice
from checks.target import parse_origin
from checks.verdict import decide
from tests.checks.pages import ENVOY_HEADERS, ENVOY_REFUSED, envoy_reset
from tests.checks.test_verdict import (
    ORIGIN_IP,
    URL,
    answered,
    failed,
    make_probe,
    nginx_502,
    nginx_504,
    origin_probe,
)

PORT = 8443
ORIGIN = f"{ORIGIN_IP}:{PORT}"


def speaks(**answers: bool | None) -> OriginProtocols:
    """The origin's answers on ``ORIGIN_IP:PORT``; a question left out got a "no"."""
    fields: dict[str, bool | None] = dict.fromkeys(
        ("plain_http1", "h2c", "tls", "tls_http1", "tls_h2"), False
    )
    fields.update(answers)
    return OriginProtocols(ORIGIN_IP, PORT, notes=("asked",), **fields)


TLS_HTTP1 = speaks(tls=True, tls_http1=True)
PLAIN_HTTP1 = speaks(plain_http1=True)


def kinds(found: OriginProtocols) -> list[str]:
    return [m.kind for m in mismatches(found)]


# --- what the origin's answers leave possible -----------------------------------------------


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        (TLS_HTTP1, ["plain_to_tls", "h2_to_http1"]),
        (speaks(tls=True, tls_http1=True, tls_h2=True), ["plain_to_tls"]),
        (PLAIN_HTTP1, ["tls_to_plain", "h2_to_http1"]),
        (speaks(plain_http1=True, h2c=True), ["tls_to_plain"]),
        (speaks(h2c=True), ["http1_to_h2", "tls_to_plain"]),
        (speaks(tls=True, tls_h2=True), ["http1_to_h2", "plain_to_tls"]),
        (speaks(plain_http1=True, h2c=True, tls=True, tls_http1=True, tls_h2=True), []),
        (OriginProtocols(ORIGIN_IP, PORT), []),  # nothing answered in time: no claim at all
        (speaks(plain_http1=True, h2c=None), ["tls_to_plain"]),  # h2c unanswered: no h2 claim
    ],
)
def test_mismatches_follow_what_the_origin_speaks(
    found: OriginProtocols, expected: list[str]
) -> None:
    assert kinds(found) == expected


def test_behind_envoy_the_http_version_comes_first() -> None:
    assert [m.kind for m in mismatches(PLAIN_HTTP1, "envoy")] == ["h2_to_http1", "tls_to_plain"]
    assert [m.kind for m in mismatches(PLAIN_HTTP1, "nginx")] == ["tls_to_plain", "h2_to_http1"]
    assert mismatches(speaks(h2c=True), "envoy")[0].kind == "http1_to_h2"


def test_mismatch_sentences_and_causes() -> None:
    tls, h2 = mismatches(TLS_HTTP1)
    assert tls.sentence == "the proxy speaks plain HTTP to an origin that speaks TLS on 8443"
    assert (tls.cause, tls.proxy_speaks, tls.origin_speaks) == (Cause.TLS, "plain HTTP", "TLS")
    assert h2.sentence == "the proxy speaks HTTP/2 to an HTTP/1.1-only origin on 8443"
    assert h2.cause is Cause.PROTOCOL
    (plain, _) = mismatches(PLAIN_HTTP1)
    assert plain.sentence == "the proxy speaks HTTPS to an origin that speaks plain HTTP on 8443"


def test_fix_steps_give_the_generating_gateways_line_alone() -> None:
    found = mismatches(TLS_HTTP1)
    (tls_step, h2_step) = fix_steps(found, "haproxy", ORIGIN, origin_tls=True)
    assert f"`server app {ORIGIN} ssl verify required ca-file <ca.pem>" in tls_step
    assert "nginx" not in tls_step and "Caddy" not in tls_step
    assert "drop `proto h2`" in h2_step


@pytest.mark.parametrize("gateway", [None, "cloudflare", "origin"])
def test_fix_steps_give_every_gateways_line_when_the_generator_has_none(
    gateway: str | None,
) -> None:
    (step,) = fix_steps(
        mismatches(speaks(plain_http1=True, h2c=True)), gateway, ORIGIN, origin_tls=False
    )
    for line in (
        f"`proxy_pass http://{ORIGIN};`",
        f"`server app {ORIGIN}` without `ssl`",
        f"`reverse_proxy http://{ORIGIN}`",
        f"`ProxyPass / http://{ORIGIN}/`",
        "no `envoy.transport_sockets.tls`",
    ):
        assert line in step


def test_fix_steps_for_an_http2_only_origin_keep_its_tls() -> None:
    (h2_step, _) = fix_steps(
        mismatches(speaks(tls=True, tls_h2=True)), None, ORIGIN, origin_tls=True
    )
    assert f"`grpc_pass grpcs://{ORIGIN};`" in h2_step
    assert f"`ProxyPass / h2://{ORIGIN}/`" in h2_step
    assert "`http2_protocol_options: {}`" in h2_step


# --- when to ask ----------------------------------------------------------------------------


def test_ask_only_when_a_fast_gateway_error_meets_an_answering_origin() -> None:
    up = origin_probe()
    assert points_at_link([nginx_502()], [up]) is up
    assert points_at_link([make_probe()], [up]) is None  # healthy: nothing more is sent
    assert points_at_link([nginx_504()], [up]) is None  # the proxy waited: not this link
    assert points_at_link([nginx_502()], [origin_probe(answered(502))]) is None
    assert points_at_link([nginx_502()], []) is None
    assert points_at_link([nginx_502()], [origin_probe(header_bytes=16 * 1024)]) is None
    slow = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=1_030.0, total=1_032.0)
    assert points_at_link([nginx_502(timings=slow)], [up]) is None
    fast = nginx_502().timings
    assert points_at_link([nginx_504(timings=fast)], [up]) is None  # a timeout page, even cached


def test_fast_means_under_200_ms_after_the_connection() -> None:
    at = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=229.0, total=230.0)
    assert link_failed_fast(nginx_502(timings=at))
    assert not link_failed_fast(nginx_502(timings=replace(at, ttfb=230.0)))


# --- the verdict ----------------------------------------------------------------------------


def verdict(public: list[Probe], found: OriginProtocols | None, origin: str = ORIGIN) -> Verdict:
    o = origin_probe(port=PORT, timings=Timings(dns=1.0, connect=3.0, ttfb=8.0, total=9.0))
    v = decide(URL, parse_origin(origin, URL), public, [o], [], protocols=found)
    assert v.cause not in v.alternatives and v.summary
    return v


def test_a_fast_502_to_a_tls_origin_is_a_tls_mismatch_not_a_firewall() -> None:
    v = verdict([nginx_502()], TLS_HTTP1)
    assert (v.cause, v.hop, v.generated_by) == (Cause.TLS, Hop.EDGE_TO_ORIGIN, "nginx")
    assert v.confidence == 0.6  # two mismatches fit: the evidence cannot tell them apart
    assert v.alternatives[0] is Cause.PROTOCOL and Cause.FIREWALL not in v.alternatives
    assert v.mismatch is not None and v.mismatch.kind == "plain_to_tls"
    assert [m.kind for m in v.other_mismatches] == ["h2_to_http1"]
    assert "the proxy speaks plain HTTP to an origin that speaks TLS on 8443" in v.summary
    assert "HTTP/2 to an HTTP/1.1-only origin on 8443" in v.summary
    assert v.next_steps[0].startswith("Make the proxy speak TLS to it")
    assert f"nginx: `proxy_pass https://{ORIGIN};`" in v.next_steps[0]
    assert any("asked the other way" in e for e in v.evidence)
    # The mismatch's own steps, not the certificate advice the TLS cause has elsewhere.
    assert not any("renew" in step.lower() for step in v.next_steps), v.next_steps


def test_one_mismatch_left_is_named_with_more_confidence() -> None:
    v = verdict([nginx_502()], speaks(plain_http1=True, h2c=True))
    assert (v.cause, v.confidence) == (Cause.TLS, 0.8)
    assert v.mismatch is not None and v.other_mismatches == ()


def test_an_http2_only_origin_is_a_protocol_mismatch() -> None:
    v = verdict([nginx_502()], speaks(h2c=True))
    assert v.cause is Cause.PROTOCOL
    assert "HTTP/1.1 to an HTTP/2-only origin on 8443" in v.summary
    assert f"`grpc_pass grpc://{ORIGIN};`" in v.next_steps[0]


def test_an_origin_that_speaks_everything_points_at_the_proxys_upstream_config() -> None:
    everything = speaks(plain_http1=True, h2c=True, tls=True, tls_http1=True, tls_h2=True)
    v = verdict([nginx_502()], everything)
    assert (v.cause, v.hop) == (Cause.ORIGIN_DOWN, Hop.EDGE_TO_ORIGIN)
    assert v.mismatch is None and v.confidence == 0.5
    assert v.alternatives == (Cause.FIREWALL, Cause.PROTOCOL)
    assert "dials another address or port" in v.summary


def test_not_asked_in_time_is_said_and_names_no_mismatch() -> None:
    for found in (None, replace(TLS_HTTP1, port=PORT + 1)):  # answers from another port: not ours
        v = verdict([nginx_502()], found)
        assert (v.cause, v.hop, v.confidence) == (Cause.ORIGIN_DOWN, Hop.EDGE_TO_ORIGIN, 0.4)
        assert v.mismatch is None
        assert v.alternatives[:2] == (Cause.PROTOCOL, Cause.TLS)
        assert any("not asked the other way" in e for e in v.evidence)


def test_an_error_the_origin_generated_itself_names_no_mismatch() -> None:
    relayed = answered(502, body='{"error": "upstream down"}', timings=FAST)
    v = verdict([relayed], TLS_HTTP1)
    assert v.generated_by != "nginx" and v.mismatch is None


def test_a_slow_failure_with_an_answering_origin_stays_a_firewall() -> None:
    v = verdict([nginx_504()], TLS_HTTP1)
    assert (v.cause, v.hop) == (Cause.FIREWALL, Hop.EDGE_TO_ORIGIN)
    assert v.mismatch is None


def test_a_platform_code_outranks_the_origins_answers() -> None:
    cf = (("Server", "cloudflare"), ("Content-Type", "text/html"))
    page = "<title>shop.example.com | 525: SSL handshake failed</title> cloudflare"
    v = verdict([answered(525, cf, page)], TLS_HTTP1)
    assert v.code == "525" and v.mismatch is None


FAST = Timings(dns=1.0, connect=10.0, tls=30.0, ttfb=60.0, total=62.0)


def test_envoys_protocol_error_code_names_the_http_version_mismatch() -> None:
    v = verdict(
        [answered(503, ENVOY_HEADERS, envoy_reset("protocol error"), timings=FAST)], PLAIN_HTTP1
    )
    assert (v.cause, v.code, v.hop) == (Cause.PROTOCOL, "UPE", Hop.EDGE_TO_ORIGIN)
    assert v.mismatch is not None and v.mismatch.kind == "h2_to_http1"
    assert v.other_mismatches == ()  # TLS to a plain port would not be a protocol error
    assert "HTTP/2 to an HTTP/1.1-only origin on 8443" in v.summary
    assert "Envoy: no `http2_protocol_options` on the cluster" in v.next_steps[0]


def test_codes_that_do_not_say_protocol_or_tls_name_no_mismatch() -> None:
    termination = answered(503, ENVOY_HEADERS, envoy_reset("connection termination"), timings=FAST)
    assert verdict([termination], PLAIN_HTTP1).mismatch is None  # a reset, maybe a keep-alive race
    refused = answered(503, ENVOY_HEADERS, ENVOY_REFUSED, timings=FAST)
    v = verdict([refused], PLAIN_HTTP1)  # refused from a port that should listen
    assert (v.cause, v.code, v.mismatch) == (Cause.FIREWALL, "UF", None)


def test_cloudflares_handshake_failure_beside_a_plain_origin_is_tls_to_a_plain_port() -> None:
    cf = (("Server", "cloudflare"), ("Content-Type", "text/html"))
    page = "<title>shop.example.com | 525: SSL handshake failed</title> cloudflare"
    v = verdict([answered(525, cf, page, timings=FAST)], PLAIN_HTTP1)
    assert (v.cause, v.code) == (Cause.TLS, "525")
    assert v.mismatch is not None and v.mismatch.kind == "tls_to_plain"
    assert "HTTPS to an origin that speaks plain HTTP on 8443" in v.summary


# --- next steps: once each, in the order the evidence calls for -----------------------------


def test_arrange_drops_repeats_by_text_and_by_first_command() -> None:
    steps = [
        "Run `ss -tlnp | grep :80` on the origin.",
        "Check the origin: `ss -tlnp | grep :80` and the app's log.",
        "Run `ss -tlnp | grep :80` on the origin.",
        "Read the log.",
        "read the log.",
    ]
    assert arrange(steps, failed_fast=False) == (steps[0], steps[3])


def test_a_fast_failure_puts_timeout_advice_last_and_keeps_keepalive_advice() -> None:
    steps = [
        "Raise `proxy_read_timeout` to confirm the endpoint is slow.",
        "Set the app's keep-alive timeout above the proxy's (`keepAliveTimeout`).",
        "Check the bind address.",
    ]
    assert arrange(steps, failed_fast=True) == (steps[1], steps[2], steps[0])
    assert arrange(steps, failed_fast=False) == tuple(steps)


def test_a_fast_edge_to_origin_failure_does_not_lead_with_timeout_advice() -> None:
    """nginx answered at once while we cannot reach the origin: nginx did not wait for its
    connect timeout, so the table's lead step ("upstream timed out") comes after the rest."""
    assert is_timeout_advice(next_steps(Cause.FIREWALL, "nginx", Hop.ORIGIN)[0])
    o = origin_probe(failed(ErrorKind.CONNECT_TIMEOUT, "no SYN-ACK"))
    v = decide(URL, parse_origin(ORIGIN_IP, URL), [nginx_502()], [o], [])
    assert v.cause is Cause.FIREWALL
    assert not is_timeout_advice(v.next_steps[0]), v.next_steps
    assert any(is_timeout_advice(s) for s in v.next_steps)  # still there, further down
    slow = decide(URL, parse_origin(ORIGIN_IP, URL), [nginx_504()], [o], [])
    assert is_timeout_advice(slow.next_steps[0])  # a proxy that waited leads with it


def test_no_verdict_repeats_a_step() -> None:
    for found in (TLS_HTTP1, PLAIN_HTTP1, None):
        steps = verdict([nginx_502()], found).next_steps
        assert len(steps) == len(set(steps)) == len(arrange(steps, failed_fast=False))


# --- JSON -----------------------------------------------------------------------------------


def test_json_keeps_the_mismatch_and_what_the_origin_speaks() -> None:
    v = verdict([nginx_502()], TLS_HTTP1)
    d = Diagnosis(
        url=URL.url,
        checked_at=datetime(2026, 12, 3, tzinfo=UTC),
        verdict=v,
        probes=(nginx_502(),),
        origin=ORIGIN,
        origin_protocols=TLS_HTTP1,
    )
    data = diagnosis_to_dict(d)
    assert data["verdict"]["mismatch"]["kind"] == "plain_to_tls"
    assert data["verdict"]["mismatch"]["cause"] == "tls"
    assert data["verdict"]["other_mismatches"][0]["kind"] == "h2_to_http1"
    assert data["origin_protocols"]["tls"] is True
    assert data["origin_protocols"]["plain_http1"] is False
    assert diagnosis_from_dict(data) == d
    for key in ("mismatch", "other_mismatches"):
        del data["verdict"][key]
    del data["origin_protocols"]
    old = diagnosis_from_dict(data)  # a document from before these fields
    assert old.origin_protocols is None and old.verdict.mismatch is None


def test_an_aws_alb_gets_its_target_group_setting() -> None:
    (tls_step, h2_step) = fix_steps(mismatches(PLAIN_HTTP1), "aws_alb", ORIGIN, origin_tls=False)
    assert "AWS ALB: target group protocol `HTTP` on port 8443" in tls_step
    assert "protocol version `HTTP1`" in h2_step
    assert "nginx" not in tls_step + h2_step
