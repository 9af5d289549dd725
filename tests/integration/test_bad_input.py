"""The bad-input matrix (issue 5): what each kind of messy marketing file does to a load.

Every case starts from the valid landing folder of tests/support/landing.py, breaks one thing in
one table, and states the outcome a person would see, written out by hand:

- ``error``: the load stops before the warehouse is opened, with exactly these problems
  (file, line, column, message), so the previous good state stays;
- ``quarantined``: the load goes on, the listed rows are not in ``raw.<table>`` but in
  ``raw._quarantine`` with file, line, column and reason (the dbt ``quarantine`` mart shows them);
- ``loaded``: the file is fine after all, and a check states what was loaded.

The end-to-end half (a bad night leaves the warehouse and the BI copy as they were; quarantined
rows reach the mart, the run log and the Dagster check) is tests/e2e/test_bad_input_nightly.py.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dagster_project.ingest.loader import load_raw
from dagster_project.ingest.problems import RawInputError
from tests.support.landing import LOADED_AT, VALID, landing, write

# "In the future" is measured from this day (the loader's `today`), so the cases do not age.
TODAY = date(2025, 9, 10)

ADS_HEADER = VALID["ads_daily"].splitlines()[0]
DEALS_HEADER = VALID["crm_deals"].splitlines()[0]
TARGETS_HEADER = "period_start,metric,value,channel"


def _csv(table: str, *rows: str, header: str | None = None) -> dict[str, str]:
    """A table's file: the valid header (or another) and these data rows."""
    head = header if header is not None else VALID[table].splitlines()[0]
    return {table: "\n".join([head, *rows]) + "\n"}


def _replace(table: str, old: str, new: str) -> dict[str, str]:
    assert old in VALID[table], old
    return {table: VALID[table].replace(old, new, 1)}


@dataclass(frozen=True)
class Case:
    id: str
    table: str
    files: dict[str, str] = field(default_factory=dict)  # table -> CSV text of part-001.csv
    prepare: Callable[[Path], None] | None = None  # anything CSV text cannot say
    # expected outcome
    errors: tuple[tuple[int | None, str | None, str], ...] = ()  # (line, column, message part)
    quarantined: tuple[tuple[int, str, str], ...] = ()  # (line, column, problem part)
    loaded: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    error_file: str = "part-001.csv"
    source_file: str = "part-001.csv"  # of the quarantined rows
    ignored: tuple[str, ...] = ()  # LoadReport.ignored: what the load did not read
    env: dict[str, str] = field(default_factory=dict)  # settings for this case


def _bytes(table: str, data: bytes) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        (raw / table / "part-001.csv").write_bytes(data)

    return prepare


def _truncated_parquet(table: str) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        csv_path = raw / table / "part-001.csv"
        frame = pacsv.read_csv(
            csv_path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
        )
        whole = raw / table / "part-001.parquet"
        pq.write_table(frame, whole)
        csv_path.unlink()
        data = whole.read_bytes()
        whole.write_bytes(data[: len(data) // 2])  # the export died half-way

    return prepare


def _gzip(table: str) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        csv_path = raw / table / "part-001.csv"
        (raw / table / "part-001.csv.gz").write_bytes(gzip.compress(csv_path.read_bytes()))
        csv_path.unlink()

    return prepare


def _stray(table: str) -> Callable[[Path], None]:
    """Things a person drops into a table folder that are not data files."""

    def prepare(raw: Path) -> None:
        (raw / table / "notes.txt").write_text("spend is in EUR\n", encoding="utf-8")
        (raw / table / "x.csv").mkdir()
        (raw / table / "x.csv" / "inner.csv").write_text(VALID[table], encoding="utf-8")
        (raw / table / ".~lock.part-001.csv#").write_text("", encoding="utf-8")  # hidden

    return prepare


def _remove(table: str) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        shutil.rmtree(raw / table)

    return prepare


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _expect(sql: str, rows: list[tuple]) -> Callable[[duckdb.DuckDBPyConnection], None]:
    def check(con: duckdb.DuckDBPyConnection) -> None:
        assert _rows(con, sql) == rows

    return check


CASES = [
    # --- a missing required column -------------------------------------------------------------
    Case(
        "ads_daily/missing-required-column",
        "ads_daily",
        _csv(
            "ads_daily",
            "2025-09-01,google_ads,A1,C1,Brand,1000,50,EUR",
            header="date,platform,account_id,campaign_id,campaign_name,impressions,clicks,currency",
        ),
        errors=((1, "spend", "missing required column"),),
    ),
    Case(
        "crm_deals/missing-required-column",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,1000.00,EUR",
            header="deal_id,contact_id,created_at,amount,currency",
        ),
        errors=((1, "status", "missing required column"),),
    ),
    Case(
        "web_events/missing-required-column",
        "web_events",
        _csv(
            "web_events",
            "e1,2025-09-01T10:11:12Z,session_start,u1,https://x.test/",
            header="event_id,event_timestamp,event_name,user_pseudo_id,page_location",
        ),
        errors=((1, "session_id", "missing required column"),),
    ),
    # --- unparsable dates and timestamps -------------------------------------------------------
    Case(
        "ads_daily/unparsable-date",
        "ads_daily",
        _replace("ads_daily", "2025-09-01,meta_ads", "2025-13-01,meta_ads"),
        errors=((3, "date", "not a date (expected YYYY-MM-DD): '2025-13-01'"),),
    ),
    Case(
        "web_events/unparsable-timestamp",
        "web_events",
        _replace("web_events", "2025-09-01T10:11:13Z", "yesterday 10am"),
        errors=((3, "event_timestamp", "not an ISO 8601 timestamp: 'yesterday 10am'"),),
    ),
    Case(
        "crm_contacts/day-first-date",
        "crm_contacts",
        _replace("crm_contacts", "c2,2025-09-01", "c2,01/09/2025"),
        errors=((3, "created_at", "not an ISO 8601 timestamp: '01/09/2025'"),),
    ),
    # --- a timestamp with an offset is converted, not rejected ---------------------------------
    Case(
        "crm_contacts/offset-timestamp",
        "crm_contacts",
        _replace("crm_contacts", "c1,2025-09-01T10:00:00Z", "c1,2025-09-01T12:00:00+02:00"),
        loaded=_expect(
            "select created_at from raw.crm_contacts where contact_id = 'c1'",
            [(datetime(2025, 9, 1, 10, 0),)],
        ),
    ),
    Case(
        "web_events/offset-timestamp",
        "web_events",
        _replace("web_events", "e1,2025-09-01T10:11:12Z", "e1,2025-09-01T05:11:12-05:00"),
        loaded=_expect(
            "select event_timestamp from raw.web_events where event_id = 'e1'",
            [(datetime(2025, 9, 1, 10, 11, 12),)],
        ),
    ),
    # --- negative counts and spend -------------------------------------------------------------
    Case(
        "ads_daily/negative-count",
        "ads_daily",
        _replace("ads_daily", "1000,50,12.50", "1000,-3,12.50"),
        errors=((2, "clicks", "negative value '-3' (must be >= 0)"),),
    ),
    Case(
        "ads_daily/negative-spend",
        "ads_daily",
        _replace("ads_daily", "2000,20,30,EUR", "2000,20,-30,EUR"),
        errors=((3, "spend", "negative value '-30' (must be >= 0)"),),
    ),
    Case(
        "crm_deals/negative-amount",
        "crm_deals",
        _replace("crm_deals", "open,1000.00", "open,-1000.00"),
        errors=((2, "amount", "negative value '-1000.00' (must be >= 0)"),),
    ),
    # --- non-numeric numbers -------------------------------------------------------------------
    Case(
        "ads_daily/decimal-comma",
        "ads_daily",
        _replace("ads_daily", "1000,50,12.50,EUR", '1000,50,"12,50",EUR'),
        errors=((2, "spend", "not a number: '12,50'"),),
    ),
    Case(
        "ads_daily/count-with-suffix",
        "ads_daily",
        _replace("ads_daily", "2000,20,30", "2k,20,30"),
        errors=((3, "impressions", "not an integer: '2k'"),),
    ),
    # --- a duplicate key inside one file -------------------------------------------------------
    Case(
        "crm_contacts/duplicate-key",
        "crm_contacts",
        _csv("crm_contacts", "c1,2025-09-01T10:00:00Z", "c2,2025-09-01", "c1,2025-09-02"),
        errors=((4, "contact_id", "duplicate key contact_id='c1' (first on line 2)"),),
    ),
    Case(
        "ads_daily/duplicate-key",
        "ads_daily",
        _csv(
            "ads_daily",
            "2025-09-01,google_ads,A1,C1,Brand,1000,50,12.50,EUR",
            "2025-09-01,google_ads,A1,C1,Brand again,900,40,10,EUR",
        ),
        errors=(
            (
                3,
                "date, platform, account_id, campaign_id",
                "duplicate key date=2025-09-01, platform='google_ads', account_id='A1', "
                "campaign_id='C1' (first on line 2)",
            ),
        ),
    ),
    # --- empty, header-only, BOM, delimiter, encoding ------------------------------------------
    Case(
        "ads_daily/empty-file",
        "ads_daily",
        {"ads_daily": ""},
        errors=((1, None, "file is empty (no header row)"),),
    ),
    Case(
        "crm_deals/header-only",
        "crm_deals",
        {"crm_deals": DEALS_HEADER + "\n"},
        loaded=_expect("select count(*) from raw.crm_deals", [(0,)]),
    ),
    Case(
        "ads_daily/utf8-bom",
        "ads_daily",
        {"ads_daily": "\ufeff" + VALID["ads_daily"]},
        loaded=_expect(
            "select date, spend from raw.ads_daily order by spend",
            [(date(2025, 9, 1), 12.5), (date(2025, 9, 1), 30.0)],
        ),
    ),
    Case(
        "ads_daily/semicolon-delimited",
        "ads_daily",
        {"ads_daily": VALID["ads_daily"].replace(",", ";")},
        errors=(
            (1, None, "the file is semicolon-separated; the contract needs comma-separated CSV"),
        ),
    ),
    Case(
        "crm_contacts/not-utf8",
        "crm_contacts",
        prepare=_bytes(
            "crm_contacts",
            "contact_id,created_at,lead_source\nc1,2025-09-01,Caf\xe9\n".encode("latin-1"),
        ),
        errors=((2, None, "not UTF-8"),),
    ),
    Case(
        "web_events/wrong-field-count",
        "web_events",
        _replace(
            "web_events",
            "e2,2025-09-01T10:11:13Z,page_view,u1,s1,",
            "e2,2025-09-01T10:11:13Z,page_view,u1,",
        ),
        errors=((3, None, "fields where the header has 6"),),
    ),
    Case(
        "ads_daily/truncated-parquet",
        "ads_daily",
        prepare=_truncated_parquet("ads_daily"),
        errors=((None, None, "unreadable file"),),
        error_file="part-001.parquet",
    ),
    Case(
        "crm_deals/truncated-parquet",
        "crm_deals",
        prepare=_truncated_parquet("crm_deals"),
        errors=((None, None, "unreadable file"),),
        error_file="part-001.parquet",
    ),
    # --- values that parse but do not belong ---------------------------------------------------
    Case(
        # the rate is missing, not the row: the load keeps it and dbt's `quarantine` mart lists
        # it (end-to-end test below) with its spend left unconverted
        "ads_daily/currency-without-fx-rate",
        "ads_daily",
        _replace("ads_daily", "30,EUR", "30,PLN"),
        loaded=_expect(
            "select currency from raw.ads_daily order by currency", [("EUR",), ("PLN",)]
        ),
    ),
    Case(
        # CONTRACT.md: other stages are kept (a seed may map them); they count towards no step
        "crm_lifecycle_events/unknown-stage",
        "crm_lifecycle_events",
        _replace("crm_lifecycle_events", "c1,mql,", "c1,zombie,"),
        loaded=_expect(
            "select stage from raw.crm_lifecycle_events order by entered_at",
            [("lead",), ("zombie",)],
        ),
    ),
    Case(
        "crm_deals/unknown-status",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR",
            "d2,c1,2025-09-03,Pending,5,EUR",
        ),
        quarantined=((3, "status", "unknown value 'Pending' (allowed: open, won, lost)"),),
    ),
    Case(
        "crm_deals/closed-before-created",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,won,1000.00,EUR,2025-09-02T09:00:00Z",
            "d2,c1,2025-09-03,won,5,EUR,2025-09-04",
            header=DEALS_HEADER + ",closed_at",
        ),
        quarantined=((2, "closed_at", "'2025-09-02T09:00:00Z' is before created_at"),),
    ),
    Case(
        "web_events/event-in-the-future",
        "web_events",
        _replace("web_events", "e2,2025-09-01T10:11:13Z", "e2,2026-09-01T10:11:13Z"),
        quarantined=(
            (3, "event_timestamp", "in the future: '2026-09-01T10:11:13Z' (after 2025-09-11)"),
        ),
    ),
    Case(
        # tomorrow is not the future yet (time zones ahead of UTC); the day after is
        "ads_daily/day-after-tomorrow",
        "ads_daily",
        _csv(
            "ads_daily",
            "2025-09-11,google_ads,A1,C1,Brand,1000,50,12.50,EUR",
            "2025-09-12,google_ads,A1,C1,Brand,1000,50,12.50,EUR",
        ),
        quarantined=((3, "date", "in the future: '2025-09-12' (after 2025-09-11)"),),
    ),
    Case(
        "ads_daily/absurd-spend",
        "ads_daily",
        _replace("ads_daily", "2000,20,30,EUR", "2000,20,1000000000000000,EUR"),
        quarantined=((3, "spend", "absurd value '1000000000000000' (over 10^12)"),),
    ),
    Case(
        "crm_deals/absurd-amount",
        "crm_deals",
        _replace("crm_deals", "open,1000.00", "open,1e15"),
        quarantined=((2, "amount", "absurd value '1e15' (over 10^12)"),),
    ),
    Case(
        "crm_contacts/before-earliest-date",
        "crm_contacts",
        _replace("crm_contacts", "c2,2025-09-01", "c2,1970-01-01T00:00:00"),
        quarantined=(
            (
                3,
                "created_at",
                "'1970-01-01T00:00:00' is before the earliest plausible date 2000-01-01",
            ),
        ),
    ),
    Case(
        "ads_daily/before-earliest-date-setting",
        "ads_daily",
        _replace("ads_daily", "2025-09-01,meta_ads", "2013-03-03,meta_ads"),
        quarantined=((3, "date", "'2013-03-03' is before the earliest plausible date 2020-01-01"),),
        env={"FIREWATCH_EARLIEST_DATE": "2020-01-01"},
    ),
    Case(
        "fx_rates/zero-rate",
        "fx_rates",
        {"fx_rates": "date,currency,rate_to_reporting\n2025-09-01,EUR,1\n2025-09-01,USD,0\n"},
        quarantined=(
            (3, "rate_to_reporting", "zero value '0': a rate of 0 would turn money into nothing"),
        ),
    ),
    # --- targets: a month and a metric of the catalog ------------------------------------------
    Case(
        "targets/period-not-month-start",
        "targets",
        _csv("targets", "2025-09-01,leads,40,", "2025-09-15,mql,9,", header=TARGETS_HEADER),
        errors=((3, "period_start", "not the first day of a month: '2025-09-15'"),),
    ),
    Case(
        "targets/unknown-metric",
        "targets",
        _csv("targets", "2025-09-01,Leads,40,", "2025-09-01,signups,4,", header=TARGETS_HEADER),
        errors=((3, "metric", "unknown metric id 'signups'"),),
    ),
    Case(
        # metric ids are compared trimmed and lower-case, as dbt's staging compares them
        "targets/metric-in-other-case",
        "targets",
        {"targets": "period_start,metric,value,channel\n2025-09-01, Leads ,40,\n"},
        loaded=_expect("select metric from raw.targets", [(" Leads ",)]),
    ),
    # --- files the loader reads, and those it does not -----------------------------------------
    Case(
        "ads_daily/gzipped-csv",
        "ads_daily",
        prepare=_gzip("ads_daily"),
        loaded=_expect(
            "select _source_file, _row_number, spend from raw.ads_daily order by _row_number",
            [("part-001.csv.gz", 1, 12.5), ("part-001.csv.gz", 2, 30.0)],
        ),
    ),
    Case(
        "ads_daily/gzipped-csv-bad-value",
        "ads_daily",
        _replace("ads_daily", "2000,20,30", "2k,20,30"),
        prepare=_gzip("ads_daily"),
        errors=((3, "impressions", "not an integer: '2k'"),),
        error_file="part-001.csv.gz",
    ),
    Case(
        "crm_deals/gzipped-csv-quarantine",
        "crm_deals",
        _csv(
            "crm_deals",
            'd1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR,"two\nlines"',
            "d2,c1,2025-09-03,Pending,5,EUR,",
            header=DEALS_HEADER + ",lost_reason",
        ),
        prepare=_gzip("crm_deals"),
        # the quoted newline makes d2 line 4, in the .gz as in the .csv
        quarantined=((4, "status", "unknown value 'Pending' (allowed: open, won, lost)"),),
        source_file="part-001.csv.gz",
    ),
    Case(
        "ads_daily/not-a-data-file",
        "ads_daily",
        prepare=_stray("ads_daily"),
        ignored=("ads_daily/notes.txt", "ads_daily/x.csv/"),
        loaded=_expect("select distinct _source_file from raw.ads_daily", [("part-001.csv",)]),
    ),
    Case(
        "ads_daily/blank-file",
        "ads_daily",
        {"ads_daily": "  \n\n \t\n"},
        errors=((1, None, "file is blank (no header row)"),),
    ),
    # --- whole tables missing ------------------------------------------------------------------
    Case(
        "fx_rates/optional-table-missing",
        "fx_rates",
        loaded=_expect("select count(*) from raw.fx_rates", [(0,)]),
    ),
    Case(
        "crm_deals/needed-table-missing",
        "crm_deals",
        prepare=_remove("crm_deals"),
        errors=((None, None, "folder is missing; table is needed for a run"),),
        error_file="",
    ),
    Case(
        "targets/non-numeric-value",
        "targets",
        {"targets": "period_start,metric,value,channel\n2025-09-01,leads,about 40,\n"},
        errors=((2, "value", "not a number: 'about 40'"),),
    ),
    Case(
        "fx_rates/missing-required-column",
        "fx_rates",
        {"fx_rates": "date,currency\n2025-09-01,EUR\n"},
        errors=((1, "rate_to_reporting", "missing required column"),),
    ),
]


def _build(tmp_path: Path, case: Case) -> Path:
    raw = landing(tmp_path, **{k: v for k, v in case.files.items() if k in VALID})
    for table, text in case.files.items():
        if table not in VALID:  # an optional table's file
            write(raw, table, "part-001.csv", text)
    if case.prepare:
        case.prepare(raw)
    return raw


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(tmp_path: Path, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    raw = _build(tmp_path, case)
    warehouse = tmp_path / "w.duckdb"
    if case.errors:
        with pytest.raises(RawInputError) as info:
            load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
        got = info.value.problems
        assert len(got) == len(case.errors), got
        folder = raw / case.table
        where = str(folder / case.error_file) if case.error_file else str(folder)
        for problem, (line, column, message) in zip(got, case.errors, strict=True):
            assert (problem.path, problem.line, problem.column) == (where, line, column), problem
            assert message in problem.message, problem
            # the sentence a person reads names the same file, line and column
            assert str(problem).startswith(where)
        assert not warehouse.exists()  # stopped before the warehouse was even opened
        return
    report = load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        held = _rows(
            con,
            "select table_name, source_file, line, column_name, problem from raw._quarantine "
            "order by line",
        )
        assert report.ignored == list(case.ignored)
        expected = [(case.table, case.source_file, *q) for q in case.quarantined]
        assert [h[:4] for h in held] == [e[:4] for e in expected]
        for h, e in zip(held, expected, strict=True):
            assert e[4] in h[4], h
        if case.quarantined:
            assert report.quarantined[case.table] == len(case.quarantined)
            assert "quarantined" in report.summary()
            # the rows are out of the raw table, the others are in
            loaded = _rows(con, f"select count(*) from raw.{case.table}")[0][0]
            records = csv.reader(io.StringIO(case.files[case.table]))
            file_rows = sum(1 for r in records if r) - 1  # a quoted field may hold a newline
            assert loaded == file_rows - len(case.quarantined)
        else:
            assert "quarantined" not in report.summary()
        if case.loaded:
            case.loaded(con)
    finally:
        con.close()


def test_the_matrix_covers_the_issue() -> None:
    """At least 25 cases, and every kind the issue lists has one."""
    assert len(CASES) >= 25
    kinds = {c.id.split("/")[1] for c in CASES}
    for kind in (
        "missing-required-column",
        "unparsable-date",
        "unparsable-timestamp",
        "offset-timestamp",
        "negative-count",
        "negative-spend",
        "decimal-comma",
        "duplicate-key",
        "empty-file",
        "header-only",
        "utf8-bom",
        "semicolon-delimited",
        "not-utf8",
        "truncated-parquet",
        "currency-without-fx-rate",
        "unknown-stage",
        "unknown-status",
        "closed-before-created",
        "event-in-the-future",
        "absurd-spend",
        "optional-table-missing",
        "before-earliest-date",
        "zero-rate",
        "gzipped-csv",
        "not-a-data-file",
        "period-not-month-start",
        "unknown-metric",
        "blank-file",
    ):
        assert kind in kinds, kind


def test_quarantine_is_replaced_with_its_table_and_kept_on_append(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "crm_deals/unknown-status")
    raw = _build(tmp_path, case)
    warehouse = tmp_path / "w.duckdb"
    load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
    # a later file appends: the earlier quarantine row stays, the new one joins it
    write(raw, "crm_deals", "part-002.csv", DEALS_HEADER + "\nd3,c1,2025-09-04,Stalled,1,EUR\n")
    load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
    sql = "select source_file, line, value from raw._quarantine order by source_file"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert _rows(con, sql) == [("part-001.csv", 3, "Pending"), ("part-002.csv", 2, "Stalled")]
    finally:
        con.close()
    # the source fixes the first file: the table is reloaded and its quarantine with it
    write(raw, "crm_deals", "part-001.csv", VALID["crm_deals"])
    load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert _rows(con, sql) == [("part-002.csv", 2, "Stalled")]
        assert _rows(con, "select deal_id from raw.crm_deals") == [("d1",)]
    finally:
        con.close()


def test_parquet_rows_are_quarantined_with_their_row_number(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    (raw / "crm_deals" / "part-001.csv").unlink()
    pq.write_table(
        pa.table(
            {
                "deal_id": ["d1", "d2"],
                "contact_id": ["c1", "c1"],
                "created_at": [datetime(2025, 9, 3), datetime(2025, 9, 3)],
                "status": ["won", "maybe"],
                "amount": [10.0, 5.0],
                "currency": ["EUR", "EUR"],
            }
        ),
        raw / "crm_deals" / "deals.parquet",
    )
    warehouse = tmp_path / "w.duckdb"
    load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert _rows(con, "select source_file, line, column_name from raw._quarantine") == [
            ("deals.parquet", 2, "status")
        ]
    finally:
        con.close()
