"""Runs the `nightly` job in this process, as `firewatch run` and cron users do."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import dagster as dg

from dagster_project.definitions import NIGHTLY_JOB, build_definitions
from dagster_project.progress import ConsoleProgress, LogProgress
from dagster_project.settings import Settings
from dagster_project.summary import warehouse_summary


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            # the root cause (e.g. the loader's file/line/column list), not Dagster's wrapper
            while error.cause is not None:
                error = error.cause
            messages.append(f"step {event.step_key} failed: {error.message.strip()}")
    return messages


def _instance(persist: bool) -> dg.DagsterInstance:
    """The Dagster instance under $DAGSTER_HOME when there is one, so `make dev` shows runs that
    `firewatch run` made (and their checks); an ephemeral one otherwise."""
    if persist and os.environ.get("DAGSTER_HOME"):
        os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def run_nightly(
    raw_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    as_of: str = "",
    *,
    quiet: bool = False,
) -> int:
    settings = Settings.from_env(raw_dir=raw_dir, warehouse=warehouse)
    settings.export()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    progress = LogProgress() if quiet else ConsoleProgress()
    defs = build_definitions(settings, progress=progress)
    job = defs.resolve_job_def(NIGHTLY_JOB)
    run_config = {
        "ops": {"firewatch_dbt_assets": {"config": {"as_of": as_of}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    # dagster-dbt echoes every dbt log line to stdout; keep it in a file beside the warehouse so
    # the terminal shows progress and the summary, and the detail is still there when needed.
    log_path = settings.warehouse.with_suffix(".run.log")
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        result = job.execute_in_process(
            run_config=run_config, raise_on_error=False, instance=_instance(persist=not quiet)
        )
    if not result.success:
        for message in _failure_messages(result) or ["the run failed"]:
            print(message, file=sys.stderr)
        print(f"dbt's log of this run: {log_path}", file=sys.stderr)
        return 1
    print(warehouse_summary(settings.warehouse))
    return 0
