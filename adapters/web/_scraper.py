"""The metrics worker: a process of its own that reads the database's gauges and encodes scrapes.

At 10,000 monitors a scrape is some 70,000 samples, about 1 s of CPU in prometheus_client's
encoder; in a thread of the bot's process that CPU would still hold the GIL the event loop needs
(and delay due checks, ``bench/web``), so it happens here. The bot starts it with
``python -m adapters.web._scraper <database> <bot's pid>`` and talks to it over its stdin and
stdout: each message is a 4-byte big-endian length and a pickle (both ends are this package;
nothing else writes to the pipes). A request is a :class:`Request`, an answer an
:class:`~adapters.web._exposition.Encoded` or an error :class:`Failure`. The worker reads the
database through its own read-only connection, so it never blocks the bot's writes (WAL), runs
at a lower CPU priority than the bot (``nice`` +10: on busy cores due checks go first), and it
ends when its stdin closes (the bot stopped or died).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
from dataclasses import dataclass
from typing import BinaryIO

from bot.errors import StorageError
from bot.stats import CoreSnapshot, StoreGauges, open_reader, read_gauges

_LENGTH = struct.Struct(">I")
NICE = 10
"""How much lower the worker's CPU priority is than the bot's."""
READY = "ready"
"""The worker's first message, once it can answer."""
MAX_MESSAGE = 256 << 20
"""A message larger than this is a broken pipe's garbage, not a scrape."""


@dataclass(frozen=True, slots=True)
class Request:
    core: CoreSnapshot
    now: float
    accept: str
    gzip_ok: bool
    gauges: StoreGauges | None = None
    """Read by the bot already (an in-memory database, which no other process can open)."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """A scrape's answer: the body (gzipped or not) and its ``Content-Type``."""

    body: bytes
    content_type: str
    gzipped: bool


@dataclass(frozen=True, slots=True)
class Failure:
    """The scrape could not be made; ``storage`` when the database failed (a 503)."""

    message: str
    storage: bool


def write_message(stream: BinaryIO, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def read_message(stream: BinaryIO) -> object | None:
    """The next message, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    if length > MAX_MESSAGE:
        raise ValueError(f"a message of {length} bytes")
    data = stream.read(length)
    if len(data) < length:
        return None
    value: object = pickle.loads(data)  # from the bot that started us, over our own pipe
    return value


def serve(path: str, bot_pid: int, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Answer requests until stdin ends."""
    from adapters.web._exposition import Renderer  # noqa: PLC0415 - after the pipes are set

    renderer = Renderer(pid=bot_pid)
    write_message(stdout, READY)
    reader = None
    try:
        while (request := read_message(stdin)) is not None:
            assert isinstance(request, Request)
            answer: object
            try:
                gauges = request.gauges
                if gauges is None:
                    if reader is None:
                        reader = open_reader(path)
                    gauges = read_gauges(reader, request.now, path=path)
                answer = renderer.render(
                    request.core, gauges, accept=request.accept, gzip_ok=request.gzip_ok
                )
            except StorageError as exc:
                answer = Failure(exc.reason, storage=True)
                if reader is not None:  # a fresh connection next time
                    reader.close()
                    reader = None
            except Exception as exc:  # noqa: BLE001 - the bot logs it; this worker goes on
                answer = Failure(f"{type(exc).__name__}: {exc}", storage=False)
            write_message(stdout, answer)
    finally:
        if reader is not None:
            reader.close()


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: python -m adapters.web._scraper DATABASE BOT_PID", file=sys.stderr)
        return 2
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by accident can break the protocol
    # Below the bot: when the cores are busy, due checks go first and a scrape waits.
    with contextlib.suppress(OSError):
        os.nice(NICE)
    try:
        serve(sys.argv[1], int(sys.argv[2]), sys.stdin.buffer, stdout)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0
    return 0


if __name__ == "__main__":
    # Run as the package's module, not as __main__, so that what is pickled names its classes
    # as the bot does (adapters.web._scraper.Request, not __main__.Request).
    from adapters.web._scraper import main as package_main

    sys.exit(package_main())
