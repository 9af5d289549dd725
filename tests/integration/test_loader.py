"""Tests for dagster_project.ingest.loader: tiny landing folders in tmp_path, one case per rule."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.ingest.contract import META_COLUMNS, TABLES, metric_ids
from dagster_project.ingest.loader import load_raw
from dagster_project.ingest.night import landing_night
from dagster_project.ingest.problems import InputProblem, RawInputError
from dagster_project.settings import DBT_PROJECT_DIR, SettingsError, earliest_date
from tests.support.landing import LOADED_AT, OPTIONAL, VALID, landing, write
from tests.support.warehouse import another_process_holding


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def problems_of(raw: Path, warehouse: Path) -> list[InputProblem]:
    with pytest.raises(RawInputError) as info:
        load_raw(raw, warehouse, loaded_at=LOADED_AT)
    return info.value.problems


def only_problem(raw: Path, warehouse: Path) -> InputProblem:
    problems = problems_of(raw, warehouse)
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------------------------------------
# Happy path
# ---------------------------------------------------------------------------------------------


def test_valid_landing_loads_all_tables(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh" / "firewatch.duckdb"  # parent folder does not exist yet
    report = load_raw(raw, wh, loaded_at=LOADED_AT)

    assert report.row_counts["ads_daily"] == 2
    assert report.row_counts["web_events"] == 3
    assert report.files["ads_daily"] == ["part-001.csv"]
    assert sorted(report.missing_optional) == sorted(OPTIONAL)
    assert "ads_daily: 2 rows from 1 file" in report.summary()

    rows = query(
        wh,
        "SELECT date, platform, impressions, spend, reactions, _source_file, _file_index, "
        "_row_number, _loaded_at FROM raw.ads_daily ORDER BY _row_number",
    )
    assert rows[0] == (
        datetime(2025, 9, 1).date(),
        "google_ads",
        1000,
        12.5,
        None,
        "part-001.csv",
        0,
        1,
        LOADED_AT,
    )
    assert rows[1][3] == 30.0

    # Column order and types follow the contract, then the meta columns.
    cols = query(
        wh,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = 'ads_daily' ORDER BY ordinal_position",
    )
    expected = [c.name for c in TABLES["ads_daily"].columns] + list(META_COLUMNS)
    assert [c[0] for c in cols] == expected
    types = dict(cols)
    assert types["impressions"] == "BIGINT"
    assert types["spend"] == "DOUBLE"
    assert types["date"] == "DATE"
    assert types["_file_index"] == "INTEGER"

    # Empty event_id is allowed (web_events falls back to its natural key) and loads as NULL.
    assert query(wh, "SELECT count(*) FROM raw.web_events WHERE event_id IS NULL") == [(1,)]
    # A bare date in a timestamp column is midnight UTC.
    assert query(wh, "SELECT created_at FROM raw.crm_contacts WHERE contact_id = 'c2'") == [
        (datetime(2025, 9, 1),)
    ]


def test_optional_tables_missing_are_empty_with_full_schema(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    (raw / "targets").mkdir()  # an empty folder counts as missing too
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert set(report.missing_optional) == set(OPTIONAL)
    assert report.row_counts["fx_rates"] == 0
    assert query(wh, "SELECT count(*) FROM raw.fx_rates") == [(0,)]
    cols = query(
        wh,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'raw' AND table_name = 'social_posts' ORDER BY ordinal_position",
    )
    assert [c[0] for c in cols] == [c.name for c in TABLES["social_posts"].columns] + list(
        META_COLUMNS
    )


def test_integral_float_in_integer_column_loads(tmp_path: Path) -> None:
    text = VALID["ads_daily"].replace(",1000,50,", ",1372.0,1e2,")
    raw = landing(tmp_path, ads_daily=text)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    assert query(wh, "SELECT impressions, clicks FROM raw.ads_daily WHERE account_id = 'A1'") == [
        (1372, 100)
    ]


def test_offset_timestamp_is_converted_to_utc(tmp_path: Path) -> None:
    text = (
        "contact_id,created_at\n"
        "c1,2025-09-01T12:11:12+02:00\n"
        "c2,2025-09-01 10:11:12.123\n"
        "c3,2025-09-01T05:11:12-0500\n"
    )
    raw = landing(tmp_path, crm_contacts=text)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    rows = dict(query(wh, "SELECT contact_id, created_at FROM raw.crm_contacts"))
    assert rows == {
        "c1": datetime(2025, 9, 1, 10, 11, 12),
        "c2": datetime(2025, 9, 1, 10, 11, 12, 123000),
        "c3": datetime(2025, 9, 1, 10, 11, 12),
    }


def test_aware_loaded_at_is_stored_as_utc(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=datetime(2025, 9, 2, 8, 0, tzinfo=timezone(timedelta(hours=2))))
    assert query(wh, "SELECT DISTINCT _loaded_at FROM raw.crm_deals") == [(LOADED_AT,)]


def test_extra_columns_are_kept_as_varchar(tmp_path: Path) -> None:
    text = "contact_id,created_at,Region,score\nc1,2025-09-01,EMEA,7\nc2,2025-09-01,,8\n"
    raw = landing(tmp_path, crm_contacts=text)
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.extra_columns["crm_contacts"] == ["region", "score"]
    rows = query(wh, "SELECT contact_id, region, score FROM raw.crm_contacts ORDER BY contact_id")
    assert rows == [("c1", "EMEA", "7"), ("c2", None, "8")]
    cols = [
        c[0]
        for c in query(
            wh,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = 'crm_contacts' ORDER BY ordinal_position",
        )
    ]
    assert cols[-6:] == ["region", "score", *META_COLUMNS]


def test_two_files_both_kept_in_name_order_and_cross_file_duplicates_allowed(
    tmp_path: Path,
) -> None:
    raw = landing(tmp_path)
    # Same key (d1) restated in a later file: not an error, both rows kept for staging.
    write(
        raw,
        "crm_deals",
        "part-002.csv",
        "deal_id,contact_id,created_at,status,amount,currency,closed_at\n"
        "d1,c1,2025-09-03T10:00:00Z,won,1200,EUR,2025-09-05T10:00:00Z\n",
    )
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.files["crm_deals"] == ["part-001.csv", "part-002.csv"]
    rows = query(
        wh,
        "SELECT deal_id, status, amount, closed_at, _source_file, _file_index, _row_number "
        "FROM raw.crm_deals ORDER BY _file_index",
    )
    assert rows == [
        ("d1", "open", 1000.0, None, "part-001.csv", 0, 1),
        ("d1", "won", 1200.0, datetime(2025, 9, 5, 10), "part-002.csv", 1, 1),
    ]


def test_parquet_input_loads(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    (raw / "web_events" / "part-001.csv").unlink()
    table = pa.table(
        {
            "event_id": ["p1", "p2", None],
            "event_timestamp": pa.array(
                [
                    datetime(2025, 9, 1, 10, 0, tzinfo=UTC),
                    datetime(2025, 9, 1, 10, 1, tzinfo=UTC),
                    datetime(2025, 9, 1, 10, 2, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "event_name": ["session_start", "page_view", "page_view"],
            "user_pseudo_id": ["u1", "u1", "u2"],
            "session_id": ["s1", "s1", "s2"],
            "page_location": ["/", "/a", "/b"],
            "session_number": pa.array([1.0, 1.0, None], pa.float64()),  # pandas-style ints
            "engagement_time_msec": pa.array([None, 1500, 20], pa.int64()),
        }
    )
    pq.write_table(table, raw / "web_events" / "2025-09.parquet")
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.row_counts["web_events"] == 3
    rows = query(
        wh,
        "SELECT event_id, event_timestamp, session_number, engagement_time_msec, _row_number "
        "FROM raw.web_events ORDER BY _row_number",
    )
    assert rows == [
        ("p1", datetime(2025, 9, 1, 10, 0), 1, None, 1),
        ("p2", datetime(2025, 9, 1, 10, 1), 1, 1500, 2),
        (None, datetime(2025, 9, 1, 10, 2), None, 20, 3),
    ]


# ---------------------------------------------------------------------------------------------
# Errors: each names the file, the exact line and the column
# ---------------------------------------------------------------------------------------------


def test_missing_required_column(tmp_path: Path) -> None:
    text = "contact_id\nc1\n"
    raw = landing(tmp_path, crm_contacts=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert p.path == str(raw / "crm_contacts" / "part-001.csv")
    assert (p.line, p.column) == (1, "created_at")
    assert "missing required column" in p.message


def test_fractional_value_in_integer_column_is_rejected(tmp_path: Path) -> None:
    text = VALID["ads_daily"].replace(",2000,", ",1372.5,")
    raw = landing(tmp_path, ads_daily=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert p.path.endswith("ads_daily/part-001.csv")
    assert (p.line, p.column) == (3, "impressions")
    assert "not an integer" in p.message and "1372.5" in p.message


def test_unparsable_number_date_and_timestamp(tmp_path: Path) -> None:
    ads = (
        "date,platform,account_id,campaign_id,campaign_name,impressions,clicks,spend,currency\n"
        "2025-09-01,google_ads,A1,C1,Brand,1000,50,12.50,EUR\n"
        "2025/09/01,meta_ads,M1,C9,Retarget,2000,20,abc,EUR\n"
    )
    contacts = "contact_id,created_at\nc1,yesterday\n"
    raw = landing(tmp_path, ads_daily=ads, crm_contacts=contacts)
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    got = {(Path(p.path).parent.name, p.line, p.column) for p in problems}
    assert got == {
        ("ads_daily", 3, "date"),
        ("ads_daily", 3, "spend"),
        ("crm_contacts", 2, "created_at"),
    }
    by_col = {p.column: p for p in problems}
    assert "'2025/09/01'" in by_col["date"].message
    assert "not a number: 'abc'" in by_col["spend"].message
    assert "'yesterday'" in by_col["created_at"].message
    # The error text lists each problem on its own line, naming file, line and column.
    with pytest.raises(RawInputError) as info:
        load_raw(raw, tmp_path / "wh.duckdb")
    text = str(info.value)
    assert len(text.splitlines()) == 4
    assert f"{raw / 'ads_daily' / 'part-001.csv'}, line 3, column spend: not a number" in text


def test_negative_count_is_rejected(tmp_path: Path) -> None:
    text = VALID["ads_daily"].replace(",50,", ",-5,")
    raw = landing(tmp_path, ads_daily=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert (p.line, p.column) == (2, "clicks")
    assert "negative" in p.message and "-5" in p.message


def test_empty_required_and_key_values(tmp_path: Path) -> None:
    deals = (
        "deal_id,contact_id,created_at,status,amount,currency\n"
        "d1,c1,2025-09-03T10:00:00Z,open,1000,EUR\n"
        ",c1,2025-09-03T10:00:00Z,open,1000,EUR\n"
        "d3,c1,2025-09-03T10:00:00Z,,1000,EUR\n"
    )
    raw = landing(tmp_path, crm_deals=deals)
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    got = [(p.line, p.column, p.message) for p in problems]
    assert got == [
        (3, "deal_id", "empty value in key column"),
        (4, "status", "empty value in required column"),
    ]


def test_values_of_only_spaces_are_empty_and_others_are_not(tmp_path: Path) -> None:
    # What DuckDB's trim removes (spaces, a no-break space, an em space) makes a value empty;
    # a tab is not trimmed, and a value starting with a non-ASCII letter is kept.
    deals = (
        "deal_id,contact_id,created_at,status,amount,currency\n"
        "   ,c1,2025-09-03T10:00:00Z,open,1000,EUR\n"
        "d2,c1,2025-09-03T10:00:00Z,\u00a0\u2003 ,1000,EUR\n"
        "d3,\u00e9t\u00e9,2025-09-03T10:00:00Z,open,1000,EUR\n"
        "d4,\t,2025-09-03T10:00:00Z, open,1000,EUR\n"
    )
    raw = landing(tmp_path, crm_deals=deals)
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    got = [(p.line, p.column, p.message) for p in problems]
    assert got == [
        (2, "deal_id", "empty value in key column"),
        (3, "status", "empty value in required column"),
    ]


def test_empty_web_events_key_columns_rejected_but_event_id_may_be_empty(tmp_path: Path) -> None:
    text = (
        "event_id,event_timestamp,event_name,user_pseudo_id,session_id,page_location\n"
        ",2025-09-01T10:11:14Z,page_view,,s1,/a\n"
    )
    raw = landing(tmp_path, web_events=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert (p.line, p.column) == (2, "user_pseudo_id")


def test_duplicate_key_within_one_file(tmp_path: Path) -> None:
    text = VALID["ads_daily"] + "2025-09-01,google_ads,A1,C1,Brand again,5,1,1,EUR\n"
    raw = landing(tmp_path, ads_daily=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert p.line == 4
    assert p.column == "date, platform, account_id, campaign_id"
    assert "duplicate key" in p.message and "first on line 2" in p.message
    assert "campaign_id='C1'" in p.message


def test_duplicate_web_events_by_event_id_and_by_natural_key(tmp_path: Path) -> None:
    text = VALID["web_events"] + (
        "e1,2025-09-01T11:00:00Z,page_view,u2,s2,/z\n"  # same event_id as line 2
        ",2025-09-01T12:11:14+02:00,page_view,u1,s1,/b\n"  # same natural key as line 4
    )
    raw = landing(tmp_path, web_events=text)
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    got = [(p.line, p.column) for p in problems]
    assert got == [(5, "event_id"), (6, "user_pseudo_id, session_id, event_timestamp, event_name")]
    assert "first on line 2" in problems[0].message
    assert "first on line 4" in problems[1].message


def test_line_number_counts_newlines_inside_quoted_fields(tmp_path: Path) -> None:
    text = (
        "date,platform,account_id,campaign_id,campaign_name,impressions,clicks,spend,currency\n"
        '2025-09-01,google_ads,A1,C1,"Brand\nwith two\nline breaks",1000,50,12.50,EUR\n'
        "2025-09-01,meta_ads,M1,C9,Retarget,many,20,30,EUR\n"
    )
    raw = landing(tmp_path, ads_daily=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert (p.line, p.column) == (5, "impressions")
    assert "'many'" in p.message


def test_bad_csv_quoting_is_reported_with_file_and_line(tmp_path: Path) -> None:
    text = VALID["crm_contacts"] + 'c3,"2025-09-01\n'
    raw = landing(tmp_path, crm_contacts=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert p.path.endswith("crm_contacts/part-001.csv")
    assert p.line == 4
    assert "unreadable CSV" in p.message


def test_wrong_field_count_is_reported(tmp_path: Path) -> None:
    text = VALID["crm_contacts"] + "c3,2025-09-01,oops\n"
    raw = landing(tmp_path, crm_contacts=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert p.line == 4
    assert "3 fields where the header has 2" in p.message


def test_corrupt_parquet_is_reported(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"contact_id": ["c9"], "created_at": ["2025-09-01"]}), good)
    bad = raw / "crm_contacts" / "part-002.parquet"
    bad.write_bytes(good.read_bytes()[:-20])  # truncated: footer gone
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert p.path == str(bad)
    assert p.line is None
    assert "unreadable file" in p.message


def test_bad_parquet_value_is_reported_with_its_row(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    path = raw / "crm_deals" / "part-002.parquet"
    pq.write_table(
        pa.table(
            {
                "deal_id": ["d5", "d6", "d7"],
                "contact_id": ["c1", "c1", "c2"],
                "created_at": ["2025-09-03T10:00:00Z", "not a time", "2025-09-03"],
                "status": ["open", "open", "open"],
                "amount": pa.array([1.0, 2.0, -3.0], pa.float64()),
                "currency": ["EUR", "EUR", "EUR"],
            }
        ),
        path,
    )
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    assert [(p.path, p.line, p.column) for p in problems] == [
        (str(path), 2, "created_at"),
        (str(path), 3, "amount"),
    ]
    assert str(problems[0]).startswith(f"{path}, row 2, column created_at: ")
    assert "'not a time'" in problems[0].message


def test_missing_needed_table_and_all_problems_collected(tmp_path: Path) -> None:
    raw = landing(tmp_path, crm_contacts="contact_id,created_at\nc1,never\n")
    for f in (raw / "crm_deals").iterdir():
        f.unlink()
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    assert [(Path(p.path).name, p.line, p.column) for p in problems] == [
        ("part-001.csv", 2, "created_at"),
        ("crm_deals", None, None),
    ]
    assert "needed for a run" in problems[1].message


def test_problems_per_column_are_capped(tmp_path: Path) -> None:
    rows = "".join(f"c{i},bad{i}\n" for i in range(50))
    raw = landing(tmp_path, crm_contacts="contact_id,created_at\n" + rows)
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    assert len(problems) == 21
    assert problems[0].line == 2 and problems[19].line == 21
    assert problems[20].line is None and "30 more" in problems[20].message


def test_failed_load_leaves_previous_raw_tables_unchanged(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    before = query(wh, "SELECT * FROM raw.ads_daily ORDER BY _row_number")

    # New good data for one table, bad data for another: nothing may be written.
    write(raw, "crm_deals", "part-002.csv", VALID["crm_deals"].replace("d1,", "d2,"))
    write(raw, "ads_daily", "part-001.csv", VALID["ads_daily"].replace(",50,", ",x,"))
    with pytest.raises(RawInputError):
        load_raw(raw, wh, loaded_at=LOADED_AT + timedelta(days=1))

    assert query(wh, "SELECT * FROM raw.ads_daily ORDER BY _row_number") == before
    assert query(wh, "SELECT deal_id FROM raw.crm_deals") == [("d1",)]


def test_failed_first_load_does_not_create_warehouse(tmp_path: Path) -> None:
    raw = landing(tmp_path, crm_contacts="contact_id\nc1\n")
    wh = tmp_path / "wh.duckdb"
    with pytest.raises(RawInputError):
        load_raw(raw, wh)
    assert not wh.exists()


def test_reload_replaces_tables(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    write(raw, "crm_deals", "part-002.csv", VALID["crm_deals"].replace("d1,", "d2,"))
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.row_counts["crm_deals"] == 2
    assert query(wh, "SELECT deal_id FROM raw.crm_deals ORDER BY deal_id") == [("d1",), ("d2",)]


def test_bom_crlf_blank_lines_and_header_case(tmp_path: Path) -> None:
    text = "\ufeffContact_ID, Created_At \r\nc1,2025-09-01\r\n\r\nc2,2025-09-01\r\nc3,soon\r\n"
    raw = landing(tmp_path, crm_contacts=text)
    p = only_problem(raw, tmp_path / "wh.duckdb")
    assert (p.line, p.column) == (5, "created_at")


def test_error_while_writing_rolls_back_every_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster_project.ingest.write as writer

    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    write(raw, "ads_daily", "part-002.csv", VALID["ads_daily"])
    write(raw, "crm_deals", "part-002.csv", VALID["crm_deals"].replace("d1,", "d2,"))

    real = writer._insert_file

    def failing(con: duckdb.DuckDBPyConnection, plan: object, f: object, stamp: datetime) -> None:
        if plan.table.name == "crm_deals":  # type: ignore[attr-defined]
            raise OSError("disk full")
        real(con, plan, f, stamp)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_insert_file", failing)
    with pytest.raises(OSError, match="disk full"):
        load_raw(raw, wh, loaded_at=LOADED_AT)
    # ads_daily was already rewritten inside the transaction, and must be rolled back too.
    assert query(wh, "SELECT count(*) FROM raw.ads_daily") == [(2,)]
    assert query(wh, "SELECT deal_id FROM raw.crm_deals") == [("d1",)]


# --- incremental loads ---------------------------------------------------------------------

ADS_DAY_2 = (
    "date,platform,account_id,campaign_id,campaign_name,impressions,clicks,spend,currency,label\n"
    "2025-09-02,google_ads,A1,C1,Brand,900,45,11.00,EUR,x\n"
)


def test_new_file_is_appended_and_only_it_is_read(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    first = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert first.modes["ads_daily"] == "replace"
    write(raw, "ads_daily", "part-002.csv", ADS_DAY_2)
    later = datetime(2025, 9, 3, 6, 0, 0)
    report = load_raw(raw, wh, loaded_at=later)
    assert report.modes["ads_daily"] == "append"
    assert report.new_files["ads_daily"] == ["part-002.csv"]
    assert report.modes["crm_deals"] == "unchanged"
    assert report.row_counts["ads_daily"] == 3  # two loaded before, one new
    rows = query(
        wh,
        "SELECT _source_file, _file_index, _loaded_at, label FROM raw.ads_daily "
        "ORDER BY _file_index, _row_number",
    )
    # the old rows keep their load time; the new file continues the name order; its extra
    # column is added to the table (null for the rows of the older file)
    assert rows == [
        ("part-001.csv", 0, LOADED_AT, None),
        ("part-001.csv", 0, LOADED_AT, None),
        ("part-002.csv", 1, later, "x"),
    ]
    log = query(
        wh,
        "SELECT mode, new_files, new_rows FROM raw._load_log "
        "WHERE table_name = 'ads_daily' ORDER BY loaded_at",
    )
    assert log == [("replace", 1, 2), ("append", 1, 1)]


def test_a_changed_or_earlier_file_replaces_the_table(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    # rewriting an old file (new size) means the table is rebuilt from every file
    extra_day = "2025-09-02,google_ads,A1,C1,Brand,900,45,11.00,EUR\n"
    path = write(raw, "ads_daily", "part-001.csv", VALID["ads_daily"] + extra_day)
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.modes["ads_daily"] == "replace"
    assert query(wh, "SELECT count(*) FROM raw.ads_daily") == [(3,)]
    # a file that sorts before the loaded ones shifts the name order: replace as well
    write(raw, "ads_daily", "part-000.csv", ADS_DAY_2)
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.modes["ads_daily"] == "replace"
    assert query(wh, "SELECT _source_file, count(*) FROM raw.ads_daily GROUP BY 1 ORDER BY 1") == [
        ("part-000.csv", 1),
        ("part-001.csv", 3),
    ]
    assert path.exists()


def test_bad_new_file_leaves_the_warehouse_as_it_was(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    write(raw, "ads_daily", "part-002.csv", ADS_DAY_2.replace(",900,", ",-900,"))
    with pytest.raises(RawInputError) as caught:
        load_raw(raw, wh, loaded_at=LOADED_AT)
    (problem,) = caught.value.problems
    assert (Path(problem.path).name, problem.line, problem.column) == (
        "part-002.csv",
        2,
        "impressions",
    )
    assert query(wh, "SELECT count(*) FROM raw.ads_daily") == [(2,)]
    assert query(wh, "SELECT count(*) FROM raw._loaded_files WHERE table_name = 'ads_daily'") == [
        (1,)
    ]


def test_full_refresh_replaces_every_table(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    load_raw(raw, wh, loaded_at=LOADED_AT)
    report = load_raw(raw, wh, loaded_at=LOADED_AT, full_refresh=True)
    assert set(report.modes.values()) == {"replace"}
    assert query(wh, "SELECT count(*) FROM raw.ads_daily") == [(2,)]


def test_the_night_reads_crm_without_ads_or_web_and_ignores_the_future(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    # CRM only (ads and web header-only, as in the Olist data): the last CRM day is the night
    write(raw, "ads_daily", "a.csv", VALID["ads_daily"].splitlines()[0] + "\n")
    write(raw, "web_events", "w.csv", VALID["web_events"].splitlines()[0] + "\n")
    write(raw, "crm_contacts", "c.csv", "contact_id,created_at\nc1,2018-06-01\nc2,2018-06-03\n")
    write(raw, "crm_deals", "d.csv", VALID["crm_deals"].replace("2025-09-03", "2018-05-01"))
    assert landing_night(raw) == date(2018, 6, 3)
    # closed_at counts when the optional column is there
    deals = (
        VALID["crm_deals"]
        .replace("EUR\n", "EUR,2018-07-09\n")
        .replace("currency", "currency,closed_at")
    )
    write(raw, "crm_deals", "d.csv", deals)
    assert landing_night(raw) == date(2018, 7, 9)
    # a typo in the far future does not move the run there
    write(raw, "crm_contacts", "c.csv", "contact_id,created_at\nc1,2018-06-01\nc2,2081-06-03\n")
    assert landing_night(raw) == date(2018, 7, 9)


def test_a_stray_web_event_after_midnight_does_not_make_the_next_day_the_night(
    tmp_path: Path,
) -> None:
    """Ads and web end on 2025-09-01, the CRM has an MQL on 09-02 and web one event at
    00:00:33 on 09-02: the last day both ads and web have is 09-01, in the landing folder and in
    raw._run_night after the load (the old "last day of anything" rule said 09-02)."""
    raw = landing(tmp_path)
    write(
        raw,
        "web_events",
        "part-002.csv",
        VALID["web_events"].splitlines()[0]
        + "\nstray-1,2025-09-02T00:00:33Z,page_view,u9,s9,https://x.test/\n",
    )
    assert landing_night(raw) == date(2025, 9, 1)
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.night == date(2025, 9, 1)
    assert query(
        wh, "SELECT night, ads_last_day, web_last_day, crm_last_day FROM raw._run_night"
    ) == [(date(2025, 9, 1), date(2025, 9, 1), date(2025, 9, 2), date(2025, 9, 2))]


def test_a_client_holding_the_warehouse_is_waited_for_then_the_load_lands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BI tool opened on the warehouse itself (not on the BI copy) holds DuckDB's lock: the
    load waits up to FIREWATCH_LOCK_WAIT seconds, saying so, instead of failing the night."""
    raw = landing(tmp_path)
    wh = tmp_path / "firewatch.duckdb"
    duckdb.connect(str(wh)).close()
    monkeypatch.setenv("FIREWATCH_LOCK_WAIT", "0")
    with another_process_holding(wh), pytest.raises(duckdb.IOException, match="lock"):
        load_raw(raw, wh, loaded_at=LOADED_AT)
    assert query(wh, "select count(*) from information_schema.schemata where schema_name = 'raw'")[
        0
    ] == (0,)
    monkeypatch.setenv("FIREWATCH_LOCK_WAIT", "60")
    started = time.monotonic()
    with another_process_holding(wh, seconds=3) as pid:
        report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert time.monotonic() - started >= 2.5
    assert report.row_counts["ads_daily"] == 2
    assert query(wh, "select count(*) from raw.ads_daily") == [(2,)]
    err = capsys.readouterr().err
    assert "is busy (another process has it open: python" in err, err
    assert f", PID {pid}); waiting up to 60 s" in err, err
    assert err.count("is busy") == 1, err


# ---------------------------------------------------------------------------------------------
# Implausibly old dates, files the loader does not read, targets
# ---------------------------------------------------------------------------------------------


def test_dates_before_the_earliest_plausible_date_are_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREWATCH_EARLIEST_DATE", "2020-01-01")
    raw = landing(
        tmp_path,
        crm_contacts="contact_id,created_at\nc1,2025-09-01T10:00:00Z\nc2,1970-01-01T00:00:00\n",
        ads_daily=VALID["ads_daily"].replace("2025-09-01,meta_ads", "2013-03-03,meta_ads"),
    )
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT, today=date(2025, 9, 10))
    assert query(
        wh,
        "SELECT table_name, source_file, line, column_name, problem, value "
        "FROM raw._quarantine ORDER BY table_name",
    ) == [
        (
            "ads_daily",
            "part-001.csv",
            3,
            "date",
            "'2013-03-03' is before the earliest plausible date 2020-01-01",
            "2013-03-03",
        ),
        (
            "crm_contacts",
            "part-001.csv",
            3,
            "created_at",
            "'1970-01-01T00:00:00' is before the earliest plausible date 2020-01-01",
            "1970-01-01T00:00:00",
        ),
    ]
    assert report.quarantined["ads_daily"] == report.quarantined["crm_contacts"] == 1
    # the other rows load
    assert query(wh, "SELECT platform FROM raw.ads_daily") == [("google_ads",)]
    assert query(wh, "SELECT contact_id FROM raw.crm_contacts") == [("c1",)]
    assert query(wh, "SELECT count(*) FROM raw.web_events") == [(3,)]


def test_the_earliest_date_defaults_to_2000_and_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIREWATCH_EARLIEST_DATE", raising=False)
    assert earliest_date() == date(2000, 1, 1)
    monkeypatch.setenv("FIREWATCH_EARLIEST_DATE", " 2019-06-30 ")
    assert earliest_date() == date(2019, 6, 30)
    for bad in ("2020-13-01", "20200101", "last year"):
        monkeypatch.setenv("FIREWATCH_EARLIEST_DATE", bad)
        with pytest.raises(SettingsError, match=f"FIREWATCH_EARLIEST_DATE='{bad}' is not a date"):
            load_raw(landing(tmp_path), tmp_path / "wh.duckdb", loaded_at=LOADED_AT)
    assert not (tmp_path / "wh.duckdb").exists()


def test_gzipped_csv_loads_the_same_rows_as_the_csv(tmp_path: Path) -> None:
    deals = (
        "deal_id,contact_id,created_at,status,amount,currency,lost_reason\n"
        'd1,c1,2025-09-03T10:00:00Z,lost,1000.00,EUR,"price\ntoo high"\n'
        "d2,c1,2025-09-03,open,5,EUR,\n"
        "d3,c1,2025-09-04,maybe,7,EUR,\n"
    )
    plain = landing(tmp_path / "plain", crm_deals=deals)
    zipped = landing(tmp_path / "zipped", crm_deals=deals)
    for table in VALID:
        path = zipped / table / "part-001.csv"
        (zipped / table / "part-001.csv.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    reports = {}
    for name, raw in (("plain", plain), ("zipped", zipped)):
        reports[name] = load_raw(raw, tmp_path / f"{name}.duckdb", loaded_at=LOADED_AT)
    assert reports["plain"].row_counts == reports["zipped"].row_counts
    assert reports["zipped"].files["crm_deals"] == ["part-001.csv.gz"]
    for table in VALID:
        sql = f"SELECT * EXCLUDE (_source_file) FROM raw.{table} ORDER BY _row_number"
        assert query(tmp_path / "plain.duckdb", sql) == query(tmp_path / "zipped.duckdb", sql)
    quarantine = "SELECT source_file, line, column_name, problem FROM raw._quarantine"
    assert query(tmp_path / "zipped.duckdb", quarantine) == [
        ("part-001.csv.gz", 5, "status", "unknown value 'maybe' (allowed: open, won, lost)")
    ]
    assert [r[1:] for r in query(tmp_path / "plain.duckdb", quarantine)] == [
        r[1:] for r in query(tmp_path / "zipped.duckdb", quarantine)
    ]
    # a second load sees the .gz unchanged and reads nothing
    again = load_raw(zipped, tmp_path / "zipped.duckdb", loaded_at=LOADED_AT)
    assert {again.modes[t] for t in VALID} == {"unchanged"}


def test_files_the_loader_does_not_read_are_named_on_the_report(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    (raw / "ads_daily" / "notes.txt").write_text("ask Ana about March\n", encoding="utf-8")
    (raw / "ads_daily" / "x.csv").mkdir()
    write(raw / "ads_daily", "x.csv", "inner.csv", VALID["ads_daily"])
    (raw / "crm_deals" / "part-002.xlsx").write_bytes(b"PK\x03\x04")
    (raw / "crm_deals" / ".DS_Store").write_bytes(b"\x00")  # hidden: not data, not named
    wh = tmp_path / "wh.duckdb"
    report = load_raw(raw, wh, loaded_at=LOADED_AT)
    assert report.ignored == ["ads_daily/notes.txt", "ads_daily/x.csv/", "crm_deals/part-002.xlsx"]
    assert report.files["ads_daily"] == ["part-001.csv"]
    assert query(wh, "SELECT count(*) FROM raw.ads_daily") == [(2,)]
    assert query(wh, "SELECT DISTINCT file_name FROM raw._loaded_files ORDER BY 1") == [
        ("part-001.csv",)
    ]


def test_a_folder_of_only_unread_files_is_empty_and_names_them(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    (raw / "crm_deals" / "part-001.csv").rename(raw / "crm_deals" / "part-001.txt")
    problem = only_problem(raw, tmp_path / "wh.duckdb")
    assert problem.message == (
        "folder is empty (no .csv, .csv.gz or .parquet files); table is needed for a run"
    )


def test_metric_ids_are_read_from_the_dbt_catalog() -> None:
    ids = metric_ids()
    assert len(ids) == 34
    assert {"spend", "leads", "mql", "sql", "revenue", "cac", "posts_published"} <= ids
    macro = (DBT_PROJECT_DIR / "macros" / "metric_definitions.sql").read_text(encoding="utf-8")
    assert len(ids) == macro.count("'id':")  # every entry found, none twice


def test_targets_period_and_metric_are_checked(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    write(
        raw,
        "targets",
        "t.csv",
        "period_start,metric,value,channel\n"
        "2025-09-01,leads,40,\n"
        "2025-09-30,mql,9,\n"
        "2025-10-01,Sessions,900,\n"
        "2025-10-01,signups,4,\n"
        "2025-11-01,,4,\n",
    )
    problems = problems_of(raw, tmp_path / "wh.duckdb")
    folder = raw / "targets" / "t.csv"
    assert [(p.path, p.line, p.column, p.message) for p in problems] == [
        (str(folder), 3, "period_start", "not the first day of a month: '2025-09-30'"),
        (
            str(folder),
            5,
            "metric",
            "unknown metric id 'signups' (the ids are those of "
            "dbt_project/macros/metric_definitions.sql)",
        ),
        (str(folder), 6, "metric", "empty value in key column"),
    ]


def test_a_blank_first_line_before_the_header_is_named(tmp_path: Path) -> None:
    raw = landing(tmp_path, crm_contacts="\n" + VALID["crm_contacts"])
    problem = only_problem(raw, tmp_path / "wh.duckdb")
    assert (problem.line, problem.column, problem.message) == (
        1,
        None,
        "header row is blank (it must be the first line)",
    )


def test_the_night_from_parquet_statistics_without_reading_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ads end on 2025-09-01, typed web events in Parquet on 08-31: the night is 08-31, read
    from the files' row-group statistics (no row of web_events read). A far-future typo in
    another file makes the statistics say 2081: then the rows are read, and the typo is set
    aside as in CSV."""
    from dagster_project.ingest import night

    raw = landing(tmp_path)
    (raw / "web_events" / "part-001.csv").unlink()

    def events(day: datetime) -> pa.Table:
        return pa.table(
            {
                "event_id": [f"e{day:%Y%m%d}"],
                "event_timestamp": pa.array([day], pa.timestamp("ms")),
                "event_name": ["page_view"],
                "user_pseudo_id": ["u1"],
                "session_id": ["s1"],
                "page_location": ["/"],
            }
        )

    read: list[str] = []
    scan = night._latest

    def recording(con, source, column, *rest):  # noqa: ANN001, ANN202
        read.append(source)
        return scan(con, source, column, *rest)

    monkeypatch.setattr(night, "_latest", recording)
    pq.write_table(events(datetime(2025, 8, 30, 9)), raw / "web_events" / "2025-08-a.parquet")
    pq.write_table(events(datetime(2025, 8, 31, 23, 59)), raw / "web_events" / "2025-08-b.parquet")
    assert landing_night(raw) == date(2025, 8, 31)
    assert not [source for source in read if "web_events" in source]

    pq.write_table(events(datetime(2081, 6, 3)), raw / "web_events" / "2025-09.parquet")
    assert landing_night(raw) == date(2025, 8, 31)
    assert [source for source in read if "web_events" in source]
