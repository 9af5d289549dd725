"""The nightly schedule: a tick's partition in the schedule's time zone, its settings, and the run
window of a partition, a range and a plain run (no run is started)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from dagster_project.defs.partitions import RANGE_END_TAG, RANGE_START_TAG, run_window
from dagster_project.defs.progress import LogProgress
from dagster_project.defs.schedules import SCHEDULE_NAME
from dagster_project.settings import Settings, SettingsError


def _definitions(settings: Settings) -> dg.Definitions:
    # imported here: the definitions read the dbt manifest, which conftest builds at session
    # start, after this module is collected
    from dagster_project.definitions import build_definitions

    return build_definitions(settings, progress=LogProgress())


def _tick(settings: Settings, when: datetime) -> list[dg.RunRequest] | str:
    with dg.instance_for_test() as instance:
        defs = _definitions(settings)
        schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
        ) as context:
            data = schedule.evaluate_tick(context)
            return data.run_requests or data.skip_message or ""


def test_a_tick_runs_the_day_that_just_ended_in_the_schedule_time_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREWATCH_SCHEDULE_CRON", "30 1 * * *")
    monkeypatch.setenv("FIREWATCH_TIMEZONE", "Europe/Warsaw")
    settings = Settings.from_env(raw_dir=tmp_path, warehouse=tmp_path / "w.duckdb")
    schedule = _definitions(settings).resolve_schedule_def(SCHEDULE_NAME)
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 1 * * *", "Europe/Warsaw")
    # 01:30 in Warsaw on 10 March is 00:30 UTC: the night of 9 March, whatever UTC says
    warsaw = ZoneInfo("Europe/Warsaw")
    (request,) = _tick(settings, datetime(2026, 3, 10, 1, 30, tzinfo=warsaw))
    assert (request.partition_key, request.run_key) == ("2026-03-09", "2026-03-09")
    (request,) = _tick(settings, datetime(2026, 3, 10, 0, 30, tzinfo=ZoneInfo("UTC")))
    assert request.partition_key == "2026-03-09"
    # a night before the first partition is skipped, not run
    monkeypatch.setenv("FIREWATCH_PARTITIONS_START", "2026-06-01")
    late_start = Settings.from_env(raw_dir=tmp_path, warehouse=tmp_path / "w.duckdb")
    assert "before FIREWATCH_PARTITIONS_START" in _tick(
        late_start, datetime(2026, 3, 10, 1, 30, tzinfo=warsaw)
    )


def test_default_schedule_is_two_oclock_and_bad_settings_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FIREWATCH_SCHEDULE_CRON", "FIREWATCH_TIMEZONE", "FIREWATCH_PARTITIONS_START"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env(raw_dir=tmp_path, warehouse=tmp_path / "w.duckdb")
    assert (settings.cron, settings.timezone) == ("0 2 * * *", "UTC")
    monkeypatch.setenv("FIREWATCH_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="FIREWATCH_TIMEZONE"):
        Settings.from_env()
    monkeypatch.setenv("FIREWATCH_TIMEZONE", "UTC")
    monkeypatch.setenv("FIREWATCH_SCHEDULE_CRON", "every night")
    with pytest.raises(SettingsError, match="FIREWATCH_SCHEDULE_CRON"):
        Settings.from_env()


def test_run_window_of_a_partition_a_range_and_a_plain_run() -> None:
    assert run_window({"dagster/partition": "2025-03-06"}).dbt_env() == {
        "FIREWATCH_AS_OF": "2025-03-06",
        "FIREWATCH_REPROCESS_FROM": "2025-03-06",
    }
    ranged = run_window({RANGE_START_TAG: "2025-03-04", RANGE_END_TAG: "2025-03-06"})
    assert ranged.dbt_env() == {
        "FIREWATCH_AS_OF": "2025-03-06",
        "FIREWATCH_REPROCESS_FROM": "2025-03-04",
    }
    assert run_window({}).dbt_env() == {"FIREWATCH_AS_OF": "", "FIREWATCH_REPROCESS_FROM": ""}
    with pytest.raises(ValueError, match="ends before"):
        run_window({RANGE_START_TAG: "2025-03-06", RANGE_END_TAG: "2025-03-04"})
