"""dbt's partial-parse state kept per warehouse (defs/dbt.py): dbt counts the warehouse path as
part of the profile, so a state written for one warehouse is useless for another, and two
warehouses sharing one file (two test workers, two projects) made every dbt call parse the whole
project again."""

from __future__ import annotations

import os
import time
from pathlib import Path

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


def test_a_state_dbt_did_not_write_is_not_handed_back(tmp_path: Path, target: Path) -> None:
    """dagster-dbt copies the project's own state into each invocation's folder; dbt writes a
    new one only when it parsed something. The copy, left as it was, is not handed back."""
    warehouse = tmp_path / "w.duckdb"
    dbt_defs.keep_partial_parse(_invocation(tmp_path, "a", b"state of w"), warehouse)
    (target / "partial_parse.msgpack").write_bytes(b"state of another warehouse")
    copied = _invocation(tmp_path, "b", b"state of another warehouse")  # dagster-dbt's copy
    found = dbt_defs.state_mark(copied)
    dbt_defs.keep_partial_parse(copied, warehouse, before_dbt=found)  # dbt parsed nothing
    state = dbt_defs.partial_parse_state(warehouse)
    assert state.read_bytes() == b"state of w"
    # dbt parsed and wrote its state over the copy: that one is handed back
    rewritten = _invocation(tmp_path, "c", b"state of another warehouse")
    found = dbt_defs.state_mark(rewritten)
    (rewritten / "partial_parse.msgpack").write_bytes(b"new state of w")
    dbt_defs.keep_partial_parse(rewritten, warehouse, before_dbt=found)
    assert state.read_bytes() == b"new state of w"
    assert (target / "partial_parse.msgpack").read_bytes() == b"new state of w"


def test_a_state_used_without_being_written_stays_among_the_kept(
    tmp_path: Path, target: Path
) -> None:
    """States are dropped oldest first; one a night used without dbt writing it counts as new
    (it was rewritten every night before, with whatever the invocation's folder held)."""
    past = time.time() - 1000

    def keep(name: str, warehouse: str, content: bytes, written: bool = True) -> Path:
        invocation = _invocation(tmp_path, name, content)
        found = None if written else dbt_defs.state_mark(invocation)
        dbt_defs.keep_partial_parse(invocation, tmp_path / warehouse, 2, before_dbt=found)
        return dbt_defs.partial_parse_state(tmp_path / warehouse)

    def aged(state: Path, seconds: float) -> None:
        os.utime(state, (past + seconds, past + seconds))

    used, other = keep("a", "used.duckdb", b"used"), keep("b", "o1.duckdb", b"o1")
    aged(used, 1)
    aged(other, 2)
    keep("night", "used.duckdb", b"o1", written=False)  # dbt parsed nothing
    assert used.read_bytes() == b"used"
    keep("c", "o2.duckdb", b"o2")  # a third state: the oldest is dropped
    assert used.exists() and not other.exists()
