"""The console as a chat surface: alerts are printed (or handed to a sink) as they fire."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from adapters.cli.render import Style
from adapters.console.render import render_delivery
from bot.model import Delivery, MessageRef


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
