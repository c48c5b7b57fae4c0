"""Explain one pasted error-log line or platform error code: which of the seven causes it means.

:func:`explain` is a pure function from text to an :class:`Explanation`. It runs the fingerprint
table in :mod:`checks._explain_rules` (most specific rule first, first match wins), pulls out the
upstream address, errno and similar details, and attaches next steps from :mod:`checks.advice`:
the rule's own steps first, then the steps for what its phrase says happened (a keep-alive race,
a killed worker...), then the cause's advice for that source. The address, port and server name
the line contains replace the advice's ``ORIGIN``, ``PORT`` and ``HOST`` placeholders.

>>> explain("connect() failed (111: Connection refused) while connecting to upstream").cause
<Cause.ORIGIN_DOWN: 'origin_down'>
>>> explain("Error 522").source
<GatewayId.CLOUDFLARE: 'cloudflare'>
>>> explain("H12").cause
<Cause.TIMEOUT: 'timeout'>
>>> explain("we shipped 520 items").cause
<Cause.UNKNOWN: 'unknown'>
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from checks._explain_rules import RULES, Rule
from checks._lazyre import LazyPattern
from checks.advice import MAX_STEPS, next_steps, phrase_steps
from checks.model import Cause

__all__ = ["MAX_INPUT", "Explanation", "explain", "matching_rule"]

MAX_INPUT = 8192
"""Characters of input read; a log line is far shorter, and the cap keeps matching fast."""

_MAX_MATCHED = 200
_MAX_STEPS = MAX_STEPS + 2

# A code typed on its own ("H12", "SC", "UF", "522", "PC01", "OriginTimeout") lacks the context
# the rules demand of short codes, so it is retried inside the context each product writes it in.
_BARE_CODE = re.compile(r"[A-Za-z0-9_,.-]{2,40}")
_CODE_CONTEXTS = ("Error {}", '" 503 {} 0', " {} 0/0/0/0/0", "ErrorInfo: {}")


@dataclass(frozen=True, slots=True)
class Explanation:
    """What one error-log line or platform code means."""

    cause: Cause
    """The cause the line points to; ``Cause.UNKNOWN`` when nothing matched."""
    source: str | None
    """Who writes this line or code: ``"nginx"``, ``"envoy"``, ``"go"``, ``"cloudflare"``..."""
    matched: str | None
    """The phrase or code that matched, as found in the line."""
    summary: str
    """One sentence: what it means."""
    status: int | None
    """The status a client typically sees for it; None when it varies or does not apply."""
    next_steps: tuple[str, ...]
    """Steps for this line first, then for what its phrase says happened (a keep-alive race, a
    killed worker...), then the cause's advice for that source; placeholders (``PORT``,
    ``ORIGIN``, ``HOST``) are filled from the line where it names them."""
    alternatives: tuple[Cause, ...]
    """Other causes the line does not rule out, most likely first."""
    detail: str | None = None
    """Details parsed from the line: upstream address, errno, host name..."""


_EMPTY_SUMMARY = (
    "Nothing to explain: paste one error-log line (nginx, Envoy, HAProxy, Apache, Traefik, "
    "Caddy...) or a platform code such as `Error 522`, `code=H12` or `FUNCTION_INVOCATION_FAILED`."
)
_NO_MATCH_SUMMARY = (
    "No known 502 fingerprint in this text; paste the proxy's error-log line for the failing "
    "request (the part after `upstream`), or the platform's error code."
)

# (label, pattern): a match is reported as "label value", its groups joined with ": ".
_DETAILS: tuple[tuple[str, LazyPattern], ...] = tuple(
    (label, LazyPattern(regex, re.IGNORECASE))
    for label, regex in (
        ("upstream", r'\bupstream: "([^"\n]{1,300})"'),
        ("upstream", r"\bconnect\(\) to (\S{1,300}) failed"),
        ("upstream", r"\battempt to connect to (\S{1,200})"),
        ("upstream", r"\bfailed to make connection to backend: (\S{1,200})"),
        ("upstream", r"\berror reading status line from remote server (\S{1,200})"),
        ("upstream", r"\bdial (?:tcp[46]?|unix) (\S{1,300}?): "),
        ("upstream", r"\b(?:read|write)(?:from)? tcp \S{1,100}->(\S{1,100}?): "),
        # An ALB access-log line: client:port, then target:port, then the three timings.
        (
            "upstream",
            r"\s\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}\s(\d{1,3}(?:\.\d{1,3}){3}:\d{1,5})"
            r"\s(?:-1|\d{1,6}\.\d{1,6})\s",
        ),
        ("server", r"\s([\w.-]{1,100}/(?:[\w.-]{1,100}|<NOSRV>))\s+-?\d+/-?\d+/-?\d+"),
        ("backend", r"\bFetchError\s+backend (\S{1,100}?): "),
        ("host", r"\b(\S{1,255}) could not be resolved"),
        ("host", r"\bno resolver defined to resolve (\S{1,255})"),
        ("host", r'\bhost not found in upstream "([^"\n]{1,255})"'),
        ("host", r"\bDNS lookup failure for: (\S{1,255})"),
        ("host", r"\blookup (\S{1,255}?)(?: on \S{1,100})?: "),
        ("name", r'\bcertificate does not match "([^"\n]{1,255})"'),
        ("x509", r"\bverify error: \((\d{1,3}:[^)\n]{1,100})\)"),
        ("errno", r"\((\d{1,5}): ([A-Za-z][^()\n]{1,80})\)"),
        ("errno", r"\((\d{1,5})\)([A-Za-z][^:()\n]{1,80}):"),
        ("errno", r"\bfail errno (\d{1,5}) \(([^)\n]{1,80})\)"),
        ("transport failure", r"transport failure reason: ([^,\n\"]{1,200})"),
        ("reset reason", r"\breset reason: ([a-z ]{1,40}[a-z])"),
        ("ray id", r"\bray id:?\s{0,3}(?:<strong>)?([0-9a-f]{16})\b"),
    )
)


def explain(line: str) -> Explanation:
    """Map a pasted error-log line or platform code to a cause; never raises.

    Only the first :data:`MAX_INPUT` characters are read. Blank or unrecognised text gives
    ``Cause.UNKNOWN`` with a summary saying what to paste and generic triage steps.
    """
    text = _clean(line)
    found = _match(text) if text else None
    if found is None:
        summary = _NO_MATCH_SUMMARY if text else _EMPTY_SUMMARY
        return Explanation(
            cause=Cause.UNKNOWN,
            source=None,
            matched=None,
            summary=summary,
            status=None,
            next_steps=next_steps(Cause.UNKNOWN),
            alternatives=(),
        )
    rule, match = found
    steps = rule.steps + phrase_steps(rule.advice) + next_steps(rule.cause, rule.source)
    steps = tuple(_fill(step, _addresses(text)) for step in _for_this_line(steps, text))
    return Explanation(
        cause=rule.cause,
        source=rule.source,
        matched=_matched_text(match),
        summary=rule.summary,
        status=rule.status,
        next_steps=tuple(dict.fromkeys(steps))[:_MAX_STEPS],
        alternatives=tuple(c for c in dict.fromkeys(rule.alternatives) if c is not rule.cause),
        detail=_detail(text),
    )


def matching_rule(line: str) -> Rule | None:
    """The rule :func:`explain` would use for ``line``, or None; for tests and debugging."""
    found = _match(_clean(line))
    return found[0] if found else None


def _clean(line: object) -> str:
    if not isinstance(line, str):
        return ""
    return line[:MAX_INPUT].strip()


def _match(text: str) -> tuple[Rule, re.Match[str]] | None:
    found = _first_rule(text)
    if found is None and _BARE_CODE.fullmatch(text):
        for context in _CODE_CONTEXTS:
            found = _first_rule(context.format(text))
            if found is not None:
                break
    return found


def _first_rule(text: str) -> tuple[Rule, re.Match[str]] | None:
    for rule in RULES:
        match = rule.pattern.search(text)
        if match is not None:
            return rule, match
    return None


def _matched_text(match: re.Match[str]) -> str:
    named = [value for value in match.groupdict().values() if value]
    text = named[0] if named else match.group(0)
    return " ".join(text.split())[:_MAX_MATCHED]


# What a line says about where it failed: the upstream it dialled and the public name it served.
_UPSTREAM_VALUE = LazyPattern(
    r"^(?:[a-z][a-z0-9+.-]{0,20}://)?(?:\[(?P<v6>[0-9a-f:.]{2,45})\]|(?P<name>[^\s/:\[\]\"]{1,255}))"
    r"(?::(?P<port>\d{1,5}))?(?=$|[/\s\"])",
    re.IGNORECASE,
)
# nginx writes `, server: NAME` and `, host: "NAME"` in lower case; Heroku's router `host=NAME`.
# A name needs a dot, so a pasted `Server: cloudflare` header is not taken for the site.
_NAME = r"([A-Za-z0-9][\w-]{0,62}(?:\.[\w-]{1,63}){1,10})"
_PUBLIC_HOST = tuple(
    LazyPattern(regex)
    for regex in (
        rf', host: "{_NAME}(?::\d{{1,5}})?"',
        rf", server: {_NAME}(?=[,\s]|$)",
        rf"\bhost={_NAME}(?=[\s,]|$)",
    )
)
_HOST = re.compile(r"(?<![\w$-])HOST\b")
_PORT = re.compile(r"(?<![\w$-])PORT\b")
_ORIGIN_IP = re.compile(r"(?<![\w$-])ORIGIN_IP\b")
_ORIGIN = re.compile(r"(?<![\w$-])ORIGIN\b(?!_)")
_UPSTREAM_HOST = re.compile(r"<upstream-host>")
_IP = re.compile(r"[0-9.]{7,15}|[0-9a-f:.]{2,45}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Addresses:
    upstream_host: str | None = None
    upstream_port: str | None = None
    public_host: str | None = None


def _addresses(text: str) -> _Addresses:
    """The upstream host and port, and the public server name, when the line names them."""
    host = port = None
    for label, pattern in _DETAILS:
        if label != "upstream":
            continue
        found = pattern.search(text)
        if found is None:
            continue
        value = found.group(1).strip()
        parsed = _UPSTREAM_VALUE.match(value)
        if parsed is not None and "unix:" not in value.lower():
            host = parsed.group("v6") or parsed.group("name")
            port = parsed.group("port")
        break
    public = None
    for pattern in _PUBLIC_HOST:
        found = pattern.search(text)
        if found is not None:
            public = found.group(1).rstrip(".")
            break
    return _Addresses(host, port, public)


# A step written for one log phrase ("For `upstream sent too big header`, set ...", "`(11:
# Resource temporarily unavailable)` on a unix socket means ...") fits only a line with it.
_FOR_PHRASE = re.compile(r"^(?:For |If \w{1,20} logs )?`([^`]{6,120})`(?:,| means| on |:)")
_WORD = re.compile(r"\w+")


def _for_this_line(steps: tuple[str, ...], text: str) -> tuple[str, ...]:
    """Steps in order, those written for a phrase this line does not contain moved last.

    A phrase is contained when all its words are (advice abbreviates `(110: Connection timed
    out)` as `(110)`).
    """
    words = set(_WORD.findall(text.lower()))

    def elsewhere(step: str) -> bool:
        found = _FOR_PHRASE.match(step)
        return found is not None and not set(_WORD.findall(found.group(1).lower())) <= words

    return tuple(s for s in steps if not elsewhere(s)) + tuple(s for s in steps if elsewhere(s))


def _fill(step: str, where: _Addresses) -> str:
    """Put the line's own host, port and upstream address into an advice template."""
    if where.public_host:
        step = _HOST.sub(where.public_host, step)
    if where.upstream_port:
        step = _PORT.sub(where.upstream_port, step)
    host = where.upstream_host
    if host:
        if _IP.fullmatch(host):
            step = _placeholder(_ORIGIN_IP, host, step)
        step = _placeholder(_ORIGIN, host, step)
        step = _placeholder(_UPSTREAM_HOST, host, step)
    return step


def _placeholder(pattern: re.Pattern[str], address: str, text: str) -> str:
    """Replace a placeholder with an address, bracketing IPv6 where a port is attached."""

    def sub(match: re.Match[str]) -> str:
        around = text[match.start() - 1 : match.start()] + text[match.end() : match.end() + 1]
        return f"[{address}]" if ":" in address and ":" in around else address

    return pattern.sub(sub, text)


def _detail(text: str) -> str | None:
    parts: dict[str, str] = {}
    for label, pattern in _DETAILS:
        if label in parts:
            continue
        match = pattern.search(text)
        if match is not None:
            parts[label] = ": ".join(group.strip() for group in match.groups())
    if not parts:
        return None
    return "; ".join(f"{label} {value}" for label, value in parts.items())
