"""Where a fault-injection campaign runs: the project's paths, the binaries beside this Python,
and the private environment of every process it starts (also the performance bench's)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from dagster_project.ingest.sql import lit
from dagster_project.settings import DBT_PROJECT_DIR, INSTANCE_CONFIG, PROJECT_ROOT

ROOT = PROJECT_ROOT
DBT_PROJECT = DBT_PROJECT_DIR
BIN = Path(sys.executable).parent


def sql_literal(text: str | Path) -> str:
    """A DuckDB string literal (of a path too): the loader's quoting, one rule for both."""
    return lit(str(text))


def private_env(work: Path) -> dict[str, str]:
    """The environment of a measured or killed process: the venv first, a private Dagster
    instance under `work`, no telemetry, the project's defaults (FIREWATCH_* unset), not
    Dagster's dev CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREWATCH_")}
    env.pop("DAGSTER_IS_DEV_CLI", None)
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    # The project's instance settings (no telemetry: no network here; the event log storage a
    # user's instance gets), so what is measured or killed is what users run.
    shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DAGSTER_HOME=str(home),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def campaign_env(root: Path) -> dict[str, str]:
    """The private environment (no FIREWATCH_* from outside: a notifier configured in the
    caller's shell must not be sent the campaign's items), with unbuffered output so the phases
    are seen as they start."""
    env = private_env(root)
    env["PYTHONUNBUFFERED"] = "1"
    return env
