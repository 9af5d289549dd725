"""`firewatch` leaves without Python's teardown, and loses nothing by it: its output, its exit
code and the exit handlers of the process (dagster_project/cli/main.py `entry`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Registers an exit handler, then runs the command as the `firewatch` script does.
_SCRIPT = """
import atexit, pathlib, sys
marker = pathlib.Path(sys.argv[1])
atexit.register(marker.write_text, "ran")
sys.argv = ["firewatch", *sys.argv[2:]]
from dagster_project.cli.main import entry
entry()
print("not reached", file=sys.stderr)
"""


def _firewatch(marker: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(marker), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_output_exit_code_and_exit_handlers_survive_the_fast_exit(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    marker = tmp_path / "marker"
    done = _firewatch(marker, "generate", "--out", str(out), "--days", "20", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "ran"
    assert "not reached" not in done.stderr
    # the whole output came through the pipe: the generator's last line names ground_truth.json
    assert "ground_truth.json" in done.stdout + done.stderr
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["days"] == 20


def test_a_failing_command_keeps_its_exit_code(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    warehouse = tmp_path / "none.duckdb"
    done = _firewatch(
        marker, "decide", "D-nope", "--decision", "x", "--by", "ana", "--warehouse", str(warehouse)
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert marker.read_text() == "ran"
    assert done.stderr.strip()  # says why
