"""The read-only BI copy: readable from other processes while a run holds the warehouse, always a
whole run, never the decision log. The warehouse is built by hand (no dbt) to keep this fast."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.settings import BI_COPY_ENV, BI_PARQUET_ENV, Settings
from dagster_project.warehouse import publish
from dagster_project.warehouse.publish import PublishError, publish_bi_copy

PUBLIC = {
    "alerts",
    "control_daily",
    "decision_queue",
    "metric_catalog",
    "metric_series",
    "ritual_metrics",
    "target_attainment",
}

# Reads a DuckDB file read-only in a fresh interpreter: another process, as a BI tool is.
_READER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str))
"""

# Opens the copy, reads, waits for a line on stdin (a publish happens then), reads again.
_HOLDER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
sql = "select count(*), sum(value), string_agg(period_start::varchar, ',' order by period_start) "\
      "from metric_series"
print(json.dumps(con.execute(sql).fetchone(), default=str), flush=True)
sys.stdin.readline()
print(json.dumps(con.execute(sql).fetchone(), default=str), flush=True)
print(json.dumps(con.execute("select row_count from bi_copy_info "
                             "where table_name = 'metric_series'").fetchone()), flush=True)
"""


def read_elsewhere(path: Path, sql: str) -> list[list]:
    """Runs `sql` on `path` from another process; fails the test with its stderr if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", _READER, str(path), sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise AssertionError(f"reader process failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def add_series_rows(con: duckdb.DuckDBPyConnection, starts: list[str], value: float) -> None:
    con.executemany(
        "insert into main.metric_series values ('spend', 'control', 'day', ?, 'total', "
        "'total', ?, null, ?, true)",
        [[start, value, value] for start in starts],
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A warehouse with the public tables, dbt's run context, the decision log, a raw table,
    a staging view and the backtest replay (the last four must stay out of the copy)."""
    path = tmp_path / "wh" / "firewatch.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    con.execute(
        """
        create table main.metric_series (metric_id varchar, layer varchar, grain varchar,
            period_start date, dimension varchar, dimension_value varchar, numerator double,
            denominator double, value double, is_mature boolean);
        create table main.metric_catalog (metric_id varchar, layer varchar, owner varchar);
        insert into main.metric_catalog values ('spend', 'control', 'performance_marketing'),
            ('cac', 'meaning', 'growth');
        create table main.control_daily (day date, channel varchar, spend decimal(28, 6));
        insert into main.control_daily values ('2025-09-27', 'paid_search', 120.5),
            ('2025-09-28', 'paid_search', 99.25);
        create table main.target_attainment (metric_id varchar, attainment double);
        insert into main.target_attainment values ('leads', 0.92);
        create table main.alerts (alert_id varchar primary key, rule_id varchar, status varchar);
        insert into main.alerts values ('a1', 'clicks_up_nobody_stays', 'active');
        create table main.decision_queue (decision_id varchar primary key, alert_id varchar,
            status varchar);
        insert into main.decision_queue values ('d1', 'a1', 'open');
        -- all-null columns as pandas writes them: type NULL
        create table main.ritual_metrics as
            select 'spend' as metric_id, null as last_decision;
        create table main.backtest_alerts (alert_id varchar);
        insert into main.backtest_alerts values ('replayed');
        create schema intermediate;
        create table intermediate.int_run_context as select date '2025-09-28' as as_of_date,
            date '2024-11-01' as history_start_date, 'USD' as reporting_currency;
        create schema firewatch_state;
        create table firewatch_state.decision_log (entry_id bigint, decision_id varchar,
            text varchar);
        insert into firewatch_state.decision_log values (1, 'd1', 'private note');
        create schema raw;
        create table raw.ads_daily as select 1 as id;
        create schema staging;
        create view staging.stg_ads as select * from raw.ads_daily;
        """
    )
    add_series_rows(con, ["2025-09-26", "2025-09-27", "2025-09-28"], 10.0)
    con.close()
    return path


def test_copy_readable_while_a_run_holds_the_warehouse(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "bi" / "firewatch_bi.duckdb"
    first = publish_bi_copy(warehouse, target)
    assert first.row_counts["metric_series"] == 3
    assert first.as_of_date == date(2025, 9, 28)

    # A nightly run: an open writer with new rows in a transaction not yet committed.
    writer = duckdb.connect(str(warehouse))
    try:
        writer.execute("begin transaction")
        add_series_rows(writer, ["2025-09-29", "2025-09-30"], 20.0)
        writer.execute("update main.alerts set status = 'cleared'")
        # the setup is real: the warehouse itself is closed to other processes now
        with pytest.raises(AssertionError, match="(?i)lock"):
            read_elsewhere(warehouse, "select 1")
        # (a) the copy is not, and shows the previous complete run
        assert read_elsewhere(target, "select count(*), sum(value) from metric_series") == [
            [3, 30.0]
        ]
        assert read_elsewhere(target, "select status from alerts") == [["active"]]
        writer.execute("commit")
    finally:
        writer.close()

    # (b) the next publish shows the committed run to a new reader
    second = publish_bi_copy(warehouse, target)
    assert second.row_counts["metric_series"] == 5
    assert read_elsewhere(target, "select count(*), sum(value) from metric_series") == [[5, 70.0]]
    assert read_elsewhere(target, "select status from alerts") == [["cleared"]]
    assert read_elsewhere(
        target, "select row_count, as_of_date from bi_copy_info where table_name = 'metric_series'"
    ) == [[5, "2025-09-28"]]
    assert sorted(p.name for p in target.parent.iterdir()) == ["firewatch_bi.duckdb"]


def test_reader_holding_the_copy_keeps_its_snapshot(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "bi" / "firewatch_bi.duckdb"
    publish_bi_copy(warehouse, target)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = json.loads(holder.stdout.readline())
        assert before == [3, 30.0, "2025-09-26,2025-09-27,2025-09-28"]

        con = duckdb.connect(str(warehouse))
        con.execute("delete from main.metric_series where period_start = '2025-09-26'")
        add_series_rows(con, ["2025-09-29", "2025-09-30", "2025-10-01"], 1.0)
        con.close()
        # (c) the publish does not wait for the reader, nor fail because of it
        report = publish_bi_copy(warehouse, target)
        assert report.row_counts["metric_series"] == 5

        out, err = holder.communicate("go\n", timeout=60)
        assert holder.returncode == 0, err
        after, info = (json.loads(line) for line in out.splitlines())
        assert after == before
        assert info == [3]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    # while a new reader sees the new run
    assert read_elsewhere(target, "select count(*), sum(value) from metric_series") == [[5, 23.0]]


def test_copy_holds_only_the_public_tables(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "firewatch_bi.duckdb"
    report = publish_bi_copy(warehouse, target)
    assert set(report.row_counts) == PUBLIC
    # (d) one schema, the public tables and the info table; no log, replay, raw or staging
    tables = read_elsewhere(
        target, "select table_schema, table_name from information_schema.tables order by 2"
    )
    assert tables == [["main", name] for name in sorted(PUBLIC | {"bi_copy_info"})]
    info = read_elsewhere(
        target, "select table_name, row_count, as_of_date from bi_copy_info order by 1"
    )
    assert info == [
        ["alerts", 1, "2025-09-28"],
        ["control_daily", 2, "2025-09-28"],
        ["decision_queue", 1, "2025-09-28"],
        ["metric_catalog", 2, "2025-09-28"],
        ["metric_series", 3, "2025-09-28"],
        ["ritual_metrics", 1, "2025-09-28"],
        ["target_attainment", 1, "2025-09-28"],
    ]
    # values and types come across as they are, except all-null NULL columns become varchar
    assert read_elsewhere(target, "select sum(spend)::varchar from control_daily") == [
        ["219.750000"]
    ]
    assert read_elsewhere(
        target,
        "select data_type from information_schema.columns "
        "where table_name = 'ritual_metrics' and column_name = 'last_decision'",
    ) == [["VARCHAR"]]
    published = read_elsewhere(target, "select distinct published_at from bi_copy_info")
    assert published == [[str(report.published_at.replace(tzinfo=None))]]
    # the copy is not for writing
    assert not target.stat().st_mode & 0o222


def test_parquet_current_is_a_complete_set(warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "firewatch_bi.duckdb"
    parquet = tmp_path / "parquet"
    reports = []
    for extra in (["2025-09-29"], ["2025-09-30"], ["2025-10-01"]):
        con = duckdb.connect(str(warehouse))
        add_series_rows(con, extra, 5.0)
        con.close()
        reports.append(publish_bi_copy(warehouse, target, parquet_dir=parquet))

    # (e) current points at the newest version; only the last two are kept
    current = parquet / "current"
    assert current.is_symlink()
    assert current.resolve() == reports[-1].parquet_version
    versions = sorted(p.name for p in parquet.iterdir() if p.name != "current")
    assert versions == sorted(r.parquet_version.name for r in reports[-2:])
    files = sorted(p.name for p in current.iterdir())
    assert files == sorted(f"{name}.parquet" for name in PUBLIC | {"bi_copy_info"})
    for name, count in reports[-1].row_counts.items():
        assert len(pd.read_parquet(current / f"{name}.parquet")) == count, name
    series = pd.read_parquet(current / "metric_series.parquet")
    assert len(series) == 6
    assert series["value"].sum() == 45.0
    info = pd.read_parquet(current / "bi_copy_info.parquet").set_index("table_name")
    assert info.loc["metric_series", "row_count"] == 6
    assert "backtest_alerts.parquet" not in files


def test_failed_publish_leaves_the_previous_copy(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bi" / "firewatch_bi.duckdb"
    parquet = tmp_path / "parquet"
    first = publish_bi_copy(warehouse, target, parquet_dir=parquet)
    con = duckdb.connect(str(warehouse))
    add_series_rows(con, ["2025-09-29"], 99.0)
    con.close()

    def fail(*_args: object) -> None:
        raise OSError("disk full")

    # (f) everything written, the swap fails
    monkeypatch.setattr(publish.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        publish_bi_copy(warehouse, target, parquet_dir=parquet)
    monkeypatch.undo()

    assert read_elsewhere(target, "select count(*), sum(value) from metric_series") == [[3, 30.0]]
    assert sorted(p.name for p in target.parent.iterdir()) == ["firewatch_bi.duckdb"]
    assert sorted(p.name for p in parquet.iterdir()) == [first.parquet_version.name, "current"]
    assert len(pd.read_parquet(parquet / "current" / "metric_series.parquet")) == 3


def test_failure_while_exporting_leaves_no_partial_files(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bi" / "firewatch_bi.duckdb"
    parquet = tmp_path / "parquet"
    publish_bi_copy(warehouse, target)
    real_fsync = publish._fsync

    def fail_on_series(path: Path) -> None:
        if path.name == "metric_series.parquet":
            raise RuntimeError("killed mid-export")
        real_fsync(path)

    monkeypatch.setattr(publish, "_fsync", fail_on_series)
    with pytest.raises(RuntimeError, match="mid-export"):
        publish_bi_copy(warehouse, target, parquet_dir=parquet)
    assert sorted(p.name for p in target.parent.iterdir()) == ["firewatch_bi.duckdb"]
    assert list(parquet.iterdir()) == []
    assert read_elsewhere(target, "select count(*) from metric_series") == [[3]]


def test_refuses_bad_names_and_the_warehouse_itself(warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="cannot be the warehouse"):
        publish_bi_copy(warehouse, warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute('create table main."Bad Name" (x int)')
    con.close()
    target = tmp_path / "firewatch_bi.duckdb"
    with pytest.raises(PublishError, match="Bad Name"):
        publish_bi_copy(warehouse, target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_paths_default_beside_the_warehouse_and_follow_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BI_COPY_ENV, raising=False)
    monkeypatch.delenv(BI_PARQUET_ENV, raising=False)
    warehouse = tmp_path / "warehouse" / "firewatch.duckdb"
    settings = Settings.from_env(raw_dir=tmp_path, warehouse=warehouse)
    assert settings.bi_copy_path == tmp_path / "warehouse" / "firewatch_bi.duckdb"
    assert settings.bi_parquet_dir is None
    monkeypatch.setenv(BI_COPY_ENV, str(tmp_path / "share" / "bi.duckdb"))
    monkeypatch.setenv(BI_PARQUET_ENV, str(tmp_path / "share" / "parquet"))
    settings = Settings.from_env(raw_dir=tmp_path, warehouse=warehouse)
    assert settings.bi_copy_path == tmp_path / "share" / "bi.duckdb"
    assert settings.bi_parquet_dir == tmp_path / "share" / "parquet"
