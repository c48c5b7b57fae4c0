"""The real ``check502-bot`` as a child process, for the surfaces' entry-point tests.

The environment starts from the machine's without any chat or check502 variable (so nothing
from the machine leaks into a test), on loopback, with a database in the test's directory.
The child is started with asyncio's subprocess API: the fakes it talks to run in the test's
own event loop.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BOT_SCRIPT = Path(sys.executable).with_name("check502-bot")
_CLEARED = ("SLACK_", "DISCORD_", "TELEGRAM_", "CHECK502_", "PTB_")


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED)}
    env.update(
        {
            "CHECK502_LISTEN": "127.0.0.1",
            "CHECK502_DB": str(tmp_path / "bot.db"),
            "CHECK502_CONTROL_URL": "off",
            "CHECK502_ALLOW_NETWORKS": "127.0.0.0/8",
        }
    )
    env.update(extra)
    return env


async def spawn(
    env: dict[str, str], *, stdin: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """``check502-bot`` (the installed script, else ``python -m adapters.main``) with ``env``;
    ``stdin=asyncio.subprocess.PIPE`` keeps the console's input open."""
    command = [str(BOT_SCRIPT)] if BOT_SCRIPT.exists() else [sys.executable, "-m", "adapters.main"]
    return await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env=env,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def kill(proc: asyncio.subprocess.Process) -> None:
    """Make sure the child is gone (a test's ``finally``)."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
