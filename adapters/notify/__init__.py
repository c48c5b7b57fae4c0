"""Notification targets beyond the chat: a signed webhook, PagerDuty, email.

One module per target (:mod:`~adapters.notify.webhook`, :mod:`~adapters.notify.pagerduty`,
:mod:`~adapters.notify.smtp`), each rendering a core alert into its document and sending it;
what they say in common is in :mod:`~adapters.notify.document`, their settings in
:mod:`~adapters.notify.config` (read and checked before the database opens). Which alerts go
where, the retries and the de-duplication are the core's (:mod:`bot.notify`, :mod:`bot.outbox`).
"""

from __future__ import annotations

from adapters.notify.config import NotifyConfig
from bot.notify import Notifier

__all__ = ["NotifyConfig", "build_notifiers"]


def build_notifiers(config: NotifyConfig) -> list[Notifier]:
    """The configured targets, in the order of :data:`bot.commands.TARGET_NAMES`."""
    found: list[Notifier] = []
    if config.webhook is not None:
        from adapters.notify.webhook import WebhookNotifier  # noqa: PLC0415 - only when configured

        found.append(WebhookNotifier(config.webhook))
    if config.pagerduty is not None:
        from adapters.notify.pagerduty import PagerDutyNotifier  # noqa: PLC0415 - only when configured

        found.append(PagerDutyNotifier(config.pagerduty))
    if config.email is not None:
        from adapters.notify.smtp import EmailNotifier  # noqa: PLC0415 - only when configured

        found.append(EmailNotifier(config.email))
    return found
