"""Tests of the sample-data generator: contract shape, determinism, realism conventions the
models rely on, and that each scenario moves its leading metric by its magnitude after onset."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from dagster_project.generate import (
    DEFAULT_END_DATE,
    SCENARIO_NAMES,
    ScenarioSpec,
    generate,
    parse_scenario,
    register,
)
from dagster_project.ingest.contract import TABLES

END = DEFAULT_END_DATE
ONSET = END - timedelta(days=35)
SEED = 11
# One scenario per channel (two on linkedin and paid_search, acting on different metrics), so
# their effects do not overlap and one run tests them all.
SCENARIOS = [
    "engagement_up_quality_down",  # paid_social by default
    "clicks_up_nobody_stays:organic_search",
    "traffic_up_returning_down:direct",
    "leads_up_quality_down:paid_search::0.8",
    "spend_up_revenue_flat:paid_search",
    "reach_up_sales_flat:linkedin",
    "engagement_up_cac_up:linkedin",
]

# Channel grouping from GA4 source/medium, as the channel-grouping model is expected to do it.
CHANNEL_SQL = """
case
  when medium = 'cpc' then 'paid_search'
  when medium = 'paid_social' and source = 'linkedin' then 'linkedin'
  when medium = 'paid_social' then 'paid_social'
  when medium = 'email' then 'email'
  when medium = 'organic' then 'organic_search'
  when medium = 'social' then 'organic_social'
  when medium = 'referral' then 'referral'
  else 'direct'
end"""


def _read_text(folder: Path) -> pa.Table:
    """All CSV files of a table folder as text columns, plus the file name of each row."""
    parts = []
    for f in sorted(folder.glob("*.csv")):
        with f.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        options = pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True
        )
        t = pacsv.read_csv(f, convert_options=options)
        parts.append(t.append_column("filename", pa.array([f.name] * t.num_rows, pa.string())))
    return pa.concat_tables(parts)


def _con(out: Path) -> duckdb.DuckDBPyConnection:
    """One generated landing folder as DuckDB tables of text (cast where needed)."""
    con = duckdb.connect()
    for table in TABLES:
        # Arrow reads the CSVs ~3x faster than DuckDB's reader, and DuckDB scans Arrow in place.
        con.register(table, _read_text(out / "raw" / table))
    con.execute(
        f"""create table sessions as
        select session_id,
               min(event_timestamp::timestamp)::date as d,
               any_value({CHANNEL_SQL}) as channel,
               max(session_number::int) as session_number,
               sum(coalesce(engagement_time_msec::bigint, 0)) as engagement_ms,
               count(*) filter (where event_name = 'page_view') as page_views,
               count(*) filter (where event_name = 'generate_lead') as leads,
               count(*) filter (where event_name in ('generate_lead', 'purchase')) as conversions
        from web_events group by session_id"""
    )
    con.execute(
        """create table ads as
        select date::date as d, platform, clicks::bigint as clicks,
               impressions::bigint as impressions, spend::double as spend,
               coalesce(reactions::bigint + comments::bigint + shares::bigint, 0) as engagements
        from ads_daily where filename like '%_export.csv'"""
    )
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    value = con.execute(sql).fetchone()[0]
    assert value is not None, sql
    return float(value)


def _files(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def null_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("null")
    return out, generate(out, seed=SEED, scenarios=[parse_scenario("null", END)])


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("scenarios")
    specs = [parse_scenario(s, END) for s in SCENARIOS]
    return out, generate(out, seed=SEED, scenarios=specs)


@pytest.fixture(scope="module")
def null_con(null_run: tuple[Path, dict]) -> duckdb.DuckDBPyConnection:
    return _con(null_run[0])


@pytest.fixture(scope="module")
def scenario_con(scenario_run: tuple[Path, dict]) -> duckdb.DuckDBPyConnection:
    return _con(scenario_run[0])


# --- shape and determinism ----------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(null_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, truth = null_run
    again = generate(tmp_path, seed=SEED, scenarios=[ScenarioSpec("null")])
    assert _files(tmp_path) == _files(out)
    assert again == truth
    assert len(_files(out)) == sum(len(f) for f in truth["files"].values()) + 1


def test_every_contract_table_and_column_is_written(null_run: tuple[Path, dict]) -> None:
    out, truth = null_run
    assert (out / "ground_truth.json").is_file() and not (
        out / "raw" / "ground_truth.json"
    ).exists()
    for name, table in TABLES.items():
        files = sorted((out / "raw" / name).glob("*.csv"))
        assert [f.name for f in files] == truth["files"][name], name
        for f in files:
            with f.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle))
            assert header == [c.name for c in table.columns], f
        assert truth["row_counts"][name] > 0, name


def test_row_counts_match_files_and_profile(
    null_run: tuple[Path, dict], null_con: duckdb.DuckDBPyConnection
) -> None:
    _, truth = null_run
    for name in TABLES:
        assert _one(null_con, f"select count(*) from {name}") == truth["row_counts"][name], name
    assert truth["profile"] == "small" and truth["days"] == 182
    assert (truth["start_date"], truth["end_date"]) == ("2025-03-31", "2025-09-28")
    sessions_per_day = truth["totals"]["sessions"] / truth["days"]
    assert 600 < sessions_per_day < 800
    events_per_session = truth["row_counts"]["web_events"] / truth["totals"]["sessions"]
    assert 3.0 < events_per_session < 4.0


def test_values_have_contract_types_and_no_negative_counts(
    null_con: duckdb.DuckDBPyConnection,
) -> None:
    casts = {"integer": "bigint", "number": "double", "date": "date", "timestamp": "timestamptz"}
    for name, table in TABLES.items():
        for col in table.columns:
            if col.type == "string":
                continue
            c = col.name
            bad = _one(
                null_con,
                f"select count(*) from {name} where {c} is not null "
                f"and try_cast({c} as {casts[col.type]}) is null",
            )
            assert bad == 0, f"{name}.{c} not {col.type}"
            if col.type == "date":
                pattern = r"\d{4}-\d{2}-\d{2}"
                wrong = f"select count(*) from {name} where not regexp_full_match({c}, '{pattern}')"
                assert _one(null_con, wrong) == 0, f"{name}.{c} not YYYY-MM-DD"
            if col.type == "integer":
                assert _one(null_con, f"select count(*) from {name} where {c} like '%.%'") == 0
            if col.non_negative:
                neg = _one(null_con, f"select count(*) from {name} where {c}::double < 0")
                assert neg == 0, f"{name}.{c} negative"
            if col.required:
                missing = _one(null_con, f"select count(*) from {name} where {c} is null")
                assert missing == 0, f"{name}.{c} empty"


def test_keys_are_unique_within_each_file(null_con: duckdb.DuckDBPyConnection) -> None:
    for name, table in TABLES.items():
        key = ", ".join(table.key)
        dup = _one(
            null_con,
            f"select count(*) from (select filename, {key} from {name} "
            f"group by filename, {key} having count(*) > 1)",
        )
        assert dup == 0, name


# --- realism conventions --------------------------------------------------------------------


def test_web_sessions_look_like_ga4(null_con: duckdb.DuckDBPyConnection) -> None:
    engaged = _one(
        null_con,
        "select avg((engagement_ms >= 10000 or page_views >= 2 or conversions > 0)::int) "
        "from sessions",
    )
    assert 0.55 <= engaged <= 0.65
    returning = _one(null_con, "select avg((session_number > 1)::int) from sessions")
    assert 0.25 <= returning <= 0.35
    load = _one(
        null_con,
        "select median(page_load_ms::double) from web_events where event_name = 'page_view'",
    )
    assert 1500 < load < 2100
    # Source/medium/campaign are the same on every event of a session.
    mixed = _one(
        null_con,
        "select count(*) from (select session_id from web_events group by session_id "
        "having count(distinct (source, medium, campaign)) > 1)",
    )
    assert mixed == 0
    # gclid on every paid-search event, nowhere else.
    assert _one(null_con, "select count(*) from web_events where (medium = 'cpc') "
                "<> (gclid is not null)") == 0  # fmt: skip
    # B2B: weekend days carry clearly less traffic than working days.
    ratio = _one(
        null_con,
        "select avg(n) filter (where dayofweek(d) in (0, 6)) / "
        "avg(n) filter (where dayofweek(d) between 1 and 5) "
        "from (select d, count(*) n from sessions group by d)",
    )
    assert 0.4 < ratio < 0.75


def test_paid_sessions_follow_ad_clicks_of_the_same_utm_campaign(
    null_con: duckdb.DuckDBPyConnection,
) -> None:
    rows = null_con.execute(
        """select a.utm_campaign, a.platform, sum(a.clicks::bigint), s.n
        from ads_daily a join (select campaign, count(distinct session_id) n
                               from web_events group by campaign) s on s.campaign = a.utm_campaign
        where a.filename like '%_export.csv' group by all"""
    ).fetchall()
    assert {r[1] for r in rows} == {"google_ads", "meta_ads", "linkedin_ads", "email"}
    for campaign, _, clicks, sessions in rows:
        assert 0.7 <= sessions / clicks <= 0.9, campaign
    brand = [r[0] for r in rows if r[1] == "google_ads" and "brand" in r[0]]
    assert len(brand) == 1 and len([r for r in rows if r[1] == "google_ads"]) >= 2
    currencies = dict(
        null_con.execute("select distinct platform, currency from ads_daily").fetchall()
    )
    assert currencies == {
        "google_ads": "USD",
        "meta_ads": "USD",
        "linkedin_ads": "EUR",
        "email": "USD",
    }


def test_restatement_file_sorts_last_and_changes_recent_days(
    null_run: tuple[Path, dict], null_con: duckdb.DuckDBPyConnection
) -> None:
    out, truth = null_run
    names = sorted(p.name for p in (out / "raw" / "ads_daily").iterdir())
    assert names[-1] == truth["restatement"]["file"] and len(names) == 2
    rows = null_con.execute(
        """select r.platform, min(r.date), max(r.date), count(*),
                  sum(m.clicks::bigint), sum(r.clicks::bigint),
                  sum(m.spend::double), sum(r.spend::double)
        from ads_daily r join ads_daily m
          on (m.date, m.platform, m.account_id, m.campaign_id)
           = (r.date, r.platform, r.account_id, r.campaign_id)
        where r.filename like '%zrestatement%' and m.filename like '%_export.csv'
        group by r.platform"""
    ).fetchall()
    assert 1 <= len(rows) <= 2
    for _, first, last, _, clicks_before, clicks_after, spend_before, spend_after in rows:
        assert (first, last) == ("2025-09-22", "2025-09-28")
        assert clicks_after < clicks_before and spend_after != spend_before
    # The ground-truth spend is the later file's rows (in USD), not the first export's.
    spend = _one(
        null_con,
        """with ranked as (
             select *, row_number() over (partition by date, platform, account_id, campaign_id
                                          order by filename desc) as rn from ads_daily)
           select sum(spend::double * case when r.currency = 'EUR' then f.rate_to_reporting::double
                                           else 1 end)
           from ranked r left join fx_rates f on f.date = r.date and f.currency = r.currency
           where rn = 1""",
    )
    assert spend == pytest.approx(truth["totals"]["ads_spend_usd"], abs=0.05)


def test_social_counters_are_lifetime_totals(null_con: duckdb.DuckDBPyConnection) -> None:
    down = _one(
        null_con,
        """select count(*) from (
             select impressions::int - lag(impressions::int) over w as di,
                    reactions::int - lag(reactions::int) over w as dr,
                    comments::int - lag(comments::int) over w as dc,
                    shares::int - lag(shares::int) over w as ds,
                    replies::int - lag(replies::int) over w as dp
             from social_posts window w as (partition by platform, post_id order by snapshot_date))
           where di < 0 or dr < 0 or dc < 0 or ds < 0 or dp < 0""",
    )
    assert down == 0
    per_post = _one(
        null_con, "select max(n) from (select count(*) n from social_posts group by post_id)"
    )
    assert per_post == 14
    per_week = _one(
        null_con,
        "select avg(n) from (select date_trunc('week', published_at::timestamp) w, "
        "count(distinct post_id) n from social_posts group by w)",
    )
    assert 2 <= per_week <= 5


def test_lifecycle_stages_only_move_forward(null_con: duckdb.DuckDBPyConnection) -> None:
    null_con.execute(
        """create or replace temp view stages as
        pivot (select contact_id, stage, entered_at::timestamp t from crm_lifecycle_events)
        on stage in ('lead', 'mql', 'sql', 'opportunity', 'customer') using min(t)
        group by contact_id"""
    )
    bad = _one(
        null_con,
        """select count(*) from stages where lead is null
           or mql < lead or sql < lead or sql < mql or opportunity < sql or customer < opportunity
           or (customer is not null and sql is null)""",
    )
    assert bad == 0
    # Every contact has its lead stage at created_at.
    assert (
        _one(
            null_con,
            "select count(*) from crm_contacts c join stages s using (contact_id) "
            "where s.lead <> c.created_at::timestamp",
        )
        == 0
    )
    assert _one(null_con, "select count(*) from crm_contacts") == _one(
        null_con, "select count(*) from stages"
    )
    lag = _one(null_con, "select median(epoch(sql - lead) / 86400) from stages")
    assert 9 < lag < 20
    long_tail = _one(null_con, "select avg((epoch(sql - lead) / 86400 > 60)::int) from stages "
                     "where sql is not null")  # fmt: skip
    assert 0.02 < long_tail < 0.15
    # Customers are exactly the won deals, at their closing time.
    won = "select contact_id, closed_at::timestamp from crm_deals where status = 'won'"
    customers = "select contact_id, customer from stages where customer is not null"
    assert _one(null_con, f"select count(*) from ({won} except {customers})") == 0
    assert _one(null_con, f"select count(*) from ({customers} except {won})") == 0
    assert _one(null_con, f"select count(*) from ({won})") > 100


def test_contacts_come_from_lead_events_or_offline(
    null_run: tuple[Path, dict], null_con: duckdb.DuckDBPyConnection
) -> None:
    _, truth = null_run
    joined = null_con.execute(
        """select count(*), count(c.contact_id),
                  count(*) filter (where c.created_at::timestamp = e.event_timestamp::timestamp),
                  count(*) filter (where e.medium = 'cpc' and c.gclid is null)
        from web_events e left join crm_contacts c using (contact_id)
        where e.event_name = 'generate_lead'"""
    ).fetchone()
    assert joined[0] == joined[1] == joined[2] and joined[3] == 0
    window = f"created_at::timestamp >= '{truth['start_date']}'"
    offline = _one(
        null_con,
        f"select avg((lead_source <> 'web')::int) from crm_contacts where {window}",
    )
    assert 0.10 < offline < 0.20
    assert (
        _one(
            null_con,
            f"select count(*) from crm_contacts where {window} and lead_source <> 'web' "
            "and (first_touch_source is null or first_touch_medium is null)",
        )
        == 0
    )
    web_leads = _one(null_con, "select count(*) from web_events where event_name = 'generate_lead'")
    assert web_leads == truth["totals"]["leads_by_lead_source"]["web"]
    assert sum(truth["totals"]["leads_by_channel"].values()) == truth["totals"]["leads"]
    ever = truth["totals"]["crm_lead_to_sql_rate_by_channel_ever"]
    assert ever["linkedin"] > ever["paid_social"] and ever["paid_search"] > ever["paid_social"]


def test_deals_fx_and_targets(
    null_run: tuple[Path, dict], null_con: duckdb.DuckDBPyConnection
) -> None:
    _, truth = null_run
    eur = _one(null_con, "select avg((currency = 'EUR')::int) from crm_deals")
    assert 0.2 < eur < 0.4
    assert (
        _one(
            null_con,
            "select count(*) from crm_deals where (status in ('won', 'lost')) "
            "<> (closed_at is not null) or closed_at::timestamp <= created_at::timestamp",
        )
        == 0
    )
    days = date.fromisoformat(truth["end_date"]) - date.fromisoformat(truth["crm_history_start"])
    assert _one(null_con, "select count(distinct date) from fx_rates") == days.days + 1
    assert _one(null_con, "select min(rate_to_reporting::double) from fx_rates") >= 1.05
    assert _one(null_con, "select max(rate_to_reporting::double) from fx_rates") <= 1.15
    targets = null_con.execute(
        "select metric, coalesce(channel, ''), count(*), min(period_start), "
        "count(*) filter (where currency = 'USD') from targets group by all order by all"
    ).fetchall()
    assert [(t[0], t[1]) for t in targets] == [
        ("leads", ""), ("leads", "linkedin"), ("leads", "paid_search"), ("revenue", ""), ("sql", "")
    ]  # fmt: skip
    assert all(t[2] == 7 and t[3] == "2025-03-01" for t in targets)
    assert targets[3][4] == 7  # revenue targets are in USD
    inbound = _one(
        null_con,
        "select median(response_minutes::double) from crm_activities where direction = 'inbound'",
    )
    assert 60 < inbound < 130


# --- scenarios ----------------------------------------------------------------------------


def test_null_run_has_no_scenario(null_run: tuple[Path, dict]) -> None:
    out, truth = null_run
    assert truth["scenarios"] == []
    assert json.loads((out / "ground_truth.json").read_text())["scenarios"] == []


def test_ground_truth_labels_each_scenario(scenario_run: tuple[Path, dict]) -> None:
    _, truth = scenario_run
    got = {(s["name"], s["channel"]): s for s in truth["scenarios"]}
    assert len(got) == len(SCENARIOS)
    first = got[("engagement_up_quality_down", "paid_social")]
    assert (first["onset"], first["magnitude"]) == (ONSET.isoformat(), 0.4)
    assert (first["leading_metric"], first["outcome_metric"]) == (
        "ad_engagements",
        "lead_to_sql_rate",
    )
    assert (first["leading_direction"], first["outcome_direction"]) == ("up", "down")
    assert first["expected_leading_change"] == 0.4 and first["expected_outcome_change"] == -0.4
    leads = got[("leads_up_quality_down", "paid_search")]
    assert leads["magnitude"] == 0.8 and leads["expected_leading_change"] == 0.8
    assert got[("spend_up_revenue_flat", "paid_search")]["outcome_direction"] == "flat"
    assert (
        got[("traffic_up_returning_down", "direct")]["outcome_metric"] == "returning_visitor_share"
    )


def _ratio(scen: duckdb.DuckDBPyConnection, null: duckdb.DuckDBPyConnection, sql: str) -> float:
    return _one(scen, sql) / _one(null, sql)


def test_scenarios_leave_the_time_before_onset_alone(
    scenario_con: duckdb.DuckDBPyConnection, null_con: duckdb.DuckDBPyConnection
) -> None:
    # Baseline draws come before scenario draws, so same seed => same sessions before onset.
    sql = (f"select list(n order by channel) from (select channel, count(*) n from sessions "
           f"where d < '{ONSET}' group by channel)")  # fmt: skip
    assert scenario_con.execute(sql).fetchone() == null_con.execute(sql).fetchone()
    clicks = f"select sum(clicks) from ads where d < '{ONSET}'"
    assert _one(scenario_con, clicks) == _one(null_con, clicks)


@pytest.mark.parametrize(
    ("what", "sql", "expected"),
    [
        ("paid_social ad engagements", "select sum(engagements) from ads "
         "where platform = 'meta_ads' and d >= '{onset}'", 1.4),
        ("organic_search sessions", "select count(*) from sessions "
         "where channel = 'organic_search' and d >= '{onset}'", 1.4),
        ("organic_search engaged rate", "select avg((engagement_ms >= 10000 or page_views >= 2 "
         "or conversions > 0)::int) from sessions where channel = 'organic_search' "
         "and d >= '{onset}'", 1 / 1.4),
        ("direct sessions", "select count(*) from sessions where channel = 'direct' "
         "and d >= '{onset}'", 1.4),
        ("direct returning share", "select avg((session_number > 1)::int) from sessions "
         "where channel = 'direct' and d >= '{onset}'", 1 / 1.4),
        ("paid_search leads", "select sum(leads) from sessions where channel = 'paid_search' "
         "and d >= '{onset}'", 1.8),
        ("google spend", "select sum(spend) from ads where platform = 'google_ads' "
         "and d >= '{onset}'", 1.4),
        ("google clicks (unchanged)", "select sum(clicks) from ads where platform = 'google_ads' "
         "and d >= '{onset}'", 1.0),
        ("linkedin impressions", "select sum(impressions) from ads "
         "where platform = 'linkedin_ads' and d >= '{onset}'", 1.4),
        ("linkedin ad engagements", "select sum(engagements) from ads "
         "where platform = 'linkedin_ads' and d >= '{onset}'", 1.4),
        ("linkedin spend", "select sum(spend) from ads where platform = 'linkedin_ads' "
         "and d >= '{onset}'", 1.4),
        ("paid_social sessions (unchanged)", "select count(*) from sessions "
         "where channel = 'paid_social' and d >= '{onset}'", 1.0),
    ],
)  # fmt: skip
def test_scenario_moves_its_metric_after_onset(
    scenario_con: duckdb.DuckDBPyConnection,
    null_con: duckdb.DuckDBPyConnection,
    what: str,
    sql: str,
    expected: float,
) -> None:
    ratio = _ratio(scenario_con, null_con, sql.format(onset=ONSET))
    tolerance = 0.25 if "leads" in what else 0.06  # ~130 leads vs thousands of sessions
    assert ratio == pytest.approx(expected, abs=tolerance), what


def test_lead_quality_scenario_lowers_early_sql_rate(
    scenario_con: duckdb.DuckDBPyConnection, null_con: duckdb.DuckDBPyConnection
) -> None:
    # Cohorts compared at equal age: leads of the first 3 weeks after onset, SQL within 14 days.
    sql = f"""
        select avg((exists (select 1 from crm_lifecycle_events l where l.contact_id = e.contact_id
                             and l.stage = 'sql' and l.entered_at::timestamp
                             <= e.event_timestamp::timestamp + interval 14 day))::int)
        from web_events e
        where e.event_name = 'generate_lead' and e.medium = 'cpc'
          and e.event_timestamp::timestamp between '{ONSET}' and '{ONSET + timedelta(days=21)}'"""
    assert _ratio(scenario_con, null_con, sql) < 0.5  # expected 0.2 (quality x (1 - 0.8))


# --- scenario parsing and CLI ---------------------------------------------------------------


def test_parse_scenario_defaults_and_errors() -> None:
    spec = parse_scenario("reach_up_sales_flat", END)
    assert spec == ScenarioSpec("reach_up_sales_flat", "paid_social", ONSET, 0.4)
    full = parse_scenario("spend_up_revenue_flat:linkedin:2025-09-01:0.25", END)
    assert full == ScenarioSpec("spend_up_revenue_flat", "linkedin", date(2025, 9, 1), 0.25)
    assert len(SCENARIO_NAMES) == 8 and SCENARIO_NAMES[0] == "null"
    for bad in ("nope", "spend_up_revenue_flat:direct", "engagement_up_cac_up:paid_search",
                "null:paid_social:2025-13-01", "null:paid_social::-1", "null:mars"):  # fmt: skip
        with pytest.raises(ValueError):
            parse_scenario(bad, END)


def test_cli_generate_writes_and_summarises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="firewatch")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["generate", "--out", str(tmp_path), "--days", "40", "--seed", "3",
         "--scenario", "clicks_up_nobody_stays:email", "--format", "parquet"]
    )  # fmt: skip
    assert args.handler(args) == 0
    text = capsys.readouterr().out
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert f"web_events {truth['row_counts']['web_events']:,} rows" in text
    assert "clicks_up_nobody_stays on email" in text
    assert truth["days"] == 40 and truth["start_date"] == "2025-08-20"
    assert all(truth["formats"][t] == "parquet" for t in TABLES)
    assert sorted(p.name for p in (tmp_path / "raw" / "web_events").iterdir()) == [
        "2025-08.parquet", "2025-09.parquet"
    ]  # fmt: skip
    n = _one(duckdb.connect(), f"select count(*) from '{tmp_path}/raw/web_events/*.parquet'")
    assert n == truth["row_counts"]["web_events"]
    # A second run into the same folder replaces the old files instead of mixing with them.
    args = parser.parse_args(
        ["generate", "--out", str(tmp_path), "--days", "20", "--format", "csv"]
    )
    assert args.handler(args) == 0
    assert not list((tmp_path / "raw").rglob("*.parquet"))


def test_refuses_to_overwrite_data_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "raw" / "ads_daily").mkdir(parents=True)
    (tmp_path / "raw" / "ads_daily" / "real.csv").write_text("date\n2025-01-01\n")
    with pytest.raises(FileExistsError):
        generate(tmp_path, days=20)
    assert (tmp_path / "raw" / "ads_daily" / "real.csv").exists()
