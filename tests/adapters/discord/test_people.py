"""Mentions, escalation and maintenance through the real discord.py client and the fake Discord.

The fake works out who each message pings from its content and ``allowed_mentions`` as Discord
does, and refuses an ``allowed_mentions`` of the wrong shape: so "pings exactly alice and the
on-call role" is what Discord would do with what discord.py sent.
"""

from __future__ import annotations

from pathlib import Path

from tests.adapters.discord.conftest import DISCORD_CHANNEL, discord_rig
from tests.bot.conftest import until
from tests.support import OkServer, build_response, ok_server
from tests.support.discord_fake import CHANNEL, EPHEMERAL, GUILD, USER

BAD = build_response(502, b"<html><body>@everyone upstream failed</body></html>")
GOOD = build_response(200, b"ok")
ROLE = 1600000000000000006
SEND = f"POST /channels/{CHANNEL}/messages"


async def test_the_down_alert_and_its_escalation_ping_exactly_the_notify_list(
    tmp_path: Path, control: OkServer
) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url, sweep_every=0.2) as rig:
            # As Discord sends a string option with a user and a role picked in it.
            _, monitor = await rig.typed_watch(site.url, notify=f"<@{USER}> <@&{ROLE}>")
            assert [m.id for m in monitor.notify] == [str(USER), str(ROLE)]
            rig.bot.store.execute("UPDATE monitors SET every = 1, escalate = 1")
            rig.bot.schedule.add(monitor.id, 1)
            site.response = BAD
            (down,) = await rig.fake.wait(SEND)
            assert down.body["content"] == f"<@{USER}> <@&{ROLE}>"
            allowed = down.body["allowed_mentions"]
            assert allowed == {"parse": [], "users": [USER], "roles": [ROLE]}
            alert = next(
                m for m in rig.fake.messages.values() if m.get("content") == down.body["content"]
            )
            assert [u["id"] for u in alert["mentions"]] == [str(USER)]
            assert alert["mention_roles"] == [str(ROLE)]
            assert alert["mention_everyone"] is False  # the page's "@everyone" is in an embed

            thread = f"POST /channels/{alert['id']}/messages"
            escalation = (await rig.fake.wait(thread))[0]  # (a 404 first: no thread yet)
            assert escalation.body["content"] == f"<@{USER}> <@&{ROLE}>"
            assert escalation.body["allowed_mentions"]["users"] == [USER]
            assert "not acknowledged for 1s" in escalation.body["embeds"][0]["description"]

            site.response = GOOD

            def recoveries() -> list[dict[str, object]]:
                return [
                    c.body
                    for c in rig.fake.of(thread)
                    if "RECOVERED" in c.body["embeds"][0]["title"]
                ]

            await until(lambda: len(recoveries()) == 1)
            (recovered,) = recoveries()
            assert recovered["allowed_mentions"] == {"parse": []}
            assert not recovered.get("content")


async def test_notify_and_maintenance_as_slash_commands(tmp_path: Path, control: OkServer) -> None:
    with ok_server() as site:
        async with discord_rig(tmp_path, control.url) as rig:
            _, monitor = await rig.typed_watch(site.url)

            async def answer(subcommand: str, **options: object) -> dict[str, object]:
                call = await rig.callback(await rig.command(subcommand, **options))
                data: dict[str, object] = call.body["data"]
                return data

            everyone = await answer("notify", id=monitor.id, who=f"<@&{GUILD}>")
            assert int(str(everyone["flags"])) & EPHEMERAL
            assert "is @everyone" in str(everyone["content"])
            here = await answer("notify", id=monitor.id, who="@here")
            assert "would ping everyone" in str(here["content"])
            telegram = await answer("notify", id=monitor.id, who="@alice")
            assert "is a Telegram or Console mention" in str(telegram["content"])

            await answer("notify", id=monitor.id, who=f"<@{USER}>", escalate="15m")
            stored = rig.bot.store.monitor(monitor.id)
            assert stored is not None
            assert ([m.id for m in stored.notify], stored.escalate) == ([str(USER)], 900)

            await answer("maintenance", target="all", duration="2h")
            stored = rig.bot.store.monitor(monitor.id)
            assert stored is not None and stored.maintenance_until is not None
            listed = rig.bot.store.monitors_in(DISCORD_CHANNEL)
            assert listed[0].maintenance_until == stored.maintenance_until
            shown = await answer("list")
            description = shown["embeds"][0]["description"]  # type: ignore[index]
            assert "maintenance until" in description and f"<@{USER}>" in description
