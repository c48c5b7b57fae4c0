"""The check502 command line, run in-process and once as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adapters.cli.main import main
from tests.support import closed_port, ok_server


def test_healthy_url_exits_0_with_the_verdict_first(capsys: pytest.CaptureFixture[str]) -> None:
    with ok_server() as server:
        code = main([server.url, "--allow", "127.0.0.1"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].startswith("✓ healthy")
    assert "TCP Connection" in out and "Reproduce" in out and "curl " in out


def test_diagnosed_problem_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with closed_port() as dead:
        code = main([dead.url, "--allow", "127.0.0.0/8", "--timeout", "2"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0].startswith("✗ origin_down")
    assert "Next steps" in out and "connect_refused" in out


def test_json_is_exactly_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    with ok_server() as server:
        code = main([server.url, "--allow", "127.0.0.1", "--json", "--origin", server.address])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["verdict"]["cause"] == "ok"
    assert [p["target"] for p in doc["probes"]] == ["public", "origin"]
    assert doc["probes"][0]["timings_ms"]["total"] > 0


def test_allow_networks_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK502_ALLOW_NETWORKS", "127.0.0.0/8")
    with ok_server() as server:
        assert main([server.url]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["ftp://example.com/"], "only http and https"),
        (["http://exa mple.com/"], "spaces"),
        (["https://example.com/", "--runs", "zero"], "not a number"),
        (["https://example.com/", "--timeout", "-1"], "greater than 0"),
        (["https://example.com/", "--origin", "ftp://1.2.3.4"], "origin"),
        (["https://example.com/", "--resolver", "dns.google"], "--resolver"),
        (["https://example.com/", "--ca-bundle", "/nonexistent.pem"], "no such file"),
        (["https://example.com/", "--allow", "10.0.0.0/33"], "not a network"),
        (["http://127.0.0.1:9/", "--deny-internal"], "loopback"),
        (["http://169.254.169.254/latest/meta-data/", "--deny-internal"], "metadata"),
        (["http://metadata.google.internal/", "--deny-internal"], "metadata name"),
        (["http://127.0.0.1:9/", "--allow", "10.0.0.0/8"], "loopback"),
        ([], "required"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_explain_maps_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = "connect() failed (111: Connection refused) while connecting to upstream"
    assert main(["explain", line]) == 0
    out = capsys.readouterr().out
    assert out.startswith("origin_down")
    slow = "upstream timed out (110: Connection timed out) while reading response header"
    assert main(["explain", "--json", slow]) == 0
    assert json.loads(capsys.readouterr().out)["cause"] == "timeout"
    assert main(["explain", "the weather is nice"]) == 1
    capsys.readouterr()


def test_console_entry_point_runs_as_a_process() -> None:
    with closed_port() as dead:
        result = subprocess.run(
            [sys.executable, "-m", "adapters.cli", dead.url, "--allow", "127.0.0.1", "--json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["verdict"]["cause"] == "origin_down"
    assert result.stderr == ""
