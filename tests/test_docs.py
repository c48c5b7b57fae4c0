"""The README is the front door: short, the two fresh-machine commands first, no dead links."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_LIMIT = 12 * 1024
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/check502-bot"
TEST = "scripts/test"

_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\]\(([^()\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?)\s*$", re.M)


def _pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _prose(text: str) -> str:
    """The text outside code blocks and code spans, where a link is a link."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    slugs = set()
    for title in _HEADING.findall(text):
        plain = re.sub(r"[^\w\- ]", "", title.replace("`", "").lower())
        slugs.add(plain.replace(" ", "-"))
    return slugs


def _first_block(text: str) -> tuple[int, list[str]]:
    """Where the README's first fenced block starts (line index) and its lines."""
    match = _FENCE.search(text)
    assert match, "README has no code block"
    line = text.count("\n", 0, match.start())
    return line, match.group(0).splitlines()[1:-1]


def test_readme_is_at_most_12_kb() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes, the limit is {README_LIMIT}"


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    line, commands = _first_block(text)
    assert commands == [INSTALL, TEST]
    # Right after the title paragraph: nothing but the title and prose before it.
    before = text.splitlines()[:line]
    assert before[0].startswith("# ")
    assert not any(row.startswith("## ") for row in before), "the commands come before any section"
    assert line <= 15, f"the commands start on line {line + 1}, not on the first screen"
    # The second command is what CI runs, and it exists.
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert (ROOT / TEST).is_file()


def test_readme_shows_the_command_line_on_its_first_screen() -> None:
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:40])
    # The shell command itself, not the chat's /check502.
    assert re.search(r"^(\.venv/bin/)?check502 https?://", first_screen, re.M)


def test_every_relative_link_resolves_to_a_file_in_the_repository() -> None:
    broken = []
    for page in _pages():
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: {target}"
            if not dest.is_relative_to(ROOT):
                broken.append(f"{where} (outside the repository)")
            elif not dest.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{where} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_sees_links() -> None:
    """Guards the check above: it must find the README's links to docs/."""
    targets = _LINK.findall(_prose(README.read_text(encoding="utf-8")))
    assert "docs/cli.md" in targets
    assert "LICENSE" in targets


def test_license_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 the check502 authors" in text


def test_the_procfile_runs_the_bot_as_the_web_process() -> None:
    """A PaaS routes HTTP only to the ``web`` process type, and the bot serves HTTP; the probe
    workers' lines are examples in comments (a region's name is the operator's)."""
    rows = (ROOT / "Procfile").read_text().splitlines()
    lines = [row for row in rows if row.strip() and not row.startswith("#")]
    assert lines == ["web: check502-bot"]
    assert "# worker-eu: check502-worker --region eu" in rows


def test_the_deployment_doc_names_the_health_endpoints_and_the_public_urls() -> None:
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for needed in ("/healthz", "/readyz", "CHECK502_WEB", "Socket Mode", "polling", "gateway"):
        assert needed in text, needed
