"""The dbt project as Dagster assets: models, seeds and their tests as asset checks.

The manifest is built at set-up (`make manifest`, i.e. `dbt parse`) and only read here: parsing
at import would cost every Dagster process tens of seconds.
"""

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from packaging import version

from dagster_project.brief.chart import load_matplotlib
from dagster_project.defs.partitions import is_full_refresh, run_window
from dagster_project.defs.progress import Progress
from dagster_project.runtime.dagster_dbt_apart import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_project.runtime.dbt_process import dbt_executable, handed_to_dagster_dbt
from dagster_project.runtime.dbt_warmup import DBT_TARGET_DIR, partial_parse_state
from dagster_project.runtime.preload import preload
from dagster_project.settings import DBT_PROJECT_DIR, Settings
from dagster_project.warehouse.rebuild import needs_full_rebuild, record_build

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
MANIFEST_PATH = Path(DBT_PROJECT.manifest_path)

# Folders under models/ that are a layer of their own; marts/<layer>/ take the layer's name.
_FOLDER_GROUPS = {"staging": "staging", "intermediate": "intermediate"}


class ManifestMissingError(RuntimeError):
    pass


def require_manifest() -> Path:
    if not MANIFEST_PATH.exists():
        raise ManifestMissingError(
            f"dbt manifest not found at {MANIFEST_PATH}. Build it once with `make manifest` "
            "(runs `dbt parse`); `make demo` and `make test` do it for you."
        )
    return MANIFEST_PATH


class FirewatchTranslator(DagsterDbtTranslator):
    """Groups assets by layer from the dbt folder they live in."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "seed":
            return "staging"
        folders = fqn[1:-1]
        if folders and folders[0] == "marts" and len(folders) > 1:
            return folders[1]
        if folders and folders[0] in _FOLDER_GROUPS:
            return _FOLDER_GROUPS[folders[0]]
        return "marts"


TRANSLATOR = FirewatchTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=True
    )
)


class NightlyConfig(dg.Config):
    """Run configuration of the dbt steps (a partition or a backfilled range wins over it)."""

    as_of: str = ""  # YYYY-MM-DD; empty: the last day with data


class VenvDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource for the dbt-core installed beside it, without two start-up
    costs its `cli()` pays on every invocation that the pipeline has no use for.

    - `dbt --version` in a subprocess (about 2 s per run), to tell dbt-core from the Fusion
      engine: the executable is the venv's own, so the version is dbt-core's package version.
    - An in-process dbt adapter with the project's macros loaded (about 1.3 s per dbt step),
      which dagster-dbt only uses for `fetch_row_counts()` / `fetch_column_metadata()`; the
      steps do not call them, and dagster-dbt already runs without an adapter when making one
      fails.
    Both are private methods of dagster-dbt 0.29: `tests/test_definitions.py` checks they are
    still there, so an upgrade that renames them fails a test instead of slowing runs silently.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    # The venv's own dbt, so a test or cron job outside an activated venv still finds it.
    executable = dbt_executable()
    if executable.exists():
        return VenvDbtCliResource(
            project_dir=DBT_PROJECT,
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=str(executable),
        )
    return DbtCliResource(project_dir=DBT_PROJECT, profiles_dir=str(DBT_PROJECT_DIR))


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Sets variables for the dbt process this step starts, and takes them back afterwards so
    nothing leaks into later runs of the same Python process."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def parse_state_env(warehouse: Path) -> dict[str, str]:
    """The variable that points dbt at the warehouse's kept partial-parse state (dbt reads it
    from there and writes the new one into the invocation's target folder); none before the
    first build of a warehouse."""
    state = partial_parse_state(warehouse)
    return {"DBT_PARTIAL_PARSE_FILE_PATH": str(state)} if state.exists() else {}


def _replace_with(source: Path, destination: Path) -> None:
    """Copies through a temporary file and os.replace, so a concurrent reader never sees half a
    file."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, destination)


def invocation_folder(context: dg.AssetExecutionContext, warehouse: Path) -> Path:
    """A new target folder for the night's dbt (named as dagster-dbt names its own), holding the
    warehouse's own partial-parse state when it has one.

    dagster-dbt copies the project's latest state into a new folder that has none, and dbt
    writes a new state only when it parsed something: a night that parsed nothing left that
    copy, another warehouse's or `make manifest`'s, and `keep_partial_parse` kept it for this
    warehouse, so the next night parsed the whole project ("profile has changed").
    """
    run = f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}"
    folder = DBT_TARGET_DIR / f"{run}-{uuid.uuid4().hex[:7]}"
    folder.mkdir(parents=True)
    state = partial_parse_state(warehouse)
    if state.exists():
        shutil.copyfile(state, folder / "partial_parse.msgpack")
    return folder


def keep_partial_parse(
    invocation_target: Path, warehouse: Path | None = None, keep_runs: int = 20
) -> None:
    """Hands dbt's partial-parse state back after a successful build (to the warehouse's own
    file, and to the project's target folder for dbt run by hand), and drops old run folders
    and states.

    dagster-dbt gives every invocation its own target folder; the state dbt writes there would
    be lost, and every invocation would parse the whole project again. The state there fits
    this warehouse: dbt's new one, or the one it found and used (`invocation_folder` put the
    warehouse's own there; on a warehouse's first night, dagster-dbt's copy of the project's,
    which dbt replaces when it does not fit).
    """
    source = invocation_target / "partial_parse.msgpack"
    project_target = DBT_TARGET_DIR
    destination = project_target / "partial_parse.msgpack"
    if source.exists() and warehouse is not None:
        _replace_with(source, partial_parse_state(warehouse))
    if source.exists() and (
        not destination.exists() or source.stat().st_mtime_ns >= destination.stat().st_mtime_ns
    ):
        _replace_with(source, destination)
    states = sorted(
        (project_target / "partial_parse").glob("*.msgpack"), key=lambda p: p.stat().st_mtime_ns
    )
    for old in states[:-keep_runs]:
        old.unlink(missing_ok=True)
    runs = sorted(
        (p for p in project_target.glob("firewatch_*-*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime_ns,
    )
    for old in runs[:-keep_runs]:
        shutil.rmtree(old, ignore_errors=True)


def _quiet() -> dict[str, str]:
    """dbt's options for what a night does not read, unless the person running it set them:
    no manifest.json and run_results.json (dbt writes the 1.5 MB manifest twice per build; the
    run's results are Dagster's materialisations and checks) and dbt.log at info, not debug
    (4,000 lines of SQL and connection events a night). Together 0.9 s of a 10 s `small` build;
    `DBT_WRITE_JSON=true` or `DBT_LOG_LEVEL_FILE=debug` bring them back."""
    return {
        "DBT_WRITE_JSON": os.environ.get("DBT_WRITE_JSON", "false"),
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
    }


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    config: NightlyConfig,
    settings: Settings,
    progress: Progress,
) -> Iterator[Any]:
    settings.export()
    tags = context.run.tags
    window = run_window(tags, config.as_of)
    # dbt unit tests check the SQL, not the data: `make test` runs them, nights do not.
    args = ["build", "--exclude", "test_type:unit"]
    full = is_full_refresh(tags) or needs_full_rebuild(settings.warehouse)
    if full:  # (the incremental event-level models; every other model is a table anyway)
        args.append("--full-refresh")
    total, built, checked = len(context.selected_asset_keys), 0, 0
    if settings.spark is not None:  # dbt starts Spark itself: the catalog admits one JVM
        from dagster_project.warehouse.spark import release_spark

        release_spark()
    # what detection and the alert charts import, while this step waits for dbt
    preloading = preload(then=(load_matplotlib,))
    with _environment({**window.dbt_env(), **parse_state_env(settings.warehouse), **_quiet()}):
        folder = invocation_folder(context, settings.warehouse)
        with handed_to_dagster_dbt():  # the dbt process `firewatch run` started, if any
            invocation = dbt.cli(args, context=context, target_path=folder)
        try:
            for event in invocation.stream():
                if isinstance(event, dg.Output):
                    built += 1
                    progress.report("dbt", built, total, f"built {event.output_name}")
                elif isinstance(event, dg.AssetCheckResult):
                    checked += 1
                yield event
        except BaseException:
            # dbt would go on building (and holding the warehouse's lock) after the step gave
            # up on it, e.g. on an event the manifest does not know: stop it with the step.
            if invocation.process.poll() is None:
                invocation.process.terminate()
                try:
                    invocation.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    invocation.process.kill()
            raise
    preloading.join(timeout=30)
    keep_partial_parse(Path(invocation.target_path), settings.warehouse)
    record_build(settings.warehouse, full_refresh=full)
    how = "rebuilt from scratch" if full else f"from {window.first_night or 'the lookback'}"
    progress.report("dbt", built, total, f"{checked} dbt tests passed as asset checks ({how})")


DBT_STEP = "firewatch_dbt"


def build_dbt_assets(
    partitions: dg.PartitionsDefinition | None = None,
) -> list[dg.AssetsDefinition]:
    """The dbt project as one step, one dbt invocation a night (one start and one parse): the
    event-level models rebuild the night's days (a backfilled range in one run), the marts are
    rebuilt whole. Daily partitioned as a whole, since a step has one partitioning: a mart's
    partition is the night it was last built for."""

    @dbt_assets(
        manifest=require_manifest(),
        project=DBT_PROJECT,
        dagster_dbt_translator=TRANSLATOR,
        name=DBT_STEP,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitions else None,
    )
    def step(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        config: NightlyConfig,
        settings: dg.ResourceParam[Settings],
        progress: dg.ResourceParam[Progress],
    ) -> Iterator[Any]:
        yield from _build(context, dbt, config, settings, progress)

    return [step]
