"""Mentions and escalation through the real Bolt app and the fake Slack.

The slash command carries mentions as Slack sends them with escaping on (``<@U123|alice>``,
``<!subteam^S1|@oncall>``); the fake Slack works out who each posted message notifies from its
mention syntax in ``text`` and ``mrkdwn`` blocks, as Slack does.
"""

from __future__ import annotations

from pathlib import Path

from bot.model import Channel
from tests.adapters.slack.conftest import slack_rig
from tests.bot.conftest import until
from tests.support import OkServer, build_response, ok_server
from tests.support.slack_fake import CHANNEL, TEAM
from tests.support.slack_render_check import assert_valid_blocks

BAD = build_response(502, b"<html><body>upstream failed</body></html>", {"Server": "<!channel>"})
GOOD = build_response(200, b"ok")
SLACK_CHANNEL = Channel("slack", TEAM, CHANNEL)


async def test_the_down_alert_and_its_escalation_notify_exactly_the_notify_list(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url, sweep_every=0.2) as rig:
            text = f"watch {site.url} notify=<@U0ALICE|alice>,<!subteam^S0ONCALL|@oncall>"
            _, response_url, _ = await rig.command(text)
            await rig.answers(response_url)
            (monitor,) = rig.bot.store.monitors_in(SLACK_CHANNEL)
            assert [m.name for m in monitor.notify] == ["@alice", "@oncall"]
            rig.bot.store.execute("UPDATE monitors SET every = 1, escalate = 1")
            rig.bot.schedule.add(monitor.id, 1)

            site.response = BAD
            (down,) = await rig.fake.wait("chat.postMessage")
            assert_valid_blocks(down.body["blocks"])
            posted = sorted(rig.fake.notified.items())
            assert posted[0][1] == {"U0ALICE", "S0ONCALL"}  # not the page's <!channel>
            assert down.body["text"].startswith("<@U0ALICE> <!subteam^S0ONCALL>")

            escalation, *_ = (await rig.fake.wait("chat.postMessage", 2))[1:]
            assert escalation.body["thread_ts"] == posted[0][0][1]
            assert escalation.body.get("reply_broadcast") is True
            assert "not acknowledged for 1s" in escalation.body["text"]
            await until(lambda: len(rig.fake.notified) == 2)
            assert sorted(rig.fake.notified.items())[1][1] == {"U0ALICE", "S0ONCALL"}

            site.response = GOOD
            await rig.fake.wait("chat.postMessage", 3)
            recovered = rig.fake.of("chat.postMessage")[2]
            assert "RECOVERED" in recovered.body["text"]
            assert sorted(rig.fake.notified.items())[2][1] == set()


async def test_a_whole_channel_mention_is_refused(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with slack_rig(tmp_path, control.url) as rig:
            r, _, _ = await rig.command(f"watch {site.url} notify=<!here>")
            assert "would ping everyone" in r.text and "in_channel" not in r.text
            _, url, _ = await rig.command(f"watch {site.url} notify=@alice")  # not picked
            delete, private = await rig.answers(url, 2)
            assert delete.body.get("delete_original") is True
            assert private.body["response_type"] == "ephemeral"
            assert "is a Telegram or Console mention" in private.body["text"]
            assert rig.bot.store.monitors_in(SLACK_CHANNEL) == ()
