"""`firewatch run`'s arguments, refused before anything runs (the runs themselves are in
tests/e2e/test_cli.py)."""

from __future__ import annotations

import pytest

from dagster_project.cli.main import main


def test_as_of_must_be_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--as-of", "2025-13-01'; drop table alerts; --"])
    assert exit_info.value.code == 2
    assert "not a date" in capsys.readouterr().err
