"""The Spark session of our own (state, checks' inputs) is configured as dbt's `spark` output
(dbt_project/profiles.yml): same defaults, same variables, so both open the same catalog the
same way. No pyspark needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.warehouse.spark import spark_conf

_ENV_VAR = re.compile(r"\{\{\s*env_var\('([A-Z_]+)',\s*'([^']*)'\)\s*\}\}")


def _profile_parameters(env: dict[str, str]) -> dict[str, str]:
    """The profile's server_side_parameters with env_var() rendered from `env` (else defaults)."""
    profiles = yaml.safe_load((Path(DBT_PROJECT_DIR) / "profiles.yml").read_text(encoding="utf-8"))
    params = profiles["kpi_firewatch"]["outputs"]["spark"]["server_side_parameters"]
    return {
        key: _ENV_VAR.sub(lambda m: env.get(m.group(1), m.group(2)), str(value))
        for key, value in params.items()
    }


@pytest.mark.parametrize(
    "env",
    [{}, {"FIREWATCH_SPARK_MASTER": "local[1]", "FIREWATCH_SPARK_DRIVER_MEMORY": "3g"}],
)
def test_our_session_is_configured_as_dbts(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FIREWATCH_SPARK_MASTER", "FIREWATCH_SPARK_DRIVER_MEMORY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path.resolve()
    ours = spark_conf(home)
    theirs = _profile_parameters({**env, "FIREWATCH_SPARK_HOME": str(home)})
    assert ours["spark.master"] == env.get("FIREWATCH_SPARK_MASTER", "local[2]")
    assert ours["spark.driver.memory"] == env.get("FIREWATCH_SPARK_DRIVER_MEMORY", "2g")
    assert {key: ours[key] for key in theirs} == theirs
