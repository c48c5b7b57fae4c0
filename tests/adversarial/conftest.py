"""Marks every test in this folder ``adversarial``."""

from __future__ import annotations

import pytest

from tests.bot.conftest import control  # noqa: F401 - the control fixture


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/adversarial/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.adversarial)
