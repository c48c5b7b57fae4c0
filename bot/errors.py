"""The one error tree of the bot core.

::

    checks.UsageError             (the engine's) the user's input is wrong; one sentence
    └── CommandError              the command text does not parse (bot.commands)

    BotError                      anything the core raises on purpose
    ├── NotFound                  no such monitor in this channel
    ├── Conflict                  the command contradicts what exists (already watching...)
    ├── RateLimited               too many checks from this user or channel; carries retry_after
    ├── SettingsError             an environment variable is missing or malformed; names it
    └── DeliveryError             a surface could not deliver an alert; retry_after, permanent

Every message is one short sentence meant for a chat user or an operator; details go to the log.
A surface maps its platform's failures (HTTP 429, 5xx, timeouts) into :class:`DeliveryError`
in one place, so the outbox sender decides retries the same way for every platform.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot core raises on purpose."""


class NotFound(BotError):
    pass


class Conflict(BotError):
    pass


class RateLimited(BotError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SettingsError(BotError):
    """A setting from the environment is missing or malformed; the message names the variable."""


class DeliveryError(BotError):
    """A surface could not deliver a message.

    ``retry_after`` is the platform's own wait (Retry-After, ``retry_after``), when it gave one;
    ``permanent`` means retrying cannot help (the channel is gone, the bot was removed).
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
