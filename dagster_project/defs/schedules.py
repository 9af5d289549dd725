"""When the `nightly` job runs by itself: the schedule, and who hears about a failed run."""

from __future__ import annotations

import dagster as dg

from dagster_project.defs.partitions import night_for
from dagster_project.notify import notify_run_failure
from dagster_project.settings import Settings

SCHEDULE_NAME = "nightly_schedule"


def build_schedule(
    job: dg.UnresolvedAssetJobDefinition, settings: Settings
) -> dg.ScheduleDefinition:
    """Runs the last complete day's partition at the configured time (default 02:00)."""

    @dg.schedule(
        name=SCHEDULE_NAME,
        job=job,
        cron_schedule=settings.cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"The nightly run at `{settings.cron}` ({settings.timezone}): the day that just "
            "ended, plus each source's lookback. Change with FIREWATCH_SCHEDULE_CRON and "
            "FIREWATCH_TIMEZONE."
        ),
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        night = night_for(context.scheduled_execution_time, settings.timezone)
        if night.isoformat() < settings.partitions_start:
            return dg.SkipReason(f"{night} is before FIREWATCH_PARTITIONS_START")
        # run_key: a tick that is evaluated twice still starts one run for the night
        return dg.RunRequest(run_key=night.isoformat(), partition_key=night.isoformat())

    return nightly_schedule


def build_failure_sensor(settings: Settings) -> dg.RunFailureSensorDefinition:
    @dg.run_failure_sensor(
        name="notify_failed_runs",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tells FIREWATCH_NOTIFY_TO (and the webhook) when a run fails, once per run.",
    )
    def notify_failed_runs(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        notify_run_failure(
            run.job_name,
            run.run_id,
            context.failure_event.message or "the run failed",
            warehouse=settings.warehouse,
        )

    return notify_failed_runs
