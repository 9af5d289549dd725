"""The bad-input matrix (issues 5 and 14): what each kind of messy marketing file does to a load.

Every case starts from the valid landing folder of inputs.py, breaks one thing in one table, and
states the outcome a person would see, written out by hand (inputs.Case): refused with file,
line and column; the named rows quarantined; or a load that is right as it is. bad_input.py runs
them (tests/integration/test_bad_input.py, and the "Bad input" section of docs/reliability.md).
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from dagster_project.faults.inputs import VALID, Case

ADS_HEADER = VALID["ads_daily"].splitlines()[0]
DEALS_HEADER = VALID["crm_deals"].splitlines()[0]
WEB_HEADER = VALID["web_events"].splitlines()[0]
TARGETS_HEADER = "period_start,metric,value,channel"
CLOSED_DEALS_HEADER = DEALS_HEADER + ",closed_at"


def _csv(table: str, *rows: str, header: str | None = None) -> dict[str, str]:
    """A table's file: the valid header (or another) and these data rows."""
    head = header if header is not None else VALID[table].splitlines()[0]
    return {table: "\n".join([head, *rows]) + "\n"}


def _replace(table: str, old: str, new: str) -> dict[str, str]:
    assert old in VALID[table], old
    return {table: VALID[table].replace(old, new, 1)}


def _bytes(table: str, data: bytes) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        (raw / table / "part-001.csv").write_bytes(data)

    return prepare


def _truncated_parquet(table: str) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

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


def _empty(table: str) -> Callable[[Path], None]:
    """The table's folder is there, its files are not (an export that wrote nothing)."""

    def prepare(raw: Path) -> None:
        for path in (raw / table).iterdir():
            path.unlink()

    return prepare


def _utf16(table: str, bom: bool) -> Callable[[Path], None]:
    """The valid file saved as UTF-16 (Excel's "Unicode Text"), with its byte-order mark or not."""
    return _bytes(table, VALID[table].encode("utf-16" if bom else "utf-16-le"))


def _long_field(table: str, text: str, column: int, chars: int) -> Callable[[Path], None]:
    """``text`` with the ``column``-th field of its first data row made ``chars`` long (written
    when the case runs: megabytes have no place in a module's constants)."""

    def prepare(raw: Path) -> None:
        lines = text.split("\n")
        fields = lines[1].split(",")
        fields[column] = "x" * chars
        lines[1] = ",".join(fields)
        (raw / table / "part-001.csv").write_text("\n".join(lines), encoding="utf-8")

    return prepare


def _deals_parquet(contacts: list[str]) -> Callable[[Path], None]:
    """crm_deals as a Parquet file, one won deal per contact id."""

    def prepare(raw: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        (raw / "crm_deals" / "part-001.csv").unlink()
        n = len(contacts)
        pq.write_table(
            pa.table(
                {
                    "deal_id": [f"d{i}" for i in range(1, n + 1)],
                    "contact_id": contacts,
                    "created_at": [datetime(2025, 9, 3)] * n,
                    "status": ["won"] * n,
                    "amount": [10.0] * n,
                    "currency": ["EUR"] * n,
                    "closed_at": [datetime(2025, 9, 4)] * n,
                }
            ),
            raw / "crm_deals" / "deals.parquet",
        )

    return prepare


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
        loaded=(
            "select created_at from raw.crm_contacts where contact_id = 'c1'",
            [(datetime(2025, 9, 1, 10, 0),)],
        ),
        note="12:00 at +02:00 is stored as 10:00 UTC",
    ),
    Case(
        "web_events/offset-timestamp",
        "web_events",
        _replace("web_events", "e1,2025-09-01T10:11:12Z", "e1,2025-09-01T05:11:12-05:00"),
        loaded=(
            "select event_timestamp from raw.web_events where event_id = 'e1'",
            [(datetime(2025, 9, 1, 10, 11, 12),)],
        ),
        note="05:11 at -05:00 is stored as 10:11 UTC",
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
        loaded=("select count(*) from raw.crm_deals", [(0,)]),
        note="a header without rows is an export of a day without deals: 0 rows",
    ),
    Case(
        "ads_daily/utf8-bom",
        "ads_daily",
        {"ads_daily": "\ufeff" + VALID["ads_daily"]},
        loaded=(
            "select date, spend from raw.ads_daily order by spend",
            [(date(2025, 9, 1), 12.5), (date(2025, 9, 1), 30.0)],
        ),
        note="Excel's byte-order mark is not part of the first column's name",
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
        loaded=("select currency from raw.ads_daily order by currency", [("EUR",), ("PLN",)]),
        note="the rate is missing, not the row: dbt's quarantine mart lists the day (no fx rate "
        "for PLN) and spend leaves its money out",
    ),
    Case(
        # CONTRACT.md: other stages are kept (a seed may map them); they count towards no step
        "crm_lifecycle_events/unknown-stage",
        "crm_lifecycle_events",
        _replace("crm_lifecycle_events", "c1,mql,", "c1,zombie,"),
        loaded=(
            "select stage from raw.crm_lifecycle_events order by entered_at",
            [("lead",), ("zombie",)],
        ),
        note="a stage of the CRM's own is kept under its name and counts towards no funnel step",
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
        loaded=("select metric from raw.targets", [(" Leads ",)]),
        note="metric ids are compared trimmed and lower-case, as dbt's staging compares them",
    ),
    # --- files the loader reads, and those it does not -----------------------------------------
    Case(
        "ads_daily/gzipped-csv",
        "ads_daily",
        prepare=_gzip("ads_daily"),
        loaded=(
            "select _source_file, _row_number, spend from raw.ads_daily order by _row_number",
            [("part-001.csv.gz", 1, 12.5), ("part-001.csv.gz", 2, 30.0)],
        ),
        note="a .csv.gz is read as the CSV it holds",
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
        loaded=("select distinct _source_file from raw.ads_daily", [("part-001.csv",)]),
        note="the load names what it did not read (notes.txt, the folder x.csv/) in a warning",
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
        loaded=("select count(*) from raw.fx_rates", [(0,)]),
        note="an optional table may be absent: the metrics that need it are absent, never zero",
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
    # --- issue 14: deals and stages of contacts the CRM export does not hold ------------------
    Case(
        # dbt would add the won deal to revenue under "unattributed"
        "crm_deals/unknown-contact",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,won,1000.00,EUR,2025-09-04T10:00:00Z",
            "d2,c9,2025-09-03T10:00:00Z,won,500.00,EUR,2025-09-04T10:00:00Z",
            header=CLOSED_DEALS_HEADER,
        ),
        quarantined=((3, "contact_id", "contact_id 'c9' is not in crm_contacts"),),
    ),
    Case(
        # dbt's funnel starts from the contacts: the stage would vanish without a word
        "crm_lifecycle_events/unknown-contact",
        "crm_lifecycle_events",
        _csv("crm_lifecycle_events", "c1,lead,2025-09-01T10:00:00Z", "c9,sql,2025-09-02T10:00:00Z"),
        quarantined=((3, "contact_id", "contact_id 'c9' is not in crm_contacts"),),
    ),
    Case(
        # ids are compared as written, as dbt joins them: ' c1' is not c1
        "crm_deals/contact-id-with-space",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR",
            "d2, c1,2025-09-03T10:00:00Z,open,5,EUR",
        ),
        quarantined=((3, "contact_id", "contact_id ' c1' is not in crm_contacts"),),
    ),
    Case(
        "crm_deals/unknown-contact-parquet",
        "crm_deals",
        prepare=_deals_parquet(["c1", "c404"]),
        quarantined=((2, "contact_id", "contact_id 'c404' is not in crm_contacts"),),
        source_file="deals.parquet",
    ),
    Case(
        # its revenue would have no day: every mart would leave it out
        "crm_deals/won-without-closed-at",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,won,1000.00,EUR,2025-09-04T10:00:00Z",
            "d2,c1,2025-09-03T10:00:00Z,won,500.00,EUR,",
            header=CLOSED_DEALS_HEADER,
        ),
        quarantined=((3, "closed_at", "empty while status is 'won'"),),
    ),
    # --- more of what exports do --------------------------------------------------------------
    Case(
        # which of the two is spend?
        "ads_daily/duplicate-header-names",
        "ads_daily",
        _csv(
            "ads_daily",
            "2025-09-01,google_ads,A1,C1,Brand,1000,50,12.50,EUR,13",
            header=ADS_HEADER + ",Spend",
        ),
        errors=((1, "spend", "column appears more than once"),),
    ),
    Case(
        "ads_daily/crlf-line-endings",
        "ads_daily",
        {"ads_daily": VALID["ads_daily"].replace("\n", "\r\n")},
        loaded=(
            "select currency, spend from raw.ads_daily order by spend",
            [("EUR", 12.5), ("EUR", 30.0)],
        ),
        note="Windows line ends are line ends: no carriage return is left on the last column "
        "('EUR', so the spend finds its rate)",
    ),
    Case(
        # the quoted newline makes d2 line 4: the message names the line a person sees
        "crm_deals/quoted-newline-then-bad-value",
        "crm_deals",
        _csv(
            "crm_deals",
            'd1,c1,2025-09-03T10:00:00Z,lost,1000.00,EUR,"price\ntoo high"',
            "d2,c1,2025-09-03,open,lots,EUR,",
            header=DEALS_HEADER + ",lost_reason",
        ),
        errors=((4, "amount", "not a number: 'lots'"),),
    ),
    Case(
        "crm_deals/unquoted-comma-in-text",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,lost,1000.00,EUR,price, timing",
            header=DEALS_HEADER + ",lost_reason",
        ),
        errors=((2, None, "8 fields where the header has 7"),),
    ),
    Case(
        "ads_daily/tab-separated",
        "ads_daily",
        {"ads_daily": VALID["ads_daily"].replace(",", "\t")},
        errors=((1, None, "the file is tab-separated; the contract needs comma-separated CSV"),),
    ),
    Case(
        "ads_daily/utf16-file",
        "ads_daily",
        prepare=_utf16("ads_daily", bom=True),
        errors=((1, None, "the file is UTF-16"),),
    ),
    Case(
        # without a byte-order mark: NUL bytes between the letters, not nine missing columns
        "ads_daily/utf16-without-bom",
        "ads_daily",
        prepare=_utf16("ads_daily", bom=False),
        errors=((1, None, "the header row holds NUL bytes"),),
    ),
    Case(
        "crm_deals/currency-not-in-fx-rates",
        "crm_deals",
        {
            **_csv(
                "crm_deals",
                "d1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR",
                "d2,c1,2025-09-03,open,5,PLN",
            ),
            "fx_rates": "date,currency,rate_to_reporting\n2025-09-01,EUR,1.1\n",
        },
        loaded=(
            "select deal_id, currency from raw.crm_deals order by deal_id",
            [("d1", "EUR"), ("d2", "PLN")],
        ),
        note="the rate is missing, not the row: dbt's quarantine mart lists the deal (no fx rate "
        "for PLN), revenue leaves its amount out, and a dbt test fails on a currency without any "
        "rate",
    ),
    Case(
        "web_events/negative-engagement-time",
        "web_events",
        _csv(
            "web_events",
            "e1,2025-09-01T10:11:12Z,user_engagement,u1,s1,https://x.test/,-500",
            header=WEB_HEADER + ",engagement_time_msec",
        ),
        errors=((2, "engagement_time_msec", "negative value '-500' (must be >= 0)"),),
    ),
    Case(
        "crm_deals/thousands-separator",
        "crm_deals",
        _replace("crm_deals", "open,1000.00", 'open,"1,000.00"'),
        errors=((2, "amount", "not a number: '1,000.00'"),),
    ),
    Case(
        "ads_daily/currency-symbol",
        "ads_daily",
        _replace("ads_daily", "50,12.50", "50,€12.50"),
        errors=((2, "spend", "not a number: '€12.50'"),),
    ),
    Case(
        "ads_daily/nan-spend",
        "ads_daily",
        _replace("ads_daily", "50,12.50", "50,NaN"),
        errors=((2, "spend", "not a number: 'NaN'"),),
    ),
    Case(
        # an Excel date serial (45901 = 2025-09-01)
        "ads_daily/excel-serial-date",
        "ads_daily",
        _replace("ads_daily", "2025-09-01,google_ads", "45901,google_ads"),
        errors=((2, "date", "not a date (expected YYYY-MM-DD): '45901'"),),
    ),
    Case(
        "crm_deals/offset-crosses-midnight",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,won,1000.00,EUR,2025-09-04T23:30:00-05:00",
            header=CLOSED_DEALS_HEADER,
        ),
        loaded=("select closed_at from raw.crm_deals", [(datetime(2025, 9, 5, 4, 30),)]),
        note="23:30 at -05:00 on 09-04 is 04:30 UTC on 09-05: the revenue counts on 09-05",
    ),
    Case(
        "web_events/named-time-zone",
        "web_events",
        _replace("web_events", "2025-09-01T10:11:13Z", "2025-09-01 12:11:13 Europe/Paris"),
        errors=(
            (3, "event_timestamp", "not an ISO 8601 timestamp: '2025-09-01 12:11:13 Europe/Paris'"),
        ),
    ),
    Case(
        # GA4's BigQuery export writes event_timestamp as microseconds since 1970
        "web_events/epoch-microseconds",
        "web_events",
        _replace("web_events", "2025-09-01T10:11:13Z", "1756721473000000"),
        errors=((3, "event_timestamp", "not an ISO 8601 timestamp: '1756721473000000'"),),
    ),
    Case(
        "crm_deals/huge-field",
        "crm_deals",
        prepare=_long_field(
            "crm_deals",
            DEALS_HEADER + ",lost_reason\nd1,c1,2025-09-03T10:00:00Z,lost,1000.00,EUR,x\n",
            6,
            3_000_000,
        ),
        errors=((2, None, "the record starting on this line is too long"),),
    ),
    Case(
        # a 200,000-character field is read; the line after it is still named right
        "crm_deals/long-field-line-numbers",
        "crm_deals",
        _csv(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,lost,1000.00,EUR," + "x" * 200_000,
            "d2,c1,2025-09-03,Pending,5,EUR,",
            header=DEALS_HEADER + ",lost_reason",
        ),
        quarantined=((3, "status", "unknown value 'Pending' (allowed: open, won, lost)"),),
    ),
    Case(
        "crm_deals/empty-table-folder",
        "crm_deals",
        prepare=_empty("crm_deals"),
        errors=((None, None, "folder is empty (no .csv, .csv.gz or .parquet files)"),),
        error_file="",
    ),
]
