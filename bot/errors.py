"""The one error tree of the bot core.

::

    checks.UsageError             (the engine's) the user's input is wrong; one sentence
    └── CommandError              the command text does not parse (bot.commands)

    BotError                      anything the core raises on purpose
    ├── NotFound                  no such monitor in this channel
    ├── Conflict                  the command contradicts what exists (already watching...)
    ├── RateLimited               too many checks from this user or channel; carries retry_after
    ├── SettingsError             an environment variable is missing or malformed; names it
    ├── StorageError              the database failed (disk full, read-only, I/O error, busy,
    │                             corrupt, too new, in use by another check502-bot)
    └── DeliveryError             a surface could not deliver an alert; retry_after, permanent

Every message is one short sentence meant for a chat user or an operator; details go to the log.
Every ``sqlite3.Error`` (and the ``OSError`` of opening the file) becomes a
:class:`StorageError` in one place, :func:`bot.storage.storage_error`.
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


class StorageError(BotError):
    """The bot's database failed; ``str()`` is the sentence for chat.

    ``reason`` is the short cause ("disk full"), ``hint`` what an operator should do about it,
    ``path`` the database file; :meth:`line` is the one line ``check502-bot`` prints when the
    database fails at start-up. ``written`` says whether the failure is one of writing (full,
    read-only, busy) rather than of reading (corrupt).
    """

    def __init__(self, path: str, reason: str, hint: str, *, written: bool = True) -> None:
        verb = "written" if written else "read"
        super().__init__(f"The bot's database could not be {verb} ({reason}); nothing was changed.")
        self.path = path
        self.reason = reason
        self.hint = hint

    def line(self) -> str:
        """One line for the operator: the file, what is wrong, what to do."""
        return f"CHECK502_DB={self.path}: {self.reason}; {self.hint}"


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
