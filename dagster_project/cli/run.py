"""Runs the `nightly` job in this process, as `firewatch run` and cron users do."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from dagster_project.definitions import NIGHTLY_JOB, build_definitions
from dagster_project.defs.partitions import FULL_REFRESH_TAG
from dagster_project.defs.progress import ConsoleProgress, LogProgress
from dagster_project.ingest.loader import latest_event_date
from dagster_project.notify import notify_run_failure
from dagster_project.runtime.summary import warehouse_summary
from dagster_project.settings import Settings
from dagster_project.warehouse.run_lock import hold_run_lock


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


def _night(settings: Settings, as_of: str) -> str:
    """`--as-of` names the night's partition, as the schedule would; without it, the last day
    of ads or web data in the landing folder (so the same files give the same numbers)."""
    if as_of:
        return as_of
    latest = latest_event_date(settings.raw_dir)
    return (latest or date.today() - timedelta(days=1)).isoformat()


def run_nightly(
    raw_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    as_of: str = "",
    *,
    full_refresh: bool = False,
    quiet: bool = False,
) -> int:
    settings = Settings.from_env(raw_dir=raw_dir, warehouse=warehouse)
    settings.export()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    progress = LogProgress() if quiet else ConsoleProgress()
    defs = build_definitions(settings, progress=progress)
    job = defs.resolve_job_def(NIGHTLY_JOB)
    night = _night(settings, as_of)
    if night < settings.partitions_start:
        print(
            f"{night} is before the first partition ({settings.partitions_start}); set "
            "FIREWATCH_PARTITIONS_START to an earlier date.",
            file=sys.stderr,
        )
        return 2
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    tags = {FULL_REFRESH_TAG: "true"} if full_refresh else {}
    # The run lock from before the job until after the summary: a person's queue command that
    # waits for the run must not take the warehouse between the job's end and the summary.
    with hold_run_lock(settings.warehouse):
        # dagster-dbt echoes every dbt log line to stdout; keep it in a file beside the warehouse so
        # the terminal shows progress and the summary, and the detail is still there when needed.
        log_path = settings.warehouse.with_suffix(".run.log")
        with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                run_config=run_config,
                raise_on_error=False,
                instance=_instance(persist=not quiet),
                partition_key=night,
                tags=tags,
            )
        if not result.success:
            messages = _failure_messages(result) or ["the run failed"]
            for message in messages:
                print(message, file=sys.stderr)
            print(f"dbt's log of this run: {log_path}", file=sys.stderr)
            # the daemon's failure sensor does this for scheduled runs; cron users get it here
            notify_run_failure(
                NIGHTLY_JOB, result.run_id, "\n".join(messages), warehouse=settings.warehouse
            )
            return 1
        print(warehouse_summary(settings.warehouse))
        return 0
