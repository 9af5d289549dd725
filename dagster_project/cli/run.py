"""Runs the `nightly` job in this process, as `firewatch run` and cron users do."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from dagster_project.definitions import NIGHTLY_JOB, build_definitions
from dagster_project.defs.partitions import ACCEPT_DROP_TAG, FULL_REFRESH_TAG
from dagster_project.defs.progress import ConsoleProgress, LogProgress
from dagster_project.ingest.night import landing_night
from dagster_project.notify import notify_run_failure
from dagster_project.runtime import dbt_process
from dagster_project.runtime.refusal import LOAD_REFUSED, RULES_REFUSED, is_refusal, short_block
from dagster_project.runtime.summary import warehouse_summary
from dagster_project.settings import Settings, dagster_home
from dagster_project.warehouse.run_lock import hold_engine, hold_run_lock


def _failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, str, str]]:
    """(step, root-cause message, full error with stack) of every failed step. A step that
    refused its night (dg.Failure) gives its short block, the one the Dagster UI shows."""
    failures = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            full = error.to_string()
            refusal = event.step_failure_data.user_failure_data
            if refusal and refusal.description:
                listed = refusal.metadata.get("problems")
                if listed is not None:  # every problem, where the block shows the first few
                    full += f"\nAll problems:\n{listed.value}"
                failures.append((event.step_key or "?", refusal.description, full))
                continue
            # the root cause (e.g. the loader's file/line/column list), not Dagster's wrapper
            while error.cause is not None:
                error = error.cause
            failures.append((event.step_key or "?", error.message.strip(), full))
    return failures


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [f"step {step} failed: {message}" for step, message, _ in _failures(result)]


def refusal_block(failures: list[tuple[str, str, str]], log_path: Path, dbt_ran: bool) -> str:
    """What a failed run prints: what stopped, each problem (capped), what was kept, where the
    detail is (stack traces, Dagster's step events: the run log, so the line that matters is
    not buried). At most about 15 lines whatever the number of problems."""
    if not failures:
        return f"firewatch run: the run failed; details in {log_path}"
    steps = [step for step, _, _ in failures]
    first = failures[0][1]
    if len(failures) == 1 and is_refusal(first):
        block = first  # the step's own refusal, word for word as the Dagster UI shows it
    else:
        if steps == ["raw_tables"] and first.startswith(
            ("RuleError", "dagster_project.divergence")
        ):
            head = RULES_REFUSED
        elif steps == ["raw_tables"]:
            head = LOAD_REFUSED
        else:
            head = (
                f"step {', '.join(steps)} failed; alerts, the queue and the BI copy keep the "
                "previous good night."
            )
        block = short_block(head, [message for _, message, _ in failures])
    lines = [f"firewatch run: {block}"]
    where = (
        f"Details (dbt's log and the stack traces): {log_path}"
        if dbt_ran
        else (f"Details: {log_path}")
    )
    lines.append(where + " (or run again with --verbose).")
    return "\n".join(lines)


def _warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The warnings the steps logged (a notification not delivered, rows quarantined), which
    the quiet console leaves out; the divergences are in the summary already."""
    return [
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.level == logging.WARNING
        and entry.dagster_event is None
        and not entry.user_message.startswith("Divergence: ")
    ]


def _keep_previous_log(log_path: Path) -> None:
    """The previous run's log stays readable as `<log>.1`: a refused night must not erase the
    log of the last good one."""
    if log_path.exists() and log_path.stat().st_size:
        os.replace(log_path, log_path.with_name(log_path.name + ".1"))


def _instance(persist: bool) -> dg.DagsterInstance:
    """The shared instance (`settings.dagster_home()`), so `make dev` shows runs that
    `firewatch run` made (and their checks); an ephemeral one for tests that ask for quiet."""
    if persist:
        dagster_home()
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _night(settings: Settings, as_of: str) -> str:
    """`--as-of` names the night's partition, as the schedule would; without it, the last day
    both ads and web have in the landing folder (ingest/night.py: the same files give the same
    numbers, and a stray event after midnight does not make a near-empty day the night)."""
    if as_of:
        return as_of
    if settings.raw_source == "warehouse":  # the same rule over the warehouse's raw tables
        from dagster_project.ingest.in_warehouse import warehouse_night
        from dagster_project.warehouse.engine import connect

        with connect(settings.location, read_only=True) as wh:
            latest = warehouse_night(wh)
        return (latest or date.today() - timedelta(days=1)).isoformat()
    latest = landing_night(settings.raw_dir)
    return (latest or date.today() - timedelta(days=1)).isoformat()


def run_nightly(
    raw_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    as_of: str = "",
    *,
    target: str | None = None,
    raw_source: str | None = None,
    full_refresh: bool = False,
    accept_drop: bool = False,
    quiet: bool = False,
    verbose: bool = False,
) -> int:
    """The nightly job in this process; its dbt step takes a dbt process started before the
    definitions load (`firewatch run` starts it before importing Dagster), and one not taken
    ends with the run."""
    settings = Settings.from_env(
        raw_dir=raw_dir, warehouse=warehouse, target=target, raw_source=raw_source
    )
    with dbt_process.waiting_for(settings):
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
        # Dagster's console log only with --verbose: a failure is summed up in one block below.
        level = "WARNING" if verbose else "CRITICAL"
        run_config = {"loggers": {"console": {"config": {"log_level": level}}}}
        tags = {FULL_REFRESH_TAG: "true"} if full_refresh else {}
        if accept_drop:  # control totals that fell against the last accepted night are accepted
            tags[ACCEPT_DROP_TAG] = "true"
        # The run lock from before the job until after the summary: a person's queue command that
        # waits for the run must not take the warehouse between the job's end and the summary.
        with hold_run_lock(settings.warehouse), hold_engine(settings):
            # dagster-dbt echoes every dbt log line to stdout; keep it in a file beside the
            # warehouse so the terminal shows progress and the summary, and the detail is still
            # there when needed.
            log_path = settings.warehouse.with_suffix(".run.log")
            _keep_previous_log(log_path)
            with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
                instance = _instance(persist=not quiet)
                result = job.execute_in_process(
                    run_config=run_config,
                    raise_on_error=False,
                    instance=instance,
                    partition_key=night,
                    tags=tags,
                )
                failures = _failures(result)
                for step, _, full in failures:
                    print(f"\n--- step {step} failed ---\n{full}")
            if not verbose:
                for warning in _warnings(instance, result.run_id):
                    print(f"warning: {warning}", file=sys.stderr)
            if not result.success:
                dbt_ran = any(
                    event.step_key and event.step_key.startswith("firewatch_")
                    for event in result.all_events
                    if event.is_step_start
                )
                print(refusal_block(failures, log_path, dbt_ran), file=sys.stderr)
                # the daemon's failure sensor does this for scheduled runs; cron users get it here
                messages = _failure_messages(result) or ["the run failed"]
                notify_run_failure(
                    NIGHTLY_JOB, result.run_id, "\n".join(messages), warehouse=settings.warehouse
                )
                return 1
            print(warehouse_summary(settings.location))
            return 0
