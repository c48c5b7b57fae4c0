"""The console surface: a chat in the terminal, and the in-process harness tests drive."""

from adapters.console.harness import ConsoleHarness
from adapters.console.surface import ConsoleSurface

__all__ = ["ConsoleHarness", "ConsoleSurface"]
