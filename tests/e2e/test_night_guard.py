"""Issue 14 end to end: no input changes a number silently, and every refusal is one clear
message. A night whose ads export lost most of its spend stops before alerts, the queue and the
BI copy change, saying which total fell (before → now) and how to accept it; accepted, it
publishes. A refused load shows the same short block in the Dagster UI as in `firewatch run`.

One full run is new here (the refused night); the acceptance re-executes only the guard and
what follows it, as the UI's re-execution with the tag does (seconds, not a dbt build)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dagster_project.cli.run import run_nightly
from dagster_project.definitions import NIGHTLY_JOB, build_definitions
from dagster_project.defs.partitions import ACCEPT_DROP_TAG
from dagster_project.settings import Settings
from tests.support.landing import write_csv
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import query

ADS_KEY = ["date", "platform", "account_id", "campaign_id"]


def _landing_totals(raw: Path) -> dict[str, float]:
    """Spend, sessions and leads straight from the landing CSVs: the later file wins on the ads
    key, money converts at the latest rate on or before its day (USD is the reporting currency),
    a session is a visitor's session id, a lead a CRM contact."""
    files = sorted((raw / "ads_daily").glob("*.csv"))
    ads = pd.concat(pd.read_csv(f, parse_dates=["date"]) for f in files)
    ads = ads.drop_duplicates(ADS_KEY, keep="last").sort_values("date")
    fx = pd.read_csv(raw / "fx_rates" / "rates.csv", parse_dates=["date"]).sort_values("date")
    ads = pd.merge_asof(ads, fx, on="date", by="currency")
    rate = ads["rate_to_reporting"].where(ads["currency"] != "USD", 1.0)
    events = pd.read_csv(raw / "web_events" / "events.csv")
    sessions = events[["user_pseudo_id", "session_id"]].drop_duplicates()
    contacts = pd.read_csv(raw / "crm_contacts" / "contacts.csv")
    return {
        "spend": float((ads["spend"] * rate).sum()),
        "sessions": float(len(sessions)),
        "leads": float(contacts["contact_id"].nunique()),
    }


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _instance_of_runs(monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The instance `firewatch run` will use (an ephemeral one, as with quiet=True: a persisted
    SQLite instance doubles the run's time), held here to read what the UI would show."""
    instance = dg.DagsterInstance.ephemeral()
    monkeypatch.setattr("dagster_project.cli.run._instance", lambda persist: instance)
    return instance


def _last_run(instance: dg.DagsterInstance) -> tuple[dict[str, str], list, list]:
    """The last run's tags, step failures and check evaluations, as the UI reads them."""
    run = instance.get_runs(limit=1)[0]
    events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    failures = [e for e in events if e.is_step_failure]
    checks = [
        e.event_specific_data for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return dict(run.tags), failures, checks


@pytest.mark.slow
def test_spend_that_fell_by_more_than_half_stops_the_night_until_accepted(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / tiny.name  # the tiny night 2025-05-31, accepted when it was built
    shutil.copy(tiny, warehouse)
    bi = tmp_path / f"{tiny.stem}_bi.duckdb"
    shutil.copy(tiny.with_name(bi.name), bi)
    runs = _instance_of_runs(monkeypatch)
    monkeypatch.delenv("FIREWATCH_MAX_DROP", raising=False)
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    before = _landing_totals(raw)
    assert before == pytest.approx({"spend": 490.0, "sessions": 4.0, "leads": 3.0})  # by hand

    # the next export keeps one campaign-day of ads: Google's 200 USD on 2025-03-03
    (raw / "ads_daily" / "2025-03-06_restated.csv").unlink()
    export = raw / "ads_daily" / "2025-03-05_export.csv"
    ads = pd.read_csv(export, dtype=str, keep_default_na=False)
    ads[(ads["date"] == "2025-03-03") & (ads["platform"] == "google_ads")].to_csv(
        export, index=False
    )
    now = _landing_totals(raw)
    assert now == pytest.approx({"spend": 200.0, "sessions": 4.0, "leads": 3.0})

    def published() -> tuple:
        """The BI copy (bytes and mtime), the queue, the alerts and the night the queue is of."""
        return (
            _digest(bi),
            query(warehouse, "select * from decision_queue order by all"),
            query(warehouse, "select * from alerts order by all"),
            query(warehouse, "select night from firewatch_state.queue_night"),
        )

    kept = published()
    capsys.readouterr()

    assert run_nightly(raw_dir=raw, warehouse=warehouse, as_of="2025-06-01", quiet=True) == 1
    err = capsys.readouterr().err
    assert "firewatch run: control totals fell" in err, err[-3000:]
    block = err[err.index("firewatch run: control totals fell") :].rstrip().splitlines()
    gone = 1 - now["spend"] / before["spend"]  # 290 of 490: 59%, more than the default 50%
    assert gone == pytest.approx(0.592, abs=0.001)
    fell = f"spend: {before['spend']:,.0f} → {now['spend']:,.0f} (-{gone:.0%})"
    assert block[1] == f"  {fell}"  # only spend fell: sessions and leads are not named
    assert not any(line.startswith(("  sessions:", "  leads:")) for line in block)
    assert "2025-06-01 against 2025-05-31" in block[2]
    assert any("firewatch run --accept-drop" in line for line in block)
    assert "firewatch/accept_drop=true" in err
    assert len(block) <= 15 and "Traceback" not in err and "Stack Trace" not in err
    assert published() == kept  # nothing published
    # the marts were rebuilt (the guard reads them), the refused night's totals not recorded
    assert query(
        warehouse,
        "select sum(numerator) from metric_series where metric_id = 'spend' and grain = 'day' "
        "and dimension = 'total'",
    ) == [(pytest.approx(200.0),)]
    assert query(warehouse, "select distinct night from firewatch_state.night_totals") == [
        (pd.Timestamp("2025-05-31").date(),)
    ]
    # the UI: the failed step's message is the same block, its check failed with the totals
    _, failures, checks = _last_run(runs)
    (failure,) = failures
    assert failure.step_key == "night_guard"
    description = failure.step_failure_data.user_failure_data.description
    assert failure.step_failure_data.error.message.startswith(
        f"dagster._core.definitions.events.Failure: {description}"
    )
    assert block[: len(description.splitlines())] == f"firewatch run: {description}".splitlines()
    (guard,) = [c for c in checks if c.check_name == "night_guard"]
    assert not guard.passed and guard.severity == dg.AssetCheckSeverity.ERROR
    assert guard.metadata["totals"].value == pytest.approx(now)
    assert guard.metadata["previous_totals"].value == pytest.approx(before)

    # accepted: re-executed from the guard with the tag, the night publishes, and its totals are
    # what the next night is held against
    settings = Settings.from_env(raw_dir=raw, warehouse=warehouse)
    instance = dg.DagsterInstance.ephemeral()
    accepted = (
        build_definitions(settings)
        .resolve_job_def(NIGHTLY_JOB)
        .execute_in_process(
            instance=instance,
            op_selection=["night_guard*"],
            partition_key="2025-06-01",
            tags={ACCEPT_DROP_TAG: "true"},
            raise_on_error=False,
        )
    )
    assert accepted.success
    assert {e.step_key for e in accepted.all_events if e.is_step_success} >= {
        "night_guard", "alerts", "decision_queue", "notifications", "bi_copy"
    }  # fmt: skip
    said = [entry.user_message for entry in instance.all_logs(accepted.run_id)]
    assert (
        f"Accepted ({ACCEPT_DROP_TAG}): {fell}; (all history to 2025-06-01 against "
        in "\n".join(said)
    )
    assert query(bi, "select distinct cast(as_of_date as varchar) from bi_copy_info") == [
        ("2025-06-01",)
    ]
    assert published()[3] == [(pd.Timestamp("2025-06-01").date(),)]  # the queue's night
    assert query(
        warehouse,
        "select metric_id, total, accepted_drop from firewatch_state.night_totals "
        "where night = '2025-06-01' order by metric_id",
    ) == [("leads", 3.0, True), ("sessions", 4.0, True), ("spend", pytest.approx(200.0), True)]


def test_a_refused_load_shows_the_short_block_first_in_the_dagster_ui(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.runtime.refusal import LOAD_REFUSED

    runs = _instance_of_runs(monkeypatch)
    raw, warehouse = tmp_path / "raw", tmp_path / "w.duckdb"
    write_tiny_landing(raw)
    event = dict(event_name="page_view", user_pseudo_id="u9", session_id="s9")
    rows = [
        dict(
            event,
            event_id=f"x{n}",
            event_timestamp=f"2025-03-{n:02d} at noon",
            page_location="https://x.test/",
        )
        for n in range(1, 13)
    ]
    bad = write_csv(raw, "web_events", "late.csv", rows)
    capsys.readouterr()
    # (--accept-drop accepts fallen totals, never bad input: the load still refuses)
    assert (
        run_nightly(
            raw_dir=raw, warehouse=warehouse, as_of="2025-05-31", accept_drop=True, quiet=True
        )
        == 1
    )
    err = capsys.readouterr().err
    tags, (failure,), _ = _last_run(runs)
    assert tags[ACCEPT_DROP_TAG] == "true"
    assert failure.step_key == "raw_tables"
    error = failure.step_failure_data.error
    # the message the UI shows first: the block, no wrapper, no chained exception below it
    lines = error.message.splitlines()
    assert lines[0] == f"dagster._core.definitions.events.Failure: {LOAD_REFUSED}"
    assert lines[1] == "  raw input rejected, 12 problems:"
    assert lines[2] == (
        f"  {bad}, line 2, column event_timestamp: not an ISO 8601 timestamp: '2025-03-01 at noon'"
    )
    assert lines[-1] == "  … and 3 more lines in the log" and len(lines) == 12
    assert error.cause is None and error.context is None
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["problems_found"].value == 12
    assert "'2025-03-12 at noon'" in metadata["problems"].value  # every problem, in the entry
    # `firewatch run` prints the same block, and its run log keeps every problem
    block = err[err.index("firewatch run: ") :].splitlines()
    assert block[:-1] == [f"firewatch run: {LOAD_REFUSED}", *lines[1:]]
    assert (
        block[-1] == f"Details: {warehouse.with_suffix('.run.log')} (or run again with --verbose)."
    )
    assert "'2025-03-12 at noon'" in warehouse.with_suffix(".run.log").read_text()
