"""The dbt project's own promises: documented public columns, unit tests, source freshness."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagster_project.settings import DBT_PROJECT_DIR
from tests.support.warehouse import another_process_holding, query


class Dbt:
    """dbt on this module's one warehouse path, with one target folder for all its commands.

    dbt parses the whole project again (about 10 s of CPU) unless the partial-parse state in
    its target folder was written for the same profile (the warehouse path is part of it), the
    same vars and the same values of the environment variables the project reads. So every test
    here puts its warehouse at the same path (tests run one after another in a module) and the
    commands share a target folder of their own (the project's target/ holds the manifest other
    tests' runs read meanwhile): a command with the settings of the one before parses nothing."""

    def __init__(self, folder: Path) -> None:
        self.warehouse = folder / "firewatch.duckdb"
        self.target = folder / "target"

    def place(self, source: Path | None) -> Path:
        """The module's warehouse path, holding a copy of `source` (dbt opens it for writing:
        never the shared `tiny` itself), or nothing."""
        self.warehouse.unlink(missing_ok=True)
        self.warehouse.with_name(self.warehouse.name + ".wal").unlink(missing_ok=True)
        if source is not None:
            shutil.copyfile(source, self.warehouse)
        return self.warehouse

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(Path(sys.executable).parent / "dbt"),
                *args,
                "--profiles-dir",
                ".",
                "--target-path",
                str(self.target),
            ],
            cwd=DBT_PROJECT_DIR,
            env={**os.environ, "FIREWATCH_WAREHOUSE": str(self.warehouse), **(env or {})},
            capture_output=True,
            text=True,
        )


@pytest.fixture(scope="module")
def dbt(tmp_path_factory: pytest.TempPathFactory) -> Dbt:
    return Dbt(tmp_path_factory.mktemp("dbt-project"))


def test_every_public_column_is_documented(tiny: Path, dbt_manifest: Path) -> None:
    manifest = json.loads(dbt_manifest.read_text())
    marts = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }
    assert {"metric_series", "metric_catalog", "control_daily", "meaning_weekly"} <= set(marts)
    undocumented = []
    for name, node in marts.items():
        # the columns the warehouse really has, not only the ones the YAML lists
        columns = [
            c
            for (c,) in query(
                tiny,
                "select column_name from information_schema.columns "
                "where table_schema = 'main' and table_name = ?",
                [name],
            )
        ]
        assert columns, name
        documented = {c: v.get("description", "") for c, v in node["columns"].items()}
        undocumented += [f"{name}.{c}" for c in columns if not documented.get(c, "").strip()]
    assert undocumented == []


def test_dbt_unit_tests_pass(tiny: Path, dbt: Dbt) -> None:
    """Sessionisation, attribution, maturity, fx, cohort-age and page-load percentile unit tests
    (excluded from nightly runs)."""
    dbt.place(tiny)
    result = dbt("test", "--select", "test_type:unit")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PASS=13 " in result.stdout


def test_sources_are_fresh_after_a_load(tiny: Path, dbt: Dbt) -> None:
    dbt.place(tiny)
    result = dbt("source", "freshness")
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.count("PASS freshness of raw.") == 5  # the five tables a run needs


def test_a_full_refresh_keeps_every_decision(tiny: Path, dbt: Dbt) -> None:
    from datetime import date

    from dagster_project.divergence.episodes import merge_alerts
    from dagster_project.warehouse.connection import open_warehouse
    from dagster_project.warehouse.decisions import record_action, save_night
    from tests.support.findings import finding

    warehouse = dbt.place(tiny)
    with open_warehouse(warehouse) as con:
        save_night(con, merge_alerts([], [finding()], date(2025, 5, 31)), date(2025, 5, 31))
        did = con.execute("select decision_id from main.decision_queue").fetchone()[0]
        record_action(con, did, "decide", "ana", text="shift budget to search")
    result = dbt(
        "build",
        "--full-refresh",
        "--exclude",
        "test_type:unit",
        env={"FIREWATCH_AS_OF": "2025-05-31"},  # as a night passes it: no vars, no new parse
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert query(
        warehouse,
        "select decision, decided_by from main.decision_queue where decision_id = ?",
        [did],
    ) == [("shift budget to search", "ana")]
    assert query(warehouse, "select count(*) from firewatch_state.decision_log") == [(1,)]


def test_dbt_waits_for_a_client_holding_the_warehouse(tiny: Path, dbt: Dbt) -> None:
    """The profile's connect retries: a client holding DuckDB's lock when dbt starts (a BI tool
    opened on the warehouse itself) makes dbt wait instead of failing the night; with one
    attempt the same hold fails it, so the retries are what lets it through."""
    warehouse = dbt.place(tiny)
    select = ("run", "--select", "metric_catalog")
    with another_process_holding(warehouse):
        failed = dbt(*select, env={"FIREWATCH_DBT_CONNECT_ATTEMPTS": "1"})
    assert failed.returncode != 0
    assert "Could not set lock" in failed.stdout, failed.stdout[-2000:]
    # held for 12 s from dbt's start: past its start-up and its first attempts (1 + 2 + 4 s)
    started = time.monotonic()
    with another_process_holding(warehouse, seconds=12):
        waited = dbt(*select)
    assert waited.returncode == 0, waited.stdout[-3000:]
    assert "PASS=1" in waited.stdout
    assert time.monotonic() - started >= 12


def test_nightly_tests_of_the_event_models_read_only_the_rebuilt_days(tiny: Path, dbt: Dbt) -> None:
    """The unique test of stg_web__events scans, on a night, the days the night rebuilt (from
    FIREWATCH_REPROCESS_FROM minus the 3-day web lookback, minus 2 days for sessions across
    midnight) and, without a night (a plain `dbt test`), every day (macros/test_scope.sql)."""
    warehouse = dbt.place(tiny)
    import duckdb

    with duckdb.connect(str(warehouse)) as con:  # a key twice on 2025-03-03, the first day
        con.execute(
            "insert into staging.stg_web__events select * from staging.stg_web__events "
            "where event_key = 'e1'"
        )
    test = ["test", "--select", "unique_stg_web__events_event_key"]
    # night 2025-03-09: rebuilt from 03-06, tested from 03-04: the duplicate is older
    assert dbt(*test, env={"FIREWATCH_REPROCESS_FROM": "2025-03-09"}).returncode == 0
    # night 2025-03-08: tested from 03-03, the duplicate's day
    caught = dbt(*test, env={"FIREWATCH_REPROCESS_FROM": "2025-03-08"})
    assert caught.returncode == 1 and "Got 1 result" in caught.stdout, caught.stdout[-2000:]
    everything = dbt(*test, env={"FIREWATCH_REPROCESS_FROM": ""})
    assert everything.returncode == 1 and "Got 1 result" in everything.stdout


def test_a_new_night_parses_nothing_again(tiny: Path, dbt: Dbt) -> None:
    """The night reaches dbt as environment variables; one read while dbt parses becomes part
    of the parse state, and every night (a new value) re-parsed a model and rebuilt the whole
    manifest (0.5 s a night). Read when the model runs, the night still lands in the SQL and a
    bad one still fails the run."""
    dbt.place(tiny)
    night = {"FIREWATCH_AS_OF": "2025-05-30", "FIREWATCH_REPROCESS_FROM": "2025-05-30"}
    assert dbt("parse", env=night).returncode == 0
    next_night = {"FIREWATCH_AS_OF": "2025-05-31", "FIREWATCH_REPROCESS_FROM": "2025-05-31"}
    parsed = dbt("parse", "--log-level", "debug", env=next_night)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    assert "no changes found, skipping parsing" in parsed.stdout, parsed.stdout[-3000:]
    compiled = dbt("compile", "--select", "int_run_context", env=next_night)
    assert compiled.returncode == 0, compiled.stdout[-3000:]
    assert "cast('2025-05-31' as date)" in compiled.stdout
    bad = dbt("compile", "--select", "int_run_context", env={"FIREWATCH_AS_OF": "2025-5-31"})
    assert bad.returncode != 0
    assert "as_of must be a date YYYY-MM-DD, got 2025-5-31" in bad.stdout


def test_a_night_asks_dbt_for_its_log_at_info_and_no_json_artifacts(
    tiny: Path, dbt: Dbt, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the dbt step sets (defs/dbt.py `_quiet`) is what this dbt obeys: no manifest.json
    or run_results.json, dbt.log without its debug lines; a person's own setting wins."""
    from dagster_project.defs.dbt import _quiet

    monkeypatch.delenv("DBT_WRITE_JSON", raising=False)
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    assert _quiet() == {"DBT_WRITE_JSON": "false", "DBT_LOG_LEVEL_FILE": "debug"}
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE")
    dbt.place(tiny)
    shutil.rmtree(dbt.target / "logs", ignore_errors=True)
    for artifact in ("manifest.json", "run_results.json"):
        (dbt.target / artifact).unlink(missing_ok=True)
    logs = dbt.target / "logs"
    built = dbt(
        "build",
        "--select",
        "metric_catalog",
        env={**_quiet(), "DBT_LOG_PATH": str(logs), "DBT_LOG_FORMAT": "json"},
    )
    assert built.returncode == 0, built.stdout[-3000:]
    assert not (dbt.target / "manifest.json").exists()
    assert not (dbt.target / "run_results.json").exists()
    levels = {
        json.loads(line)["info"]["level"]
        for line in (logs / "dbt.log").read_text().splitlines()
        if line.startswith("{")
    }
    assert "info" in levels and "debug" not in levels


# Last in the module: vars are part of dbt's parse state, so a command with new vars parses
# the whole project again, and so would the command after it.
def test_configuration_written_into_sql_is_checked_or_quoted(dbt: Dbt) -> None:
    """dbt vars that reach SQL text: the currency must be a code, the brand pattern is quoted."""
    dbt.place(None)
    hostile = dbt(
        "compile",
        "--select",
        "int_run_context",
        "--vars",
        '{reporting_currency: "USD\'; drop table alerts; --"}',
    )
    assert hostile.returncode != 0
    assert "reporting_currency must be an ISO 4217 code like USD, got USD'; DROP TABLE" in (
        hostile.stdout
    )
    quoted = dbt(
        "compile",
        "--select",
        "int_sessions",
        "--vars",
        '{brand_campaign_pattern: "%o\'brien%"}',
    )
    assert quoted.returncode == 0, quoted.stdout[-3000:]
    assert "like '%o''brien%'" in quoted.stdout
