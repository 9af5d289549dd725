"""`make bench` holds the nightly against the plain `dbt build` in pairs run in turn: each
nightly from the full build's warehouse, each plain build from the first nightly's (the warm-up
on a copy of its own), the nightly's warehouse written by nightlies only, and the medians and
pair ratios from the runs in the order they ran."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from bench import pipeline_runs


@dataclass
class _Run:
    label: str
    seconds: float
    extra: dict = field(default_factory=dict)


def test_pairs_run_in_turn_from_the_same_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs, run_dir = tmp_path / "logs", tmp_path / "run"
    logs.mkdir()
    run_dir.mkdir()
    (logs / "nightly_again.log").write_text("from an older bench")
    (logs / "generate.log").write_text("kept")
    warehouse = run_dir / "warehouse.duckdb"
    warehouse.write_text("full build")
    seen: list[tuple[str, str, str]] = []
    # nightly 1, plain 1, nightly 2, plain 2, nightly 3, plain 3 (the warm-up is not timed)
    seconds = iter([10.0, 8.0, 7.0, 9.0, 12.0, 11.0])

    def nightly(label: str, _landing: Path, wh: Path, *_args: object) -> _Run:
        seen.append((label, wh.name, wh.read_text()))
        wh.write_text("after a nightly")
        return _Run(label, next(seconds))

    def plain(label: str, _command: list[str], env: dict[str, str], _log: Path) -> _Run:
        wh = Path(env["FIREWATCH_WAREHOUSE"])
        seen.append((label, wh.name, wh.read_text()))
        wh.write_text("after a plain build")
        return _Run(label, 0.0 if label == "plain_dbt_warmup" else next(seconds))

    monkeypatch.setattr(pipeline_runs, "firewatch_run", nightly)
    monkeypatch.setattr(pipeline_runs, "measure", plain)
    night, reference = pipeline_runs.nightly_against_plain(
        tmp_path / "raw", warehouse, date(2025, 9, 28), {}, logs, run_dir
    )
    assert seen == [
        ("nightly_1", "warehouse.duckdb", "full build"),
        ("plain_dbt_warmup", "plain.duckdb", "after a nightly"),
        ("plain_dbt_1", "plain.duckdb", "after a nightly"),
        ("nightly_2", "warehouse.duckdb", "full build"),
        ("plain_dbt_2", "plain.duckdb", "after a nightly"),
        ("nightly_3", "warehouse.duckdb", "full build"),
        ("plain_dbt_3", "plain.duckdb", "after a nightly"),
    ]
    # the medians are real runs (10, 7, 12 -> 10; 8, 9, 11 -> 9), the tries in running order
    assert (night.label, night.extra["tries"]) == ("nightly_1", [10.0, 7.0, 12.0])
    assert (reference.label, reference.extra["tries"]) == ("plain_dbt_2", [8.0, 9.0, 11.0])
    assert reference.extra["ratios"] == pytest.approx([10 / 8, 7 / 9, 12 / 11])
    # the floor check reads a nightly's warehouse; the copies and old run logs are gone
    assert warehouse.read_text() == "after a nightly"
    assert sorted(p.name for p in run_dir.iterdir()) == ["warehouse.duckdb"]
    assert sorted(p.name for p in logs.iterdir()) == ["generate.log"]
    with pytest.raises(ValueError, match="odd"):
        pipeline_runs.nightly_against_plain(
            tmp_path / "raw", warehouse, date(2025, 9, 28), {}, logs, run_dir, pairs=2
        )


def test_a_warehouse_left_with_a_wal_is_not_copied(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_text("tables")
    (tmp_path / "warehouse.duckdb.wal").write_text("committed, not yet checkpointed")
    with pytest.raises(RuntimeError, match="not closed cleanly"):
        pipeline_runs._copy_closed(warehouse, tmp_path / "copy.duckdb")
    assert not (tmp_path / "copy.duckdb").exists()
