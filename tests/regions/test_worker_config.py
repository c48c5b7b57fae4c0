"""``check502-worker``'s settings: one line and exit 2 for anything wrong, before connecting;
exit 1 when Redis cannot be reached; the Redis password never printed."""

from __future__ import annotations

import os

import pytest

from adapters.worker.main import main
from tests.support import closed_port


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CHECK502_"):
            monkeypatch.delenv(name)


BAD = [
    pytest.param([], {}, "no region", id="no-region"),
    pytest.param(["--region", "EU!"], {}, "is not a region name", id="bad-region"),
    pytest.param(["eu"], {}, "usage: check502-worker --region NAME", id="no-flag"),
    pytest.param(["--region", "eu"], {}, "CHECK502_REDIS_URL is not set", id="no-redis"),
    pytest.param(
        ["--region", "eu"],
        {"CHECK502_REDIS_URL": "http://user:s3cretpw@x/"},
        "CHECK502_REDIS_URL is not a redis://",
        id="not-redis-url",
    ),
    pytest.param(
        ["--region=ap"],
        {"CHECK502_REDIS_URL": "redis://x/0", "CHECK502_REGIONS": "eu,us"},
        "region ap is not one of CHECK502_REGIONS (eu, us)",
        id="unknown-region",
    ),
    pytest.param(
        [],
        {
            "CHECK502_REGION": "eu",
            "CHECK502_REDIS_URL": "redis://x",
            "CHECK502_WORKER_CONCURRENCY": "0",
        },
        "CHECK502_WORKER_CONCURRENCY",
        id="concurrency",
    ),
    pytest.param(
        [],
        {
            "CHECK502_REGION": "eu",
            "CHECK502_REDIS_URL": "redis://x",
            "CHECK502_WORKER_IDLE_TIMEOUT": "soon",
        },
        "CHECK502_WORKER_IDLE_TIMEOUT",
        id="idle-timeout",
    ),
]


@pytest.mark.parametrize(("argv", "env", "said"), BAD)
def test_bad_settings_are_one_line_and_exit_2(
    argv: list[str],
    env: dict[str, str],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("check502-worker: ")
    assert said in err
    assert "s3cretpw" not in err and "Traceback" not in err


def test_redis_out_of_reach_is_exit_1_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with closed_port() as dead:
        monkeypatch.setenv("CHECK502_REDIS_URL", f"redis://:s3cretpw@127.0.0.1:{dead.port}/0")
        assert main(["--region", "eu"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Redis at redis://:***@127.0.0.1" in err
    assert "s3cretpw" not in err and "Traceback" not in err
