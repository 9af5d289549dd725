"""The night guard as Dagster sees it: a blocking ERROR check on metric_series, so a night whose
control totals fell (runtime/guard.py) skips alerts, the queue, notifications and the BI copy
in the same run, and the failed step's message says which totals fell and how to accept them."""

from collections.abc import Iterator

import dagster as dg

from dagster_project.defs.divergence import METRIC_SERIES
from dagster_project.defs.partitions import ACCEPT_DROP_TAG, accepts_drop
from dagster_project.defs.refusal import refused
from dagster_project.runtime.guard import guard_night
from dagster_project.runtime.refusal import TOTALS_REFUSED
from dagster_project.settings import Settings, max_drop

NIGHT_GUARD = "night_guard"
WAY_OUT = [
    "If these numbers are real (an export removed or restated on purpose), accept them:",
    f"  firewatch run --accept-drop   (Dagster UI: launch with the tag {ACCEPT_DROP_TAG}=true)",
]


@dg.multi_asset_check(
    name=NIGHT_GUARD,  # the step's name, which `firewatch run` and the UI show
    specs=[
        dg.AssetCheckSpec(
            NIGHT_GUARD,
            asset=METRIC_SERIES,
            blocking=True,
            description=(
                "Spend, sessions and leads over all history against the last accepted night: "
                "a total gone, zero or down by more than FIREWATCH_MAX_DROP stops the night "
                f"before alerts and the BI copy change (accept it with the tag {ACCEPT_DROP_TAG})."
            ),
        )
    ],
)
def night_guard(
    context: dg.AssetCheckExecutionContext, settings: dg.ResourceParam[Settings]
) -> Iterator[dg.AssetCheckResult]:
    limit = max_drop()
    accept = accepts_drop(context.run.tags)
    verdict = guard_night(settings.location, limit, accept=accept)
    lines = verdict.lines(limit)
    metadata: dict[str, dg.RawMetadataValue] = {
        "as_of": str(verdict.as_of),
        "previous_night": str(verdict.previous_night or "none (first night)"),
        "totals": dg.MetadataValue.json(verdict.now),
        "previous_totals": dg.MetadataValue.json(verdict.before),
        "max_drop": limit,
        "fell": dg.MetadataValue.json([fall.metric_id for fall in verdict.falls]),
    }
    if verdict.falls and accept:
        context.log.warning(f"Accepted ({ACCEPT_DROP_TAG}): " + "; ".join(lines))
    if not verdict.falls:
        description = "No control total fell."
    else:
        description = "; ".join(lines) + (f" Accepted ({ACCEPT_DROP_TAG})." if accept else "")
    yield dg.AssetCheckResult(
        passed=accept or not verdict.falls,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )
    if verdict.falls and not accept:
        raise refused(TOTALS_REFUSED, lines + WAY_OUT, metadata) from None
