"""The check502 command line, run in-process and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from adapters.cli.main import EXIT_READER_GONE, main
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
    ("options", "setting", "refused"),
    [
        ([], None, False),  # the operator's tool: loopback is checked by default
        ([], "  ", False),  # a blank setting is unset, as the bot reads it
        (["--deny-internal"], None, True),
        ([], "10.0.0.0/8", True),  # a set variable applies the bot's policy, its networks allowed
        ([], "127.0.0.0/8, 10.0.0.0/8", False),
        (["--allow", "10.0.0.0/8"], None, True),  # --allow implies the bot's policy plus NET
        (["--allow", "127.0.0.1"], None, False),
        (["--deny-internal", "--allow", "127.0.0.1"], "10.0.0.0/8", False),
    ],
)
def test_address_policy(
    options: list[str],
    setting: str | None,
    refused: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if setting is None:
        monkeypatch.delenv("CHECK502_ALLOW_NETWORKS", raising=False)
    else:
        monkeypatch.setenv("CHECK502_ALLOW_NETWORKS", setting)
    with ok_server() as server:
        code = main([server.url, *options])
    out, err = capsys.readouterr()
    if refused:
        assert code == 2
        assert err.startswith("check502: 127.0.0.1 is a loopback address"), err
        assert out == ""
    else:
        assert code == 0, err
        assert out.startswith("✓ healthy")


def test_version_is_looked_up_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("check502 ")


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


def _into_a_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the command with standard output a real pipe whose reader has already exited."""
    read, write = os.pipe()
    os.close(read)  # the reader (`head -c 100`) is gone before the command writes a byte
    try:
        return subprocess.run(
            [sys.executable, "-m", "adapters.cli", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (["--json"], EXIT_READER_GONE),
        ([], EXIT_READER_GONE),
        (["explain", "connect() failed (111: Connection refused)"], EXIT_READER_GONE),
        (["--help"], 0),  # argparse drops a failed write of its help (and so the pipe's error)
    ],
    ids=["json", "text", "explain", "help"],
)
def test_a_reader_that_went_away_ends_it_quietly(options: list[str], code: int) -> None:
    with ok_server() as server:
        argv = options if options[:1] in (["explain"], ["--help"]) else [server.url, *options]
        result = _into_a_closed_pipe(argv)
    assert result.returncode == code
    assert result.stderr == ""  # no traceback, no "Exception ignored", no message (curl -s)
    assert EXIT_READER_GONE == 141  # what a shell shows for `seq 1 1000000 | head -c 10`


def test_head_reads_the_start_of_the_json_document() -> None:
    """``check502 --json URL | head -c 100`` in a shell: head gets its 100 bytes and the command
    ends without a word on stderr, whether head left before the command wrote (141) or after."""
    with ok_server() as server:
        command = f"{sys.executable} -m adapters.cli --json --runs 3 {server.url} | head -c 100"
        result = subprocess.run(
            ["bash", "-c", f"{command}; echo; echo ${{PIPESTATUS[0]}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    head, status = result.stdout.rsplit("\n", 2)[:2]
    assert head.startswith('{\n  "url": ') and len(head.encode()) == 100, result.stdout
    assert status in ("0", "141"), result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["unbuffered", "buffered"])
def test_a_reader_leaving_mid_document_is_noticed(unbuffered: str) -> None:
    """A document longer than a pipe holds: head leaves while the command still writes. With
    PYTHONUNBUFFERED the raw write stops short, which the text layer would take for success."""
    with ok_server(body=b"x" * 16 * 1024) as server:
        command = f"{sys.executable} -m adapters.cli --json --runs 8 {server.url} | head -c 100"
        result = subprocess.run(
            ["bash", "-c", f"{command} >/dev/null; echo ${{PIPESTATUS[0]}}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PYTHONUNBUFFERED": unbuffered},
        )
    assert result.stdout == f"{EXIT_READER_GONE}\n", result.stdout
    assert result.stderr == ""


_LOADED = """
import json, sys
from adapters.cli.main import main
code = main(sys.argv[1:])
sys.stderr.write(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
raise SystemExit(code)
"""


def test_a_plain_http_check_loads_neither_the_bot_nor_tls_dns_or_http2() -> None:
    """What ``check502 URL`` imports for a plain-HTTP check of an IP: not the bot (APScheduler,
    sqlite-utils), and not what only TLS, DNS or HTTP/2 need (its cold start, bench/cli_start)."""
    with ok_server() as server:
        result = subprocess.run(
            [sys.executable, "-c", _LOADED, server.url],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("✓ healthy")
    loaded = set(json.loads(result.stderr))
    assert "checks" in loaded and "h11" in loaded  # the probe did run here
    assert loaded.isdisjoint({"bot", "apscheduler", "sqlite_utils"}), loaded
    assert loaded.isdisjoint({"cryptography", "dns", "httpcore", "h2", "certifi"}), loaded
