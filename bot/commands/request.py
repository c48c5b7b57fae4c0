"""The request options of ``check`` and ``watch``: what is sent and what is asked of the answer.

::

    method=POST                   GET (default), HEAD, POST, PUT, PATCH, DELETE, OPTIONS
    header="X-Api-Version: 2"     repeatable, up to 20 (no Host, hop-by-hop or Authorization)
    body='{"a":1}'                up to 64 KB (POST, PUT, PATCH, DELETE, OPTIONS)
    auth=bearer:API_TOKEN         the NAME of an environment variable, never the secret
    auth=basic:API_USER:API_PASS  two names: user and password
    keyword=ok                    must appear in the body (case-sensitive)
    not_keyword=error             must not appear in the body
    slow=800ms                    over this, a check is slow (watch: a SLOW incident)
    follow=off                    a redirect is the answer (default: followed, each hop guarded)

Values with spaces are quoted, with the quotes chat apps send too: ``"..."``, ``'...'``,
``“...”``, ``‘...’``. Everything here is a value of :class:`checks.RequestSpec` (the credentials
by name only: :class:`checks.Auth` without values) plus ``follow``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.commands.errors import BadValue, shown
from checks import Auth, InvalidRequest, RequestSpec
from checks.request import METHODS, PLAIN

__all__ = [
    "REQUEST_OPTIONS",
    "format_request",
    "looks_secret",
    "parse_request",
    "quote",
    "request_options",
]

REQUEST_OPTIONS = (
    "method",
    "header",
    "body",
    "auth",
    "keyword",
    "not_keyword",
    "slow",
    "follow",
)
"""The options ``check`` and ``watch`` both take (``header`` may be given several times)."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SLOW = re.compile(r"([0-9]{1,6})ms|([0-9]{1,3}(?:\.[0-9]{1,3})?)s", re.IGNORECASE)
_ON = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}
_AUTH_EXAMPLE = "e.g. auth=bearer:API_TOKEN or auth=basic:API_USER:API_PASS"


def looks_secret(name: str) -> bool:
    """A word that looks like a token or password rather than a variable's name: long, or
    mixing upper and lower case with digits, or many digits (``API_TOKEN`` does not)."""
    digits = sum(ch.isdigit() for ch in name)
    mixed = any(ch.islower() for ch in name) and any(ch.isupper() for ch in name)
    return len(name) > 40 or digits >= 6 or (mixed and digits > 0)


def _auth(text: str) -> Auth:
    scheme, _, rest = text.partition(":")
    scheme = scheme.lower()
    names = tuple(rest.split(":")) if rest else ()
    if scheme not in ("bearer", "basic") or len(names) != (1 if scheme == "bearer" else 2):
        raise BadValue(f"auth= is bearer:<VAR> or basic:<USER_VAR>:<PASS_VAR>, {_AUTH_EXAMPLE}.")
    for name in names:
        # Never echo what was typed here: it may be the very secret this option keeps out.
        if not _ENV_NAME.fullmatch(name) or looks_secret(name):
            raise BadValue(
                "auth= takes the NAME of an environment variable set for the bot, never the"
                f" secret itself ({_AUTH_EXAMPLE}). If you pasted a secret, delete that message"
                " and rotate it."
            )
    return Auth("bearer" if scheme == "bearer" else "basic", names)


def _header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip():
        raise BadValue(f'{shown(text)} is not a header; write header="Name: value".')
    return name.strip(), value.strip()


def _slow(text: str) -> int:
    match = _SLOW.fullmatch(text.strip())
    if match is None:
        raise BadValue(f"{shown(text)} is not a latency; write e.g. slow=800ms or slow=2s.")
    ms = int(match.group(1)) if match.group(1) else round(float(match.group(2)) * 1000)
    if not 1 <= ms <= 120_000:
        raise BadValue("slow= must be from 1ms to 120s.")
    return ms


def parse_request(options: Mapping[str, str], headers: tuple[str, ...]) -> tuple[RequestSpec, bool]:
    """The request spec and ``follow`` the options give; raises :class:`BadValue`."""
    method = options.get("method", "GET").upper()
    if method not in METHODS:
        raise BadValue(f"method= is one of {', '.join(METHODS)}.")
    follow = True
    if "follow" in options:
        word = options["follow"].lower()
        if word not in _ON:
            raise BadValue("follow= is on or off.")
        follow = _ON[word]
    try:
        spec = RequestSpec(
            method=method,
            headers=tuple(_header(h) for h in headers),
            body=options.get("body", ""),
            auth=_auth(options["auth"]) if "auth" in options else None,
            keyword=options.get("keyword"),
            not_keyword=options.get("not_keyword"),
            slow_ms=_slow(options["slow"]) if "slow" in options else None,
        )
    except InvalidRequest as exc:
        text = str(exc)
        raise BadValue(text[0].upper() + text[1:] + ".") from None
    return spec, follow


def _slow_text(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def format_request(spec: RequestSpec, follow: bool) -> list[str]:
    """The options' canonical words, defaults left out; :func:`parse_request` reads them back."""
    return [f"{key}={quote(value)}" for key, value in request_options(spec, follow)]


def request_options(spec: RequestSpec, follow: bool) -> list[tuple[str, str]]:
    """The options' canonical ``(key, value)`` pairs, unquoted, defaults left out (``header``
    once per header)."""
    pairs: list[tuple[str, str]] = []
    if spec.method != PLAIN.method:
        pairs.append(("method", spec.method))
    pairs += [("header", f"{name}: {value}") for name, value in spec.headers]
    if spec.body:
        pairs.append(("body", spec.body))
    if spec.auth is not None:
        pairs.append(("auth", f"{spec.auth.scheme}:{':'.join(spec.auth.names)}"))
    if spec.keyword is not None:
        pairs.append(("keyword", spec.keyword))
    if spec.not_keyword is not None:
        pairs.append(("not_keyword", spec.not_keyword))
    if spec.slow_ms is not None:
        pairs.append(("slow", _slow_text(spec.slow_ms)))
    if not follow:
        pairs.append(("follow", "off"))
    return pairs


QUOTES = (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"))
"""The quote pairs an option's value may be wrapped in (chat apps turn ``"`` into ``“”``)."""


def quote(value: str) -> str:
    """``value`` as one token: bare when it can be, else in the first quotes it does not hold."""
    if value and not any(ch.isspace() for ch in value) and value[0] not in "\"'“‘":
        return value
    for start, end in QUOTES:
        if end not in value:
            return f"{start}{value}{end}"
    raise BadValue("A value holds every kind of quote; it cannot be written as one option.")
