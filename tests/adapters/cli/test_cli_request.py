"""check502 sends a request spec from the command line: method, headers, body, credentials
from environment variables, keywords and a latency threshold."""

from __future__ import annotations

import json

import pytest

from adapters.cli.main import main
from tests.support.servers import ApiServer

SECRET = "cli-s3cret-0f-the-operator"


def test_post_with_bearer_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    with ApiServer(token=SECRET, want={"a": 1}) as api:
        assert main([api.url + "private", "--allow", "127.0.0.1"]) == 1  # 401 without
        capsys.readouterr()
        code = main(
            [api.url + "private", "--allow", "127.0.0.1", "--auth", "bearer:API_TOKEN", "--json"]
        )
        document = capsys.readouterr().out
        assert code == 0
        args = [api.url + "submit", "--allow", "127.0.0.1", "-X", "post", "--data", '{"a": 1}']
        assert main([*args, "-H", "Content-Type: application/json", "--keyword", "accepted"]) == 0
        shown = capsys.readouterr().out
    assert SECRET not in document + shown
    assert json.loads(document)["request"]["auth"] == {"scheme": "bearer", "env": ["API_TOKEN"]}
    assert "-X POST -H 'Content-Type: application/json' --data-raw" in shown
    assert api.seen[-1][0] == "POST"


def test_a_keyword_missing_exits_1_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with ApiServer(page=b"maintenance") as api:
        code = main([api.url + "page", "--allow", "127.0.0.1", "--keyword", "all ok"])
    assert code == 1
    assert capsys.readouterr().out.startswith("✗ keyword missing")


def test_an_unset_variable_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["https://example.com/", "--auth", "bearer:CHECK502_TEST_UNSET_VAR"])
    assert code == 2
    assert "$CHECK502_TEST_UNSET_VAR is not set" in capsys.readouterr().err
