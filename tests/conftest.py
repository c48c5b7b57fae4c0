"""The network is shut for every test: only loopback (127.0.0.0/8, ::1) and Unix sockets.

An autouse guard wraps the socket calls that leave the machine (``connect``, ``connect_ex``,
``sendto``, name resolution) for the whole test, in every thread. A call that names another
address raises :class:`NetworkBlocked` at once, and the test fails at teardown even if the code
under test caught the error (an engine maps an ``OSError`` into a probe result, so raising alone
would not be seen). Names are refused unless they are ``localhost``: a name is resolved by the
system's DNS, which is the network. IP literals pass resolution (it asks nobody); their connect
is what is judged. The idea comes from python-telegram-bot's ``tests/auxil/networking.py``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ("pytester",)

_LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class NetworkBlocked(OSError):
    """A test tried to reach beyond loopback."""


def outside_loopback(host: object) -> bool:
    """True when ``host`` (an address's host part or a name) is not loopback."""
    if host is None:
        return False  # getaddrinfo(None, port): the local wildcard, no lookup
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return True
    name = host.strip("[]").split("%", 1)[0]
    if name.lower() in _LOCAL_NAMES:
        return False
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return True  # a name: resolving it asks the system's DNS
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_loopback


def _literal(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


class Guard:
    """Records every attempt to reach beyond loopback; raises at the attempt."""

    def __init__(self) -> None:
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def refuse(self, call: str, target: object) -> None:
        message = f"{call}({target!r}) reaches beyond loopback; tests use 127.0.0.1 only"
        with self._lock:
            self.violations.append(message)
        raise NetworkBlocked(message)

    def check_address(self, call: str, family: int, address: object) -> None:
        if family == getattr(socket, "AF_UNIX", None):
            return
        if family not in (socket.AF_INET, socket.AF_INET6):
            self.refuse(call, address)
        host = address[0] if isinstance(address, tuple) and address else address
        if outside_loopback(host):
            self.refuse(call, address)

    def forgive(self) -> list[str]:
        """For the guard's own tests: take (and clear) what was recorded."""
        with self._lock:
            seen, self.violations = self.violations, []
        return seen


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Guard]:
    guard = Guard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname

    def connect(self: socket.socket, address: Any) -> None:
        guard.check_address("connect", self.family, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard.check_address("connect_ex", self.family, address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if args:
            guard.check_address("sendto", self.family, args[-1])
        return real_sendto(self, data, *args)  # type: ignore[call-overload,no-any-return]

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _literal(host) and outside_loopback(host):
            guard.refuse("getaddrinfo", host)
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not _literal(host) and outside_loopback(host):
            guard.refuse("gethostbyname", host)
        return real_gethostbyname(host)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
    yield guard
    monkeypatch.undo()
    if guard.violations:
        shown = "\n  ".join(dict.fromkeys(guard.violations))
        pytest.fail(f"the test reached beyond loopback:\n  {shown}", pytrace=False)
