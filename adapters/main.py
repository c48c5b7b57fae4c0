"""``check502-bot``: run the bot with the chat surfaces the environment configures.

Every setting comes from the environment (the README's settings table). The core's settings,
every configured surface's and the notification targets' (docs/notifications.md) are parsed
first, before the database opens and before any surface starts or connects: a bad setting
stops the bot there with one line naming the variable. So
does a database that cannot be used (one line naming the file and what to do) and a second bot
on the same database (naming the first one's PID). Exit codes: 0 stopped, 2 bad settings or an
unusable database, 3 an unexpected internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from adapters.notify import NotifyConfig, build_notifiers
from adapters.registry import Configured, configure
from adapters.telegram.logs import redacted_logs
from adapters.web.config import WebConfig
from bot.core import Bot
from bot.errors import SettingsError, StorageError
from bot.settings import Settings
from bot.storage import InstanceLock

log = logging.getLogger("check502")


async def _run(
    settings: Settings, surfaces: list[Configured[Any]], web: WebConfig, notify: NotifyConfig
) -> None:
    lock = InstanceLock.acquire(settings.db_path)  # held until this process ends
    try:
        # httpx logs each request's URL at INFO: a webhook URL may carry a token.
        with redacted_logs(*notify.secrets):
            await _serve(settings, surfaces, web, notify)
    finally:
        lock.release()


async def _serve(
    settings: Settings, surfaces: list[Configured[Any]], web: WebConfig, notify: NotifyConfig
) -> None:
    try:
        bot = Bot(settings, notifiers=build_notifiers(notify))
    except OSError as exc:  # the database's own failures are StorageErrors already
        raise SettingsError(f"cannot start: {exc}") from None
    server = None
    if web.enabled:  # first, so that /healthz answers (and $PORT is bound) while surfaces connect
        from adapters.web.server import WebServer  # noqa: PLC0415 - aiohttp only with the server

        server = WebServer(bot, web, surfaces=[surface.name for surface in surfaces])
        try:
            await server.start()
        except BaseException:
            bot.close()
            raise
    # SIGTERM (a platform stopping the dyno or container) stops as Ctrl-C does: cleanly.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await asyncio.gather(*(surface.run(bot, server) for surface in surfaces))
    except asyncio.CancelledError:
        log.warning("check502-bot: stopping")
    finally:
        if server is not None:
            await server.stop()
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
        # Everything parsed and checked before anything opens, connects or listens.
        settings = Settings.from_env(os.environ)
        surfaces = configure(os.environ, settings)
        needed_by = [surface.name for surface in surfaces if surface.needs_http]
        web = WebConfig.from_env(os.environ, needed_by=needed_by)
        notify = NotifyConfig.from_env(os.environ, ca_bundle=settings.ca_bundle)
        asyncio.run(_run(settings, surfaces, web, notify))
    except SettingsError as exc:
        for line in str(exc).splitlines():  # one line per bad variable
            sys.stderr.write(f"check502-bot: {line}\n")
        return 2
    except StorageError as exc:
        log.debug("the database failed", exc_info=True)
        sys.stderr.write(f"check502-bot: {exc.line()}\n")
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
