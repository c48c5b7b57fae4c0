"""The one seam between the core and a chat surface: deliver a message, get its id back."""

from __future__ import annotations

from typing import Protocol

from bot.model import Delivery, MessageRef


class Surface(Protocol):
    """What a chat surface gives the core to send alerts through.

    ``deliver`` posts ``delivery.alert`` to ``delivery.channel`` (in ``delivery.thread`` when set,
    editing ``delivery.resolves`` to show it resolved where the platform can) and returns the
    platform's id of the posted message. A RESOLVED delivery (``delivery.edit_only``, always
    with ``resolves`` and ``original``) is the edit alone: nothing is posted, and ``resolves``
    is returned. It raises :class:`bot.errors.DeliveryError` when the
    platform refuses or cannot be reached (with ``retry_after`` for a 429), and uses
    ``delivery.key`` to deduplicate where the platform supports it.
    """

    name: str

    async def deliver(self, delivery: Delivery) -> MessageRef: ...
