"""The request a check sends (method, headers, body, credentials) and what it asks of the answer
(keyword, latency threshold), against a real API on loopback (tests.support.servers.ApiServer)."""

from __future__ import annotations

import json
import logging
import time

import pytest

from checks import Auth, Cause, Finding, InvalidRequest, RequestSpec, diagnosis_to_dict
from checks._exchange import Outcome
from checks.jsonout import diagnosis_from_dict
from tests.checks.conftest import origin, public, run
from tests.support.servers import ApiServer, endless_body_server

SECRET = "s3cr3t-t0ken-value-4242"
"""The bearer token: it must appear on the wire and nowhere else."""


def bearer() -> Auth:
    return Auth("bearer", ("API_TOKEN",), (SECRET,))


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


async def test_a_plain_check_sends_what_it_always_sent() -> None:
    with ApiServer() as api:
        d = await run(api.url + "page")
    method, _, headers, body = api.seen[0]
    assert (method, body) == ("GET", b"")
    assert set(headers) == {"host", "user-agent", "accept", "accept-encoding"}
    assert d.request is None and d.findings == () and d.healthy


async def test_bearer_auth_opens_what_needs_it_and_the_token_shows_nowhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with ApiServer(token=SECRET) as api:
        without = await run(api.url + "private")
        spec = RequestSpec(auth=bearer())
        with_token = await run(api.url + "private", request=spec)
    assert public(without)[0].status == 401
    assert public(with_token)[0].status == 200
    assert api.seen[-1][2]["authorization"] == f"Bearer {SECRET}"
    document = json.dumps(diagnosis_to_dict(with_token))
    _no_secret(document, repr(with_token), repr(spec), caplog.text)
    assert any(
        '-H "Authorization: Bearer $API_TOKEN"' in line for line in with_token.verdict.reproduce
    )
    assert json.loads(document)["request"]["auth"] == {"scheme": "bearer", "env": ["API_TOKEN"]}
    assert diagnosis_from_dict(json.loads(document)).request == spec.redacted()
    assert with_token.request is not None and with_token.request.auth is not None
    assert with_token.request.auth.values == ()  # what a diagnosis keeps holds no secret


async def test_basic_auth_sends_user_and_password() -> None:
    with ApiServer(basic=("ops", SECRET)) as api:
        spec = RequestSpec(auth=Auth("basic", ("API_USER", "API_PASS"), ("ops", SECRET)))
        d = await run(api.url + "private", request=spec)
    assert public(d)[0].status == 200
    assert any('-u "$API_USER:$API_PASS"' in line for line in d.verdict.reproduce)
    _no_secret(json.dumps(diagnosis_to_dict(d)))


async def test_post_with_a_json_body_and_headers() -> None:
    body = '{"a": 1}'
    with ApiServer(want={"a": 1}) as api:
        get = await run(api.url + "submit")
        spec = RequestSpec(
            method="POST", headers=(("Content-Type", "application/json"),), body=body
        )
        post = await run(api.url + "submit", request=spec)
    assert public(get)[0].status == 405
    assert public(post)[0].status == 200
    method, _, headers, sent = api.seen[-1]
    assert (method, sent, headers["content-type"]) == ("POST", body.encode(), "application/json")
    line = post.verdict.reproduce[0]
    assert line.startswith(
        "curl -X POST -H 'Content-Type: application/json' --data-raw '{\"a\": 1}' "
    )


async def test_the_origin_bypass_sends_the_same_request() -> None:
    with ApiServer(token=SECRET) as api:
        d = await run(
            f"http://127.0.0.1:{api.port}/private",
            origin=f"127.0.0.1:{api.port}",
            request=RequestSpec(auth=bearer()),
        )
    assert [p.status for p in origin(d)] == [200]
    assert all(seen[2].get("authorization") == f"Bearer {SECRET}" for seen in api.seen)


async def test_keyword_missing_and_present_are_plain_outcomes_not_causes() -> None:
    with ApiServer(page=b"<h1>Maintenance: error 17</h1>") as api:
        missing = await run(api.url + "page", request=RequestSpec(keyword="ok"))
        present = await run(api.url + "page", request=RequestSpec(not_keyword="error"))
        fine = await run(api.url + "page", request=RequestSpec(keyword="error", not_keyword="ok"))
    assert missing.findings == (Finding.KEYWORD_MISSING,)
    assert present.findings == (Finding.KEYWORD_PRESENT,)
    assert fine.findings == () and fine.healthy
    for d in (missing, present):
        assert d.verdict.cause is Cause.OK and not d.healthy
    assert "does not contain “ok” (keyword missing)" in missing.verdict.summary
    assert "contains “error” (keyword present)" in present.verdict.summary


async def test_a_keyword_past_the_kept_excerpt_is_still_found() -> None:
    """The body is searched as it is read (up to BODY_DRAIN), across chunk boundaries."""
    page = b"x" * (200 * 1024 - 3) + b"needle" + b"y" * 1000
    with ApiServer(page=page) as api:
        d = await run(api.url + "page", request=RequestSpec(keyword="needle"))
    assert d.findings == ()
    assert "needle" not in public(d)[0].body_excerpt


async def test_slow_answer_over_the_threshold() -> None:
    with ApiServer(delay=0.3) as api:
        slow = await run(api.url + "slow", request=RequestSpec(slow_ms=100))
        quick = await run(api.url + "page", request=RequestSpec(slow_ms=2000))
    assert slow.findings == (Finding.SLOW,)
    assert "over the 100 ms threshold (slow)" in slow.verdict.summary
    assert quick.findings == ()


async def test_follow_off_makes_the_redirect_the_result() -> None:
    with ApiServer() as api:
        off = await run(api.url + "moved", follow=False, request=RequestSpec(keyword="ok"))
        on = await run(api.url + "moved", follow=True, request=RequestSpec(keyword="ok"))
    assert public(off)[0].status == 302 and off.findings == (Finding.KEYWORD_MISSING,)
    assert public(on)[0].status == 200 and on.findings == ()
    assert public(on)[0].redirects == (api.url + "moved",)


async def test_see_other_turns_a_post_into_a_get() -> None:
    spec = RequestSpec(method="POST", body='{"a": 1}')
    with ApiServer(want={"a": 1}) as api:
        d = await run(api.url + "see-other", follow=True, request=spec)
    assert [(m, p, b) for m, p, _, b in api.seen] == [
        ("POST", "/see-other", b'{"a": 1}'),
        ("GET", "/submit", b""),
    ]
    assert public(d)[0].status == 405


async def test_credentials_do_not_follow_a_redirect_to_another_server() -> None:
    with ApiServer(token=SECRET) as other, ApiServer(away=other.url + "private") as api:
        d = await run(api.url + "away", follow=True, request=RequestSpec(auth=bearer()))
    assert api.seen[0][2]["authorization"] == f"Bearer {SECRET}"
    assert "authorization" not in other.seen[0][2]
    assert public(d)[0].status == 401


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"method": "BREW"}, "method"),
        ({"headers": (("Host", "evil.test"),)}, "Host"),
        ({"headers": (("Connection", "upgrade"),)}, "Connection"),
        ({"headers": (("Authorization", "Bearer x"),)}, "auth="),
        ({"headers": (("X-A", "1\r\nX-B: 2"),)}, "control character"),
        ({"headers": tuple((f"X-{i}", "1") for i in range(21))}, "at most 20"),
        ({"method": "POST", "body": "x" * (64 * 1024 + 1)}, "64 KB"),
        ({"body": "x"}, "no body"),
        ({"method": "HEAD", "keyword": "ok"}, "HEAD"),
        ({"slow_ms": 0}, "threshold"),
    ],
)
def test_specs_the_engine_refuses(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        RequestSpec(**kwargs)  # type: ignore[arg-type]


def test_a_keyword_split_across_two_reads_is_found() -> None:
    out = Outcome(needles=(b"needle", b"absent"))
    for chunk in (b"x" * 70_000 + b"nee", b"dl", b"e" + b"y" * 10):
        out.body_chunk(chunk)
    assert out.found == [True, False]


async def test_a_server_that_echoes_the_credentials_never_shows_them() -> None:
    basic = Auth("basic", ("API_USER", "API_PASS"), ("ops", SECRET))
    with ApiServer() as api:
        echoed = await run(api.url + "echo", request=RequestSpec(auth=bearer()))
        shown = await run(api.url + "echo", request=RequestSpec(auth=basic))
    assert api.seen[0][2]["authorization"] == f"Bearer {SECRET}"  # it was sent...
    p = public(echoed)[0]
    assert p.body_excerpt == "you sent: Bearer $API_TOKEN"  # ...and is never shown
    assert p.header("X-Echo") == "Bearer $API_TOKEN"
    assert public(shown)[0].body_excerpt == "you sent: Basic base64($API_USER:$API_PASS)"
    for d in (echoed, shown):
        _no_secret(json.dumps(diagnosis_to_dict(d)), repr(d))
        assert "b3BzOnMzY3Iz" not in json.dumps(diagnosis_to_dict(d))  # base64 of ops:s3cr3t


async def test_a_keyword_in_an_endless_body_is_looked_for_in_a_bounded_read() -> None:
    """The search reads no more than the engine's body limit, then says the keyword is missing."""
    with endless_body_server() as endless:
        started = time.monotonic()
        d = await run(endless.url, request=RequestSpec(keyword="never-sent"), timeout=5.0)
        elapsed = time.monotonic() - started
    assert elapsed < 5.0 + 0.5
    p = public(d)[0]
    assert p.status == 200 and p.error is None
    assert d.findings == (Finding.KEYWORD_MISSING,)
