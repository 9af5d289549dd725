"""dbt's partial-parse state kept per warehouse (defs/dbt.py): dbt counts the warehouse path as
part of the profile, so a state written for one warehouse is useless for another, and two
warehouses sharing one file (two test workers, two projects) made every dbt call parse the whole
project again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dagster_project.defs import dbt as dbt_defs
from dagster_project.runtime import dbt_warmup


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "target"
    folder.mkdir()
    monkeypatch.setattr(dbt_defs, "DBT_TARGET_DIR", folder)
    monkeypatch.setattr(dbt_warmup, "DBT_TARGET_DIR", folder)
    monkeypatch.delenv("FIREWATCH_DBT_TARGET", raising=False)
    return folder


def test_the_states_are_kept_beside_the_manifest() -> None:
    assert dbt_defs.MANIFEST_PATH.parent == dbt_warmup.DBT_TARGET_DIR


def _invocation(root: Path, name: str, content: bytes) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "partial_parse.msgpack").write_bytes(content)
    return folder


def test_each_warehouse_keeps_its_own_state(tmp_path: Path, target: Path) -> None:
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    assert dbt_defs.parse_state_env(one) == {}  # nothing kept before its first build
    dbt_defs.keep_partial_parse(_invocation(tmp_path, "a", b"state of one"), one)
    dbt_defs.keep_partial_parse(_invocation(tmp_path, "b", b"state of two"), two)
    state_one = Path(dbt_defs.parse_state_env(one)["DBT_PARTIAL_PARSE_FILE_PATH"])
    state_two = Path(dbt_defs.parse_state_env(two)["DBT_PARTIAL_PARSE_FILE_PATH"])
    assert state_one.read_bytes() == b"state of one"  # not overwritten by the other warehouse
    assert state_two.read_bytes() == b"state of two"
    # the same warehouse by another spelling of its path is the same state
    same = tmp_path / "x" / ".." / "one.duckdb"
    assert dbt_defs.partial_parse_state(same) == state_one
    # the project's own copy (for dbt run by hand) is the latest one
    assert (target / "partial_parse.msgpack").read_bytes() == b"state of two"
    assert not list(target.glob("**/*.tmp"))


def test_another_dbt_target_is_another_state(
    tmp_path: Path, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "w.duckdb"
    duckdb_state = dbt_defs.partial_parse_state(warehouse)
    monkeypatch.setenv("FIREWATCH_DBT_TARGET", "postgres")
    assert dbt_defs.partial_parse_state(warehouse) != duckdb_state


def test_old_states_are_dropped(tmp_path: Path, target: Path) -> None:
    for i in range(4):
        invocation = _invocation(tmp_path, f"run{i}", b"s%d" % i)
        dbt_defs.keep_partial_parse(invocation, tmp_path / f"w{i}.duckdb", keep_runs=2)
    kept = sorted(p.read_bytes() for p in (target / "partial_parse").glob("*.msgpack"))
    assert kept == [b"s2", b"s3"]


def _context(run_id: str = "0123456789abcdef") -> Any:
    return SimpleNamespace(
        op_execution_context=SimpleNamespace(op=SimpleNamespace(name="firewatch_dbt")),
        run=SimpleNamespace(run_id=run_id),
    )


def test_a_night_starts_dbt_on_its_own_warehouses_state(tmp_path: Path, target: Path) -> None:
    """dagster-dbt copies the project's latest state into a new dbt folder that has none, and
    dbt writes a state only when it parsed something: the night's folder holds the warehouse's
    own state before dbt starts, so what is handed back afterwards is this warehouse's."""
    warehouse = tmp_path / "w.duckdb"
    first = dbt_defs.invocation_folder(_context(), warehouse)
    # named as dagster-dbt names its folders (the bench and the pruning look for that)
    assert first.parent == target and first.name.startswith("firewatch_dbt-0123456-")
    assert list(first.iterdir()) == []  # no state yet: dagster-dbt's copy, or dbt's own
    dbt_defs.keep_partial_parse(_invocation(tmp_path, "a", b"state of w"), warehouse)
    (target / "partial_parse.msgpack").write_bytes(b"state of another warehouse")
    night = dbt_defs.invocation_folder(_context(), warehouse)
    assert night != first
    assert (night / "partial_parse.msgpack").read_bytes() == b"state of w"
    dbt_defs.keep_partial_parse(night, warehouse)  # dbt parsed nothing: the folder as it was
    assert dbt_defs.partial_parse_state(warehouse).read_bytes() == b"state of w"
