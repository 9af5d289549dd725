"""The benchmark's engine floor (dagster_project/runtime/floor_control.sql) computes the same
control_daily and web components (int_components__web, int_components__page_load) as the
pipeline: generated `small` data, 30 days, through `firewatch run` and through
the floor script,
compared per day and channel (counts exactly, money, ratios and percentiles to 1e-6 relative).

The night is two days before the end of the data, so the CRM rows, ads restatements and web
events after it must be left out by both alike. The web events are read once as the generator
writes them for `small` (CSV) and once as Parquet, as `medium` and `large` have them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from dagster_project.ingest.contract import DUCKDB_TYPES, TABLES  # noqa: E402
from dagster_project.runtime.floor import (  # noqa: E402
    CLOSE_MEASURES,
    EXACT_MEASURES,
    floor_differences,
    run_floor,
)

BIN = Path(sys.executable).parent


def _web_events_to_parquet(raw: Path) -> None:
    """Rewrites the web_events CSV files as Parquet with the contract's column types."""
    types = {c.name: DUCKDB_TYPES[c.type] for c in TABLES["web_events"].columns}
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        for path in sorted((raw / "web_events").glob("*.csv")):
            con.execute(
                f"copy (select * from read_csv('{path}', header = true, types = {types})) "
                f"to '{path.with_suffix('.parquet')}' (format parquet)"
            )
            path.unlink()
    finally:
        con.close()


# The Parquet variant doubles the file's time past a minute: marked slow, the CSV one is not.
@pytest.fixture(scope="module", params=["csv", pytest.param("parquet", marks=pytest.mark.slow)])
def built(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[Path, Path]:
    """(pipeline warehouse, floor database) for the same landing folder and night."""
    out = tmp_path_factory.mktemp(f"floor-{request.param}")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(out / "dagster_home"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    (out / "dagster_home").mkdir()
    firewatch = str(BIN / "firewatch")
    subprocess.run(
        [firewatch, "generate", "--profile", "small", "--days", "30", "--out", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    if request.param == "parquet":
        _web_events_to_parquet(out / "raw")
    end = date.fromisoformat(json.loads((out / "ground_truth.json").read_text())["end_date"])
    as_of = (end - timedelta(days=2)).isoformat()
    warehouse = out / "firewatch.duckdb"
    run = subprocess.run(
        [firewatch, "run", "--raw-dir", str(out / "raw"), "--warehouse", str(warehouse),
         "--as-of", as_of],
        env=env,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    floor_db = out / "floor.duckdb"
    # one landing's floor at a memory cap with the dbt profile's settings, as the bench's
    # reference runs: the same numbers either way
    run_floor(out / "raw", floor_db, as_of, "1GB" if request.param == "parquet" else "")
    return warehouse, floor_db


def test_floor_covers_every_measure_of_control_daily(built: tuple[Path, Path]) -> None:
    warehouse, floor_db = built
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = [r[0] for r in con.execute("describe main.control_daily").fetchall()]
    finally:
        con.close()
    key = ["period_start", "dimension", "dimension_value", "is_complete_period"]
    assert sorted(c for c in columns if c not in key) == sorted(EXACT_MEASURES + CLOSE_MEASURES)


def test_floor_equals_control_daily(built: tuple[Path, Path]) -> None:
    warehouse, floor_db = built
    assert floor_differences(warehouse, floor_db) == []
    con = duckdb.connect()
    try:
        con.execute(f"attach '{warehouse}' as p (read_only)")
        con.execute(f"attach '{floor_db}' as f (read_only)")
        # Not vacuous: the same rows, with real volume on the channels.
        (rows, channels, spend, sessions, leads, customers) = con.execute(
            "select count(*), count(distinct dimension_value), sum(spend), sum(sessions), "
            "sum(leads), sum(customers) from f.main.control_daily where dimension = 'channel'"
        ).fetchone()
        (pipeline_rows,) = con.execute(
            "select count(*) from p.main.control_daily where dimension = 'channel'"
        ).fetchone()
    finally:
        con.close()
    assert rows == pipeline_rows and channels >= 8
    assert spend > 1000 and sessions > 1000 and leads > 100 and customers > 10


def test_floor_equals_web_components_at_every_grain(built: tuple[Path, Path]) -> None:
    # floor_differences compares them row by row (above); here, that it compared something.
    _, floor_db = built
    con = duckdb.connect(str(floor_db), read_only=True)
    try:
        combos = con.execute(
            "select grain, dimension, count(distinct component) from web_components "
            "group by grain, dimension"
        ).fetchall()
        # Distinct visitors do not add up over days: a month's are fewer than its days' sum
        # (a visitor comes back within the month), which a rollup of daily rows would miss.
        (month_visitors, day_visitor_sum) = con.execute(
            "select sum(value) filter (where grain = 'month'), sum(value) filter (where grain = "
            "'day') from web_components where dimension = 'total' and component = 'visitors'"
        ).fetchone()
    finally:
        con.close()
    got = {(grain, dimension): n for grain, dimension, n in combos}
    assert got == {
        (grain, dimension): 8 if dimension != "campaign" else 6
        for grain in ("day", "week", "month")
        for dimension in ("total", "channel", "campaign")
    }
    assert 0 < month_visitors < day_visitor_sum
