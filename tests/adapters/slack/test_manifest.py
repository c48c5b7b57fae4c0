"""The Slack app manifest a user pastes agrees with what the code registers and needs."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.slack.config import SCOPES, SlackConfig

MANIFEST = Path(__file__).parents[3] / "adapters" / "slack" / "manifest.json"


def test_the_manifest_declares_our_command_scopes_and_interactivity() -> None:
    manifest = json.loads(MANIFEST.read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == SlackConfig.__dataclass_fields__["command"].default
    # Mentions arrive as <@U123|alice> and <!subteam^S1|@oncall>, IDs kept (notify=); URLs as
    # <url>, which the parser unwraps.
    assert command["should_escape"] is True
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(SCOPES)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # the buttons
    assert len(command["usage_hint"]) <= 1000 and len(command["description"]) <= 2000
