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


def _planned_entries(run_id: str, keys: list[str]) -> list:
    """Materialization-planned events of `keys`, as Dagster writes them at a run's start."""
    from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent, DagsterEventType
    from dagster._core.events.log import EventLogEntry

    return [
        EventLogEntry(
            error_info=None,
            level="DEBUG",
            user_message="",
            run_id=run_id,
            timestamp=float(i),
            dagster_event=DagsterEvent(
                DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
                "nightly",
                event_specific_data=AssetMaterializationPlannedData(dg.AssetKey(key)),
            ),
        )
        for i, key in enumerate(keys)
    ]


def test_a_batch_is_one_transaction_per_database_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = KeptEngineSqliteEventLogStorage(str(tmp_path / "runs"))
    begun: list[str] = []
    real_connect = storage._engine

    def counting(shard: str):  # noqa: ANN202
        engine = real_connect(shard)
        if not getattr(engine, "_counted", False):
            from sqlalchemy import event

            event.listen(engine, "begin", lambda conn, shard=shard: begun.append(shard))
            engine._counted = True
        return engine

    monkeypatch.setattr(storage, "_engine", counting)
    storage.store_event_batch(_planned_entries("r1", ["spend", "cac", "leads"]))
    # three events, each written to the run's database and the cross-run index: two
    # transactions in all, where one per event and database would be six
    assert sorted(begun) == ["index", "r1"]
    assert len(storage.get_logs_for_run("r1")) == 3

    # the third event fails: the batch leaves nothing behind, in either database
    real_store = storage._store_asset_event

    def failing(conn, event, event_id):  # noqa: ANN001, ANN202
        if event.dagster_event.asset_key == dg.AssetKey("boom"):
            raise RuntimeError("disk full")
        return real_store(conn, event, event_id)

    monkeypatch.setattr(storage, "_store_asset_event", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        storage.store_event_batch(_planned_entries("r2", ["spend", "cac", "boom"]))
    assert storage.get_logs_for_run("r2") == []
    planned = storage.get_latest_planned_materialization_info(dg.AssetKey("spend"))
    assert planned is not None and planned.run_id == "r1"
    # the next write outside a batch is its own transaction again
    storage.store_event(_planned_entries("r2", ["spend"])[0])
    assert len(storage.get_logs_for_run("r2")) == 1
    storage.dispose()


def test_the_run_databases_sync_at_checkpoints_only(tmp_path: Path) -> None:
    storage = KeptEngineSqliteEventLogStorage(str(tmp_path / "runs"))
    storage.store_event(_planned_entries("r1", ["spend"])[0])
    with storage.run_connection("r1") as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    # WAL is Dagster's; 1 is NORMAL (2, FULL, is SQLite's default: an fsync per commit)
    assert (journal, synchronous) == ("wal", 1)
    storage.dispose()
