"""``/check502 export`` on every surface: the whole file on the console; on Slack, Discord and
Telegram code blocks within each platform's limits, cut between tables with a note when the
file does not fit, and a short export whole (its pieces join back to the file)."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

from adapters.cli.render import Style
from adapters.console.render import render_monitor_line, render_reply
from adapters.discord import render as discord_render
from adapters.present import export_pieces
from adapters.slack import render as slack_render
from adapters.telegram import render as telegram_render
from bot.commands import Watch
from bot.model import Channel, ExportReply
from bot.monitorsfile import export, parse
from tests.support.replies import monitor as _monitor

CHANNEL = Channel("slack", "T1", "C1")


def reply(count: int) -> ExportReply:
    watches = [
        Watch(f"https://shop{i}.example.com/health?a=1&b=<2>", every=60, confirm=3)
        for i in range(count)
    ]
    return ExportReply(export(CHANNEL, watches), count)


def test_the_console_prints_the_whole_file() -> None:
    r = reply(300)
    assert render_reply(r, Style(False)) == r.text


def test_a_short_export_goes_whole_on_every_surface() -> None:
    r = reply(3)
    [slack_block] = [
        b["text"]["text"]
        for b in slack_render.reply_message(r).blocks
        if b["text"]["text"].startswith("```")
    ]
    assert html.unescape(slack_block.strip("`")) == r.text.rstrip("\n")
    embed = discord_render.reply_message(r).embed
    assert embed is not None and embed.description is not None
    assert embed.description == f"```toml\n{r.text.rstrip()}\n```" and embed.footer.text is None
    [message] = telegram_render.reply_messages(r)
    assert html.unescape(
        message.text.removeprefix("<pre>").removesuffix("</pre>")
    ) == r.text.rstrip("\n")


def test_a_long_export_fits_each_platform_and_says_it_was_cut() -> None:
    r = reply(400)  # about 40 KB of TOML
    slack = slack_render.reply_message(r)
    assert len(slack.blocks) <= slack_render.BLOCK_LIMIT
    assert all(len(b["text"]["text"]) <= 3000 for b in slack.blocks if "text" in b)
    notes = [b["elements"][0]["text"] for b in slack.blocks if b["type"] == "context"]
    assert len(notes) == 1 and "Cut at" in notes[0]
    embed = discord_render.reply_message(r).embed
    assert embed is not None and embed.description is not None
    assert len(embed.description) <= discord_render.DESCRIPTION_LIMIT
    assert embed.footer.text is not None and "Cut at 1 of" in embed.footer.text
    messages = telegram_render.reply_messages(r)
    assert all(len(m.text) <= telegram_render.TEXT_LIMIT for m in messages)
    assert len(messages) == telegram_render.EXPORT_MESSAGES + 1
    assert "Cut at 10 of" in messages[-1].text
    # Each piece is cut before a monitor's table: it parses on its own as monitors.
    first = html.unescape(messages[0].text.removeprefix("<pre>").removesuffix("</pre>"))
    assert first.rstrip().splitlines()[-1].startswith("confirm = ")
    assert len(parse(first, Path("x.toml")).monitors) > 10


def test_pieces_join_back_to_the_text() -> None:
    text = reply(50).text
    pieces = export_pieces(text, 500)
    assert all(len(p) <= 500 for p in pieces)
    assert "\n\n".join(pieces) == text.rstrip("\n")
    assert all(p.startswith(("#", "[[channel.monitor]]")) for p in pieces)


def test_list_says_which_monitors_a_file_owns() -> None:
    plain = _monitor(1, CHANNEL)
    owned = dataclasses.replace(plain, source="check502.toml")
    assert render_monitor_line(owned, Style(False)).endswith("from check502.toml")
    for render in (slack_render.monitor_line, discord_render.monitor_line,
                   telegram_render.monitor_line):  # fmt: skip
        assert "from check502.toml" in render(owned)
        assert "from " not in render(plain)
