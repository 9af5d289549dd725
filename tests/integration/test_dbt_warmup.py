"""The waiting dbt process warms itself with a quiet parse (runtime/dbt_warmup.py): from a state
that fits it runs through dbt's partial parse, from one that does not it gives up before
parsing the project, it writes nothing outside its temporary folder, and nothing of it reaches
the output the night reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagster_project.runtime import dbt_process
from dagster_project.settings import DBT_PROJECT_DIR

# Runs warm_up in a fresh process (dbt keeps global state) and records whether dbt went on to
# load the project's files after reading the state (ManifestLoader.load), as JSON in argv[2].
_PROBE = """
import json, sys
from pathlib import Path
from dbt.parser.manifest import ManifestLoader
from dagster_project.runtime.dbt_warmup import warm_up
loads = []
real = ManifestLoader.load
def load(self):
    loads.append(1)
    return real(self)
ManifestLoader.load = load
warmed = warm_up(Path(sys.argv[1]))
Path(sys.argv[2]).write_text(json.dumps({"warmed": warmed, "loads": len(loads)}))
"""


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A partial-parse state written by `dbt parse` for one warehouse, and that environment."""
    folder = tmp_path_factory.mktemp("warmup")
    env = {**os.environ, "FIREWATCH_WAREHOUSE": str(folder / "w.duckdb"),
           "FIREWATCH_DBT_TARGET": "duckdb", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
    dbt = str(dbt_process.dbt_executable())
    subprocess.run(
        [dbt, "parse", "--profiles-dir", ".", "--target-path", str(folder / "t"), "--quiet"],
        cwd=DBT_PROJECT_DIR, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return folder / "t" / "partial_parse.msgpack", env


def _probe(state: Path, env: dict[str, str], tmp_path: Path) -> tuple[dict, str]:
    result_file = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-P", "-c", _PROBE, str(state), str(result_file)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result_file.read_text()), done.stdout + done.stderr


def test_a_fitting_state_warms_quietly_and_changes_nothing(
    state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = state
    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(path.parent.iterdir()))
    result, output = _probe(path, env, tmp_path)
    assert result == {"warmed": True, "loads": 1}  # dbt's partial parse ran through
    assert output == ""  # dbt's lines went nowhere
    assert (path.read_bytes(), path.stat().st_mtime_ns, sorted(path.parent.iterdir())) == before
    assert not list(tmp_path.glob("*.log")) and sorted(tmp_path.iterdir()) == [
        tmp_path / "result.json"
    ]


def test_a_state_of_another_warehouse_is_not_parsed_in_full(
    state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = state
    other = {**env, "FIREWATCH_WAREHOUSE": str(tmp_path / "other.duckdb")}
    assert _probe(path, other, tmp_path)[0] == {"warmed": False, "loads": 0}
    assert _probe(tmp_path / "none.msgpack", env, tmp_path)[0] == {"warmed": False, "loads": 0}


@pytest.fixture
def warm_waiting(state: tuple[Path, dict[str, str]]) -> Iterator[None]:
    path, env = state
    saved = dict(os.environ)
    os.environ.update(env)
    dbt_process.stop()
    dbt_process.start(warm_state=path)
    os.environ.clear()
    os.environ.update(saved)
    yield
    dbt_process.stop()


def test_a_warmed_process_outputs_only_the_command_it_is_handed(warm_waiting: None) -> None:
    dbt = str(dbt_process.dbt_executable())
    expected = subprocess.run([dbt, "--help"], capture_output=True, check=True).stdout
    process = dbt_process.take([dbt, "--help"], dict(os.environ), DBT_PROJECT_DIR)
    assert process is not None
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and out == expected
