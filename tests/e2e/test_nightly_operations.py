"""Nightly operations end to end: late data, backfills, the BI copy, a failed run's notice (the
schedule's partition and the run window are in tests/unit/test_schedule.py).

The late-data case uses the hand-built tiny landing folder (numbers in test_pipeline_tiny):
night 1 (as of 2025-03-05) has Google's 03-04 spend at 160; a later file restates it to 180
and a late web file adds a fifth session (page load 5000 ms) on 03-05. After night 2 the marts
must show 180, 5 sessions and p75 = 4000 ms (sorted 1000..5000, the 0.75 point is the 4th),
without a full rebuild, and equal a from-scratch build of the same files row for row.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.defs.progress import LogProgress
from dagster_project.settings import Settings
from tests.support.landing import write_csv
from tests.support.pipeline import run_pipeline
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import metric, query

WEEK = "2025-03-03"
RESTATED = "2025-03-06_restated.csv"


def _definitions(settings: Settings) -> dg.Definitions:
    # imported here: the definitions read the dbt manifest, which conftest builds at session
    # start, after this module is collected
    from dagster_project.definitions import build_definitions

    return build_definitions(settings, progress=LogProgress())


def _late_files(raw: Path) -> None:
    shutil.move(raw.parent / RESTATED, raw / "ads_daily" / RESTATED)
    common = dict(user_pseudo_id="u9", session_id="s9", session_number=1, page_location="/")
    write_csv(
        raw,
        "web_events",
        "events_late.csv",
        [
            dict(common, event_id="e90", event_timestamp="2025-03-05T10:00:00Z",
                 event_name="session_start"),
            dict(common, event_id="e91", event_timestamp="2025-03-05T10:00:01Z",
                 event_name="page_view", page_load_ms=5000),
        ],
    )  # fmt: skip


def _bi_as_of(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return str(con.execute("select max(as_of_date) from bi_copy_info").fetchone()[0])
    finally:
        con.close()


def _write_locked(path: Path) -> bool:
    """Whether another process holds DuckDB's write lock on the file. Asks with F_GETLK, which
    takes no lock: opening the warehouse to find out would itself block the run's writer."""
    flock = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid
    fd = os.open(path, os.O_RDONLY)
    try:
        probe = struct.pack(flock, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, probe)
    finally:
        os.close(fd)
    return struct.unpack(flock, answer)[0] != fcntl.F_UNLCK


def _metric_rows(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select metric_id, grain, period_start, dimension, dimension_value, numerator, "
        "denominator, round(value, 9), is_mature from metric_series order by all",
    )


@pytest.mark.slow
def test_late_data_next_night_incremental_equals_full_and_bi_copy_never_blocks(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    shutil.move(raw / "ads_daily" / RESTATED, tmp_path / RESTATED)  # arrives a day later
    warehouse = tmp_path / "firewatch.duckdb"
    bi = tmp_path / "firewatch_bi.duckdb"
    assert run_pipeline(raw, warehouse, as_of="2025-03-05") == 0
    assert metric(warehouse, "spend", "day", "2025-03-04")[2] == pytest.approx(160.0)
    assert _bi_as_of(bi) == "2025-03-05"

    _late_files(raw)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    night2 = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli.main", "run", "--raw-dir", str(raw),
         "--warehouse", str(warehouse), "--as-of", "2025-03-06"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    # The lock is asked after every 0.05 s (F_GETLK costs nothing); the BI copy is read at most
    # every 0.25 s: opening a DuckDB file costs about 40 ms of CPU, which every 0.05 s took half
    # a core from the run it watches (and from the other worker on a 2-core machine).
    seen, locked, next_read = set(), 0, 0.0
    while night2.poll() is None:
        if time.monotonic() >= next_read:
            seen.add(_bi_as_of(bi))  # never blocked, never an error
            next_read = time.monotonic() + 0.25
        locked += _write_locked(warehouse)
        time.sleep(0.05)
    output = night2.stdout.read() if night2.stdout else ""
    assert night2.returncode == 0, output[-3000:]
    assert locked > 0, "the run never held the warehouse: the BI check proved nothing"
    assert seen <= {"2025-03-05", "2025-03-06"}
    assert "2025-03-05" in seen
    assert _bi_as_of(bi) == "2025-03-06"

    # the restated day and the late session are in the marts...
    assert metric(warehouse, "spend", "day", "2025-03-04")[2] == pytest.approx(180.0)
    assert metric(warehouse, "sessions", "week", WEEK)[2] == 5
    assert metric(warehouse, "page_load_p75", "week", WEEK)[2] == pytest.approx(4000.0)
    # ...by appending two files and an incremental dbt build, not by rebuilding everything
    loads = query(
        warehouse,
        "select table_name, mode, new_files from raw._load_log where mode = 'append' "
        "order by table_name",
    )
    assert loads == [("ads_daily", "append", 1), ("web_events", "append", 1)]
    assert query(
        warehouse, "select full_refresh from firewatch_state.dbt_builds order by finished_at"
    ) == [(True,), (False,)]

    # and the incremental warehouse equals a build from scratch of the same files
    fresh = tmp_path / "fresh.duckdb"
    assert run_pipeline(raw, fresh, as_of="2025-03-06") == 0
    assert _metric_rows(warehouse) == _metric_rows(fresh)

    # an old file rewritten in place, days before any lookback: the loader replaces the table
    # and the next night rebuilds the incremental models from scratch (e5's load 3000 -> 6000:
    # loads 1000, 6000, 2000, 4000, 5000, p75 = 5000)
    events = raw / "web_events" / "events.csv"
    events.write_text(events.read_text().replace(",3000,", ",6000,"))
    assert run_pipeline(raw, warehouse, as_of="2025-03-10") == 0
    assert metric(warehouse, "page_load_p75", "week", WEEK)[2] == pytest.approx(5000.0)
    assert query(
        warehouse, "select full_refresh from firewatch_state.dbt_builds order by finished_at"
    ) == [(True,), (False,), (True,)]


@pytest.mark.slow
def test_a_two_day_backfill_is_one_run_as_of_its_last_day(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    warehouse = tmp_path / "firewatch.duckdb"
    settings = Settings.from_env(raw_dir=raw, warehouse=warehouse)
    settings.export()
    job = _definitions(settings).resolve_job_def("nightly")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START_TAG: "2025-03-04", RANGE_END_TAG: "2025-03-05"},
            raise_on_error=False,
        )
        assert result.success
        runs = instance.get_runs()
        assert len(runs) == 1
        # every partitioned asset recorded both days in that one run
        raw_key = dg.AssetKey(["raw", "ads_daily"])
        materialized = instance.get_materialized_partitions(raw_key)
        assert materialized == {"2025-03-04", "2025-03-05"}
    assert query(warehouse, "select as_of_date from intermediate.int_run_context") == [
        (datetime(2025, 3, 5).date(),)
    ]
    assert metric(warehouse, "spend", "day", "2025-03-04")[2] == pytest.approx(180.0)


def test_a_failed_run_tells_the_default_recipients_once(tmp_path: Path) -> None:
    from tests.support.notify import serve_webhook

    raw = tmp_path / "raw"
    raw.mkdir()  # no landing files: the load step fails
    with serve_webhook() as hook, pytest.MonkeyPatch.context() as env:
        env.setenv("FIREWATCH_WEBHOOK_URL", hook.url)
        env.setenv("no_proxy", "127.0.0.1,localhost")
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        assert run_pipeline(raw, tmp_path / "firewatch.duckdb", as_of="2025-03-05") == 1
    (post,) = hook.received
    text = json.dumps(post["payload"])
    assert "run_failed" in text and "nightly" in text
    assert "folder is missing" in text  # the loader's own message, not Dagster's wrapper
