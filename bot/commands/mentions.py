"""``notify=`` mentions: who a monitor's DOWN alert (and its escalation) pings.

What a user types is what the platform sends in a slash command, and that is kept, IDs and all:

=================  ===============================  ==========================  ===========
kind               typed (as the platform sends it)  rendered in an alert        platform
=================  ===============================  ==========================  ===========
SLACK_USER         ``<@U123|alice>``                 ``<@U123>``                 slack
SLACK_GROUP        ``<!subteam^S123|@oncall>``       ``<!subteam^S123>``         slack
DISCORD_USER       ``<@123>`` (or ``<@!123>``)       ``<@123>``                  discord
DISCORD_ROLE       ``<@&456>``                       ``<@&456>``                 discord
NAME               ``@alice``                        ``@alice``                  telegram,
                                                                                 console
=================  ===============================  ==========================  ===========

Whole-channel pings (``@everyone``, ``@here``, ``@channel``, ``<!channel>``, ``<!here>``,
``<!everyone>``) are refused: an alert pings the people named, never a whole room. Which kinds
a channel accepts is the core's call (it knows the platform): :func:`platform_error`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.commands.errors import BadValue, shown

__all__ = [
    "MAX_MENTIONS",
    "Mention",
    "MentionKind",
    "format_mentions",
    "mentions_from_text",
    "parse_mentions",
    "platform_error",
]

MAX_MENTIONS = 10
"""Mentions per monitor at most (Discord allows 100 users and 100 roles; a page is not a
broadcast)."""


class MentionKind(enum.StrEnum):
    SLACK_USER = "slack_user"
    SLACK_GROUP = "slack_group"
    DISCORD_USER = "discord_user"
    DISCORD_ROLE = "discord_role"
    NAME = "name"
    """A plain ``@username`` (Telegram; the console)."""


_PLATFORMS: dict[MentionKind, tuple[str, ...]] = {
    MentionKind.SLACK_USER: ("slack",),
    MentionKind.SLACK_GROUP: ("slack",),
    MentionKind.DISCORD_USER: ("discord",),
    MentionKind.DISCORD_ROLE: ("discord",),
    MentionKind.NAME: ("telegram", "console"),
}

_LABEL = r"[^\s<>|,&]{1,80}"
_FORMS: tuple[tuple[MentionKind, re.Pattern[str]], ...] = (
    (MentionKind.SLACK_USER, re.compile(rf"<@([UW][A-Z0-9]{{2,20}})(?:\|({_LABEL}))?>")),
    (MentionKind.SLACK_GROUP, re.compile(rf"<!subteam\^(S[A-Z0-9]{{2,20}})(?:\|@?({_LABEL}))?>")),
    (MentionKind.DISCORD_USER, re.compile(r"<@!?([0-9]{15,21})>")),
    (MentionKind.DISCORD_ROLE, re.compile(r"<@&([0-9]{15,21})>")),
    (MentionKind.NAME, re.compile(r"@([A-Za-z][A-Za-z0-9_]{2,31})")),
)
_EVERYONE = re.compile(
    r"@(everyone|here|channel)|<!(everyone|here|channel)(\|[^>]*)?>", re.IGNORECASE
)
_EXAMPLES = "@alice (Telegram), <@U123|alice> (Slack), <@123> or <@&456> (Discord)"


@dataclass(frozen=True, slots=True)
class Mention:
    """One person or group to ping; ``id`` is the platform's (a username for NAME)."""

    kind: MentionKind
    id: str
    label: str | None = None
    """Slack's name after the ``|``, kept for lists (``alice``, ``oncall``)."""

    def __str__(self) -> str:
        """The text it was typed as, which :func:`parse_mentions` reads back."""
        tail = f"|{self.label}" if self.label else ""
        match self.kind:
            case MentionKind.SLACK_USER:
                return f"<@{self.id}{tail}>"
            case MentionKind.SLACK_GROUP:
                return f"<!subteam^{self.id}{'|@' + self.label if self.label else ''}>"
            case MentionKind.DISCORD_USER:
                return f"<@{self.id}>"
            case MentionKind.DISCORD_ROLE:
                return f"<@&{self.id}>"
            case MentionKind.NAME:
                return f"@{self.id}"
        raise AssertionError(self.kind)  # pragma: no cover

    @property
    def ping(self) -> str:
        """The text that pings it in a message of its platform."""
        match self.kind:
            case MentionKind.SLACK_USER:
                return f"<@{self.id}>"
            case MentionKind.SLACK_GROUP:
                return f"<!subteam^{self.id}>"
            case _:
                return str(self)

    @property
    def name(self) -> str:
        """How a list shows it: ``@alice``, ``@oncall``, ``<@123>``."""
        if self.label:
            return f"@{self.label}"
        return str(self)


def parse_mentions(text: str) -> tuple[Mention, ...]:
    """``@alice,<@U1|bob>`` (commas between, blanks around them) as mentions, or BadValue.

    Duplicates are dropped (the first kept); ``off`` or ``none`` is the empty list.
    """
    if text.strip().lower() in ("off", "none"):
        return ()
    found: list[Mention] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if _EVERYONE.fullmatch(item):
            raise BadValue(
                f"{shown(item)} would ping everyone in the channel; name people or groups."
            )
        mention = _one(item)
        if all((m.kind, m.id) != (mention.kind, mention.id) for m in found):
            found.append(mention)
    if not found:
        raise BadValue(f"notify= names no one; write e.g. {_EXAMPLES}.")
    if len(found) > MAX_MENTIONS:
        raise BadValue(f"notify= names {len(found)}; at most {MAX_MENTIONS} people or groups.")
    return tuple(found)


def _one(item: str) -> Mention:
    for kind, pattern in _FORMS:
        match = pattern.fullmatch(item)
        if match is not None:
            label = (
                match.group(2)
                if kind in (MentionKind.SLACK_USER, MentionKind.SLACK_GROUP)
                else None
            )
            return Mention(kind, match.group(1), label or None)
    raise BadValue(f"{shown(item)} is not a mention; write e.g. {_EXAMPLES}.")


def mentions_from_text(text: str | None) -> tuple[Mention, ...]:
    """Stored mentions (:func:`format_mentions`'s text, or NULL) read back."""
    if not text or text == "off":
        return ()
    return tuple(_one(item) for item in text.split(","))


def format_mentions(mentions: tuple[Mention, ...]) -> str:
    """The ``notify=`` value that reads back to ``mentions`` (``off`` for none)."""
    return ",".join(str(m) for m in mentions) or "off"


def platform_error(mentions: tuple[Mention, ...], platform: str, workspace: str) -> str | None:
    """Why ``mentions`` cannot ping anyone on ``platform`` (None: they can).

    A Discord role whose id is the server's own id is ``@everyone``: refused like it.
    """
    for m in mentions:
        if platform not in _PLATFORMS[m.kind]:
            where = " or ".join(p.capitalize() for p in _PLATFORMS[m.kind])
            return (
                f"{m} is a {where} mention; here, pick the person or group as the chat"
                " suggests it while you type."
            )
        if m.kind is MentionKind.DISCORD_ROLE and m.id == workspace:
            return f"{m} is @everyone; name people or roles."
    return None
