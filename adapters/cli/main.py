"""``check502``: diagnose a URL from the terminal, or explain a pasted log line.

The command is the operator's own tool: it checks every address the person at the shell could
reach with curl (``localhost``, private networks), unlike the bot, which refuses internal
addresses. ``--deny-internal``, ``--allow NET`` or a set ``CHECK502_ALLOW_NETWORKS`` apply the
bot's policy instead, for scripts that pass URLs they did not write.

Exit codes: 0 healthy, 1 a problem was diagnosed, 2 bad usage, 3 an unexpected internal error;
141 when the reader of its output went away (``check502 --json URL | head -c 100``), as curl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

import checks
from adapters.cli.render import render_diagnosis, render_explanation, stdout_style

log = logging.getLogger("check502")

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_READER_GONE = 141
"""What a shell reports for a command that SIGPIPE ended (128 + 13), as ``seq | head`` shows."""


class _ReaderGone(Exception):
    """Standard output is a pipe whose reader has exited (``check502 URL | head -c 100``)."""


def _emit(text: str) -> None:
    """Write ``text`` to standard output and flush it, so a reader that went away is noticed
    here, as :class:`_ReaderGone`, and not as an error while the interpreter exits."""
    try:
        sys.stdout.flush()
        out = sys.stdout.buffer
        data = memoryview(text.encode(sys.stdout.encoding or "utf-8", "replace"))
        # Unbuffered (PYTHONUNBUFFERED), the binary layer is the raw file, whose write may stop
        # short when the reader leaves; the text layer would take that for success. Loop until
        # everything is written or the pipe is found closed.
        while data:
            written = out.write(data)
            if not written:
                raise _ReaderGone
            data = data[written:]
        out.flush()
    except BrokenPipeError:
        raise _ReaderGone from None


def _reader_gone() -> int:
    """End quietly, as a UNIX tool whose reader left: no traceback, no message (curl exits 23
    with ``-s`` and prints nothing, ``seq`` dies of SIGPIPE: 141). What is still buffered for
    standard output is thrown away by pointing it at /dev/null (the recipe in Python's ``signal``
    documentation), so the flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_READER_GONE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"check502: {message} (see check502 --help)\n")


def _positive(kind: type[int] | type[float]):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    return parse


def _version() -> str:
    import importlib.metadata  # noqa: PLC0415 - only for --version: it costs every start ~20 ms

    try:
        return importlib.metadata.version("check502")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


class _Version(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        sys.stdout.write(f"check502 {_version()}\n")
        parser.exit(EXIT_OK)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="check502",
        description="Diagnose an HTTP 502: who generated it, which hop is broken, and why.",
        epilog='Also: check502 explain "LOG LINE OR CODE" maps an error-log line to a cause.',
    )
    parser.add_argument("--version", action=_Version)
    parser.add_argument("url", help="the public URL, e.g. https://shop.example.com/")
    parser.add_argument(
        "--origin",
        metavar="O",
        help="origin to ask directly: IP, IP:PORT, [IPv6]:PORT, host:PORT or scheme://host:PORT"
        " (Host and SNI stay the public ones, like curl --resolve)",
    )
    parser.add_argument(
        "--runs",
        type=_positive(int),
        default=1,
        metavar="N",
        help="repeat the check N times (edge drift, status mix)",
    )
    parser.add_argument(
        "--concurrency", type=_positive(int), default=1, metavar="C", help="how many runs at once"
    )
    parser.add_argument(
        "--resolver", metavar="IP[:PORT]", help="ask this DNS server instead of the system's"
    )
    parser.add_argument("--ca-bundle", metavar="FILE", help="trust these CA certificates (PEM)")
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        metavar="S",
        help="deadline per probe in seconds (default 10)",
    )
    parser.add_argument("--follow", action="store_true", help="follow up to 5 redirects")
    request = parser.add_argument_group(
        "request",
        "What to send and ask of the answer (the origin bypass and every redirect hop send it"
        " too). Credentials are read from environment variables named here, never typed.",
    )
    request.add_argument("-X", "--method", default="GET", type=str.upper, help="GET, POST...")
    request.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="repeatable"
    )
    request.add_argument("--data", default="", metavar="BODY", help="request body (64 KB at most)")
    request.add_argument(
        "--auth",
        metavar="bearer:VAR|basic:USER_VAR:PASS_VAR",
        help="credentials from these environment variables",
    )
    request.add_argument("--keyword", help="the body must contain this")
    request.add_argument("--not-keyword", help="the body must not contain this")
    request.add_argument(
        "--slow", type=_positive(int), metavar="MS", help="an answer slower than this fails"
    )
    addresses = parser.add_argument_group(
        "addresses",
        "Every address is checked by default, internal ones too (localhost, 10.0.0.0/8...), as"
        " curl would. For URLs you did not write, apply the bot's policy: refuse private,"
        " loopback, link-local and cloud-metadata addresses, after DNS and on every redirect.",
    )
    addresses.add_argument(
        "--deny-internal",
        action="store_true",
        help="apply the bot's policy; also on when CHECK502_ALLOW_NETWORKS is set (its networks,"
        " comma-separated, are then the allowed ones) or --allow is given",
    )
    addresses.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NET",
        help="apply the bot's policy but allow this network (e.g. 10.0.0.0/8, 127.0.0.1);"
        " repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
    return parser


def _explain(argv: Sequence[str]) -> int:
    parser = _Parser(
        prog="check502 explain", description="Map an error-log line or platform code to a cause."
    )
    parser.add_argument(
        "line", nargs="+", help='the line, e.g. "connect() failed (111: Connection refused)"'
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    e = checks.explain(" ".join(args.line))
    if args.json:
        _emit(
            json.dumps(
                {
                    "cause": e.cause.value,
                    "source": e.source,
                    "matched": e.matched,
                    "summary": e.summary,
                    "status": e.status,
                    "next_steps": list(e.next_steps),
                    "alternatives": [c.value for c in e.alternatives],
                    "detail": e.detail,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        _emit(render_explanation(e, stdout_style()))
    return EXIT_OK if e.cause is not checks.Cause.UNKNOWN else EXIT_PROBLEM


ALLOW_ALL = checks.AddressPolicy(allow_all=True)
"""The command's default: the operator at the shell may check any address."""


def policy(
    deny_internal: bool, allow: Sequence[str], env: Mapping[str, str]
) -> checks.AddressPolicy:
    """Every address, unless ``--deny-internal``, ``--allow`` or a set (non-blank, as the bot
    reads it) ``CHECK502_ALLOW_NETWORKS`` asks for the bot's policy; then the variable's and the
    ``--allow`` networks are the allowed ones."""
    setting = env.get("CHECK502_ALLOW_NETWORKS", "")
    if not (deny_internal or allow or setting.strip()):
        return ALLOW_ALL
    try:
        return checks.AddressPolicy.from_setting(",".join([setting, *allow]))
    except ValueError as exc:
        raise checks.UsageError(f"--allow / CHECK502_ALLOW_NETWORKS: {exc}") from None


def request_spec(args: argparse.Namespace, env: Mapping[str, str]) -> checks.RequestSpec | None:
    """The request the options ask for (None: a plain GET), credentials read from ``env``."""
    auth = None
    if args.auth:
        scheme, _, rest = args.auth.partition(":")
        names = tuple(rest.split(":")) if rest else ()
        if scheme not in ("bearer", "basic") or len(names) != (1 if scheme == "bearer" else 2):
            raise checks.UsageError("--auth is bearer:VAR or basic:USER_VAR:PASS_VAR")
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise checks.UsageError(f"--auth: ${missing[0]} is not set")
        auth = checks.Auth(scheme, names, tuple(env[n] for n in names))
    headers = []
    for header in args.header:
        name, colon, value = header.partition(":")
        if not colon:
            raise checks.UsageError(f"--header {header!r} is not NAME: VALUE")
        headers.append((name.strip(), value.strip()))
    spec = checks.RequestSpec(
        method=args.method,
        headers=tuple(headers),
        body=args.data,
        auth=auth,
        keyword=args.keyword,
        not_keyword=args.not_keyword,
        slow_ms=args.slow,
    )
    return None if spec.plain else spec


def _diagnose(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.ca_bundle and not os.path.isfile(args.ca_bundle):
        raise checks.UsageError(f"--ca-bundle {args.ca_bundle}: no such file")
    diagnosis = asyncio.run(
        checks.diagnose(
            args.url,
            origin=args.origin,
            runs=args.runs,
            concurrency=args.concurrency,
            resolver=args.resolver,
            ca_bundle=args.ca_bundle,
            timeout=args.timeout,
            follow=args.follow,
            policy=policy(args.deny_internal, args.allow, os.environ),
            request=request_spec(args, os.environ),
        )
    )
    if args.json:
        _emit(json.dumps(checks.diagnosis_to_dict(diagnosis), indent=2) + "\n")
    else:
        _emit(render_diagnosis(diagnosis, stdout_style()))
    return EXIT_OK if diagnosis.healthy else EXIT_PROBLEM


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=os.environ.get("CHECK502_LOG_LEVEL", "WARNING").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code = _run(argv)
        sys.stdout.flush()  # what argparse printed (--help, --version) meets a closed pipe here
    except (_ReaderGone, BrokenPipeError):
        return _reader_gone()
    return code


def _run(argv: Sequence[str]) -> int:
    try:
        if argv and argv[0] == "explain":
            return _explain(argv[1:])
        return _diagnose(argv)
    except _ReaderGone:
        raise
    except SystemExit as exc:  # argparse: --help, or a usage error it already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except checks.UsageError as exc:
        sys.stderr.write(f"check502: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        sys.stderr.write(
            f"check502: unexpected error ({type(exc).__name__}: {exc});"
            " set CHECK502_LOG_LEVEL=DEBUG for details\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
