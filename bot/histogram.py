"""Latency histograms with fixed log-spaced buckets, small enough to store one per monitor-hour.

Percentiles cannot be averaged across hours, but histograms with the same buckets add up, so
the hourly rollups (:mod:`bot.storage`) keep one and ``history`` merges 24 of them.

Bucket 0 holds every latency up to ``FLOOR_MS`` (0.1 ms); bucket ``i`` ≥ 1 holds the latencies in
``(FLOOR_MS·γ^(i-1), FLOOR_MS·γ^i]`` with γ = 1.06, up to bucket 255 (about 288 s, far beyond
any check's 30 s deadline; anything larger is counted there too). A bucket is read back as
``2·FLOOR_MS·γ^i / (γ + 1)``, which is within ``(γ − 1)/(γ + 1)`` (2.92 %) of every value in it:
so a percentile read from a histogram is within 2.92 % (or 0.1 ms, below 0.1 ms) of the same
percentile of the raw values, ranked the same way (nearest rank, ``round(q·(n − 1))``).

Stored as a blob of ``(bucket, count)`` pairs in bucket order: one byte for the bucket and the
count as a LEB128 varint (one byte up to 127). An hour of 30-second checks usually spans a
handful of buckets, so a blob is some 5–20 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GAMMA = 1.06
FLOOR_MS = 0.1
BUCKETS = 256
RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
"""The most a percentile read from a histogram differs from the raw one, relatively."""

_LOG_GAMMA = math.log(GAMMA)


def bucket(ms: float) -> int:
    """The bucket of a latency in milliseconds."""
    if not ms > FLOOR_MS:  # also NaN and negatives: nothing is faster than the floor
        return 0
    return min(BUCKETS - 1, max(1, math.ceil(math.log(ms / FLOOR_MS) / _LOG_GAMMA)))


def value(index: int) -> float:
    """The latency a bucket is read back as, in milliseconds."""
    if index == 0:
        return FLOOR_MS / 2
    return 2 * FLOOR_MS * GAMMA**index / (GAMMA + 1)


def add(blob: bytes | None, ms: float) -> bytes:
    """``blob`` with one more latency counted."""
    counts = decode(blob)
    index = bucket(ms)
    counts[index] = counts.get(index, 0) + 1
    return encode(counts)


def merge(blobs: Iterable[bytes | None]) -> dict[int, int]:
    """The counts of several histograms added up."""
    total: dict[int, int] = {}
    for blob in blobs:
        for index, count in decode(blob).items():
            total[index] = total.get(index, 0) + count
    return total


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (nearest rank, ``round(q·(n − 1))``), or None when empty."""
    n = sum(counts.values())
    if n == 0:
        return None
    rank = min(n - 1, max(0, round(q * (n - 1))))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen > rank:
            return value(index)
    raise AssertionError("unreachable: the ranks add up to n")  # pragma: no cover


def encode(counts: Mapping[int, int]) -> bytes:
    out = bytearray()
    for index in sorted(counts):
        count = counts[index]
        if count <= 0:
            continue
        out.append(index)
        while count > 0x7F:
            out.append(0x80 | (count & 0x7F))
            count >>= 7
        out.append(count)
    return bytes(out)


def decode(blob: bytes | None) -> dict[int, int]:
    counts: dict[int, int] = {}
    if not blob:
        return counts
    i, end = 0, len(blob)
    while i < end:
        index = blob[i]
        i += 1
        count = shift = 0
        while True:
            byte = blob[i]
            i += 1
            count |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        counts[index] = count
    return counts
