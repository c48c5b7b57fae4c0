"""A real ``redis-server`` from Debian on a free 127.0.0.1 port, for the regions tests and
``bench/workers``.

Nothing is kept on disk (``--save '' --appendonly no``), the server runs in the test's own
temporary directory, and it is terminated (then killed, bounded) when the block ends::

    with redis_server() as redis:
        env["CHECK502_REDIS_URL"] = redis.url
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.gateways import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
_START_TIMEOUT = 10.0


class RedisServer:
    """A running ``redis-server`` child; :attr:`url` is ``redis://127.0.0.1:PORT/0``."""

    def __init__(self, *, password: str | None = None) -> None:
        self.port = free_port()
        self.password = password
        self.dir = Path(tempfile.mkdtemp(prefix="check502-redis-"))
        args = [
            REDIS_SERVER,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        if password is not None:
            args += ["--requirepass", password]
        self._log = (self.dir / "redis.log").open("wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()[-500:]}")
            with contextlib.suppress(OSError):
                if self.command("PING") == b"+PONG":
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def command(self, *words: str) -> bytes:
        """One RESP command on a fresh connection (bounded, authenticated when the server has
        a password); its reply's first line, without the CRLF."""
        replies = 1
        out = b""
        if self.password is not None:
            out += _resp("AUTH", self.password)
            replies = 2
        out += _resp(*words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as sock:
            sock.sendall(out)
            data = b""
            while data.count(b"\r\n") < replies:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n")[replies - 1]

    def cpu_seconds(self) -> float:
        """User + system CPU the server used so far (from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def log(self) -> str:
        return (self.dir / "redis.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _resp(*words: str) -> bytes:
    out = f"*{len(words)}\r\n".encode()
    for word in words:
        data = word.encode()
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return out


@contextlib.contextmanager
def redis_server(*, password: str | None = None) -> Iterator[RedisServer]:
    server = RedisServer(password=password)
    try:
        yield server
    finally:
        server.stop()
