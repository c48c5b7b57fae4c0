"""One scheduled check of a monitor, as any process runs it: the front or a shard.

A :class:`Snapshot` is what a check needs of a monitor (its URL, origin, deadline, request,
``follow``, ``expect``, interval): a frozen value the front sends to a shard process
(:mod:`bot.shards`), so a shard checks monitors without the database. :func:`check` runs the
engine under the monitor's deadline, with the request's credentials read by :func:`credentials`
from the environment of the process that checks (the same rules everywhere: only the variables
the operator listed in ``CHECK502_AUTH_VARS``, never a value in a message or a log).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.commands import Expect
from bot.errors import Conflict
from bot.model import Monitor
from checks import (
    AddressPolicy,
    Auth,
    Cause,
    Diagnosis,
    Finding,
    RequestSpec,
    Resolver,
    TlsSessions,
    Transport,
    UsageError,
    Verdict,
    diagnose,
)
from checks.request import PLAIN
from checks.target import TargetURL

_ANY_2XX_3XX = Expect.default()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a scheduled check needs of a monitor; credentials by variable name only."""

    id: int
    url: str
    every: int
    origin: str | None = None
    timeout: float = 10.0
    request: RequestSpec = PLAIN
    follow: bool = True
    expect: Expect = _ANY_2XX_3XX

    @classmethod
    def of(cls, monitor: Monitor) -> Snapshot:
        return cls(
            id=monitor.id,
            url=monitor.url,
            every=monitor.every,
            origin=monitor.origin,
            timeout=monitor.timeout,
            request=monitor.request,
            follow=monitor.follow,
            expect=monitor.expect,
        )


def credentials(
    spec: RequestSpec, allowed: tuple[str, ...], environ: Mapping[str, str]
) -> RequestSpec:
    """``spec`` with its credentials' values read from ``environ``, now (a rotated secret is
    used from the next check on). Only variables in ``allowed`` (``CHECK502_AUTH_VARS``) are
    read; raises :class:`Conflict` naming the variable (never its value) when one is not
    allowed or not set."""
    auth = spec.auth
    if auth is None:
        return spec
    values: list[str] = []
    for name in auth.names:
        if name not in allowed:
            if not allowed:
                raise Conflict(
                    "auth= is off on this bot: its operator lists the environment variables"
                    " it may send in CHECK502_AUTH_VARS."
                )
            raise Conflict(
                f"${name} is not one of the variables this bot may send"
                f" (CHECK502_AUTH_VARS: {', '.join(allowed)})."
            )
        value = environ.get(name)
        if not value:
            raise Conflict(
                f"${name} is not set in the bot's environment: set it where the bot runs"
                " and restart it."
            )
        values.append(value)
    try:
        return replace(spec, auth=Auth(auth.scheme, auth.names, tuple(values)))
    except UsageError as exc:
        raise Conflict(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


async def check(
    snapshot: Snapshot,
    *,
    resolver: Resolver,
    transport: Transport,
    policy: AddressPolicy,
    allowed: tuple[str, ...],
    environ: Mapping[str, str],
    tls_sessions: TlsSessions | None = None,
    target: TargetURL | None = None,
) -> Diagnosis:
    """One check of the monitor, never longer than its ``timeout`` in all. ``tls_sessions``:
    the process's ``checks.TlsSessions`` (healthy HTTPS checks resume their session);
    ``target``: the snapshot's URL already parsed (a shard parses each monitor's once)."""
    try:
        request = credentials(snapshot.request, allowed, environ)
    except Conflict as exc:
        return unsent(snapshot.url, snapshot.origin, str(exc), snapshot.request)
    timeout = snapshot.timeout
    try:
        async with asyncio.timeout(timeout):
            return await diagnose(
                snapshot.url if target is None else target,
                origin=snapshot.origin,
                resolver=resolver,
                transport=transport,
                timeout=timeout * 0.9,
                follow=snapshot.follow,
                policy=policy,
                request=request,
                expect=snapshot.expect.matches,
                tls_sessions=tls_sessions,
            )
    except TimeoutError:
        return deadline(snapshot.url, snapshot.origin, timeout, request)


def unsent(url: str, origin: str | None, reason: str, request: RequestSpec) -> Diagnosis:
    """A monitor's check that could not be sent: its credentials' variable is not set."""
    return Diagnosis(
        url=url,
        checked_at=datetime.now(UTC),
        verdict=Verdict(
            cause=Cause.UNKNOWN,
            generated_by=None,
            hop=None,
            confidence=1.0,
            summary=f"The check of {url} was not sent: {reason}",
            evidence=("Nothing was sent: the request needs credentials the bot cannot read.",),
            next_steps=(reason,),
            reproduce=(),
        ),
        probes=(),
        origin=origin,
        findings=(Finding.AUTH_UNSET,),
        request=request.redacted(),
    )


def deadline(
    url: str, origin: str | None, timeout: float, request: RequestSpec = PLAIN
) -> Diagnosis:
    """The check as a diagnosis when it did not finish within the monitor's deadline."""
    seconds = f"{timeout:g}"
    args = request.curl_args()
    return Diagnosis(
        url=url,
        checked_at=datetime.now(UTC),
        verdict=Verdict(
            cause=Cause.TIMEOUT,
            generated_by=None,
            hop=None,
            confidence=0.5,
            summary=f"{url} did not finish answering within the monitor's {seconds} s.",
            evidence=(f"The whole check (DNS, connect, TLS, response) took over {seconds} s.",),
            next_steps=(f"Run `/check502 {url}` for a full diagnosis with phases.",),
            reproduce=(
                f"curl {args + ' ' if args else ''}-sv -o /dev/null --max-time {seconds}"
                f" {shlex.quote(url)}",
            ),
        ),
        probes=(),
        origin=origin,
        request=None if request.plain else request.redacted(),
    )
