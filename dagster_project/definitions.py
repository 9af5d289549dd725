"""Dagster definitions of kpi-firewatch: assets, checks, the `nightly` job and its resources."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.dbt import build_dbt_assets, dbt_resource
from dagster_project.assets.divergence import (
    alerts,
    build_divergence_checks,
    decision_queue,
    ritual_metrics,
)
from dagster_project.assets.raw import raw_tables
from dagster_project.progress import LogProgress, Progress
from dagster_project.settings import Settings

NIGHTLY_JOB = "nightly"


def build_definitions(settings: Settings, progress: Progress | None = None) -> dg.Definitions:
    nightly = dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        # DuckDB has one writer: steps run one after another in one process.
        executor_def=dg.in_process_executor,
        description=(
            "Load the landing folder, build and test every dbt model, check every divergence "
            "rule, update alerts and the decision queue."
        ),
    )
    return dg.Definitions(
        assets=[raw_tables, build_dbt_assets(), alerts, decision_queue, ritual_metrics],
        asset_checks=[build_divergence_checks()],
        jobs=[nightly],
        resources={
            "dbt": dbt_resource(),
            "settings": settings,
            "progress": progress or LogProgress(),
        },
    )


defs = build_definitions(Settings.from_env())
