"""The root guard (``tests/conftest.py``) refuses what leaves loopback and lets loopback pass.

Blocked attempts name ``0.0.0.0``: outside 127.0.0.0/8, so the guard must refuse it, yet on
Linux a connect to it that slipped through would still land on this machine (a closed port),
never on the network.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from tests.conftest import Guard, NetworkBlocked, outside_loopback
from tests.support import closed_port, ok_server

ROOT_CONFTEST = Path(__file__).parents[1] / "conftest.py"


@pytest.mark.parametrize(
    ("host", "outside"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("[::1]", False),
        ("::ffff:127.0.0.1", False),
        ("localhost", False),
        (None, False),
        ("0.0.0.0", True),
        ("10.0.0.1", True),
        ("169.254.169.254", True),
        ("::ffff:10.0.0.1", True),
        ("fe80::1%eth0", True),
        ("example.com", True),
        ("127.0.0.1.nip.io", True),
    ],
)
def test_what_counts_as_loopback(host: str | None, outside: bool) -> None:
    assert outside_loopback(host) is outside


def test_connect_beyond_loopback_is_refused_and_recorded(network_guard: Guard) -> None:
    port = closed_port().port
    with socket.socket() as sock, pytest.raises(NetworkBlocked, match="beyond loopback"):
        sock.connect(("0.0.0.0", port))
    with socket.socket() as sock, pytest.raises(NetworkBlocked):
        sock.connect_ex(("0.0.0.0", port))
    with socket.socket(type=socket.SOCK_DGRAM) as sock, pytest.raises(NetworkBlocked):
        sock.sendto(b"x", ("0.0.0.0", port))
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("shop.invalid", 80)
    assert len(network_guard.forgive()) == 4


async def test_asyncio_connections_are_guarded_too(network_guard: Guard) -> None:
    port = closed_port().port
    with pytest.raises(NetworkBlocked):
        await asyncio.wait_for(asyncio.open_connection("0.0.0.0", port), 5)
    assert network_guard.forgive()


def test_loopback_and_unix_sockets_pass(network_guard: Guard, tmp_path: Path) -> None:
    with ok_server() as server:
        for host in ("127.0.0.1", "localhost"):
            with socket.create_connection((host, server.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert sock.recv(12) == b"HTTP/1.1 200"
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
    assert network_guard.violations == []


def test_a_caught_attempt_still_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    port = closed_port().port
    pytester.makepyfile(
        f"""
        import socket

        def test_swallows_the_error():
            try:
                socket.create_connection(("0.0.0.0", {port}), timeout=2)
            except OSError:
                pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*reached beyond loopback:", "*connect(('0.0.0.0'*"])
