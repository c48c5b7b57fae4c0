"""``check502-bot``: run the bot with the chat surfaces the environment configures.

Every setting comes from the environment (the README's settings table). A bad setting stops the
bot at start-up with one line naming the variable; exit codes: 0 stopped, 2 bad settings,
3 an unexpected internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Mapping

from adapters.registry import configured
from bot.core import Bot
from bot.errors import SettingsError
from bot.settings import Settings

log = logging.getLogger("check502")


async def _run(settings: Settings, env: Mapping[str, str]) -> None:
    try:
        bot = Bot(settings)
    except (sqlite3.Error, OSError) as exc:
        raise SettingsError(
            f"CHECK502_DB={settings.db_path}: cannot open the database ({exc})"
        ) from None
    surfaces = configured(env)
    # SIGTERM (a platform stopping the dyno or container) stops as Ctrl-C does: cleanly.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await asyncio.gather(*(entry.run(bot, env) for entry in surfaces))
    except asyncio.CancelledError:
        log.warning("check502-bot: stopping")
    finally:
        await bot.stop()
        bot.close()


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("CHECK502_LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler logs a line per skipped run; the core counts them (Schedule.metrics).
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    try:
        settings = Settings.from_env(os.environ)
        asyncio.run(_run(settings, os.environ))
    except SettingsError as exc:
        sys.stderr.write(f"check502-bot: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        sys.stderr.write(
            f"check502-bot: unexpected error ({type(exc).__name__}: {exc});"
            " set CHECK502_LOG_LEVEL=DEBUG for details\n"
        )
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
