"""What a check sends and what it asks of the answer, beyond a plain GET: a :class:`RequestSpec`.

A spec names the method, extra headers, a body, credentials (:class:`Auth`), and checks on the
response: a keyword that must (or must not) appear in the body, and a latency threshold. The
engine sends the same request to every address, to the origin bypass and on each redirect hop
it follows (303, and 301/302 after a POST, turn into a GET without body, as browsers do; the
credentials are dropped when a redirect leaves the URL's scheme, host and port).

Secrets: an :class:`Auth` holds the credentials' *values* (read from the environment by the
caller) only to put them on the wire; its ``repr``, the JSON, the verdict and the ``curl``
lines name the environment variables instead (``-H "Authorization: Bearer $API_TOKEN"``), and
what a diagnosis keeps is :meth:`RequestSpec.redacted` (no values at all).

The default spec (``RequestSpec()``) is today's check exactly: a GET with the engine's own
headers and nothing else asked of the answer.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from checks._exchange import BODY_DRAIN
from checks.errors import InvalidRequest
from checks.model import Cause, Finding, Probe, Verdict

__all__ = [
    "FORBIDDEN_HEADERS",
    "MAX_BODY",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_KEYWORD",
    "METHODS",
    "PLAIN",
    "Auth",
    "InvalidRequest",
    "RequestSpec",
]

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_HEADERS = 20
MAX_HEADER_BYTES = 8 * 1024
"""Names and values of the extra headers together, in bytes."""
MAX_BODY = 64 * 1024
MAX_KEYWORD = 200
MAX_SLOW_MS = 120_000
FORBIDDEN_HEADERS = frozenset(
    {
        "host",  # the URL says where: no Host override
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",  # hop-by-hop (RFC 9110 7.6.1), and forbidden in HTTP/2
        "content-length",  # the engine frames the body itself
        "accept-encoding",  # bodies are read as sent: a keyword is looked for in plain bytes
        "authorization",
        "proxy-authorization",  # credentials come from auth=, by environment variable name
    }
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
"""A header name (RFC 9110 ``token``)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True, slots=True)
class Auth:
    """Credentials by reference: the environment variables' names, and the values read."""

    scheme: Literal["basic", "bearer"]
    names: tuple[str, ...]
    """``(TOKEN,)`` for bearer, ``(USER, PASSWORD)`` for basic: what is shown, never the values."""
    values: tuple[str, ...] = field(default=(), repr=False, compare=False)
    """The values read from those variables; empty in a redacted spec."""

    def __post_init__(self) -> None:
        wanted = 1 if self.scheme == "bearer" else 2
        if self.scheme not in ("basic", "bearer") or len(self.names) != wanted:
            raise InvalidRequest("auth is bearer with one variable or basic with two")
        if not all(_ENV_NAME.fullmatch(name) for name in self.names):
            raise InvalidRequest("auth names environment variables (letters, digits, _)")
        if self.values and len(self.values) != wanted:
            raise InvalidRequest("auth needs one value per variable")
        for value in self.values:
            if any(ch in value for ch in "\r\n\0") or len(value) > 4096:
                raise InvalidRequest(
                    f"the credentials in ${self.names[0]} cannot be sent in a header"
                )

    def header(self) -> bytes:
        """The ``Authorization`` value to send (needs :attr:`values`)."""
        if not self.values:
            raise InvalidRequest(f"the credentials in ${self.names[0]} were not read")
        if self.scheme == "bearer":
            return b"Bearer " + self.values[0].encode("utf-8")
        pair = f"{self.values[0]}:{self.values[1]}".encode()
        return b"Basic " + base64.b64encode(pair)

    def scrub(self, text: str) -> str:
        """``text`` with the credentials' values (and the basic token they make) replaced by
        their variables' names: a server that echoes the request never shows the secret."""
        if not self.values or not text:
            return text
        secrets = [(v, f"${n}") for v, n in zip(self.values, self.names, strict=True) if v]
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.values[0]}:{self.values[1]}".encode()).decode()
            secrets.insert(0, (token, f"base64(${self.names[0]}:${self.names[1]})"))
        for value, name in sorted(secrets, key=lambda pair: -len(pair[0])):
            text = text.replace(value, name)
        return text

    @property
    def display(self) -> str:
        """``bearer $API_TOKEN`` or ``basic $USER:$PASSWORD``."""
        return f"{self.scheme} " + ":".join(f"${name}" for name in self.names)

    @property
    def curl(self) -> str:
        """The ``curl`` option, with the variables for the shell to expand."""
        if self.scheme == "bearer":
            return f'-H "Authorization: Bearer ${self.names[0]}"'
        return f'-u "${self.names[0]}:${self.names[1]}"'


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """The request a check sends and the checks on its answer (see the module docstring)."""

    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    auth: Auth | None = None
    keyword: str | None = None
    """Must appear in the body (bytes, case-sensitive, UTF-8)."""
    not_keyword: str | None = None
    """Must not appear in the body."""
    slow_ms: int | None = None
    """An answer slower than this (total time, ms) is :attr:`Finding.SLOW`."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidRequest(f"the method must be one of {', '.join(METHODS)}")
        if len(self.headers) > MAX_HEADERS:
            raise InvalidRequest(f"at most {MAX_HEADERS} headers")
        size = 0
        for name, value in self.headers:
            if not _TOKEN.fullmatch(name):
                raise InvalidRequest("a header name is letters, digits and - (e.g. X-Api-Key)")
            if name.lower() in FORBIDDEN_HEADERS:
                raise InvalidRequest(_forbidden(name))
            if not all(ch == "\t" or " " <= ch != "\x7f" for ch in value):
                raise InvalidRequest(f"the {name} header's value has a control character")
            size += len(name) + len(value.encode("utf-8"))
        if size > MAX_HEADER_BYTES:
            raise InvalidRequest(f"the headers are over {MAX_HEADER_BYTES // 1024} KB")
        if len(self.body.encode("utf-8")) > MAX_BODY:
            raise InvalidRequest(f"the body is over {MAX_BODY // 1024} KB")
        if self.body and self.method in ("GET", "HEAD"):
            raise InvalidRequest(f"a {self.method} sends no body; use method=POST (or PUT)")
        for word in (self.keyword, self.not_keyword):
            if word is not None and not 0 < len(word) <= MAX_KEYWORD:
                raise InvalidRequest(f"a keyword is 1 to {MAX_KEYWORD} characters")
        if self.method == "HEAD" and (self.keyword or self.not_keyword):
            raise InvalidRequest("a HEAD answer has no body to look for a keyword in")
        if self.slow_ms is not None and not 0 < self.slow_ms <= MAX_SLOW_MS:
            raise InvalidRequest("the latency threshold is from 1 ms to 120 s")

    @property
    def plain(self) -> bool:
        """Today's check: a GET asking nothing of the answer."""
        return self is PLAIN or self == PLAIN

    @property
    def needles(self) -> tuple[bytes, ...]:
        """The keywords to look for in the body, as bytes (must-appear first)."""
        return tuple(w.encode("utf-8") for w in (self.keyword, self.not_keyword) if w)

    def wire_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The headers this spec adds to the engine's own (Host, User-Agent, Accept...)."""
        extra = [(n.encode("ascii"), v.encode("utf-8")) for n, v in self.headers]
        if self.auth is not None:
            extra.append((b"Authorization", self.auth.header()))
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            extra.append((b"Content-Length", str(len(self.body.encode("utf-8"))).encode()))
        return tuple(extra)

    def findings(self, body: tuple[bool, ...], total_ms: float | None) -> tuple[Finding, ...]:
        """What an answer fails of this spec: ``body`` says, per needle, whether it was found."""
        found = iter(body)
        out: list[Finding] = []
        if self.keyword and not next(found, False):
            out.append(Finding.KEYWORD_MISSING)
        if self.not_keyword and next(found, False):
            out.append(Finding.KEYWORD_PRESENT)
        if self.slow_ms is not None and total_ms is not None and total_ms > self.slow_ms:
            out.append(Finding.SLOW)
        return tuple(out)

    def after_redirect(self, status: int, same_origin: bool) -> RequestSpec:
        """The request for the next hop: 303 (and 301/302 after a POST) become a GET with no
        body, as browsers do; credentials never go to another scheme, host or port."""
        spec = self
        if (status == 303 and self.method not in ("GET", "HEAD")) or (
            status in (301, 302) and self.method == "POST"
        ):
            spec = replace(spec, method="GET", body="")
        if not same_origin and spec.auth is not None:
            spec = replace(spec, auth=None)
        return spec

    def redacted(self) -> RequestSpec:
        """This spec without the credentials' values (what a diagnosis keeps)."""
        if self.auth is None or not self.auth.values:
            return self
        return replace(self, auth=Auth(self.auth.scheme, self.auth.names))

    def curl_args(self) -> str:
        """The ``curl`` options that send this request (credentials by variable)."""
        args: list[str] = []
        if self.method == "HEAD":
            args.append("-I")
        elif self.method != "GET":
            args.append(f"-X {self.method}")
        args += [f"-H {shlex.quote(f'{n}: {v}')}" for n, v in self.headers]
        if self.auth is not None:
            args.append(self.auth.curl)
        if self.body:
            args.append(f"--data-raw {shlex.quote(self.body)}")
        return " ".join(args)


PLAIN = RequestSpec()


def _forbidden(name: str) -> str:
    lower = name.lower()
    if lower in ("authorization", "proxy-authorization"):
        return "credentials go in auth= (by environment variable name), not in a header"
    if lower == "host":
        return "the Host header comes from the URL; check the URL you mean instead"
    return f"the engine sets {name} itself"


def _quoted(word: str) -> str:
    return f"“{word}”"


def reword(
    verdict: Verdict, spec: RequestSpec, public: Sequence[Probe], findings: tuple[Finding, ...]
) -> Verdict:
    """The verdict of a check that sent ``spec``: its ``curl`` lines send the same request, and
    when no 502 cause was found but the answer fails a check of the spec, the summary says which
    in plain words (the cause stays ``ok``: the server answered, nothing is broken between)."""
    args = spec.curl_args()
    reproduce = tuple(
        f"curl {args} {line[5:]}" if args and line.startswith("curl ") else line
        for line in verdict.reproduce
    )
    verdict = replace(verdict, reproduce=reproduce)
    if verdict.cause is not Cause.OK or not findings:
        return verdict
    main = next((p for p in public if p.findings), None)
    status = main.status if main is not None else None
    total = main.timings.total if main is not None else None
    said = {
        Finding.KEYWORD_MISSING: (
            f"the body does not contain {_quoted(spec.keyword or '')} (keyword missing)"
        ),
        Finding.KEYWORD_PRESENT: (
            f"the body contains {_quoted(spec.not_keyword or '')} (keyword present)"
        ),
        Finding.SLOW: (
            f"it took {0 if total is None else round(total)} ms, over the"
            f" {spec.slow_ms} ms threshold (slow)"
        ),
    }
    sentences = [said[f] for f in findings if f in said]
    if not sentences:
        return verdict
    summary = f"{verdict_url(main)} answered {status}, but {sentences[0]}."
    evidence = [f"Also: {s}." for s in sentences[1:]]
    if Finding.KEYWORD_MISSING in findings or Finding.KEYWORD_PRESENT in findings:
        evidence.append(
            "The keyword is looked for, case-sensitively, in the body as sent (at most"
            f" {BODY_DRAIN // (1024 * 1024)} MiB read); this is not a 502 cause."
        )
    return replace(verdict, summary=summary, evidence=(*evidence, *verdict.evidence))


def verdict_url(p: Probe | None) -> str:
    return "The server" if p is None else p.url
