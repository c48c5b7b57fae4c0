"""The monitors files shown in docs/monitors-file.md and docs/migrating.md load as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.monitorsfile import parse

DOCS = Path(__file__).resolve().parents[2] / "docs"
TARGETS = ("webhook", "pagerduty", "email")


def _blocks(name: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize(
    ("name", "count", "monitors"),
    [("monitors-file.md", 1, 3), ("migrating.md", 2, 4)],
)
def test_every_toml_example_in_the_docs_loads(name: str, count: int, monitors: int) -> None:
    blocks = _blocks(name)
    assert len(blocks) == count
    loaded = [parse(text, Path(name), targets=TARGETS) for text in blocks]
    assert sum(len(f.monitors) for f in loaded) == monitors
