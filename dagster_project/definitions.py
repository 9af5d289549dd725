"""Dagster definitions of kpi-firewatch: assets, checks, the `nightly` job, its schedule and
its resources."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from dagster_project.defs.dbt import build_dbt_assets, dbt_resource
from dagster_project.defs.divergence import (
    alerts,
    build_divergence_checks,
    decision_queue,
    divergence_findings,
    ritual_metrics,
)
from dagster_project.defs.guard import night_guard
from dagster_project.defs.operations import bi_copy, notifications
from dagster_project.defs.progress import LogProgress, Progress
from dagster_project.defs.raw import build_raw_assets
from dagster_project.defs.schedules import build_failure_sensor, build_schedule
from dagster_project.settings import Settings
from dagster_project.warehouse.run_lock import hold_database_lock, hold_engine, hold_run_lock

NIGHTLY_JOB = "nightly"


def nightly_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """One partition per calendar day in the schedule's time zone, up to the last complete one."""
    return dg.DailyPartitionsDefinition(
        start_date=settings.partitions_start, timezone=settings.timezone
    )


def settings_resource(settings: Settings) -> dg.ResourceDefinition:
    """The settings every step needs, handed out while the run holds the warehouse's run lock:
    the in-process executor sets resources up once per run, so the lock spans all its steps."""

    @dg.resource(description="Paths and schedule; holds the warehouse's run lock for the run.")
    def firewatch_settings(context: dg.InitResourceContext) -> Iterator[Settings]:
        with contextlib.ExitStack() as held:
            held.enter_context(hold_run_lock(settings.warehouse, say=context.log.warning))
            if settings.postgres is not None:  # runs from other machines, too
                held.enter_context(hold_database_lock(settings.postgres, say=context.log.warning))
            held.enter_context(hold_engine(settings, say=context.log.warning))
            yield settings

    return firewatch_settings


def build_definitions(settings: Settings, progress: Progress | None = None) -> dg.Definitions:
    partitions = nightly_partitions(settings)
    nightly = dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        # DuckDB has one writer: steps run one after another in one process.
        executor_def=dg.in_process_executor,
        description=(
            "Load the new landing files, rebuild the night's event-level models (plus the "
            "lookback) and every mart, check every divergence rule, update alerts and the "
            "decision queue, notify owners, publish the BI copy."
        ),
    )
    return dg.Definitions(
        assets=[
            build_raw_assets(partitions),
            *build_dbt_assets(partitions),
            divergence_findings,
            alerts,
            decision_queue,
            ritual_metrics,
            notifications,
            bi_copy,
        ],
        asset_checks=[night_guard, build_divergence_checks()],
        jobs=[nightly],
        schedules=[build_schedule(nightly, settings)],
        sensors=[build_failure_sensor(settings)],
        resources={
            "dbt": dbt_resource(),
            "settings": settings_resource(settings),
            "progress": progress or LogProgress(),
        },
    )


defs = build_definitions(Settings.from_env())
