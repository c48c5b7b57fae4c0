"""Charts in tests: a monitor's history written into a real store, and a PNG checked as an image.

:func:`record_history` stores synthetic checks through :meth:`bot.storage.Store.record` (the
same path scheduled checks take), so a ``history`` command then reads real rollups.
:func:`png_facts` decodes a PNG with Pillow (a dependency of matplotlib): its signature and
IHDR, and how many pixels of each colour the chart draws with lie in each half of the picture.
"""

from __future__ import annotations

import io
import math
import random
import struct
from dataclasses import dataclass

from bot.model import Channel
from bot.storage import Store

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def add_monitor(store: Store, channel: Channel, url: str = "https://shop.example.com/cart") -> int:
    from bot.commands import Expect, Watch

    watch = Watch(url, every=30, expect=Expect.default(), timeout=4.0)
    return store.add_monitor(channel, watch, created_by="ann", now=0.0).id


def record_history(
    store: Store, monitor_id: int, now: float, *, hours: int = 30, only_failures: bool = False
) -> int:
    """Checks every 5 minutes over the last ``hours``: ~150 ms, 502s now and then (or, with
    ``only_failures``, refused connections only: no latency at all). Returns how many."""
    rng = random.Random(monitor_id)
    count = 0
    with store.transaction():
        at = now - hours * 3600
        while at < now:
            fail = only_failures or rng.random() < 0.08
            status = None if only_failures else (502 if fail else 200)
            store.record(
                monitor_id,
                at,
                ok=not fail,
                outcome="connect_refused" if status is None else str(status),
                cause="origin_down" if fail else "ok",
                status=status,
                total_ms=None if status is None else rng.lognormvariate(math.log(150), 0.5),
            )
            count += 1
            at += 300
    return count


@dataclass(frozen=True)
class PngFacts:
    width: int
    height: int
    size: int
    top: dict[str, int]
    """Pixels of each named colour in the top half (latency), the bottom half (failures)."""
    bottom: dict[str, int]


COLOURS = {"p50": "#1f77b4", "p95": "#ff7f0e", "failed": "#d62728"}


def png_facts(data: bytes) -> PngFacts:
    """Decode ``data`` as a PNG; raise AssertionError if it is not one."""
    import numpy as np
    from PIL import Image

    assert data[:8] == PNG_SIGNATURE, data[:16]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every row: a truncated file fails here
    assert image.size == (width, height)
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    halves: list[dict[str, int]] = [{}, {}]
    for name, colour in COLOURS.items():
        wanted = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
        close = (np.abs(rgb - wanted) <= 12).all(axis=2)
        halves[0][name] = int(close[: height // 2].sum())
        halves[1][name] = int(close[height // 2 :].sum())
    return PngFacts(width, height, len(data), halves[0], halves[1])


def assert_chart(data: bytes, *, latency: bool = True) -> PngFacts:
    """A chart PNG of ~1000×500 px within 200 KB whose panels are drawn: failure bars below,
    and (with ``latency``) the p50 and p95 lines above."""
    facts = png_facts(data)
    assert 900 <= facts.width <= 1100 and 400 <= facts.height <= 600, facts
    assert facts.size <= 200_000, facts.size
    assert facts.bottom["failed"] > 400, facts  # bars, not a stray pixel
    if latency:
        assert facts.top["p50"] > 200 and facts.top["p95"] > 200, facts
    else:
        assert facts.top["p50"] == 0 and facts.top["p95"] == 0, facts
    return facts
