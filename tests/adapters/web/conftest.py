"""Shared pieces for the web home's tests."""

from __future__ import annotations

from tests.bot.conftest import control  # noqa: F401 - the control fixture
