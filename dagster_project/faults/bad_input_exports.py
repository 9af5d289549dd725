"""The bad-input cases of whole files and exports (issue 14): targets, files the loader reads and
those it does not, whole tables missing, deals and stages of unknown contacts, and what real
exports do (encodings, delimiters, separators, time zones, huge fields)."""

from __future__ import annotations

from datetime import datetime

from dagster_project.faults.bad_input_builders import (
    ADS_HEADER,
    CLOSED_DEALS_HEADER,
    DEALS_HEADER,
    TARGETS_HEADER,
    WEB_HEADER,
    csv_rows,
    deals_parquet,
    emptied,
    gzipped,
    long_field,
    removed,
    replaced,
    stray,
    utf16,
)
from dagster_project.faults.inputs import VALID, Case

EXPORT_CASES = [
    # --- targets: a month and a metric of the catalog ------------------------------------------
    Case(
        "targets/period-not-month-start",
        "targets",
        csv_rows("targets", "2025-09-01,leads,40,", "2025-09-15,mql,9,", header=TARGETS_HEADER),
        errors=((3, "period_start", "not the first day of a month: '2025-09-15'"),),
    ),
    Case(
        "targets/unknown-metric",
        "targets",
        csv_rows("targets", "2025-09-01,Leads,40,", "2025-09-01,signups,4,", header=TARGETS_HEADER),
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
        prepare=gzipped("ads_daily"),
        loaded=(
            "select _source_file, _row_number, spend from raw.ads_daily order by _row_number",
            [("part-001.csv.gz", 1, 12.5), ("part-001.csv.gz", 2, 30.0)],
        ),
        note="a .csv.gz is read as the CSV it holds",
    ),
    Case(
        "ads_daily/gzipped-csv-bad-value",
        "ads_daily",
        replaced("ads_daily", "2000,20,30", "2k,20,30"),
        prepare=gzipped("ads_daily"),
        errors=((3, "impressions", "not an integer: '2k'"),),
        error_file="part-001.csv.gz",
    ),
    Case(
        "crm_deals/gzipped-csv-quarantine",
        "crm_deals",
        csv_rows(
            "crm_deals",
            'd1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR,"two\nlines"',
            "d2,c1,2025-09-03,Pending,5,EUR,",
            header=DEALS_HEADER + ",lost_reason",
        ),
        prepare=gzipped("crm_deals"),
        # the quoted newline makes d2 line 4, in the .gz as in the .csv
        quarantined=((4, "status", "unknown value 'Pending' (allowed: open, won, lost)"),),
        source_file="part-001.csv.gz",
    ),
    Case(
        "ads_daily/not-a-data-file",
        "ads_daily",
        prepare=stray("ads_daily"),
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
        prepare=removed("crm_deals"),
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
        csv_rows(
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
        csv_rows(
            "crm_lifecycle_events", "c1,lead,2025-09-01T10:00:00Z", "c9,sql,2025-09-02T10:00:00Z"
        ),
        quarantined=((3, "contact_id", "contact_id 'c9' is not in crm_contacts"),),
    ),
    Case(
        # ids are compared as written, as dbt joins them: ' c1' is not c1
        "crm_deals/contact-id-with-space",
        "crm_deals",
        csv_rows(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR",
            "d2, c1,2025-09-03T10:00:00Z,open,5,EUR",
        ),
        quarantined=((3, "contact_id", "contact_id ' c1' is not in crm_contacts"),),
    ),
    Case(
        "crm_deals/unknown-contact-parquet",
        "crm_deals",
        prepare=deals_parquet(["c1", "c404"]),
        quarantined=((2, "contact_id", "contact_id 'c404' is not in crm_contacts"),),
        source_file="deals.parquet",
    ),
    Case(
        # its revenue would have no day: every mart would leave it out
        "crm_deals/won-without-closed-at",
        "crm_deals",
        csv_rows(
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
        csv_rows(
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
        csv_rows(
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
        csv_rows(
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
        prepare=utf16("ads_daily", bom=True),
        errors=((1, None, "the file is UTF-16"),),
    ),
    Case(
        # without a byte-order mark: NUL bytes between the letters, not nine missing columns
        "ads_daily/utf16-without-bom",
        "ads_daily",
        prepare=utf16("ads_daily", bom=False),
        errors=((1, None, "the header row holds NUL bytes"),),
    ),
    Case(
        "crm_deals/currency-not-in-fx-rates",
        "crm_deals",
        {
            **csv_rows(
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
        csv_rows(
            "web_events",
            "e1,2025-09-01T10:11:12Z,user_engagement,u1,s1,https://x.test/,-500",
            header=WEB_HEADER + ",engagement_time_msec",
        ),
        errors=((2, "engagement_time_msec", "negative value '-500' (must be >= 0)"),),
    ),
    Case(
        "crm_deals/thousands-separator",
        "crm_deals",
        replaced("crm_deals", "open,1000.00", 'open,"1,000.00"'),
        errors=((2, "amount", "not a number: '1,000.00'"),),
    ),
    Case(
        "ads_daily/currency-symbol",
        "ads_daily",
        replaced("ads_daily", "50,12.50", "50,€12.50"),
        errors=((2, "spend", "not a number: '€12.50'"),),
    ),
    Case(
        "ads_daily/nan-spend",
        "ads_daily",
        replaced("ads_daily", "50,12.50", "50,NaN"),
        errors=((2, "spend", "not a number: 'NaN'"),),
    ),
    Case(
        # an Excel date serial (45901 = 2025-09-01)
        "ads_daily/excel-serial-date",
        "ads_daily",
        replaced("ads_daily", "2025-09-01,google_ads", "45901,google_ads"),
        errors=((2, "date", "not a date (expected YYYY-MM-DD): '45901'"),),
    ),
    Case(
        "crm_deals/offset-crosses-midnight",
        "crm_deals",
        csv_rows(
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
        replaced("web_events", "2025-09-01T10:11:13Z", "2025-09-01 12:11:13 Europe/Paris"),
        errors=(
            (3, "event_timestamp", "not an ISO 8601 timestamp: '2025-09-01 12:11:13 Europe/Paris'"),
        ),
    ),
    Case(
        # GA4's BigQuery export writes event_timestamp as microseconds since 1970
        "web_events/epoch-microseconds",
        "web_events",
        replaced("web_events", "2025-09-01T10:11:13Z", "1756721473000000"),
        errors=((3, "event_timestamp", "not an ISO 8601 timestamp: '1756721473000000'"),),
    ),
    Case(
        "crm_deals/huge-field",
        "crm_deals",
        prepare=long_field(
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
        csv_rows(
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
        prepare=emptied("crm_deals"),
        errors=((None, None, "folder is empty (no .csv, .csv.gz or .parquet files)"),),
        error_file="",
    ),
]
