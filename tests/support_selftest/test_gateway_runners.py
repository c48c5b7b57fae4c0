"""The Apache httpd and Varnish runners: loopback only, routes, errors, nothing left behind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import (
    Apache,
    GatewayStartError,
    Varnish,
    apache,
    closed_port,
    ok_server,
    varnish,
)

pytestmark = [
    pytest.mark.gateways,
    pytest.mark.skipif(
        not (Path(Apache.APACHE).exists() and Path(Varnish.VARNISHD).exists()),
        reason="apache2 or varnish not installed",
    ),
]


def _listening(pids: set[int]) -> set[str]:
    """Local addresses that any of ``pids`` listens on (via ``ss``)."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("ss not installed")
    out = subprocess.run([ss, "-Hlntup"], capture_output=True, text=True, check=True).stdout
    return {line.split()[4] for line in out.splitlines() if any(f"pid={p}," in line for p in pids)}


def _family(pid: int) -> set[int]:
    """``pid`` and its children (Apache's workers, Varnish's cache process)."""
    found = {pid}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) in found:
                found.add(int(status.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    return {p for p in pids if Path(f"/proc/{p}").exists() and _not_zombie(p)}


def _not_zombie(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("make", [apache, varnish], ids=["apache", "varnish"])
def test_listens_on_its_loopback_port_only_and_leaves_nothing(make: type) -> None:
    with ok_server(body=b"default") as default, ok_server(body=b"routed") as routed:
        if make is apache:
            gw = apache(default.url, routes={"r": f"http://{routed.address}"})
        else:
            gw = varnish("127.0.0.1", default.port, routes={"r": ("127.0.0.1", routed.port)})
        with gw:
            assert gw.proc is not None
            family = _family(gw.proc.pid)
            assert _listening(family) == {f"127.0.0.1:{gw.port}"}
            assert httpx.get(gw.url, timeout=5).text == "default"
            assert httpx.get(f"{gw.url}r/", timeout=5).text == "routed"
            # The route's prefix is not passed on: the origin sees "/".
            assert routed.requests and routed.requests[-1].startswith(b"GET / HTTP/1.1")
            family = _family(gw.proc.pid)
            workdir = gw.dir
        assert not workdir.exists()
        assert _alive(family) == set(), family


def test_apache_config_error_carries_its_message() -> None:
    with (
        pytest.raises(GatewayStartError, match=r"Invalid command 'NoSuchDirective'"),
        apache("http://127.0.0.1:9", extra_config="NoSuchDirective on"),
    ):
        pass


def test_varnish_vcl_error_carries_the_compiler_message() -> None:
    with (
        pytest.raises(GatewayStartError, match=r"VCL compilation failed|Syntax error"),
        varnish("127.0.0.1", 9, extra_vcl="sub vcl_recv { this is not vcl }"),
    ):
        pass


def test_varnish_fetch_errors_name_the_route_backend() -> None:
    with (
        closed_port() as dead,
        ok_server() as app,
        varnish("127.0.0.1", app.port, routes={"dead": ("127.0.0.1", dead.port)}) as gw,
    ):
        assert httpx.get(f"{gw.url}dead/", timeout=5).status_code == 503
        assert httpx.get(gw.url, timeout=5).status_code == 200
        gw.wait_for_log("errno 111", source=lambda: "\n".join(gw.fetch_errors_for("dead")))
        assert gw.fetch_errors_for(None) == []
