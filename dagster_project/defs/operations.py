"""The end of a night: tell owners what changed in the queue, then publish the BI copy and write
the morning brief beside it (read from the copy just published).

Both come after everything else in the `nightly` job, so a failed step upstream skips them:
nobody is notified about, and no BI tool or brief shows, a half-built night.
"""

import time

import dagster as dg

from dagster_project.notify import notify_queue
from dagster_project.runtime.brief import brief_path, write_brief
from dagster_project.settings import Settings
from dagster_project.warehouse.connection import run_as_of
from dagster_project.warehouse.engine import connect
from dagster_project.warehouse.publish import publish_bi_copy
from dagster_project.warehouse.target import DUCKDB

GROUP = "decisions"


@dg.asset(
    key="notifications",
    deps=["decision_queue"],
    group_name=GROUP,
    kinds={"python"},
    description=(
        "Tells each decision-queue item's owner when it opens, escalates or passes its due date "
        "(webhook and/or e-mail from FIREWATCH_* variables), each event once."
    ),
)
def notifications(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    with connect(settings.location, read_only=True) as wh:
        night = run_as_of(wh)
    report = notify_queue(settings.warehouse, night, queue_from=settings.location)
    for error in report.errors:
        context.log.warning(f"Notification not delivered: {error}")
    return dg.MaterializeResult(
        metadata={
            "notifiers": dg.MetadataValue.json(list(report.notifiers)),
            "delivered": report.delivered,
            "failed": report.failed,
        }
    )


@dg.asset(
    key="bi_copy",
    deps=["decision_queue", "ritual_metrics", "notifications"],
    group_name=GROUP,
    kinds={"duckdb"},
    description=(
        "Read-only copy of the marts, metric_series, metric_catalog, alerts and decision_queue "
        "for BI tools, swapped in whole after each successful night (docs/bi.md); the morning "
        "brief (brief.html, docs/brief.md) is written beside it from the copy."
    ),
)
def bi_copy(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    metadata: dict[str, object]
    if settings.target != DUCKDB:  # BI tools read the database itself: nothing to copy
        metadata = {"skipped": f"BI tools read {settings.location} directly (no BI copy)"}
    else:
        report = publish_bi_copy(
            settings.warehouse, settings.bi_copy_path, parquet_dir=settings.bi_parquet_dir
        )
        metadata = {
            "path": dg.MetadataValue.path(str(report.target)),
            "tables": len(report.row_counts),
            "as_of": str(report.as_of_date),
            "seconds": round(report.seconds, 2),
        }
    # The copy is published: a brief that cannot be written is a warning, not a failed night
    # (the previous brief stays, whole, and says which night it shows).
    started = time.monotonic()
    try:
        brief = write_brief(settings)
        metadata["brief"] = dg.MetadataValue.path(str(brief.path))
        metadata["decisions_waiting"] = brief.waiting
        metadata["brief_seconds"] = round(time.monotonic() - started, 2)
    except Exception as error:  # any failure of the page: the data stay valid
        context.log.warning(f"Morning brief not written to {brief_path(settings)}: {error!r}")
        metadata["brief"] = f"not written: {type(error).__name__}"
    return dg.MaterializeResult(metadata=metadata)
