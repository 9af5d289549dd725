"""The generated landing with two planted changes that the whole-night engine tests share
(tests/e2e/test_postgres_pipeline.py, test_spark_pipeline.py), and its DuckDB night: built once
per test run (tests/support/shared.py), read-only; a test that writes copies the file first.

`small`, 120 days, seed 5: paid search's sessions up 40% while its visitors stop engaging, paid
social's engagement up 40% while its lead quality falls, both from Sunday 2025-08-24, 35 days
before the generator's last day (2025-09-28), so the night has alerts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from tests.support.pipeline import run_pipeline
from tests.support.shared import built_once

ONSET = date(2025, 8, 24)
# What a run exports for its own steps (Settings.export): taken back after each run, so a later
# test in this worker does not run against another engine by accident.
RUN_ENV = (
    "FIREWATCH_TARGET",
    "FIREWATCH_DBT_TARGET",
    "FIREWATCH_RAW_DIR",
    "FIREWATCH_WAREHOUSE",
    "FIREWATCH_RAW_SOURCE",
)


@contextmanager
def run_environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in the environment for a run in this process; afterwards the environment as
    before, whatever the run exported."""
    names = set(values) | set(RUN_ENV)
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared folder: the landing in `raw/`, the DuckDB night in `duck/duck.duckdb`."""
    from dagster_project.generate import generate
    from dagster_project.generate.scenarios import ScenarioSpec

    def build(root: Path) -> None:
        specs = [
            ScenarioSpec("clicks_up_nobody_stays", "paid_search", ONSET, 0.4),
            ScenarioSpec("engagement_up_quality_down", "paid_social", ONSET, 0.4),
        ]
        generate(root, profile="small", days=120, seed=5, scenarios=specs)
        with run_environment({}):
            assert run_pipeline(root / "raw", root / "duck" / "duck.duckdb") == 0

    return built_once(tmp_path_factory, "planted-small", build)
