"""Render a diagnosis for a terminal, in the spirit of httpstat: verdict first, then the phases."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from adapters.present import gateway_headers, phases, supporting
from checks import Cause, Diagnosis, Explanation, Finding, Probe
from checks.model import FINDING_WORDS


class Style:
    """ANSI colours, off when not a terminal or when NO_COLOR is set."""

    def __init__(self, enabled: bool, width: int | None = None, *, tty: bool = False) -> None:
        self.enabled = enabled
        self._width = width
        self._tty = tty

    @classmethod
    def for_stream(cls, stream: object) -> Style:
        isatty = bool(getattr(stream, "isatty", lambda: False)())
        return cls(isatty and "NO_COLOR" not in os.environ, tty=isatty)

    @property
    def width(self) -> int | None:
        """The columns prose wraps to: ``COLUMNS`` when set, else the terminal's width (read
        each time: a resized window wraps to its new width); None (no wrapping) in a pipe."""
        if self._width is not None:
            return self._width
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        if self._tty:
            import shutil  # noqa: PLC0415 - only a terminal needs it

            return shutil.get_terminal_size().columns
        return None

    def inset(self, columns: int) -> Style:
        """This style for text indented by ``columns`` more (an alert's body)."""
        width = self.width
        return Style(self.enabled, None if width is None else max(20, width - columns))

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


def wrap(text: str, width: int | None, indent: str = "", hang: str = "") -> str:
    """``indent + text`` wrapped to ``width`` columns, continuation lines under the text after
    ``indent`` (and ``hang`` further). Words are never broken, and a command quoted in
    backticks (`` `curl -v ...` ``) is kept whole on one line so it can be copied: what is
    longer than the line overflows as is."""
    first = indent + text
    if width is None or len(first) <= width:
        return first
    import textwrap  # noqa: PLC0415 - only wrapping needs it (the CLI's cold start)

    parts = text.split("`")
    for i in range(1, len(parts), 2):  # the quoted spans: their spaces do not break
        if i < len(parts) - 1:
            parts[i] = parts[i].replace(" ", _KEEP)
    filled = textwrap.fill(
        "`".join(parts),
        width,
        initial_indent=indent,
        subsequent_indent=" " * len(indent) + hang,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return filled.replace(_KEEP, " ")


_KEEP = "\x00"
"""Stands for a space that must not break a line while :func:`wrap` fills a paragraph."""


def wrap_lines(text: str, width: int | None) -> str:
    """Each line of ``text`` wrapped to ``width`` under its own indentation; command lines
    (``/check502 ...``, ``curl ...``, ``$ ...``) are never wrapped, so they stay copyable."""
    if width is None:
        return text
    out = []
    for line in text.split("\n"):
        body = line.lstrip(" ")
        indent = line[: len(line) - len(body)]
        if body.startswith(("/check502", "curl ", "$ ")):
            out.append(line)
            continue
        hang = "  " if body[:2] in {"• ", "→ ", "- ", "✗ "} else ""
        out.append(wrap(body, width, indent, hang))
    return "\n".join(out)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


_HTTPSTAT_NAMES = {
    "DNS": "DNS Lookup",
    "connect": "TCP Connection",
    "TLS": "TLS Handshake",
    "first byte": "Server Processing",
    "transfer": "Content Transfer",
}


def _phases(p: Probe) -> list[tuple[str, float | None]]:
    """Per-phase durations under httpstat's names."""
    return [(_HTTPSTAT_NAMES[name], value) for name, value in phases(p)]


def _phase_bar(p: Probe, style: Style) -> list[str]:
    # TLS is left out where there was none (http://), and drawn where it failed.
    phases = [(n, v) for n, v in _phases(p) if not (n == "TLS Handshake" and v is None)]
    width = [max(len(n), 8) + 1 for n, _ in phases]  # with TLS, within 80 columns
    names = "   " + " ".join(n.center(w - 1) for (n, _), w in zip(phases, width, strict=True))
    values = (
        "  ["
        + "|".join(
            style.cyan(_ms(v).center(w - 1)) for (_, v), w in zip(phases, width, strict=True)
        )
        + "]"
    )
    return [style.dim(names), values]


def _probe_lines(p: Probe, style: Style) -> list[str]:
    where = f"{p.ip}:{p.port}" if p.ip else f"{p.host}:{p.port}"
    if p.status is not None:
        colour = style.green if p.status < 400 else style.red
        head = colour(f"{p.http_version or ''} {p.status} {p.reason or ''}".strip())
    else:
        head = style.red("no response")
    label = f"{p.target} (HTTP/1.1 retry)" if p.protocol_retry else p.target
    lines = [f"{style.bold(label):<8} {where}  {head}  total {_ms(p.timings.total)}"]
    if p.error is not None:
        lines.append(f"    {style.red(p.error.kind.value)}: {p.error.message}")
    lines += _phase_bar(p, style)
    if p.tls is not None:
        t = p.tls
        state = "verified" if t.verified else f"NOT verified ({t.verify_error})"
        days = "" if t.days_left is None else f", {t.days_left} days left"
        lines.append(
            f"    TLS {t.version or ''} {t.alpn or ''}: {t.subject} by {t.issuer}{days}, {state}"
        )
    for key, value in gateway_headers(p):
        lines.append(style.dim(f"    {key}: {value}"))
    return lines


def _section(
    title: str, items: Iterable[str], style: Style, bullet: str = "•", *, wrapped: bool = True
) -> list[str]:
    """A titled list; its rows wrap to the terminal's width unless ``wrapped`` is False (command
    lines to copy, which overflow as they are)."""
    rows = list(items)
    if not rows:
        return []
    width = style.width if wrapped else None
    return ["", style.bold(title), *(wrap(row, width, f"  {bullet} ") for row in rows)]


def _joined(parts: list[str], width: int | None, start: int) -> list[str]:
    """``parts`` joined by " · " into lines of at most ``width`` columns (the first begins at
    column ``start``, the others at 2), broken only between two parts."""
    lines = [parts[0]]
    used = start + len(parts[0])
    for part in parts[1:]:
        if width is not None and used + 3 + len(part) > width:
            lines.append(part)
            used = 2 + len(part)
        else:
            lines[-1] += " · " + part
            used += 3 + len(part)
    return lines


def render_diagnosis(d: Diagnosis, style: Style, *, json_hint: bool = True) -> str:
    """The diagnosis as terminal text. ``json_hint`` says where the hidden probes are (the CLI's
    ``--json``); a chat, which has no ``--json``, passes False."""
    v = d.verdict
    ok = v.cause is Cause.OK
    said = f"✗ {v.cause.value}"
    if d.findings and (ok or d.findings[0] is Finding.AUTH_UNSET):
        said = "✗ " + ", ".join(FINDING_WORDS[f] for f in d.findings)  # not a 502 cause
        ok = False
    mark = style.green("✓ healthy") if ok else style.red(said)
    facts = [f"confidence {v.confidence:.2f}"]
    if v.generated_by:
        facts.append(f"generated by {v.generated_by}")
    if v.hop:
        facts.append(f"hop: {v.hop.value}")
    if v.code:
        facts.append(f"code {v.code}")
    if v.alternatives:
        facts.append("also possible: " + ", ".join(c.value for c in v.alternatives))
    plain = "✓ healthy" if ok else said
    first, *rest = _joined(facts, style.width, len(plain) + 2)
    lines = [f"{mark}  {style.dim(first)}", *(f"  {style.dim(line)}" for line in rest)]
    lines += [wrap(v.summary, style.width, "  "), ""]
    shown = list(d.probes)
    if len(shown) > 6:  # many runs: one probe per address, the one that supports the verdict
        groups: dict[tuple[str, str | None, bool], list[Probe]] = {}
        for p in d.probes:
            groups.setdefault((p.target, p.ip, p.protocol_retry), []).append(p)
        shown = [probe for group in groups.values() if (probe := supporting(d, group))]
    for p in shown:
        lines += _probe_lines(p, style)
    if hidden := len(d.probes) - len(shown):
        more = f"{hidden} more probe{'s' if hidden > 1 else ''}"
        lines.append(style.dim(f"  ({more}; --json shows all)" if json_hint else f"  ({more})"))
    lines += _section("Evidence", v.evidence, style)
    lines += _section("Next steps", v.next_steps, style, "→")
    lines += _section("Reproduce", v.reproduce, style, "$", wrapped=False)
    return "\n".join(lines) + "\n"


def render_explanation(e: Explanation, style: Style) -> str:
    head = style.red(e.cause.value) if e.cause is not Cause.UNKNOWN else style.yellow("unknown")
    facts = [
        f for f in (e.source and f"from {e.source}", e.status and f"clients see {e.status}") if f
    ]
    lines = [
        f"{head}  {style.dim(' · '.join(str(f) for f in facts))}",
        wrap(e.summary, style.width, "  "),
    ]
    if e.matched:
        lines.append(style.dim(f"  matched: {e.matched}"))
    if e.alternatives:
        lines.append(style.dim("  also possible: " + ", ".join(c.value for c in e.alternatives)))
    lines += _section("Next steps", e.next_steps, style, "→")
    return "\n".join(lines) + "\n"


def stdout_style() -> Style:
    return Style.for_stream(sys.stdout)
