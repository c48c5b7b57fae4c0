"""check502's platform-neutral bot core: one grammar, monitors, alerts, storage.

Surfaces (console, Slack, Discord, Telegram) parse what a user typed once, with the one grammar
(:func:`parse_command`), hand the :class:`Command` to :meth:`Bot.handle` and render the reply
values it returns (the sequence is :mod:`adapters.flow`); alerts reach them through
:class:`Surface.deliver`. Nothing here knows a chat platform.
"""

from bot.commands import Command, CommandError, format_command, help_text, parse_command
from bot.core import Bot
from bot.errors import BotError, DeliveryError, SettingsError
from bot.model import (
    Alert,
    AlertKind,
    Channel,
    Context,
    Delivery,
    DiagnosisReply,
    ErrorReply,
    ExplainReply,
    HistoryReply,
    ListReply,
    MessageRef,
    Monitor,
    Reply,
    TextReply,
    WatchReply,
)
from bot.settings import Settings
from bot.surface import Surface

__all__ = [
    "Alert",
    "AlertKind",
    "Bot",
    "BotError",
    "Channel",
    "Command",
    "CommandError",
    "Context",
    "Delivery",
    "DeliveryError",
    "DiagnosisReply",
    "ErrorReply",
    "ExplainReply",
    "HistoryReply",
    "ListReply",
    "MessageRef",
    "Monitor",
    "Reply",
    "Settings",
    "SettingsError",
    "Surface",
    "TextReply",
    "WatchReply",
    "format_command",
    "help_text",
    "parse_command",
]
