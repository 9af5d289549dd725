"""The waiting dbt process warms itself with a quiet parse (runtime/dbt_warmup.py): from a state
that fits it runs through dbt's partial parse, from one that does not it gives up before
parsing the project, it writes nothing outside its temporary folder, and nothing of it reaches
the output the night reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagster_project.runtime import dbt_process
from dagster_project.settings import DBT_PROJECT_DIR

# Runs warm_up in a fresh process (dbt keeps global state) and records, as JSON in argv[2],
# whether dbt went on to load the project's files after reading the state (ManifestLoader.load),
# how often it parsed the macros (none with nothing changed; twice: a whole parse after a
# partial one), and what dbt remembers of deprecations afterwards. argv[3] "deprecation": dbt
# meets a deprecation while parsing; argv[4]: another project folder.
_PROBE = """
import json, sys
from pathlib import Path
from dbt import deprecations
from dbt.parser.manifest import ManifestLoader
from dagster_project.runtime.dbt_warmup import warm_up
loads, macro_loads = [], []
real_load, real_macros = ManifestLoader.load, ManifestLoader.load_and_parse_macros
def load(self):
    loads.append(1)
    if sys.argv[3] == "deprecation":
        deprecations.active_deprecations["exposure-name"] += 1  # as dbt's warn() records it
        deprecations.buffered_deprecations.append(lambda: None)
    return real_load(self)
def load_macros(self, *args, **kwargs):
    macro_loads.append(1)
    return real_macros(self, *args, **kwargs)
ManifestLoader.load, ManifestLoader.load_and_parse_macros = load, load_macros
project = [Path(sys.argv[4])] if len(sys.argv) > 4 else []
warmed = warm_up(Path(sys.argv[1]), *project)
remembered = len(deprecations.active_deprecations) + len(deprecations.buffered_deprecations)
Path(sys.argv[2]).write_text(json.dumps({"warmed": warmed, "loads": len(loads),
    "macro_loads": len(macro_loads), "deprecations": remembered}))
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


def _probe(
    state: Path, env: dict[str, str], tmp_path: Path, mode: str = "", *project: Path
) -> tuple[dict, str]:
    result_file = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-P", "-c", _PROBE, str(state), str(result_file), mode,
         *map(str, project)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result_file.read_text()), done.stdout + done.stderr


def test_a_fitting_state_warms_quietly_and_changes_nothing(
    state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = state
    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(path.parent.iterdir()))
    result, output = _probe(path, env, tmp_path)
    # dbt's partial parse ran through (nothing changed: no macro parsed again)
    assert result == {"warmed": True, "loads": 1, "macro_loads": 0, "deprecations": 0}
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
    nothing = {"warmed": False, "loads": 0, "macro_loads": 0, "deprecations": 0}
    assert _probe(path, other, tmp_path)[0] == nothing
    assert _probe(tmp_path / "none.msgpack", env, tmp_path)[0] == nothing


def test_a_changed_override_macro_stops_it_before_a_whole_parse(
    state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """dbt parses the whole project again when a macro such as generate_schema_name changed,
    without asking for the state a second time: the warm-up stops there instead."""
    _, env = state
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    dbt = str(dbt_process.dbt_executable())
    subprocess.run(
        [dbt, "parse", "--profiles-dir", ".", "--target-path", str(tmp_path / "t"), "--quiet"],
        cwd=project, env=env, check=True, capture_output=True,
    )  # fmt: skip
    macro = project / "macros" / "generate_schema_name.sql"
    macro.write_text(macro.read_text() + "\n{# changed #}\n")
    result = _probe(tmp_path / "t" / "partial_parse.msgpack", env, tmp_path, "", project)[0]
    # macros parsed once (the changed file), not a second time for the whole project
    assert result == {"warmed": False, "loads": 1, "macro_loads": 1, "deprecations": 0}


def test_the_deprecations_it_met_are_left_for_the_build_to_show(
    state: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """dbt shows each deprecation once per process: one met while warming would be missing
    from the night's output."""
    path, env = state
    result = _probe(path, env, tmp_path, "deprecation")[0]
    assert result == {"warmed": True, "loads": 1, "macro_loads": 0, "deprecations": 0}


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
