"""Secrets out of the logs: the Bot API puts the bot token in every URL.

httpx logs each request's URL at INFO (``POST https://api.telegram.org/bot<token>/getMe``) and
PTB logs its base URL and call parameters (the webhook secret among them) at DEBUG. While the
Telegram surface runs, a filter on the root logger's handlers replaces the secrets in every
record that reaches them, message and traceback alike.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

REDACTED = "<redacted>"


class Redactor(logging.Filter):
    """Replaces each of ``secrets`` by ``<redacted>`` in a record's text and traceback."""

    def __init__(self, *secrets: str | None) -> None:
        super().__init__()
        self.secrets = tuple(
            sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)
        )

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: the handler reports it itself
            return True
        clean = self.clean(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


@contextlib.contextmanager
def redacted_logs(*secrets: str | None) -> Iterator[Redactor]:
    """Redact ``secrets`` in everything the root logger's handlers write, until the end."""
    redactor = Redactor(*secrets)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redactor)
    try:
        yield redactor
    finally:
        for handler in handlers:
            handler.removeFilter(redactor)
