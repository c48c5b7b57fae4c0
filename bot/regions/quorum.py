"""The quorum decision of one regional check: every region's result of one due time in, one
verdict out. Pure: no I/O, no clock, no state; the coordinator (:mod:`bot.regions`) gathers the
results and applies the verdict with :class:`bot.monitoring.Monitoring`.

The rules, with ``k`` the monitor's effective quorum (``quorum=``, else a majority of its
regions) and only *counted* results taking part:

- a region that did not answer in time (``None``) does not count;
- a region whose own control check failed and that got no HTTP answer from the target does not
  count either: it lost its own network, which says nothing about the target (a region that got
  any HTTP answer counts whatever its control check said: the answer proves its path works);
- every counted result is classified as a local check is (:func:`bot.monitoring.classify`,
  the monitor's ``expect``): up or failed;
- **failed** when at least ``k`` counted regions failed;
- **ok** when fewer than ``k`` failed and at least one counted region is up (a region up but
  over ``slow=`` is up; the outcome is slow only when at least ``k`` counted regions are slow);
- **undecided** otherwise: no counted region is up and fewer than ``k`` failed, i.e. too few
  regions count to reach ``k`` either way (none at all, or only failures short of the quorum).
  The monitor's state does not change and no result is stored (the coordinator counts and
  logs the round); the regions that did not count are the coordinator's "region degraded"
  notice, never an outage of the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from bot.model import NO_ANSWER, OWN_NETWORK, Monitor, RegionView
from bot.monitoring import Outcome, classify
from checks import Cause, Diagnosis

__all__ = ["NO_ANSWER_LABEL", "QuorumDecision", "RegionResult", "decide"]

NO_ANSWER_LABEL = "no_answer"
"""The label of a region that returned no result in time."""

State = Literal["ok", "failed", "undecided"]


@dataclass(frozen=True, slots=True)
class RegionResult:
    """What one region's worker returned for one check of a monitor."""

    region: str
    diagnosis: Diagnosis
    control_ok: bool
    """The region's own control check passed (its network works); False with no HTTP answer
    from the target: the region's result does not count."""


@dataclass(frozen=True, slots=True)
class QuorumDecision:
    state: State
    outcome: Outcome | None
    """What :meth:`bot.monitoring.Monitoring.apply` is given, ``regions`` filled: the first
    failing counted region's when failed, else the first up one's; undecided: the first
    counted one's, else the first result's, None when no region returned any."""
    views: tuple[RegionView, ...]
    """Every region of the monitor, in its order."""
    needed: int
    """The effective quorum ``k``."""
    failed: int
    """Counted regions that failed."""
    counted: int
    """Regions whose results count."""


def decide(monitor: Monitor, results: Mapping[str, RegionResult | None]) -> QuorumDecision:
    """The verdict of one round of ``monitor``'s regional check (see the module docstring);
    a region of the monitor missing from ``results`` is one that did not answer."""
    if not monitor.regions:
        raise ValueError(f"monitor #{monitor.id} is not checked from regions")
    needed = monitor.needed
    views: list[RegionView] = []
    counted: list[Outcome] = []
    uncounted: list[Outcome] = []
    for region in monitor.regions:
        result = results.get(region)
        if result is None:
            views.append(_silent(region))
            continue
        outcome = classify(result.diagnosis, monitor.expect)
        counts = result.control_ok or _answered(result.diagnosis)
        (counted if counts else uncounted).append(outcome)
        views.append(_view(region, outcome, counts))
    failing = [o for o in counted if not o.ok]
    up = [o for o in counted if o.ok]
    state: State
    deciding: Outcome | None
    if len(failing) >= needed:
        state, deciding = "failed", failing[0]
    elif up:
        state = "ok"
        slow = [o for o in up if o.slow]
        if len(slow) >= needed:
            deciding = slow[0]
        else:
            deciding = next((o for o in up if not o.slow), replace(up[0], slow=False))
    else:
        state = "undecided"
        first = counted or uncounted
        deciding = first[0] if first else None
    shown = tuple(views)
    return QuorumDecision(
        state=state,
        outcome=None if deciding is None else replace(deciding, regions=shown),
        views=shown,
        needed=needed,
        failed=len(failing),
        counted=len(counted),
    )


def _answered(diagnosis: Diagnosis) -> bool:
    """Some public address gave an HTTP answer (any status): the region's own path works."""
    return any(p.status is not None for p in diagnosis.probes if p.target == "public")


def _view(region: str, outcome: Outcome, counted: bool) -> RegionView:
    probe = outcome.probe
    return RegionView(
        region=region,
        status=None if probe is None else probe.status,
        latency_ms=None if probe is None else probe.timings.total,
        ip=None if probe is None else probe.ip,
        cause=outcome.cause.value,
        label=outcome.label,
        ok=outcome.ok,
        counted=counted,
        note="" if counted else OWN_NETWORK,
    )


def _silent(region: str) -> RegionView:
    return RegionView(
        region=region,
        status=None,
        latency_ms=None,
        ip=None,
        cause=Cause.UNKNOWN.value,
        label=NO_ANSWER_LABEL,
        ok=False,
        counted=False,
        note=NO_ANSWER,
    )
