"""Regional DOWN alerts as values, for the surfaces' rendering tests: three regions (one failing
with 502, one refused, one that did not answer), and the widest the model allows (16 regions
of 32-character names, IPv6 addresses, long error labels)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.model import NO_ANSWER, OWN_NETWORK, Alert, AlertKind, RegionView
from tests.support.replies import diagnosis

AT = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)

THREE = (
    RegionView("eu", 502, 41.0, "198.51.100.7", "origin_down", "502", False, True),
    RegionView("us", None, 3.0, "198.51.100.8", "origin_down", "connect_refused", False, True),
    RegionView("ap", None, None, None, "unknown", "no_answer", False, False, NO_ANSWER),
)

WIDEST = tuple(
    RegionView(
        f"region-{i:02d}-" + "x" * 22,
        None,
        12345.6,
        f"2001:db8:ffff:ffff:ffff:ffff:ffff:ff{i:02x}",
        "workers_exhausted",
        "tls_certificate_verify_failed",
        False,
        i % 2 == 0,
        "" if i % 2 == 0 else OWN_NETWORK,
    )
    for i in range(16)
)


def regional_down(views: tuple[RegionView, ...] = THREE, monitor_id: int = 7) -> Alert:
    """A DOWN alert of monitor ``monitor_id`` showing ``views``."""
    return Alert(
        AlertKind.DOWN,
        AT,
        monitor_id=monitor_id,
        url="https://shop.example.com/cart",
        incident_id=41,
        diagnosis=diagnosis(),
        regions=views,
    )
