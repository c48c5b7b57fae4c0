"""The JSON shape of a diagnosis reads back into the same value (storage and the alert outbox
keep diagnoses as JSON), for real diagnoses of real servers on 127.0.0.1."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from checks import Cause, Diagnosis, diagnosis_from_dict, diagnosis_to_dict
from tests.checks.conftest import origin, public, run
from tests.support import DnsStub, closed_port, ok_server, redirect_server, tls_server


def _round_trips(d: Diagnosis) -> None:
    document = diagnosis_to_dict(d)
    assert diagnosis_from_dict(document) == d
    # Through real JSON text too: tuples become lists, keys strings, and it still reads back.
    text = json.dumps(document)
    assert diagnosis_from_dict(json.loads(text)) == d
    # The reader does not change the document it is given.
    assert json.dumps(document) == text


async def _ok() -> Diagnosis:
    with ok_server(headers={"Server": "nginx", "X-Request-Id": "abc"}) as server:
        d = await run(server.url)
    assert d.verdict.cause is Cause.OK
    return d


async def _refused() -> Diagnosis:
    with closed_port() as dead:
        d = await run(dead.url)
    (p,) = public(d)
    assert p.error is not None
    return d


async def _tls() -> Diagnosis:
    with tls_server("valid") as server, DnsStub({"shop.test": ["127.0.0.1"]}) as dns:
        d = await run(
            f"https://shop.test:{server.port}/", resolver=dns.address, ca_bundle=server.ca_pem_path
        )
    (p,) = public(d)
    assert p.tls is not None and p.tls.verified and p.tls.not_after is not None
    assert d.dns is not None and d.dns.records
    return d


async def _redirect() -> Diagnosis:
    with ok_server() as target, redirect_server(target.url + "landing") as hop:
        d = await run(hop.url, follow=True)
    (p,) = public(d)
    assert p.status == 200 and p.redirects == (hop.url,)
    return d


async def _runs_with_origin() -> Diagnosis:
    with ok_server() as server:
        d = await run(server.url, runs=3, origin=server.address)
    assert d.runs == 3 and d.origin is not None
    assert len(public(d)) == 3 and len(origin(d)) == 3
    assert d.status_mix
    return d


async def _server_502() -> Diagnosis:
    with ok_server(502, b"<html>502 Bad Gateway</html>", {"Server": "cloudflare"}) as server:
        d = await run(server.url)
    assert d.verdict.cause is not Cause.OK
    return d


CASES: list[Any] = [
    pytest.param(_ok, id="ok"),
    pytest.param(_refused, id="closed-port"),
    pytest.param(_tls, id="tls"),
    pytest.param(_redirect, id="redirect-followed"),
    pytest.param(_runs_with_origin, id="runs-3-origin"),
    pytest.param(_server_502, id="502"),
]


@pytest.mark.parametrize("make", CASES)
async def test_a_real_diagnosis_reads_back_equal(make: Callable[[], Awaitable[Diagnosis]]) -> None:
    _round_trips(await make())


MALFORMED: list[Any] = [
    pytest.param(lambda d: d.clear(), id="empty"),
    pytest.param(lambda d: d.pop("verdict"), id="no-verdict"),
    pytest.param(lambda d: d["verdict"].update(cause="no_such_cause"), id="unknown-cause"),
    pytest.param(lambda d: d.update(checked_at="yesterday"), id="bad-time"),
    pytest.param(lambda d: d.update(probes=5), id="probes-not-a-list"),
    pytest.param(lambda d: d.update(probes=[{"target": "public"}]), id="probe-missing-keys"),
    pytest.param(
        lambda d: d["probes"][0].update(error={"kind": "bogus", "message": "m"}),
        id="unknown-error-kind",
    ),
    pytest.param(lambda d: d["probes"][0].pop("timings_ms"), id="no-timings"),
    pytest.param(lambda d: d.update(dns="8.8.8.8"), id="dns-not-an-object"),
    pytest.param(lambda d: d.update(status_mix=[["200", 1]]), id="status-mix-not-an-object"),
    pytest.param(lambda d: d.update(verdict=None), id="verdict-null"),
]


@pytest.mark.parametrize("change", MALFORMED)
async def test_a_malformed_document_raises_one_of_the_documented_errors(
    change: Callable[[dict[str, Any]], None],
) -> None:
    """``diagnosis_from_dict`` documents KeyError, TypeError or ValueError for another shape:
    what a caller reading stored JSON catches."""
    document = copy.deepcopy(diagnosis_to_dict(await _ok()))
    change(document)
    with pytest.raises((KeyError, TypeError, ValueError)):
        diagnosis_from_dict(document)
