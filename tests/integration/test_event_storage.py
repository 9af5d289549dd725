"""The project's Dagster instance keeps one SQLite engine per event-log database: a run's events
and the cross-run index read back exactly as with Dagster's own class, from the same files,
and a run builds two engines instead of one per write."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from dagster_project.runtime import event_storage
from dagster_project.runtime.event_storage import KEEP_ENGINES, KeptEngineSqliteEventLogStorage
from dagster_project.settings import INSTANCE_CONFIG


@dg.asset
def spend() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset(deps=[spend])
def cac() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


@dg.asset_check(asset=cac)
def cac_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"value": -1})


def _instance(home: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    home.mkdir()
    shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def _what_was_stored(instance: dg.DagsterInstance, run_id: str) -> dict:
    logs = instance.all_logs(run_id)
    kinds = sorted(e.dagster_event.event_type_value for e in logs if e.is_dagster_event)
    latest = instance.get_latest_materialization_event(dg.AssetKey("cac"))
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("cac"), "cac_positive")]
    )
    (record,) = check.values()
    return {
        "kinds": kinds,
        "cac rows": latest.asset_materialization.metadata["rows"].value,
        "check status": record.status.value,
        "runs": [r.run_id for r in instance.get_runs()],
    }


def test_the_kept_engine_storage_stores_what_dagsters_own_does_with_two_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[str] = []
    real = event_storage.create_engine

    def counting(url: str, **kwargs: object):  # noqa: ANN202
        created.append(url)
        return real(url, **kwargs)

    monkeypatch.setattr(event_storage, "create_engine", counting)
    instance = _instance(tmp_path / "home", monkeypatch)
    storage = instance.event_log_storage
    assert isinstance(storage, KeptEngineSqliteEventLogStorage)
    # the default layout: an instance switching to this class keeps its history
    assert Path(storage._base_dir) == tmp_path / "home" / "history" / "runs"
    result = dg.materialize([spend, cac, cac_positive], instance=instance)
    assert result.success
    stored = _what_was_stored(instance, result.run_id)
    # planned, materialised and check events of both assets, through ~20 writes: two engines,
    # the run's database and the index
    assert stored["kinds"].count("ASSET_MATERIALIZATION") == 2
    assert stored["kinds"].count("ASSET_MATERIALIZATION_PLANNED") == 2
    assert stored["kinds"].count("ASSET_CHECK_EVALUATION") == 1
    assert len(stored["kinds"]) >= 15
    assert sorted(Path(url.split("///")[-1]).stem for url in created) == sorted(
        ["index", result.run_id]
    )
    instance.dispose()

    # Dagster's own class reads the same files and finds the same things
    stock = SqliteEventLogStorage(str(tmp_path / "home" / "history" / "runs"))
    assert [e.dagster_event.event_type_value for e in stock.get_logs_for_run(result.run_id)
            if e.is_dagster_event] == [
        e.dagster_event.event_type_value
        for e in KeptEngineSqliteEventLogStorage(storage._base_dir).get_logs_for_run(
            result.run_id
        )
        if e.is_dagster_event
    ]  # fmt: skip
    assert stored["cac rows"] == 1
    assert stored["check status"] == "FAILED"
    assert stored["runs"] == [result.run_id]


def test_only_the_last_few_databases_keep_an_engine(tmp_path: Path) -> None:
    storage = KeptEngineSqliteEventLogStorage(str(tmp_path / "runs"))
    for i in range(KEEP_ENGINES + 5):
        with storage.run_connection(f"run-{i}") as conn:
            assert conn is not None
    assert len(storage._engines) == KEEP_ENGINES
    assert list(storage._engines)[-1] == f"run-{KEEP_ENGINES + 4}"
    storage.wipe()
    # the run databases' files are gone and no engine holds them; wipe empties the index
    # through a new one
    assert list(storage._engines) == ["index"]
    assert sorted(p.name for p in (tmp_path / "runs").glob("*.db")) == ["index.db"]
    storage.dispose()
