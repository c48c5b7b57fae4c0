"""Shared pieces for bot tests: a whole bot on loopback, opted in explicitly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from checks import AddressPolicy
from tests.support import OkServer, ok_server

LOOPBACK = AddressPolicy.allowing("127.0.0.0/8", "::1")


@pytest.fixture
def control() -> Iterator[OkServer]:
    """The bot's control target: answering, so the bot's own network counts as healthy."""
    with ok_server(body=b"control") as server:
        yield server


def fast_settings(tmp_path: Path, control_url: str | None, **overrides: Any) -> Settings:
    """Settings for 1-second monitors: quick re-checks, short grouping windows."""
    values: dict[str, Any] = {
        "db_path": str(tmp_path / "bot.db"),
        "policy": LOOPBACK,
        "min_interval": 1,
        "recheck_delay": 0.3,
        "coalesce": 0.2,
        "group_window": 0.0,
        "control_url": control_url,
        "health_cache": 0.5,
        "followup_interval": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)
