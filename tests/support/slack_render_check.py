"""Checks on Slack messages: valid by slack-sdk's own Block Kit models, and their text."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """Every block parses and validates with slack-sdk's models; at most 50 of them."""
    assert 0 < len(blocks) <= 50, len(blocks)
    for b in blocks:
        parsed = Block.parse(b)
        assert parsed is not None, b
        parsed.validate_json()
        assert parsed.to_dict() == b or b.get("type") in {"header", "context", "actions"}, b


def block_text(blocks: list[dict[str, Any]]) -> str:
    """All the text a reader sees in ``blocks``, one piece per line."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", ())]
        for e in b.get("elements", ()):
            if isinstance(e.get("text"), dict):
                out.append(e["text"]["text"])
            elif isinstance(e.get("text"), str):
                out.append(e["text"])
    return "\n".join(out)
