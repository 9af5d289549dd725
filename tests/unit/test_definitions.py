"""The Dagster definitions as a user sees them: asset keys, groups, checks, the nightly job."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from dagster_project.definitions import NIGHTLY_JOB, build_definitions
from dagster_project.ingest.contract import TABLES
from dagster_project.settings import Settings


def _defs(tmp_path: Path) -> dg.Definitions:
    return build_definitions(Settings(raw_dir=tmp_path / "raw", warehouse=tmp_path / "w.duckdb"))


def test_groups_follow_the_layers(tmp_path: Path) -> None:
    graph = _defs(tmp_path).resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    # the raw tables, the loader's quarantine of rows it set aside and the night it decided
    assert groups["raw"] == {f"raw/{name}" for name in TABLES} | {
        "raw/_quarantine",
        "raw/_run_night",
    }
    # keys carry the schema the table lives in, so the UI and the warehouse read alike
    assert {
        "staging/stg_web__events",
        "staging/stg_crm__contacts",
        "lookups/channel_mapping",
    } <= groups["staging"]
    assert {"intermediate/int_sessions", "intermediate/int_lead_cohorts"} <= groups["intermediate"]
    assert groups["control"] == {
        "control_daily",
        "control_weekly",
        "control_monthly",
        "target_attainment",
    }
    assert groups["meaning"] == {"meaning_weekly", "meaning_monthly"}
    assert groups["metrics"] == {"metric_series", "metric_catalog", "lead_cohort_ages"}
    assert groups["quality"] == {"quarantine"}


def test_dbt_sources_hang_off_the_loader(tmp_path: Path) -> None:
    graph = _defs(tmp_path).resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["staging", "stg_ads__campaign_days"])).parent_keys
    assert dg.AssetKey(["raw", "ads_daily"]) in parents
    # the raw assets are materialized by the loader, not external stubs
    assert graph.get(dg.AssetKey(["raw", "ads_daily"])).is_materializable


def test_dbt_tests_are_asset_checks(tmp_path: Path) -> None:
    graph = _defs(tmp_path).resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert ("intermediate/int_sessions", "unique_int_sessions_session_key") in checks
    # singular identity tests are attached to the model they guard
    assert ("metric_series", "assert_total_equals_sum_of_channels") in checks
    assert ("intermediate/int_lead_cohorts", "assert_funnel_narrows_per_cohort") in checks
    # source tests too (enable_source_tests_as_checks)
    source_checks = {
        key.name
        for key in graph.asset_check_keys
        if key.asset_key == dg.AssetKey(["raw", "crm_deals"])
    }
    assert "source_not_null_raw_crm_deals_deal_id" in source_checks


def test_nightly_job_selects_everything_in_process(tmp_path: Path) -> None:
    defs = _defs(tmp_path)
    job = defs.resolve_job_def(NIGHTLY_JOB)
    assert job.executor_def is dg.in_process_executor
    graph = defs.resolve_asset_graph()
    assert len(job.asset_layer.selected_asset_keys) == len(graph.get_all_asset_keys())


def test_one_warn_check_per_rule_and_alerts_downstream_of_the_marts(tmp_path: Path) -> None:
    from dagster_project.runtime.night import rule_ids

    graph = _defs(tmp_path).resolve_asset_graph()
    checks = {
        key.name for key in graph.asset_check_keys if key.asset_key == dg.AssetKey("metric_series")
    }
    ids = rule_ids()
    assert len(ids) >= 7
    assert {f"divergence_{rule_id}" for rule_id in ids} <= checks
    assert dg.AssetKey("metric_series") in graph.get(dg.AssetKey("alerts")).parent_keys
    assert graph.get(dg.AssetKey("decision_queue")).parent_keys == {dg.AssetKey("alerts")}


def test_the_dbt_resource_skips_dagster_dbts_version_probe_and_adapter_but_stays_dbt_core(
    tmp_path: Path,
) -> None:
    """VenvDbtCliResource overrides two private dagster-dbt methods: if an upgrade renames
    them the overrides would be dead code and every run 4-5 s slower, so this fails first."""
    import re
    import subprocess

    from dagster_dbt import DbtCliResource

    from dagster_project.defs.dbt import VenvDbtCliResource, dbt_resource

    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), name
    resource = dbt_resource()
    assert isinstance(resource, VenvDbtCliResource)
    # the version it reports without a subprocess is the one the executable prints
    printed = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    core = re.search(r"(\d+\.\d+\.\d+)", printed)
    assert core is not None and str(resource._cli_version) == core.group(1)
    assert resource._cli_version.major < 2  # dbt-core, not Fusion: the events parse as core's
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_the_code_location_loads_without_the_data_libraries() -> None:
    # pandas (with pyarrow) took 0.8 s of the code location's 5-7 s load; the definitions need
    # none of the data libraries, which the steps import when they run (docs/performance.md).
    import subprocess
    import sys

    probe = (
        "import sys; from dagster_project.definitions import defs; "
        "defs.resolve_job_def('nightly'); "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'scipy', 'statsmodels') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
