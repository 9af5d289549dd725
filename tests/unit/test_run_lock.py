"""The run lock: one nightly run per warehouse whoever starts it; no stale lock after a kill."""

from __future__ import annotations

import fcntl
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.definitions import settings_resource
from dagster_project.settings import Settings
from dagster_project.warehouse.run_lock import RunLockTimeout, hold_run_lock, lock_path

HOLDER = """
import sys, time
from pathlib import Path
from dagster_project.warehouse.run_lock import hold_run_lock
with hold_run_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def _is_locked(warehouse: Path) -> bool:
    fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _holder(warehouse: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_times_out_naming_the_holder_and_a_killed_holder_frees_the_lock(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "w.duckdb"
    proc = _holder(warehouse)
    try:
        out = io.StringIO()
        with (
            pytest.raises(RunLockTimeout, match=rf"pid {proc.pid}, started .*holds"),
            hold_run_lock(warehouse, wait=1.0, out=out, poll=0.1),
        ):
            pytest.fail("a second run must not get the lock")
        assert f"another nightly run (pid {proc.pid}" in out.getvalue()
        assert "waiting for it" in out.getvalue()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # SIGKILL leaves the file, not the lock: the next run starts at once
    started = time.monotonic()
    with hold_run_lock(warehouse, wait=0.0):
        assert _is_locked(warehouse)
    assert time.monotonic() - started < 1.0
    assert not _is_locked(warehouse)


def test_a_waiting_run_goes_on_once_the_first_ends(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    order: list[str] = []
    first_has_it = threading.Event()

    def first() -> None:
        with hold_run_lock(warehouse, wait=0.0):
            first_has_it.set()
            time.sleep(0.6)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    first_has_it.wait()
    out = io.StringIO()
    with hold_run_lock(warehouse, wait=30.0, out=out, poll=0.05):
        order.append("second runs")
    thread.join()
    assert order == ["first done", "second runs"]
    assert out.getvalue().count("waiting for it") == 1  # said once, not every poll


def test_the_settings_resource_holds_the_lock_for_the_whole_run(tmp_path: Path) -> None:
    settings = Settings(raw_dir=tmp_path / "raw", warehouse=tmp_path / "w.duckdb")
    with dg.build_resources({"settings": settings_resource(settings)}) as resources:
        assert resources.settings == settings
        assert _is_locked(settings.warehouse)
    assert not _is_locked(settings.warehouse)


def test_bad_wait_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIREWATCH_RUN_LOCK_WAIT", "soon")
    with (
        pytest.raises(ValueError, match="FIREWATCH_RUN_LOCK_WAIT='soon'"),
        hold_run_lock(tmp_path / "w.duckdb"),
    ):
        pass


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    """`firewatch run` holds it around the job, whose settings resource takes it again."""
    from dagster_project.warehouse.run_lock import held_here

    warehouse = tmp_path / "w.duckdb"
    with hold_run_lock(warehouse, wait=0.0):
        with hold_run_lock(warehouse, wait=0.0):
            assert held_here(warehouse) and _is_locked(warehouse)
        assert held_here(warehouse) and _is_locked(warehouse)  # the outer hold still counts
    assert not held_here(warehouse) and not _is_locked(warehouse)
