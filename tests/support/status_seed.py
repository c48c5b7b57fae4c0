"""A channel with a realistic history for status page tests and the docs' screenshot.

Writes rows the way the bot would have written them over days (monitors, hourly rollups with
latency histograms, incidents) straight into a real :class:`bot.storage.Store`, since days of
checks cannot be run in a test. Deterministic: the same ``seed`` gives the same history.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from bot import histogram
from bot.commands import Expect, Watch
from bot.model import Channel
from bot.storage import Store
from checks import Cause

HOUR = 3600


@dataclass(frozen=True, slots=True)
class Seeded:
    url: str
    state: str
    """``up``, ``down`` or ``new``."""
    latency_ms: float = 120.0
    outages: tuple[tuple[float, float, Cause], ...] = ()
    """``(hours ago it began, hours it lasted, cause)``; one lasting to now is still open."""


MIX: tuple[Seeded, ...] = (
    Seeded("https://shop.example.com/", "up", 140.0, ((30.0, 0.4, Cause.WORKERS_EXHAUSTED),)),
    Seeded("https://api.example.com/v1/health?key=s3cret-api-key", "up", 85.0),
    Seeded("https://checkout.example.com/cart", "down", 260.0, ((1.5, 1.5, Cause.ORIGIN_DOWN),)),
    Seeded("https://cdn.example.net/assets/app.js", "up", 45.0, ((52.0, 3.0, Cause.TIMEOUT),)),
    Seeded("https://blog.example.org/", "new"),
)
"""The screenshot's channel: three up, one down with an open incident, one not checked yet."""


def seed_channel(
    store: Store,
    channel: Channel,
    monitors: tuple[Seeded, ...] = MIX,
    *,
    now: float,
    days: int = 30,
    every: int = 60,
    seed: int = 7,
) -> list[int]:
    """Create ``monitors`` in ``channel`` with ``days`` of hourly rollups up to ``now``;
    returns their ids in order."""
    rng = random.Random(seed)
    ids: list[int] = []
    current = math.floor(now / HOUR)
    per_hour = HOUR // every
    with store.transaction():
        for spec in monitors:
            watch = Watch(spec.url, every=every, expect=Expect.default(), timeout=4.0)
            monitor = store.add_monitor(channel, watch, created_by="seed", now=now - days * 86400)
            ids.append(monitor.id)
            if spec.state == "new":
                continue
            incident_id = None
            for ago, length, cause in spec.outages:
                start, end = now - ago * HOUR, now - (ago - length) * HOUR
                still_open = end >= now - 1
                cursor = store.execute(
                    "INSERT INTO incidents (monitor_id, opened_at, closed_at, cause,"
                    " first_failure_at, last_failure_at, last_notified_at, alerted)"
                    " VALUES (?,?,?,?,?,?,?,1)",
                    (
                        monitor.id,
                        start + 2 * every,
                        None if still_open else end,
                        cause.value,
                        start,
                        min(end, now),
                        start + 2 * every,
                    ),
                )
                if still_open:
                    incident_id = cursor.lastrowid
            for hour in range(current - days * 24 + 1, current + 1):
                checks = per_hour if hour < current else max(1, int((now % HOUR) / every))
                failures = 0
                for ago, length, _ in spec.outages:
                    begin, finish = now - ago * HOUR, now - (ago - length) * HOUR
                    overlap = min(finish, (hour + 1) * HOUR) - max(begin, hour * HOUR)
                    if overlap > 0:
                        failures += min(checks, math.ceil(overlap / every))
                failures = min(failures, checks)
                counts: dict[int, int] = {}
                base = spec.latency_ms * (1.0 + 0.25 * math.sin(hour / 5.0))
                for _ in range(checks - failures):
                    ms = rng.lognormvariate(math.log(base), 0.25)
                    index = histogram.bucket(ms)
                    counts[index] = counts.get(index, 0) + 1
                store.execute(
                    "INSERT INTO rollups (monitor_id, hour, checks, failures, latency)"
                    " VALUES (?,?,?,?,?)",
                    (monitor.id, hour, checks, failures, histogram.encode(counts) or None),
                )
            store.execute(
                "UPDATE monitors SET state = ?, last_checked = ?, incident_id = ?,"
                " last_outcome = ? WHERE id = ?",
                (
                    spec.state,
                    now - 20,
                    incident_id,
                    "502" if spec.state == "down" else "200",
                    monitor.id,
                ),
            )
    return ids
