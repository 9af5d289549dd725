"""The dbt process `firewatch run` starts before Dagster loads (runtime/dbt_process.py): it runs
the command it is handed as the `dbt` script would, ends quietly when it is handed nothing, and
dagster-dbt's way of starting dbt is borrowed for one call only."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagster_project.runtime import dbt_process
from dagster_project.settings import DBT_PROJECT_DIR


@pytest.fixture
def waiting() -> Iterator[None]:
    dbt_process.stop()
    dbt_process.start()
    yield
    dbt_process.stop()


def test_the_waiting_process_runs_the_command_it_is_handed(waiting: None) -> None:
    # (`--help`, not `--version`: that one asks PyPI for the latest version, and may differ)
    dbt = str(dbt_process.dbt_executable())
    expected = subprocess.run([dbt, "--help"], capture_output=True, check=True).stdout
    before = dbt_process.handed
    process = dbt_process.take([dbt, "--help"], dict(os.environ), DBT_PROJECT_DIR)
    assert process is not None and process.args == [dbt, "--help"]
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert out == expected and b"Usage: dbt" in out  # dbt's own output, word for word
    assert dbt_process.handed == before + 1
    # handed once: the next command starts dbt the usual way
    assert dbt_process.take([dbt, "--help"], dict(os.environ), DBT_PROJECT_DIR) is None


def test_an_interrupted_dbt_stops_as_dbt_does(waiting: None, tmp_path: Path) -> None:
    """dagster-dbt stops a dbt it gives up on with SIGINT, then terminate: the handed process
    is dbt itself, not a relay that would leave dbt running."""
    dbt = str(dbt_process.dbt_executable())
    process = dbt_process.take(
        [dbt, "parse", "--profiles-dir", ".", "--target-path", str(tmp_path / "t")],
        {**os.environ, "FIREWATCH_WAREHOUSE": str(tmp_path / "w.duckdb")},
        DBT_PROJECT_DIR,
    )
    assert process is not None
    time.sleep(0.5)  # still importing or parsing: a full parse takes seconds
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert not (tmp_path / "t" / "partial_parse.msgpack").exists()  # it did not finish


def test_a_failing_command_fails_with_dbts_exit_code(waiting: None) -> None:
    dbt = str(dbt_process.dbt_executable())
    process = dbt_process.take([dbt, "no-such-command"], dict(os.environ), DBT_PROJECT_DIR)
    assert process is not None
    out, _ = process.communicate(timeout=60)
    expected = subprocess.run([dbt, "no-such-command"], capture_output=True)
    assert process.returncode == expected.returncode == 2
    assert b"No such command" in out


def test_another_executable_is_not_taken_and_stop_ends_the_waiting_process(
    waiting: None,
) -> None:
    assert dbt_process.take(["/usr/bin/dbt", "build"], dict(os.environ), ".") is None
    process = dbt_process._waiting
    assert process is not None and process.poll() is None  # still waiting
    dbt_process.stop()
    assert process.returncode is not None  # ended and reaped, without running anything
    assert dbt_process._waiting is None


def test_dagster_dbt_starts_dbt_where_it_is_borrowed(waiting: None) -> None:
    """dagster-dbt 0.29 starts dbt with `subprocess.Popen` from its invocation module; if an
    upgrade starts it elsewhere, the waiting process would never be used and this fails."""
    import inspect

    from dagster_dbt.core import dbt_cli_invocation as module

    assert "subprocess.Popen(" in inspect.getsource(module.DbtCliInvocation.run)
    real = module.subprocess
    dbt = str(dbt_process.dbt_executable())
    with dbt_process.handed_to_dagster_dbt():
        assert module.subprocess is not real
        assert module.subprocess.PIPE == subprocess.PIPE
        # other options than dagster-dbt 0.29's: dbt is started anew, the waiting one kept
        other = module.subprocess.Popen(
            args=[dbt, "--help"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            cwd=DBT_PROJECT_DIR,
            text=True,
        )
        assert other is not dbt_process._waiting and dbt_process._waiting is not None
        assert "Usage: dbt" in other.communicate(timeout=60)[0]
    assert module.subprocess is real
    dbt_process.stop()
    with dbt_process.handed_to_dagster_dbt():  # nothing waiting: nothing borrowed
        assert module.subprocess is real
