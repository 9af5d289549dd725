"""The whole nightly job on generated `small` data, checked against pandas reading the raw files.

Every expected number here is recomputed from the landing folder with pandas, independently of
the SQL: restatements (later file wins), fx, sessions, returning visitors, cohorts, CAC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.generate import generate
from tests.support.notify import Webhook, serve_webhook
from tests.support.pipeline import run_pipeline
from tests.support.warehouse import metric, query

_IDS = ("account_id", "campaign_id", "contact_id", "deal_id", "user_pseudo_id", "session_id")


def _read(raw: Path, table: str) -> pd.DataFrame:
    files = sorted((raw / table).glob("*"))
    frames = []
    for index, path in enumerate(files):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            # ids stay text: "0042" and "42" are different campaigns
            frame = pd.read_csv(path, dtype=dict.fromkeys(_IDS, str))
        frame["_file_index"] = index
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("small")
    generate(out, profile="small", seed=7)
    warehouse = out / "firewatch.duckdb"
    assert run_pipeline(out / "raw", warehouse) == 0
    return out / "raw", warehouse


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601").dt.tz_localize(None)


def _to_usd(raw: Path, frame: pd.DataFrame, day: str, amount: str) -> pd.Series:
    """amount x the latest fx rate on or before the day (USD needs none), in frame's order."""
    fx = _read(raw, "fx_rates")
    fx["date"] = pd.to_datetime(fx["date"])
    keyed = frame.assign(_day=pd.to_datetime(frame[day]), _row=range(len(frame)))
    merged = pd.merge_asof(
        keyed.sort_values("_day"),
        fx.sort_values("date")[["date", "currency", "rate_to_reporting"]],
        left_on="_day",
        right_on="date",
        by="currency",
        direction="backward",
    ).sort_values("_row")
    merged.loc[merged["currency"] == "USD", "rate_to_reporting"] = 1.0
    assert merged["rate_to_reporting"].notna().all()
    return pd.Series((merged[amount] * merged["rate_to_reporting"]).to_numpy(), index=frame.index)


def _spend_usd(raw: Path) -> pd.DataFrame:
    ads = _read(raw, "ads_daily")
    key = ["date", "platform", "account_id", "campaign_id"]
    ads = ads.sort_values("_file_index").drop_duplicates(key, keep="last")
    ads["date"] = pd.to_datetime(ads["date"])
    return ads.assign(usd=_to_usd(raw, ads, "date", "spend"))


def test_restatement_is_in_the_raw_files(small: tuple[Path, Path]) -> None:
    raw, _ = small
    ads = _read(raw, "ads_daily")
    assert ads["_file_index"].max() >= 1  # a later file restates some days


def test_total_spend_matches_pandas(small: tuple[Path, Path]) -> None:
    raw, warehouse = small
    expected = _spend_usd(raw)["usd"].sum()
    got = query(
        warehouse,
        "select sum(value) from metric_series "
        "where metric_id = 'spend' and grain = 'day' and dimension = 'total'",
    )[0][0]
    assert got == pytest.approx(expected, rel=1e-9)


def test_sessions_and_returning_share_match_pandas(small: tuple[Path, Path]) -> None:
    raw, warehouse = small
    events = _read(raw, "web_events")
    events["ts"] = _utc(events["event_timestamp"])
    sessions = (
        events.groupby(["user_pseudo_id", "session_id"])
        .agg(start=("ts", "min"), number=("session_number", "max"))
        .reset_index()
    )
    assert (
        metric(warehouse, "sessions", "month", "2025-06-01")[2]
        == (sessions["start"].dt.to_period("M") == "2025-06").sum()
    )
    week = pd.Timestamp("2025-06-02")
    in_week = sessions[(sessions["start"] >= week) & (sessions["start"] < week + timedelta(7))]
    visitors = in_week["user_pseudo_id"].nunique()
    returning = in_week.loc[in_week["number"] > 1, "user_pseudo_id"].nunique()
    assert metric(warehouse, "returning_visitor_share", "week", "2025-06-02")[:3] == pytest.approx(
        (returning, visitors, returning / visitors)
    )


def test_metric_series_keeps_full_precision(small: tuple[Path, Path]) -> None:
    raw, warehouse = small
    types = query(
        warehouse,
        "select column_name, data_type from information_schema.columns "
        "where table_name = 'metric_series' and column_name in ('numerator', 'denominator', "
        "'value') order by 1",
    )
    assert types == [("denominator", "DOUBLE"), ("numerator", "DOUBLE"), ("value", "DOUBLE")]
    # July's won revenue to a millionth: a 32-bit float was 0.006 off at this size.
    deals = _read(raw, "crm_deals").sort_values("_file_index")
    won = deals.drop_duplicates("deal_id", keep="last").query("status == 'won'").copy()
    won["closed_day"] = _utc(won["closed_at"]).dt.normalize()
    won["usd"] = _to_usd(raw, won, "closed_day", "amount")
    july = won.loc[won["closed_day"].dt.to_period("M") == "2025-07", "usd"].sum()
    assert july > 100_000
    assert metric(warehouse, "revenue", "month", "2025-07-01")[0] == pytest.approx(july, abs=1e-6)


def _funnel(raw: Path) -> pd.DataFrame:
    contacts = _read(raw, "crm_contacts")
    contacts["created"] = _utc(contacts["created_at"])
    stages = _read(raw, "crm_lifecycle_events")
    stages["at"] = _utc(stages["entered_at"])
    deals = _read(raw, "crm_deals")
    won = deals[deals["status"] == "won"].assign(at=lambda d: _utc(d["closed_at"]))
    late = pd.concat(
        [
            stages[stages["stage"].isin(["sql", "opportunity", "customer"])][["contact_id", "at"]],
            won[["contact_id", "at"]],
        ]
    )
    customers = pd.concat(
        [stages[stages["stage"] == "customer"][["contact_id", "at"]], won[["contact_id", "at"]]]
    )
    contacts = contacts.merge(
        late.groupby("contact_id")["at"].min().rename("sql_at"), on="contact_id", how="left"
    ).merge(
        customers.groupby("contact_id")["at"].min().rename("customer_at"),
        on="contact_id",
        how="left",
    )
    return contacts


def test_cohort_sql_rate_matches_pandas(small: tuple[Path, Path]) -> None:
    raw, warehouse = small
    contacts = _funnel(raw)
    week = pd.Timestamp("2025-05-05")
    cohort = contacts[(contacts["created"] >= week) & (contacts["created"] < week + timedelta(7))]
    days = (cohort["sql_at"].dt.normalize() - cohort["created"].dt.normalize()).dt.days
    within = int((days <= 28).sum())
    num, den, value, mature = metric(warehouse, "lead_to_sql_rate", "week", "2025-05-05")
    assert (num, den) == (within, len(cohort))
    assert value == pytest.approx(within / len(cohort))
    assert mature is True
    assert 0.1 < value < 0.6


def test_cac_of_a_month_matches_pandas(small: tuple[Path, Path]) -> None:
    raw, warehouse = small
    spend = _spend_usd(raw)
    june_spend = spend.loc[spend["date"].dt.to_period("M") == "2025-06", "usd"].sum()
    contacts = _funnel(raw)
    june_customers = (contacts["customer_at"].dt.to_period("M") == "2025-06").sum()
    assert june_customers > 0
    assert metric(warehouse, "cac", "month", "2025-06-01")[:3] == pytest.approx(
        (june_spend, june_customers, june_spend / june_customers)
    )


def test_last_weeks_are_immature(small: tuple[Path, Path]) -> None:
    _, warehouse = small
    (as_of,) = query(warehouse, "select as_of_date from intermediate.int_run_context")[0]
    rows = query(
        warehouse,
        "select period_start, is_mature from metric_series where metric_id = 'lead_to_sql_rate' "
        "and grain = 'week' and dimension = 'total' order by period_start",
    )
    for start, mature in rows:
        # a week's 28-day window closes 28 days after its Sunday
        assert mature == (start + timedelta(days=6 + 28) <= as_of), start
    assert any(not m for _, m in rows) and any(m for _, m in rows)
    assert isinstance(as_of, date)


def test_null_data_raises_no_alert(small: tuple[Path, Path]) -> None:
    _, warehouse = small
    assert query(warehouse, "select count(*) from main.alerts") == [(0,)]
    assert query(warehouse, "select count(*) from main.decision_queue") == [(0,)]


@pytest.fixture(scope="module")
def owners_webhook() -> Iterator[Webhook]:
    """A local webhook the nightly runs of this module notify (FIREWATCH_WEBHOOK_URL)."""
    with serve_webhook() as hook, pytest.MonkeyPatch.context() as env:
        env.setenv("FIREWATCH_WEBHOOK_URL", hook.url)
        env.setenv("no_proxy", "127.0.0.1,localhost")
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield hook


@pytest.fixture(scope="module")
def clicks_scenario(tmp_path_factory: pytest.TempPathFactory, owners_webhook: Webhook) -> Path:
    from dagster_project.generate import parse_scenario
    from dagster_project.generate.core import DEFAULT_END_DATE

    out = tmp_path_factory.mktemp("clicks")
    spec = parse_scenario("clicks_up_nobody_stays:paid_search:2025-09-08", DEFAULT_END_DATE)
    generate(out, profile="small", seed=7, scenarios=[spec])
    warehouse = out / "firewatch.duckdb"
    assert run_pipeline(out / "raw", warehouse) == 0
    return warehouse


def test_the_night_tells_each_owner_once(clicks_scenario: Path, owners_webhook: Webhook) -> None:
    # as the nightly job left it: one webhook post per queue event, keyed like the log
    posted = [r["payload"] for r in owners_webhook.received]
    logged = query(
        clicks_scenario,
        "select event_key, kind, decision_id from firewatch_state.notification_log "
        "where ok order by event_key",
    )
    open_items = query(
        clicks_scenario, "select decision_id from main.decision_queue where status = 'open'"
    )
    assert open_items and len(posted) == len(logged)
    opened = sorted(d for _, kind, d in logged if kind == "opened")
    assert opened == sorted(d for (d,) in open_items)
    assert all(any(d in json.dumps(p) for p in posted) for d in opened)


def test_injected_divergence_fires_on_its_channel(clicks_scenario: Path) -> None:
    rows = query(
        clicks_scenario,
        "select dimension_value, leading_change, outcome_change, status from main.alerts "
        "where rule_id = 'sessions_up_nobody_stays'",
    )
    assert [r[0] for r in rows] == ["paid_search"]
    _, leading, outcome, status = rows[0]
    # 40% more sessions that do not engage: the engaged rate falls by about 1 - 1/1.4 = 29%
    assert 0.25 < leading < 0.6 and -0.4 < outcome < -0.15 and status == "active"
    queue = query(
        clicks_scenario,
        "select owner, status, due_at - opened_at from main.decision_queue "
        "where rule_id = 'sessions_up_nobody_stays'",
    )
    assert queue == [("web_analytics", "open", 7)]


def test_rerunning_the_same_night_changes_nothing(
    clicks_scenario: Path, owners_webhook: Webhook
) -> None:
    before = query(clicks_scenario, "select * from main.alerts order by alert_id")
    queue_before = query(clicks_scenario, "select * from main.decision_queue order by 1")
    posts_before = len(owners_webhook.received)
    raw = clicks_scenario.parent / "raw"
    assert run_pipeline(raw, clicks_scenario) == 0
    assert query(clicks_scenario, "select * from main.alerts order by alert_id") == before
    assert query(clicks_scenario, "select * from main.decision_queue order by 1") == queue_before
    assert len(owners_webhook.received) == posts_before  # nothing is sent twice


def test_backtest_says_when_the_alert_would_first_have_fired(
    clicks_scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from dagster_project.cli.main import main

    warehouse = tmp_path / "copy.duckdb"
    shutil.copy(clicks_scenario, warehouse)
    alerts_before = query(warehouse, "select * from main.alerts order by alert_id")
    assert (
        main(
            [
                "backtest",
                "--from",
                "2025-08-25",
                "--to",
                "2025-09-28",
                "--warehouse",
                str(warehouse),
            ]
        )
        == 0
    )
    assert "episode(s) written to backtest_alerts" in capsys.readouterr().out
    first = query(
        warehouse,
        "select min(first_detected_at) from main.backtest_alerts "
        "where rule_id = 'sessions_up_nobody_stays' and dimension_value = 'paid_search'",
    )[0][0]
    onset = date(2025, 9, 8)
    # fires once the first whole week after onset is in the window, within 14 days
    assert onset < first <= onset + timedelta(days=14)
    assert query(
        warehouse, "select count(*) from main.backtest_alerts where first_detected_at < ?", [onset]
    ) == [(0,)]
    assert query(warehouse, "select * from main.alerts order by alert_id") == alerts_before
    assert (
        main(
            [
                "backtest",
                "--from",
                "2025-09-28",
                "--to",
                "2025-09-01",
                "--warehouse",
                str(warehouse),
            ]
        )
        == 1
    )
    assert "is before --from" in capsys.readouterr().err
