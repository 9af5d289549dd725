"""`firewatch run`'s arguments, refused before anything runs (the runs themselves are in
tests/e2e/test_cli.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import pytest

from dagster_project.cli.main import main


@pytest.fixture(autouse=True)
def _environment_kept() -> Iterator[None]:
    """`firewatch run` exports the night's settings before the (here replaced) run: they must
    not reach the tests that run after these in the same process."""
    with mock.patch.dict(os.environ):
        yield


def test_as_of_must_be_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--as-of", "2025-13-01'; drop table alerts; --"])
    assert exit_info.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_accept_drop_reaches_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster_project.cli.run as run_module

    seen: list[dict] = []
    monkeypatch.setattr(run_module, "run_nightly", lambda **kwargs: seen.append(kwargs) or 0)
    assert main(["run", "--accept-drop", "--as-of", "2025-05-31"]) == 0
    assert main(["run"]) == 0
    assert [(s["accept_drop"], s["as_of"]) for s in seen] == [(True, "2025-05-31"), (False, "")]
