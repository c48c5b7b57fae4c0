"""Mentions and escalation through the real python-telegram-bot app and the fake Bot API.

Telegram turns a plain ``@username`` in a message's text into a mention that notifies that
user; the alert carries the monitor's usernames as such, and follow-ups carry none.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.model import Channel
from tests.adapters.telegram.conftest import telegram_rig
from tests.bot.conftest import until
from tests.support import OkServer, build_response, ok_server
from tests.support.telegram_fake import GROUP

BAD = build_response(502, b"<html><body>upstream failed @everyone</body></html>")
GOOD = build_response(200, b"ok")
GROUP_CHANNEL = Channel("telegram", "-", str(GROUP))
MENTION = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{4,31})")
"""Where Telegram sees a mention in plain text."""


async def test_the_down_alert_and_its_escalation_mention_the_usernames(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url, sweep_every=0.2) as rig:
            typed = await rig.type(
                f"/check502 watch {site.url} notify=@alice_ops,@oncall_team escalate=1m",
                chat_id=GROUP,
            )
            await until(lambda: len(rig.replies_to(typed)) == 1)
            await until(lambda: len(rig.bot.store.monitors_in(GROUP_CHANNEL)) == 1)
            (monitor,) = rig.bot.store.monitors_in(GROUP_CHANNEL)
            assert [m.name for m in monitor.notify] == ["@alice_ops", "@oncall_team"]
            rig.bot.store.execute("UPDATE monitors SET every = 1, escalate = 1")
            rig.bot.schedule.add(monitor.id, 1)
            before = len(rig.fake.of("sendMessage"))

            site.response = BAD
            await until(lambda: len(rig.fake.of("sendMessage")) >= before + 2)
            down, escalation = rig.fake.of("sendMessage")[before : before + 2]
            assert down.text.startswith("@alice_ops @oncall_team\n")
            assert MENTION.findall(down.text) == ["alice_ops", "oncall_team"]
            assert escalation.reply_to is not None  # a reply to the alert
            assert MENTION.findall(escalation.text) == ["alice_ops", "oncall_team"]
            assert "not acknowledged for 1s" in escalation.text

            site.response = GOOD
            await until(lambda: "RECOVERED" in rig.fake.of("sendMessage")[-1].text)
            assert MENTION.findall(rig.fake.of("sendMessage")[-1].text) == []


async def test_a_slack_mention_is_refused_in_telegram(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with telegram_rig(tmp_path, control.url) as rig:
            typed = await rig.type(f"/check502 watch {site.url} notify=<@U123ABC|alice>")
            await until(
                lambda: any(
                    "Slack mention" in c.text
                    for c in rig.fake.of("sendMessage") + rig.fake.of("editMessageText")
                )
            )
            assert typed
            assert rig.bot.store.monitors_in(GROUP_CHANNEL) == ()
