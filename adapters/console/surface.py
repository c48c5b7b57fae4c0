"""The console as a chat surface: alerts are printed (or handed to a sink) as they fire."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.charts import history_chart
from adapters.cli.render import Style
from adapters.console.render import render_delivery
from bot.model import Delivery, HistoryReply, MessageRef
from bot.settings import Settings

log = logging.getLogger("check502.console")


@dataclass(frozen=True, slots=True)
class Posted:
    """One message the console showed."""

    delivery: Delivery
    message_id: str
    text: str


class ConsoleSurface:
    """Delivers alerts to ``sink`` (a line printer). Message ids are ``c1``, ``c2``...

    Deliveries are deduplicated by their idempotency key, as a platform with idempotent posts
    would: delivering the same key twice shows it once and returns the first message's id.
    """

    name = "console"

    def __init__(self, sink: Callable[[Posted], None], style: Style | None = None) -> None:
        self.sink = sink
        self.style = style or Style(False)
        self._ids = itertools.count(1)
        self._seen: dict[str, MessageRef] = {}

    async def deliver(self, delivery: Delivery) -> MessageRef:
        if (ref := self._seen.get(delivery.key)) is not None:
            return ref
        if delivery.edit_only and delivery.resolves is not None:  # shown in place: no new id
            ref = self._seen[delivery.key] = delivery.resolves
            text = render_delivery(delivery, ref.message_id, self.style)
            self.sink(Posted(delivery, ref.message_id, text))
            return ref
        message_id = f"c{next(self._ids)}"
        ref = MessageRef(message_id, delivery.thread.message_id if delivery.thread else None)
        self._seen[delivery.key] = ref
        self.sink(Posted(delivery, message_id, render_delivery(delivery, message_id, self.style)))
        return ref


# ------------------------------------------------------------------------------------ charts


def chart_dir(settings: Settings) -> Path:
    """Where ``history`` charts go: ``CHECK502_CHART_DIR``, or ``check502-charts`` in the
    system's temporary directory."""
    if settings.chart_dir is not None:
        return Path(settings.chart_dir).expanduser()
    return Path(tempfile.gettempdir()) / "check502-charts"


async def save_history_chart(reply: HistoryReply, directory: Path) -> str | None:
    """Draw ``reply``'s chart and write it into ``directory``; the line to print (the file's
    path, or why it could not be written, logged in one line too); None: nothing to draw."""
    chart = await history_chart(reply)
    if chart is None:
        return None
    try:
        path = await asyncio.to_thread(_write, directory, chart.filename, chart.png)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        log.warning(
            "could not write the chart of #%s into %s (%s)", reply.monitor.id, directory, reason
        )
        return f"✗ The chart could not be written into {directory} ({reason})."
    return f"Chart: {path}"


def _write(directory: Path, name: str, data: bytes) -> Path:
    """``data`` as ``directory/name``, whole or not at all (a temporary file, then renamed)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / name
    fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return path
