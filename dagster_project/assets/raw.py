"""The landing zone as Dagster assets: one asset per raw table, loaded together in one step.

They are loaded together because the load is one transaction: either every raw table moves to
the new files or none does.
"""

from collections.abc import Iterator

import dagster as dg

from dagster_project.loader import load_raw
from dagster_project.progress import Progress
from dagster_project.raw_schema import TABLES
from dagster_project.settings import Settings

RAW_GROUP = "raw"


def raw_asset_key(table: str) -> dg.AssetKey:
    """The key dagster-dbt gives the dbt source `raw.<table>`, so lineage joins up."""
    return dg.AssetKey([RAW_GROUP, table])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_asset_key(name),
            group_name=RAW_GROUP,
            description=f"Raw `{name}` files from the landing folder, validated, loaded as is.",
            kinds={"duckdb"},
        )
        for name in TABLES
    ],
    can_subset=False,
)
def raw_tables(
    context: dg.AssetExecutionContext,
    settings: dg.ResourceParam[Settings],
    progress: dg.ResourceParam[Progress],
) -> Iterator[dg.MaterializeResult]:
    progress.report("load", 0, len(TABLES), f"reading {settings.raw_dir}")
    report = load_raw(settings.raw_dir, settings.warehouse)
    for missing in report.missing_optional:
        context.log.warning(
            f"Optional table {missing} has no files: the metrics that need it are absent."
        )
    for done, name in enumerate(TABLES, start=1):
        rows = report.row_counts.get(name, 0)
        progress.report("load", done, len(TABLES), f"raw.{name}: {rows:,} rows")
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(name),
            metadata={
                "dagster/row_count": rows,
                "files": dg.MetadataValue.json(report.files.get(name, [])),
                "extra_columns": dg.MetadataValue.json(report.extra_columns.get(name, [])),
                "missing": name in report.missing_optional,
            },
        )
