"""The landing zone as Dagster assets: one asset per raw table, loaded together in one step.

They are loaded together because the load is one transaction: either every raw table moves to
the new files or none does. The assets are daily partitioned like the event-level models; the
load itself is incremental by file (only files not loaded before are read), so a partition's
run and a backfill of many days are the same single step.
"""

from collections.abc import Iterator

import dagster as dg

from dagster_project.defs.partitions import is_full_refresh
from dagster_project.defs.progress import Progress
from dagster_project.defs.refusal import refused
from dagster_project.divergence.rules import RuleError
from dagster_project.ingest.contract import TABLES
from dagster_project.ingest.loader import load_raw
from dagster_project.ingest.problems import RawInputError
from dagster_project.runtime.preflight import check_rules
from dagster_project.runtime.refusal import LOAD_REFUSED, RAW_REFUSED, RULES_REFUSED
from dagster_project.settings import Settings

RAW_GROUP = "raw"
# The loader's own table of rows set aside (dbt source raw._quarantine).
QUARANTINE_TABLE = "_quarantine"
# The night the loaded data is complete to, decided by the loader (dbt source raw._run_night).
NIGHT_TABLE = "_run_night"


def raw_asset_key(table: str) -> dg.AssetKey:
    """The key dagster-dbt gives the dbt source `raw.<table>`, so lineage joins up."""
    return dg.AssetKey([RAW_GROUP, table])


def build_raw_assets(partitions: dg.PartitionsDefinition | None = None) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                raw_asset_key(name),
                group_name=RAW_GROUP,
                description=f"Raw `{name}` files from the landing folder, validated, loaded as is.",
                kinds={"duckdb"},
            )
            for name in TABLES
        ]
        + [
            dg.AssetSpec(
                raw_asset_key(QUARANTINE_TABLE),
                group_name=RAW_GROUP,
                description=(
                    "Rows the loader set aside (absurd amount, implausible date, unknown value, "
                    "deal closed before created or won without a day, deal or stage of an unknown "
                    "contact) with file, line and column; see the quarantine mart."
                ),
                kinds={"duckdb"},
            ),
            dg.AssetSpec(
                raw_asset_key(NIGHT_TABLE),
                group_name=RAW_GROUP,
                description=(
                    "The night the loaded data is complete to: the last day both ads and web "
                    "have data (the as-of date when a run names none)."
                ),
                kinds={"duckdb"},
            ),
        ],
        can_subset=False,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
    )
    def raw_tables(
        context: dg.AssetExecutionContext,
        settings: dg.ResourceParam[Settings],
        progress: dg.ResourceParam[Progress],
    ) -> Iterator[dg.MaterializeResult]:
        # The rules first: a bad rules file fails the night here, not after the dbt build.
        # A refusal is the short block `firewatch run` prints, not a wrapped traceback.
        try:
            check_rules(settings.location)
        except RuleError as error:
            raise refused(RULES_REFUSED, [str(error)]) from None
        if settings.raw_source == "warehouse":
            yield from _raw_in_warehouse(settings, progress)
            return
        progress.report("load", 0, len(TABLES), f"reading {settings.raw_dir}")
        try:
            report = load_raw(
                settings.raw_dir, settings.warehouse, full_refresh=is_full_refresh(context.run.tags)
            )
        except RawInputError as error:
            found = {"problems_found": len(error.problems)}
            raise refused(LOAD_REFUSED, [str(error)], found) from None
        copied: dict[str, int] | None = None
        if settings.postgres is not None:  # the checked load, into the database by COPY
            from dagster_project.warehouse.postgres import copy_landing, load_changes

            copied = copy_landing(settings.warehouse, settings.postgres, load_changes(report))
        elif settings.spark is not None:  # the checked tables, whole, as Parquet tables
            from dagster_project.warehouse.spark import copy_landing as copy_to_spark

            copied = copy_to_spark(settings.warehouse, settings.spark)
        if copied is not None:
            progress.report(
                "load",
                0,
                len(TABLES),
                f"copied {sum(copied.values()):,} rows of {len(copied)} tables to "
                f"{settings.location}",
            )
        if report.quarantine_message():
            context.log.warning(report.quarantine_message())
            progress.report("load", 0, len(TABLES), report.quarantine_message())
        if report.ignored:  # named, never skipped without a word (CLI prints step warnings)
            context.log.warning(
                "Not loaded (only .csv, .csv.gz and .parquet files are read): "
                + ", ".join(report.ignored)
            )
        for missing in report.missing_optional:
            context.log.warning(
                f"Optional table {missing} has no files: the metrics that need it are absent."
            )
        for done, name in enumerate(TABLES, start=1):
            rows = report.row_counts.get(name, 0)
            mode = report.modes.get(name, "replace")
            new = report.new_files.get(name, [])
            progress.report(
                "load", done, len(TABLES), f"raw.{name}: {rows:,} rows ({mode}, {len(new)} new)"
            )
            yield dg.MaterializeResult(
                asset_key=raw_asset_key(name),
                metadata={
                    "dagster/row_count": rows,
                    "files": dg.MetadataValue.json(report.files.get(name, [])),
                    "new_files": dg.MetadataValue.json(new),
                    "load_mode": mode,
                    "extra_columns": dg.MetadataValue.json(report.extra_columns.get(name, [])),
                    "missing": name in report.missing_optional,
                    "quarantined_rows": report.quarantined.get(name, 0),
                },
            )
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(QUARANTINE_TABLE),
            metadata={
                "quarantined_rows_this_load": sum(report.quarantined.values()),
                "per_table": dg.MetadataValue.json(report.quarantined),
            },
        )
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(NIGHT_TABLE),
            metadata={"night": str(report.night) if report.night else "no data"},
        )

    return raw_tables


def _raw_in_warehouse(settings: Settings, progress: Progress) -> Iterator[dg.MaterializeResult]:
    """The raw tables an ELT tool keeps in the warehouse, checked instead of loaded."""
    from dagster_project.ingest.in_warehouse import RawSchemaError, check_raw_in_warehouse
    from dagster_project.warehouse.engine import connect

    where = str(settings.location)
    progress.report("load", 0, len(TABLES), f"reading the raw tables in {where} (no loader)")
    try:
        with connect(settings.location) as wh:
            found = check_raw_in_warehouse(wh, where)
    except RawSchemaError as error:
        raise refused(RAW_REFUSED, error.problems) from None
    for done, name in enumerate(TABLES, start=1):
        rows = found.row_counts.get(name, 0)
        progress.report("load", done, len(TABLES), f"raw.{name}: {rows:,} rows (in the warehouse)")
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(name),
            metadata={
                "dagster/row_count": rows,
                "load_mode": "in the warehouse",
                "missing": name in found.created,
            },
        )
    yield dg.MaterializeResult(
        asset_key=raw_asset_key(QUARANTINE_TABLE),
        metadata={"quarantined_rows_this_load": 0},
    )
    yield dg.MaterializeResult(
        asset_key=raw_asset_key(NIGHT_TABLE),
        metadata={"night": str(found.night) if found.night else "no data"},
    )
