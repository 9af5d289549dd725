"""The bad-input matrix end to end (issue 5): what a person sees after a bad night. A rejected
night leaves the warehouse and the BI copy as they were; quarantined rows reach the mart, the run
log and the Dagster check. The loader's cases are in tests/integration/test_bad_input.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.landing import VALID, write
from tests.support.warehouse import query

DEALS_HEADER = VALID["crm_deals"].splitlines()[0]


def test_a_rejected_night_leaves_warehouse_and_bi_copy_as_they_were(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.pipeline import run_pipeline
    from tests.support.tiny_landing import write_tiny_landing

    warehouse = tmp_path / tiny.name
    shutil.copy(tiny, warehouse)
    bi = tiny.with_name(f"{tiny.stem}_bi.duckdb")
    shutil.copy(bi, tmp_path / bi.name)
    before_bi = (tmp_path / bi.name).read_bytes()
    series = "select * from metric_series order by all"
    raw_rows = "select * from raw.web_events order by all"
    before = (query(warehouse, series), query(warehouse, raw_rows))
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    # the next night brings a good file and a broken one
    write(
        raw,
        "web_events",
        "events-2025-06-01.csv",
        "\n".join(
            [
                "event_id,event_timestamp,event_name,user_pseudo_id,session_id,page_location",
                "n1,2025-06-01T08:00:00Z,session_start,u9,s9,https://x.test/",
                "n2,2025-06-01 at eight,page_view,u9,s9,https://x.test/",
            ]
        )
        + "\n",
    )
    assert run_pipeline(raw, warehouse, as_of="2025-06-01") == 1
    err = capsys.readouterr().err
    bad = raw / "web_events" / "events-2025-06-01.csv"
    assert (
        f"{bad}, line 3, column event_timestamp: not an ISO 8601 timestamp: '2025-06-01 at eight'"
        in err
    )
    assert (query(warehouse, series), query(warehouse, raw_rows)) == before
    assert (tmp_path / bi.name).read_bytes() == before_bi


def test_quarantined_rows_reach_the_mart_the_run_log_and_the_dagster_check(
    tmp_path: Path,
) -> None:
    import dagster as dg

    from dagster_project.definitions import NIGHTLY_JOB, build_definitions
    from dagster_project.runtime.summary import warehouse_summary
    from dagster_project.settings import Settings
    from tests.support.tiny_landing import write_tiny_landing

    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    ads = (raw / "ads_daily" / "2025-03-05_export.csv").read_text().splitlines()[0]
    columns = ads.split(",")

    def ads_row(**values: str) -> str:
        return ",".join(values.get(c, "") for c in columns)

    base = dict(
        platform="google_ads",
        account_id="a9",
        campaign_name="Q",
        clicks="1",
        impressions="10",
        utm_campaign="q",
    )
    write(
        raw,
        "ads_daily",
        "2025-04-01_more.csv",
        "\n".join(
            [
                ads,
                ads_row(**base, date="2025-04-01", campaign_id="pln", spend="40", currency="PLN"),
                ads_row(
                    **base, date="2025-04-01", campaign_id="huge", spend="1e15", currency="USD"
                ),
            ]
        )
        + "\n",
    )
    write(
        raw,
        "crm_deals",
        "deals-late.csv",
        "\n".join(
            [
                DEALS_HEADER + ",closed_at",
                "q1,c1,2025-04-02T10:00:00Z,Pending,10,USD,",
                "q2,c1,2025-04-02T10:00:00Z,won,10,USD,2025-04-01T10:00:00Z",
            ]
        )
        + "\n",
    )
    write(
        raw,
        "web_events",
        "events-typo.csv",
        "\n".join(
            [
                "event_id,event_timestamp,event_name,user_pseudo_id,session_id,page_location",
                "f1,2205-04-01T10:00:00Z,page_view,u1,s1,https://x.test/",
            ]
        )
        + "\n",
    )
    warehouse = tmp_path / "w.duckdb"
    settings = Settings(raw_dir=raw, warehouse=warehouse)
    settings.export()
    instance = dg.DagsterInstance.ephemeral()
    result = (
        build_definitions(settings)
        .resolve_job_def(NIGHTLY_JOB)
        .execute_in_process(instance=instance, partition_key="2025-05-31", raise_on_error=False)
    )
    assert result.success
    got = query(
        warehouse,
        "select table_name, source_file, line, column_name, value, row_key, effect "
        "from quarantine order by table_name, line nulls last",
    )
    assert got == [
        ("ads_daily", "2025-04-01_more.csv", 3, "spend", "1e15", None, "row not loaded"),
        (
            "ads_daily",
            "2025-04-01_more.csv",
            None,
            "currency",
            "PLN",
            "date=2025-04-01, platform=google_ads, account_id=a9, campaign_id=pln",
            "spend not converted (left out of spend and CAC)",
        ),
        ("crm_deals", "deals-late.csv", 2, "status", "Pending", None, "row not loaded"),
        (
            "crm_deals",
            "deals-late.csv",
            3,
            "closed_at",
            "2025-04-01T10:00:00Z",
            None,
            "row not loaded",
        ),
        (
            "web_events",
            "events-typo.csv",
            2,
            "event_timestamp",
            "2205-04-01T10:00:00Z",
            None,
            "row not loaded",
        ),
    ]
    # the PLN day's clicks count, its money does not; the absurd row is not there at all
    assert query(
        warehouse,
        "select sum(clicks), sum(spend_reporting) from intermediate.int_ads_daily "
        "where account_id = 'a9'",
    ) == [(1, None)]
    # the run log (Dagster's event log, what the UI shows) says so, and so does the summary
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("quarantined 4 rows (ads_daily 1, web_events 1, crm_deals 2)" in m for m in logs)
    assert "quarantine: 5 input rows kept out of the numbers" in warehouse_summary(warehouse)
    # and the Dagster check on the quarantine asset warns (yellow), without failing the run
    checks = {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "assert_nothing_quarantined"
    }
    assert checks["assert_nothing_quarantined"].passed is False
    assert checks["assert_nothing_quarantined"].severity == dg.AssetCheckSeverity.WARN
