"""The grammar of notify=, escalate= and maintenance: what each platform sends, and refusals."""

from __future__ import annotations

import pytest

from bot.commands import (
    USAGE,
    CommandError,
    Maintenance,
    Mention,
    MentionKind,
    Notify,
    Watch,
    format_command,
    parse_command,
    platform_error,
)

SLACK_ALICE = Mention(MentionKind.SLACK_USER, "U123ABC", "alice")
SLACK_ONCALL = Mention(MentionKind.SLACK_GROUP, "S0ONCALL", "oncall")
DISCORD_USER = Mention(MentionKind.DISCORD_USER, "140000000000000004")
DISCORD_ROLE = Mention(MentionKind.DISCORD_ROLE, "160000000000000006")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Slack, as a slash command with escaping sends them: IDs kept, labels for lists
        (
            "watch x.test notify=<@U123ABC|alice>,<!subteam^S0ONCALL|@oncall>",
            Watch("https://x.test/", notify=(SLACK_ALICE, SLACK_ONCALL)),
        ),
        # Discord users (also the nickname form <@!id>) and roles
        (
            "watch x.test notify=<@!140000000000000004>,<@&160000000000000006> escalate=15m",
            Watch("https://x.test/", notify=(DISCORD_USER, DISCORD_ROLE), escalate=900),
        ),
        # Telegram usernames; a repeated one counts once
        (
            "watch x.test notify=@alice,@oncall_team,@alice escalate=1h",
            Watch(
                "https://x.test/",
                notify=(
                    Mention(MentionKind.NAME, "alice"),
                    Mention(MentionKind.NAME, "oncall_team"),
                ),
                escalate=3600,
            ),
        ),
        ("watch x.test escalate=1m", Watch("https://x.test/", escalate=60)),
        ("watch x.test escalate=24h", Watch("https://x.test/", escalate=86400)),
        ("watch x.test notify=off", Watch("https://x.test/")),
        # notify: later changes, words or commas, off
        (
            "notify #12 @alice @bobby escalate=30m",
            Notify(
                12,
                (Mention(MentionKind.NAME, "alice"), Mention(MentionKind.NAME, "bobby")),
                1800,
            ),
        ),
        ("notify 12 off", Notify(12, ())),
        ("notify 12 off escalate=5m", Notify(12, (), 300)),
        ("NOTIFY 12 <@U123ABC|alice> escalate=off", Notify(12, (SLACK_ALICE,))),
        # maintenance: one monitor or all, a duration or off
        ("maintenance 12 2h", Maintenance(12, 7200)),
        ("/check502 maintenance ALL 1h30m", Maintenance(None, 5400)),
        ("maintenance #3 off", Maintenance(3, None)),
        ("maintenance all OFF", Maintenance(None, None)),
        ("maintenance all 30d", Maintenance(None, 30 * 86400)),
    ],
)
def test_parse(text: str, expected: object) -> None:
    command = parse_command(text)
    assert command == expected
    assert parse_command(format_command(command)) == command


@pytest.mark.parametrize(
    ("text", "usage", "fragment"),
    [
        ("watch x.test notify=@everyone", "watch", '"@everyone" would ping everyone'),
        ("watch x.test notify=@alice,@here", "watch", '"@here" would ping everyone'),
        ("watch x.test notify=<!channel>", "watch", '"<!channel>" would ping everyone'),
        ("watch x.test notify=<!everyone>", "watch", '"<!everyone>" would ping everyone'),
        ("watch x.test notify=<!here|here>", "watch", "would ping everyone"),
        ("notify 3 @Channel", "notify", "would ping everyone"),
        ("watch x.test notify=alice", "watch", '"alice" is not a mention'),
        ("watch x.test notify=<@alice>", "watch", '"<@alice>" is not a mention'),
        ("watch x.test notify=<#C123|ops>", "watch", "is not a mention"),
        ("watch x.test notify=,", "watch", "notify= names no one"),
        (
            "watch x.test notify=" + ",".join(f"@user{i:02}" for i in range(11)),
            "watch",
            "notify= names 11; at most 10",
        ),
        ("watch x.test escalate=59s", "watch", "escalate= must be from 1m to 24h"),
        ("watch x.test escalate=25h", "watch", "escalate= must be from 1m to 24h"),
        ("watch x.test escalate=soon", "watch", '"soon" is not a duration'),
        ("notify 3", "notify", "Say who to ping, e.g. notify 3 @alice"),
        ("notify", "notify", "Give the monitor id"),
        ("notify 3 @alice every=1m", "notify", "every= only applies to watch"),
        ("mute 3 1h escalate=5m", "mute", "mute takes no options"),
        ("maintenance", "maintenance", "Give the monitor id or all"),
        ("maintenance all", "maintenance", "Say for how long, e.g. maintenance all 2h"),
        ("maintenance 3 30s", "maintenance", "A window must be from 1m to 30d"),
        ("maintenance 3 31d", "maintenance", "A window must be from 1m to 30d"),
        ("maintenance 3 2h now", "maintenance", 'Unexpected "now"'),
        ("maintenance every 2h", "maintenance", '"every" is not a monitor id'),
    ],
)
def test_refused(text: str, usage: str, fragment: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_command(text)
    assert fragment in str(info.value), str(info.value)
    assert info.value.usage == USAGE[usage]


@pytest.mark.parametrize(
    ("mention", "platform", "fragment"),
    [
        (SLACK_ALICE, "discord", "is a Slack mention"),
        (DISCORD_USER, "slack", "is a Discord mention"),
        (Mention(MentionKind.NAME, "alice"), "slack", "is a Telegram or Console mention"),
        (Mention(MentionKind.NAME, "alice"), "discord", "Telegram or Console"),
        (DISCORD_ROLE, "telegram", "is a Discord mention"),
        # the @everyone role has the server's own id
        (Mention(MentionKind.DISCORD_ROLE, "120000000000000002"), "discord", "is @everyone"),
    ],
)
def test_a_mention_of_another_platform_is_refused(
    mention: Mention, platform: str, fragment: str
) -> None:
    problem = platform_error((mention,), platform, "120000000000000002")
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    ("mentions", "platform"),
    [
        ((SLACK_ALICE, SLACK_ONCALL), "slack"),
        ((DISCORD_USER, DISCORD_ROLE), "discord"),
        ((Mention(MentionKind.NAME, "alice"),), "telegram"),
        ((Mention(MentionKind.NAME, "alice"),), "console"),
    ],
)
def test_mentions_of_the_platform_pass(mentions: tuple[Mention, ...], platform: str) -> None:
    assert platform_error(mentions, platform, "120000000000000002") is None


def test_pings_render_the_ids_alone() -> None:
    assert [m.ping for m in (SLACK_ALICE, SLACK_ONCALL, DISCORD_USER, DISCORD_ROLE)] == [
        "<@U123ABC>",
        "<!subteam^S0ONCALL>",
        "<@140000000000000004>",
        "<@&160000000000000006>",
    ]
    assert [m.name for m in (SLACK_ALICE, SLACK_ONCALL)] == ["@alice", "@oncall"]
