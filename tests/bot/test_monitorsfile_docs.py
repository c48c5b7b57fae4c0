"""The monitors files shown in docs/monitors-file.md and docs/migrating.md load as they are."""

from __future__ import annotations

import re
import subprocess
import sys
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


def test_the_kuma_converter_gives_the_docs_hand_conversion() -> None:
    """scripts/kuma-to-toml on the backup shown in docs/migrating.md prints the monitors the
    page converts by hand; the basic auth password never reaches its output."""
    backup = re.search(r"```json\n(.*?)```", (DOCS / "migrating.md").read_text("utf-8"), re.S)
    assert backup is not None
    script = DOCS.parent / "scripts" / "kuma-to-toml"
    done = subprocess.run(
        [sys.executable, str(script), "/dev/stdin", "--platform", "telegram",
         "--channel", "-1001234567890"],
        input=backup.group(1), capture_output=True, text=True, timeout=60, check=False,
        cwd=DOCS.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout
    converted = parse(done.stdout, Path("out.toml"), targets=TARGETS)
    by_hand = parse(_blocks("migrating.md")[1], Path("migrating.md"), targets=TARGETS)
    assert converted.monitors == by_hand.monitors
