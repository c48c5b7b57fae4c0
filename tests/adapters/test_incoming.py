"""The replay memory of the HTTP endpoints: keys expire, and there are never more than kept."""

from __future__ import annotations

from adapters.incoming import RecentKeys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_seen_again_until_it_expires() -> None:
    clock = Clock()
    seen = RecentKeys(ttl=300, size=10, clock=clock)
    assert seen.add("sig-1") is True
    clock.now += 299
    assert seen.add("sig-1") is False
    assert "sig-1" in seen
    clock.now += 2  # 301 s after it was first seen
    assert "sig-1" not in seen
    assert seen.add("sig-1") is True


def test_memory_is_bounded_whatever_arrives() -> None:
    clock = Clock()
    seen = RecentKeys(ttl=300, size=100, clock=clock)
    for n in range(10_000):
        assert seen.add(f"sig-{n}") is True
        assert len(seen) <= 100
    assert "sig-9999" in seen and "sig-9900" in seen
    assert "sig-9899" not in seen  # the oldest went first
    clock.now += 301
    assert len(seen) == 0 and "sig-9999" not in seen
