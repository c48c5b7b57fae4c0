"""The event loop every check502 process runs on: uvloop where it installs, else asyncio's own.

uvloop cuts the engine's CPU per check by a fifth to a quarter (measured in
``bench/throughput``); the phase timings it reports are re-checked against curl by
``bench/accuracy``. ``CHECK502_UVLOOP=off`` keeps asyncio's loop (to rule the loop out when
chasing a bug); any other value, or none, uses uvloop when it can be imported.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_OFF = frozenset({"off", "0", "false", "no"})


def wants_uvloop(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process should run on uvloop: asked for (the default) and importable."""
    value = (os.environ if env is None else env).get("CHECK502_UVLOOP", "")
    if value.strip().lower() in _OFF:
        return False
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def loop_name(env: Mapping[str, str] | None = None) -> str:
    """``"uvloop"`` or ``"asyncio"``: what :func:`run` would run on."""
    return "uvloop" if wants_uvloop(env) else "asyncio"


def run(main: Coroutine[Any, Any, T], *, env: Mapping[str, str] | None = None) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_name` names."""
    if wants_uvloop(env):
        import uvloop  # noqa: PLC0415

        return uvloop.run(main)
    return asyncio.run(main)
