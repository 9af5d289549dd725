"""`firewatch run` as a user meets it: exit codes, the summary, and bad input named precisely."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dagster_project.cli.main import main
from dagster_project.runtime import dbt_process
from dagster_project.runtime.dbt_warmup import partial_parse_state
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import query


def test_run_prints_summary_then_rejects_bad_input_keeping_the_warehouse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, warehouse = tmp_path / "raw", tmp_path / "w.duckdb"
    write_tiny_landing(raw)
    handed = dbt_process.handed
    assert (
        main(["run", "--raw-dir", str(raw), "--warehouse", str(warehouse), "--as-of", "2025-05-31"])
        == 0
    )
    out = capsys.readouterr()
    assert "totals: spend 490, sessions 4, leads 3" in out.out
    # dbt ran in the process started before Dagster loaded, and none is left waiting
    assert dbt_process.handed == handed + 1 and dbt_process._waiting is None
    # that process was to warm itself from the state this warehouse's nights keep (none before
    # this first night; tests/integration/test_dbt_warmup.py: what it does with one)
    assert dbt_process.warmed_from == partial_parse_state(warehouse)
    assert partial_parse_state(warehouse).is_file()  # there for the next night
    assert "load" in out.err and "dbt" in out.err  # progress lines

    # a later file with a bad number and a negative count
    bad = raw / "ads_daily" / "2025-03-07_broken.csv"
    shutil.copy(raw / "ads_daily" / "2025-03-06_restated.csv", bad)
    lines = bad.read_text().splitlines()
    lines.append(lines[1].replace("2025-03-04", "2025-03-05").replace(",180", ",abc"))
    lines.append(lines[1].replace("2025-03-04", "2025-03-06").replace(",1200,", ",-5,"))
    bad.write_text("\n".join(lines) + "\n")
    assert main(["run", "--raw-dir", str(raw), "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err
    assert "2025-03-07_broken.csv, line 3, column spend" in err
    assert "2025-03-07_broken.csv, line 4, column impressions" in err
    # the previous complete run is still what the warehouse holds
    assert query(warehouse, "select count(*) from raw.ads_daily") == [(4,)]
    assert query(
        warehouse,
        "select value from metric_series where metric_id = 'spend' and grain = 'week' "
        "and dimension = 'total' and period_start = '2025-03-03'",
    ) == [(490.0,)]


def _profile_in(state: Path) -> str:
    """The profile's hash in a dbt partial-parse state: dbt parses the whole project when the
    profile it runs with (the warehouse's path is part of it) differs."""
    import msgpack

    saved = msgpack.unpackb(state.read_bytes(), raw=False, strict_map_key=False)
    return saved["state_check"]["profile_hash"]["checksum"]


def test_a_warehouse_keeps_its_parse_state_when_another_ran_in_between(tmp_path: Path) -> None:
    """dagster-dbt copies the project's latest partial-parse state into each dbt folder; a night
    whose dbt parsed nothing used to hand that copy back as its warehouse's own, so after a night
    on another warehouse the next night here parsed the whole project ("profile has changed")."""
    raw, one, two = tmp_path / "raw", tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    write_tiny_landing(raw)

    def night(warehouse: Path) -> int:
        return main(
            ["run", "--raw-dir", str(raw), "--warehouse", str(warehouse), "--as-of", "2025-05-31"]
        )

    assert night(one) == 0
    profile = _profile_in(partial_parse_state(one))
    assert night(two) == 0
    assert _profile_in(partial_parse_state(two)) != profile  # another warehouse, another profile
    assert night(one) == 0
    assert _profile_in(partial_parse_state(one)) == profile


def test_missing_required_table_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    shutil.rmtree(raw / "crm_deals")
    assert main(["run", "--raw-dir", str(raw), "--warehouse", str(tmp_path / "w.duckdb")]) == 1
    assert "crm_deals" in capsys.readouterr().err
    assert not (tmp_path / "w.duckdb").exists() or query(
        tmp_path / "w.duckdb",
        "select count(*) from information_schema.tables where table_schema = 'raw'",
    ) == [(0,)]
