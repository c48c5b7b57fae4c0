"""docs/grafana-dashboard.json imports into Grafana and asks only for metrics /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from adapters.console import ConsoleHarness
from tests.adapters.web.test_metrics import scrape, serving
from tests.bot.conftest import fast_settings

DASHBOARD = Path(__file__).parents[3] / "docs" / "grafana-dashboard.json"

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_KEYWORDS |= {"and", "or", "unless", "inf", "nan"}
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, label names, label values,
    Grafana variables, durations and numbers left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "", text)  # Grafana variables
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in _KEYWORDS:
            continue  # a function or an aggregation, or a keyword
        names.add(match.group())
    return names


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return found


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, cause) (rate(check502_x_bucket{a="b",c=~"$v"}'
        "[$__rate_interval] offset 5m))) / on (le) group_left foo_total > bool 2 or vector(0)"
    )
    assert metric_names(expr) == {"check502_x_bucket", "foo_total"}


async def test_dashboard_asks_only_for_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 36
    (source,) = dashboard["__inputs"]
    assert (source["name"], source["type"], source["pluginId"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )

    async with ConsoleHarness(fast_settings(tmp_path, None)) as chat, serving(chat) as base:
        got = await scrape(base)
    exported = set()
    for family in text_string_to_metric_families(got.text):
        exported.add(family.name)
        exported.update(family.name + s for s in _SUFFIXES.get(family.type, ()))
    assert "check502_monitor_up" in exported  # declared even before the first monitor

    asked: set[str] = set()
    titles = set()
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        titles.add(panel["title"])
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        names = set().union(*(metric_names(t["expr"]) for t in panel["targets"]))
        assert names, f"panel {panel['title']!r} selects no metric"
        missing = names - exported
        assert not missing, f"panel {panel['title']!r} asks for {sorted(missing)}"
        asked |= names
    for variable in dashboard["templating"]["list"]:
        selector = re.fullmatch(r"label_values\((.+),\s*\w+\)", variable["definition"])
        assert selector is not None, variable["name"]
        assert metric_names(selector.group(1)) <= exported, variable["name"]

    # The panels the issue asks for are there.
    wanted = (
        "check502_monitor_up",
        "check502_monitor_phase_duration_seconds",
        "check502_checks_total",
        "check502_incidents_open",
        "check502_scheduler_lag_seconds_bucket",
        "check502_outbox_pending",
        "check502_outbox_oldest_age_seconds",
    )
    assert set(wanted) <= asked
    assert len(titles) == len(panels(dashboard)) - 3  # three rows, every title its own
