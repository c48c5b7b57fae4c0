"""The wire shape of a diagnosis (probe workers → coordinator over Redis): an exact round trip
for real diagnoses of real servers on 127.0.0.1, JSON-safe, and strict: anything else is a
ValueError, never a KeyError, TypeError or a half-read value."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import Auth, Cause, Diagnosis, ErrorKind, Finding, RequestSpec, Timings
from checks.wire import (
    MAX_ITEMS,
    MAX_WIRE_BYTES,
    diagnosis_from_dict,
    diagnosis_from_json,
    diagnosis_to_dict,
    diagnosis_to_json,
)
from tests.checks.conftest import public, run
from tests.support import DnsStub, closed_port, nginx, ok_server, tls_server


def _json_safe(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def _round_trips(d: Diagnosis) -> None:
    document = diagnosis_to_dict(d)
    assert _json_safe(document)
    back = diagnosis_from_dict(document)
    assert back == d
    # Equal is not enough for "exact": the types inside come back too (a tuple, not a list).
    assert repr(back) == repr(d)
    text = diagnosis_to_json(d)
    assert diagnosis_from_json(text) == d
    assert diagnosis_from_json(text.encode()) == d


async def _ok() -> Diagnosis:
    with ok_server(headers={"Server": "nginx", "X-Request-Id": "abc"}) as server:
        d = await run(server.url)
    assert d.verdict.cause is Cause.OK and public(d)[0].status == 200
    return d


async def _nginx_502() -> Diagnosis:
    with closed_port() as dead, nginx(dead.url) as gw:
        d = await run(gw.url, origin=dead.address)
    assert public(d)[0].status == 502
    assert d.verdict.cause is Cause.ORIGIN_DOWN and d.verdict.generated_by == "nginx"
    return d


async def _refused() -> Diagnosis:
    with closed_port() as dead:
        d = await run(dead.url)
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.CONNECT_REFUSED
    return d


async def _tls_expired() -> Diagnosis:
    with tls_server("expired") as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        d = await run(
            f"https://shop.test:{server.port}/", resolver=dns.address, ca_bundle=server.ca_pem_path
        )
    (p,) = public(d)
    assert p.error is not None and p.error.kind is ErrorKind.TLS_EXPIRED
    assert p.tls is not None and p.tls.not_after is not None
    assert d.dns is not None and d.dns.records and d.dns.records[0].ttl is not None
    return d


async def _keyword_with_auth() -> Diagnosis:
    spec = RequestSpec(
        method="POST",
        headers=(("X-Api", "1"),),
        body="{}",
        auth=Auth("bearer", ("API_TOKEN",), ("s3cret",)),
        keyword="never-there",
        slow_ms=5000,
    )
    with ok_server() as server:
        d = await run(server.url, request=spec, runs=2)
    assert Finding.KEYWORD_MISSING in d.findings and d.request is not None
    return d


CASES: list[Any] = [
    pytest.param(_ok, id="200"),
    pytest.param(_nginx_502, id="nginx-502", marks=pytest.mark.gateways),
    pytest.param(_refused, id="refused"),
    pytest.param(_tls_expired, id="tls-expired"),
    pytest.param(_keyword_with_auth, id="keyword-auth-runs-2"),
]


@pytest.mark.parametrize("make", CASES)
async def test_a_real_diagnosis_crosses_the_wire_exactly(
    make: Callable[[], Awaitable[Diagnosis]],
) -> None:
    _round_trips(await make())


@pytest.mark.parametrize("make", CASES)
async def test_a_real_diagnosis_pickles_exactly(make: Callable[[], Awaitable[Diagnosis]]) -> None:
    """Shards pickle diagnoses to the front (checks/model.py pickles each value as its class
    and field values): every field, and the types inside, come back; runs_done short of runs
    survives the class's __post_init__."""
    d = await make()
    for value in (d, replace(d, runs=3, runs_done=1)):
        back = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == value and repr(back) == repr(value)
        assert back.runs_done == value.runs_done


async def test_the_details_jsonout_loses_come_back() -> None:
    """An int timing stays an int, the status mix keeps its order and repeats, runs_done
    short of runs survives, and credentials' values never travel."""
    d = await _keyword_with_auth()
    p = d.probes[0]
    d = replace(
        d,
        probes=(replace(p, timings=Timings(dns=None, connect=1, total=2.5)), *d.probes[1:]),
        status_mix=(("200", 1), ("502", 2), ("200", 1)),
        runs_done=1,
    )
    _round_trips(d)
    assert "s3cret" not in diagnosis_to_json(d)
    back = diagnosis_from_dict(diagnosis_to_dict(d))
    assert type(back.probes[0].timings.connect) is int
    assert back.request is not None and back.request.auth is not None
    assert back.request.auth.values == ()


MALFORMED: list[Any] = [
    pytest.param(lambda d: d.clear(), id="empty"),
    pytest.param(lambda d: d.pop("verdict"), id="no-verdict"),
    pytest.param(lambda d: d.update(extra=1), id="unknown-key"),
    pytest.param(lambda d: d.update(v=2), id="other-version"),
    pytest.param(lambda d: d.update(v=True), id="version-bool"),
    pytest.param(lambda d: d["verdict"].update(cause="no_such_cause"), id="unknown-cause"),
    pytest.param(lambda d: d["verdict"].update(confidence=float("nan")), id="nan"),
    pytest.param(lambda d: d["verdict"].update(confidence="0.9"), id="number-as-string"),
    pytest.param(lambda d: d["verdict"].update(evidence="one"), id="string-for-list"),
    pytest.param(lambda d: d.update(checked_at="yesterday"), id="bad-time"),
    pytest.param(lambda d: d.update(checked_at="2026-01-01T00:00:00"), id="naive-time"),
    pytest.param(lambda d: d.update(probes=5), id="probes-not-a-list"),
    pytest.param(lambda d: d.update(probes=[{"target": "public"}]), id="probe-missing-keys"),
    pytest.param(lambda d: d["probes"][0].update(status=True), id="status-bool"),
    pytest.param(lambda d: d["probes"][0].update(status=200.0), id="status-float"),
    pytest.param(lambda d: d["probes"][0].update(port=2**60), id="huge-int"),
    pytest.param(
        lambda d: d["probes"][0].update(error={"kind": "bogus", "message": "m"}),
        id="unknown-error-kind",
    ),
    pytest.param(lambda d: d["probes"][0].update(headers=[["a"]]), id="header-not-a-pair"),
    pytest.param(lambda d: d["probes"][0].update(body_excerpt="x" * 200_000), id="long-string"),
    pytest.param(lambda d: d.update(ips_seen=["1.1.1.1"] * (MAX_ITEMS + 1)), id="long-list"),
    pytest.param(lambda d: d.update(dns="8.8.8.8"), id="dns-not-an-object"),
    pytest.param(lambda d: d.update(status_mix={"200": 1}), id="status-mix-object"),
    pytest.param(lambda d: d.update(runs=0), id="no-runs"),
    pytest.param(lambda d: d.update(runs_done=5), id="runs-done-over-runs"),
    pytest.param(
        lambda d: d.update(
            request={
                "method": "GET",
                "headers": [["Authorization", "x"]],
                "body": "",
                "auth": None,
                "keyword": None,
                "not_keyword": None,
                "slow_ms": None,
            }
        ),
        id="forbidden-header",
    ),
    pytest.param(lambda d: d.update(verdict=None), id="verdict-null"),
]


@pytest.mark.parametrize("change", MALFORMED)
async def test_a_malformed_document_is_a_value_error(
    change: Callable[[dict[str, Any]], None],
) -> None:
    document = copy.deepcopy(diagnosis_to_dict(await _ok()))
    change(document)
    with pytest.raises(ValueError, match="not a wire diagnosis"):
        diagnosis_from_dict(document)


def test_json_text_is_bounded_and_strict() -> None:
    with pytest.raises(ValueError, match="over"):
        diagnosis_from_json(b" " * (MAX_WIRE_BYTES + 1))
    for text in (b"{", b"\xff\xfe", b"[]", b"NaN", b"null", "[" * 100_000):
        with pytest.raises(ValueError, match="not a wire diagnosis"):
            diagnosis_from_json(text)


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def ok_document() -> dict[str, Any]:
    import asyncio

    return diagnosis_to_dict(asyncio.run(_ok()))


def _paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_change_anywhere_decodes_or_is_a_value_error(
    ok_document: dict[str, Any], data: st.DataObject
) -> None:
    """Replace any one value of a real document with anything: the decoder either reads a
    diagnosis or raises ValueError; no other exception escapes."""
    document = copy.deepcopy(ok_document)
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    holder: Any = document
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = data.draw(_ANY)
    try:
        back = diagnosis_from_dict(
            json.loads(json.dumps(document)) if data.draw(st.booleans()) else document
        )
    except ValueError:
        return
    assert isinstance(back, Diagnosis)
