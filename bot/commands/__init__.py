"""The one grammar of chat commands, shared by every surface (console, Slack, Discord, Telegram).

A pure function from text to a typed command or a usage error (:func:`parse_command`);
executing the command is the core's job (:meth:`bot.Bot.handle`). The modules:

- :mod:`~bot.commands.model`: the command values, their limits and usage lines;
- :mod:`~bot.commands.grammar`: :func:`parse_command` and its inverse :func:`format_command`;
- :mod:`~bot.commands.durations`: the one duration parser (also read by :mod:`bot.settings`);
- :mod:`~bot.commands.expect`: ``expect=`` status-code sets;
- :mod:`~bot.commands.mentions`: ``notify=`` mentions, per platform;
- :mod:`~bot.commands.help`: the help text;
- :mod:`~bot.commands.errors`: :class:`CommandError` and how user text is quoted in it.

Adding a subcommand: its value type, :data:`USAGE` line and :data:`Command` member in
``model``; its parsing in :func:`parse_command` and its text in :func:`format_command`
(``grammar``; tests/bot/test_commands.py fails until its round-trip strategy is added); its
description and example in ``help``; its execution in :meth:`bot.core.Bot.execute`.
"""

from bot.commands.durations import MAX_DURATION, format_duration, parse_duration
from bot.commands.errors import CommandError
from bot.commands.expect import Expect
from bot.commands.grammar import (
    format_command,
    parse_command,
    watch_from_options,
    watch_options,
)
from bot.commands.help import help_text
from bot.commands.mentions import MAX_MENTIONS, Mention, MentionKind, platform_error
from bot.commands.model import (
    CHECK_LIMIT,
    DEFAULT_CONFIRM,
    DEFAULT_EVERY,
    DEFAULT_TIMEOUT,
    MAX_CONFIRM,
    MAX_ESCALATE,
    MAX_EVERY,
    MAX_EXPLAIN,
    MAX_INPUT,
    MAX_MONITOR_ID,
    MAX_MUTE,
    MAX_REGIONS,
    MAX_RUNS,
    MAX_TIMEOUT,
    MIN_ESCALATE,
    MIN_EVERY,
    MIN_MUTE,
    MIN_TIMEOUT,
    PREFIX,
    REGION_NAME,
    SUBCOMMANDS,
    TARGET_NAMES,
    USAGE,
    Ack,
    Check,
    Command,
    Details,
    Explain,
    Export,
    Help,
    History,
    ListMonitors,
    Maintenance,
    Mute,
    Notify,
    Status,
    Unmute,
    Unwatch,
    Watch,
)

__all__ = [
    "CHECK_LIMIT",
    "DEFAULT_CONFIRM",
    "DEFAULT_EVERY",
    "DEFAULT_TIMEOUT",
    "MAX_CONFIRM",
    "MAX_DURATION",
    "MAX_ESCALATE",
    "MAX_EVERY",
    "MAX_EXPLAIN",
    "MAX_INPUT",
    "MAX_MENTIONS",
    "MAX_MONITOR_ID",
    "MAX_MUTE",
    "MAX_REGIONS",
    "MAX_RUNS",
    "MAX_TIMEOUT",
    "MIN_ESCALATE",
    "MIN_EVERY",
    "MIN_MUTE",
    "MIN_TIMEOUT",
    "PREFIX",
    "REGION_NAME",
    "SUBCOMMANDS",
    "TARGET_NAMES",
    "USAGE",
    "Ack",
    "Check",
    "Command",
    "CommandError",
    "Details",
    "Expect",
    "Explain",
    "Export",
    "Help",
    "History",
    "ListMonitors",
    "Maintenance",
    "Mention",
    "MentionKind",
    "Mute",
    "Notify",
    "Status",
    "Unmute",
    "Unwatch",
    "Watch",
    "format_command",
    "format_duration",
    "help_text",
    "parse_command",
    "parse_duration",
    "platform_error",
    "watch_from_options",
    "watch_options",
]
