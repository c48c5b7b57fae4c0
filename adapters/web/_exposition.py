"""The core's figures as Prometheus metric families, encoded by prometheus_client.

Only the metrics worker process (:mod:`adapters.web._scraper`) imports this, so the bot itself
never pays prometheus_client's import (some 100 ms). Everything here works on frozen values:
:class:`Frame` holds all a scrape shows, so :meth:`FrameCollector.collect` reads memory only,
never the database.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata

from prometheus_client import PLATFORM_COLLECTOR, CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder

from adapters.web._scraper import Encoded
from bot.stats import PHASES, CoreSnapshot, GateState, HistogramSnapshot, StoreGauges

_MONITOR = ["monitor", "platform"]


@dataclass(frozen=True, slots=True)
class Frame:
    """Everything one scrape shows."""

    core: CoreSnapshot
    store: StoreGauges


def _version() -> str:
    try:
        return metadata.version("check502")
    except metadata.PackageNotFoundError:
        return "unknown"


class FrameCollector:
    """A custom collector of the frame set for the scrape being encoded (one at a time: the
    metrics worker encodes scrapes one after the other)."""

    def __init__(self) -> None:
        self.frame: Frame | None = None
        self.version = _version()

    def describe(self) -> list[Metric]:
        return []  # nothing to show before the first scrape sets a frame

    def collect(self) -> Iterator[Metric]:
        if self.frame is None:
            return
        yield from families(self.frame, self.version)


def families(frame: Frame, version: str) -> Iterator[Metric]:
    """The metric families of a frame (docs/metrics.md lists each)."""
    core, store = frame.core, frame.store

    info = InfoMetricFamily("check502_build", "The running check502's version.")
    info.add_metric([], {"version": version})
    yield info

    up = GaugeMetricFamily(
        "check502_monitor_up",
        "1 unless the monitor is down (an incident is open).",
        labels=_MONITOR,
    )
    status = GaugeMetricFamily(
        "check502_monitor_http_status_code",
        "The HTTP status of the monitor's last check; 0 when it got no answer.",
        labels=_MONITOR,
    )
    phases = GaugeMetricFamily(
        "check502_monitor_phase_duration_seconds",
        "Each phase of the monitor's last check on its own (dns, connect, tls, first_byte),"
        " and the whole check (total); 0 for a phase that did not happen.",
        labels=[*_MONITOR, "phase"],
    )
    for m in store.monitors:
        labels = [str(m.id), m.platform]
        up.add_metric(labels, 1.0 if m.up else 0.0)
        status.add_metric(labels, float(m.status or 0))
        for phase, seconds in zip(PHASES, m.phases, strict=True):
            phases.add_metric([*labels, phase], seconds)
    yield up
    yield status
    yield phases

    checks = CounterMetricFamily(
        "check502_checks",
        "Monitor checks recorded, by outcome and cause.",
        labels=["outcome", "cause"],
    )
    for outcome, cause, n in core.stats.checks:
        checks.add_metric([outcome.value, cause.value], n)
    yield checks
    yield _histogram(
        "check502_check_duration_seconds",
        "How long each monitor check took, its deadline included.",
        core.stats.check_duration,
    )
    running = GaugeMetricFamily("check502_checks_in_flight", "Monitor checks running now.")
    running.add_metric([], core.in_flight)
    yield running
    dropped = CounterMetricFamily(
        "check502_check_results_dropped",
        "Monitor checks whose result could not be recorded (the database failed).",
    )
    dropped.add_metric([], core.results_dropped)
    yield dropped

    incidents = GaugeMetricFamily(
        "check502_incidents_open", "Open incidents by their current cause.", labels=["cause"]
    )
    for cause, n in store.incidents_open.items():
        incidents.add_metric([cause.value], n)
    yield incidents

    yield _histogram(
        "check502_scheduler_lag_seconds",
        "How late each scheduled check started against its planned time.",
        core.scheduler.lag,
    )
    skipped = CounterMetricFamily(
        "check502_scheduler_skipped_runs",
        "Scheduled checks not run: the monitor's previous check was still running (overlap),"
        " or too many checks waited for a slot (overload).",
        labels=["reason"],
    )
    skipped.add_metric(["overlap"], core.scheduler.skipped)
    skipped.add_metric(["overload"], core.scheduler.shed)
    yield skipped

    platforms = sorted({*core.platforms, *(m.platform for m in store.monitors), *store.outbox})
    pending = GaugeMetricFamily(
        "check502_outbox_pending", "Alerts not yet delivered nor given up.", labels=["platform"]
    )
    oldest = GaugeMetricFamily(
        "check502_outbox_oldest_age_seconds",
        "Age of the oldest alert not yet delivered (recoveries held for a mute left out).",
        labels=["platform"],
    )
    for platform in platforms:
        row = store.outbox.get(platform)
        pending.add_metric([platform], row.pending if row else 0)
        oldest.add_metric([platform], row.oldest_age if row else 0.0)
    yield pending
    yield oldest

    deliveries = CounterMetricFamily(
        "check502_deliveries",
        "Alert delivery attempts by platform and result (sent, retry, failed).",
        labels=["platform", "result"],
    )
    for platform, result, n in core.stats.deliveries:
        deliveries.add_metric([platform, result.value], n)
    yield deliveries

    gate = GaugeMetricFamily(
        "check502_gate_state",
        "The health gate: 1 for its current state (off, unknown, ok, degraded), 0 for the others.",
        labels=["state"],
    )
    for state in GateState:
        gate.add_metric([state.value], 1.0 if state is core.gate else 0.0)
    yield gate


def _histogram(name: str, doc: str, snap: HistogramSnapshot) -> HistogramMetricFamily:
    buckets = [(_le(bound), float(count)) for bound, count in snap.buckets]
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=snap.sum)


def _le(bound: float) -> str:
    """A bucket's upper bound as Prometheus writes it (``0.5``, ``4.0``, ``+Inf``)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Renderer:
    """A registry of our own (never the global one) with the frame's collector, the process
    collector of the bot's process ``pid`` (``process_*``) and the platform's (``python_info``);
    :meth:`render` encodes one scrape."""

    def __init__(self, pid: int | None = None) -> None:
        self.registry = CollectorRegistry()
        self.collector = FrameCollector()
        self.registry.register(self.collector)
        self.registry.register(ProcessCollector(pid=lambda: pid or "self", registry=None))
        self.registry.register(PLATFORM_COLLECTOR)

    def render(
        self, core: CoreSnapshot, store: StoreGauges, *, accept: str, gzip_ok: bool
    ) -> Encoded:
        """The exposition in the format ``accept`` asks for (0.0.4 by default). One call at a
        time (the collector holds the frame being encoded)."""
        encoder, content_type = choose_encoder(accept)
        self.collector.frame = Frame(core, store)
        try:
            body = encoder(self.registry)
        finally:
            self.collector.frame = None
        if gzip_ok:
            # Level 1: the text repeats itself, so it is already many times smaller, for a
            # fraction of level 6's CPU.
            return Encoded(gzip.compress(body, compresslevel=1), content_type, True)
        return Encoded(body, content_type, False)
