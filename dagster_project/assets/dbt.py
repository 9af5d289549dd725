"""The dbt project as Dagster assets: models, seeds and their tests as asset checks.

The manifest is built at set-up (`make manifest`, i.e. `dbt parse`) and only read here: parsing
at import would cost every Dagster process tens of seconds.
"""

import json
import sys
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from dagster_project.progress import Progress
from dagster_project.settings import DBT_PROJECT_DIR, Settings

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
    """Run configuration of the dbt step."""

    as_of: str = ""  # YYYY-MM-DD; empty: the last day with data


def dbt_vars(as_of: str) -> dict[str, str]:
    """Vars for `dbt build`; rejects anything that is not a calendar date before it reaches SQL."""
    if not as_of:
        return {}
    return {"as_of": date.fromisoformat(as_of).isoformat()}


def dbt_resource() -> DbtCliResource:
    # The venv's own dbt, so a test or cron job outside an activated venv still finds it.
    executable = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=DBT_PROJECT,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(executable) if executable.exists() else "dbt",
    )


def build_dbt_assets() -> dg.AssetsDefinition:
    @dbt_assets(manifest=require_manifest(), project=DBT_PROJECT, dagster_dbt_translator=TRANSLATOR)
    def firewatch_dbt_assets(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        config: NightlyConfig,
        settings: dg.ResourceParam[Settings],
        progress: dg.ResourceParam[Progress],
    ) -> Iterator[Any]:
        settings.export()
        # dbt unit tests check the SQL, not the data: `make test` runs them, nights do not.
        args = ["build", "--exclude", "test_type:unit"]
        variables = dbt_vars(config.as_of)
        if variables:
            args += ["--vars", json.dumps(variables)]
        total, built, checked = len(context.selected_asset_keys), 0, 0
        for event in dbt.cli(args, context=context).stream():
            if isinstance(event, dg.Output):
                built += 1
                progress.report("dbt", built, total, f"built {event.output_name}")
            elif isinstance(event, dg.AssetCheckResult):
                checked += 1
            yield event
        progress.report("dbt", built, total, f"{checked} dbt tests passed as asset checks")

    return firewatch_dbt_assets
