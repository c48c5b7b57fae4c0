"""``history`` in the console: the real ``check502-bot`` process writes the chart PNG into
``CHECK502_CHART_DIR`` and prints its path after the text; a directory it cannot write keeps
the text and says why, with no traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from adapters.console.harness import CONSOLE
from adapters.present import NO_CHART
from bot.errors import SettingsError
from bot.settings import Settings
from bot.storage import Store
from tests.adapters.console.test_console import _bot, _env
from tests.support.charts import add_monitor, assert_chart, record_history


def _database(tmp_path: Path, *, checks: bool = True) -> Path:
    db = tmp_path / "bot.db"
    store = Store.open(db)
    try:
        mid = add_monitor(store, CONSOLE)
        if checks:
            record_history(store, mid, time.time(), hours=30)
    finally:
        store.close()
    return db


def test_history_writes_the_chart_and_prints_its_path(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    done = _bot("history 1\n", _env(_database(tmp_path), CHECK502_CHART_DIR=str(charts)))
    out = done.stdout
    assert done.returncode == 0, (out, done.stderr)
    assert "Traceback" not in done.stderr + out
    (line,) = [x for x in out.splitlines() if x.startswith("Chart: ")]
    path = Path(line.removeprefix("Chart: "))
    assert path.parent == charts and path.name.startswith("check502-1-")
    assert out.index("uptime 24 h") < out.index(line)  # the text first, then the file
    assert_chart(path.read_bytes())
    assert [p.name for p in charts.iterdir()] == [path.name]  # nothing half-written left


def test_an_unwritable_chart_directory_keeps_the_text_and_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = _env(_database(tmp_path), CHECK502_CHART_DIR=str(blocker / "charts"))
    done = _bot("history 1\n", env)
    out = done.stdout
    assert done.returncode == 0, (out, done.stderr)
    assert "uptime 24 h" in out  # the text stands
    assert "The chart could not be written" in out and "Not a directory" in out
    assert "Traceback" not in done.stderr + out
    logged = [x for x in done.stderr.splitlines() if "chart" in x]
    assert len(logged) == 1, done.stderr  # one line in the log


def test_history_without_checks_says_so_and_writes_nothing(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    env = _env(_database(tmp_path, checks=False), CHECK502_CHART_DIR=str(charts))
    done = _bot("history 1\n", env)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert NO_CHART in done.stdout and "Chart: " not in done.stdout
    assert not charts.exists()


def test_the_chart_directory_setting_is_checked_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SettingsError, match="CHECK502_CHART_DIR"):
        Settings.from_env({"CHECK502_CHART_DIR": str(blocker)})
    assert Settings.from_env({"CHECK502_CHART_DIR": str(tmp_path)}).chart_dir == str(tmp_path)
    assert Settings.from_env({}).chart_dir is None
