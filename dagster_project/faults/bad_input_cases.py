"""The bad-input matrix (issues 5 and 14): what each kind of messy marketing file does to a load.

Every case starts from the valid landing folder of inputs.py, breaks one thing in one table, and
states the outcome a person would see, written out by hand (inputs.Case): refused with file,
line and column; the named rows quarantined; or a load that is right as it is. bad_input.py runs
them (tests/integration/test_bad_input.py, and the "Bad input" section of docs/reliability.md).
"""

from __future__ import annotations

from datetime import date, datetime

from dagster_project.faults.bad_input_builders import (
    DEALS_HEADER,
    csv_rows,
    raw_bytes,
    replaced,
    truncated_parquet,
)
from dagster_project.faults.bad_input_exports import EXPORT_CASES
from dagster_project.faults.inputs import VALID, Case

CASES = [
    # --- a missing required column -------------------------------------------------------------
    Case(
        "ads_daily/missing-required-column",
        "ads_daily",
        csv_rows(
            "ads_daily",
            "2025-09-01,google_ads,A1,C1,Brand,1000,50,EUR",
            header="date,platform,account_id,campaign_id,campaign_name,impressions,clicks,currency",
        ),
        errors=((1, "spend", "missing required column"),),
    ),
    Case(
        "crm_deals/missing-required-column",
        "crm_deals",
        csv_rows(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,1000.00,EUR",
            header="deal_id,contact_id,created_at,amount,currency",
        ),
        errors=((1, "status", "missing required column"),),
    ),
    Case(
        "web_events/missing-required-column",
        "web_events",
        csv_rows(
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
        replaced("ads_daily", "2025-09-01,meta_ads", "2025-13-01,meta_ads"),
        errors=((3, "date", "not a date (expected YYYY-MM-DD): '2025-13-01'"),),
    ),
    Case(
        "web_events/unparsable-timestamp",
        "web_events",
        replaced("web_events", "2025-09-01T10:11:13Z", "yesterday 10am"),
        errors=((3, "event_timestamp", "not an ISO 8601 timestamp: 'yesterday 10am'"),),
    ),
    Case(
        "crm_contacts/day-first-date",
        "crm_contacts",
        replaced("crm_contacts", "c2,2025-09-01", "c2,01/09/2025"),
        errors=((3, "created_at", "not an ISO 8601 timestamp: '01/09/2025'"),),
    ),
    # --- a timestamp with an offset is converted, not rejected ---------------------------------
    Case(
        "crm_contacts/offset-timestamp",
        "crm_contacts",
        replaced("crm_contacts", "c1,2025-09-01T10:00:00Z", "c1,2025-09-01T12:00:00+02:00"),
        loaded=(
            "select created_at from raw.crm_contacts where contact_id = 'c1'",
            [(datetime(2025, 9, 1, 10, 0),)],
        ),
        note="12:00 at +02:00 is stored as 10:00 UTC",
    ),
    Case(
        "web_events/offset-timestamp",
        "web_events",
        replaced("web_events", "e1,2025-09-01T10:11:12Z", "e1,2025-09-01T05:11:12-05:00"),
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
        replaced("ads_daily", "1000,50,12.50", "1000,-3,12.50"),
        errors=((2, "clicks", "negative value '-3' (must be >= 0)"),),
    ),
    Case(
        "ads_daily/negative-spend",
        "ads_daily",
        replaced("ads_daily", "2000,20,30,EUR", "2000,20,-30,EUR"),
        errors=((3, "spend", "negative value '-30' (must be >= 0)"),),
    ),
    Case(
        "crm_deals/negative-amount",
        "crm_deals",
        replaced("crm_deals", "open,1000.00", "open,-1000.00"),
        errors=((2, "amount", "negative value '-1000.00' (must be >= 0)"),),
    ),
    # --- non-numeric numbers -------------------------------------------------------------------
    Case(
        "ads_daily/decimal-comma",
        "ads_daily",
        replaced("ads_daily", "1000,50,12.50,EUR", '1000,50,"12,50",EUR'),
        errors=((2, "spend", "not a number: '12,50'"),),
    ),
    Case(
        "ads_daily/count-with-suffix",
        "ads_daily",
        replaced("ads_daily", "2000,20,30", "2k,20,30"),
        errors=((3, "impressions", "not an integer: '2k'"),),
    ),
    # --- a duplicate key inside one file -------------------------------------------------------
    Case(
        "crm_contacts/duplicate-key",
        "crm_contacts",
        csv_rows("crm_contacts", "c1,2025-09-01T10:00:00Z", "c2,2025-09-01", "c1,2025-09-02"),
        errors=((4, "contact_id", "duplicate key contact_id='c1' (first on line 2)"),),
    ),
    Case(
        "ads_daily/duplicate-key",
        "ads_daily",
        csv_rows(
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
        prepare=raw_bytes(
            "crm_contacts",
            "contact_id,created_at,lead_source\nc1,2025-09-01,Caf\xe9\n".encode("latin-1"),
        ),
        errors=((2, None, "not UTF-8"),),
    ),
    Case(
        "web_events/wrong-field-count",
        "web_events",
        replaced(
            "web_events",
            "e2,2025-09-01T10:11:13Z,page_view,u1,s1,",
            "e2,2025-09-01T10:11:13Z,page_view,u1,",
        ),
        errors=((3, None, "fields where the header has 6"),),
    ),
    Case(
        "ads_daily/truncated-parquet",
        "ads_daily",
        prepare=truncated_parquet("ads_daily"),
        errors=((None, None, "unreadable file"),),
        error_file="part-001.parquet",
    ),
    Case(
        "crm_deals/truncated-parquet",
        "crm_deals",
        prepare=truncated_parquet("crm_deals"),
        errors=((None, None, "unreadable file"),),
        error_file="part-001.parquet",
    ),
    # --- values that parse but do not belong ---------------------------------------------------
    Case(
        # the rate is missing, not the row: the load keeps it and dbt's `quarantine` mart lists
        # it (end-to-end test below) with its spend left unconverted
        "ads_daily/currency-without-fx-rate",
        "ads_daily",
        replaced("ads_daily", "30,EUR", "30,PLN"),
        loaded=("select currency from raw.ads_daily order by currency", [("EUR",), ("PLN",)]),
        note="the rate is missing, not the row: dbt's quarantine mart lists the day (no fx rate "
        "for PLN) and spend leaves its money out",
    ),
    Case(
        # CONTRACT.md: other stages are kept (a seed may map them); they count towards no step
        "crm_lifecycle_events/unknown-stage",
        "crm_lifecycle_events",
        replaced("crm_lifecycle_events", "c1,mql,", "c1,zombie,"),
        loaded=(
            "select stage from raw.crm_lifecycle_events order by entered_at",
            [("lead",), ("zombie",)],
        ),
        note="a stage of the CRM's own is kept under its name and counts towards no funnel step",
    ),
    Case(
        "crm_deals/unknown-status",
        "crm_deals",
        csv_rows(
            "crm_deals",
            "d1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR",
            "d2,c1,2025-09-03,Pending,5,EUR",
        ),
        quarantined=((3, "status", "unknown value 'Pending' (allowed: open, won, lost)"),),
    ),
    Case(
        "crm_deals/closed-before-created",
        "crm_deals",
        csv_rows(
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
        replaced("web_events", "e2,2025-09-01T10:11:13Z", "e2,2026-09-01T10:11:13Z"),
        quarantined=(
            (3, "event_timestamp", "in the future: '2026-09-01T10:11:13Z' (after 2025-09-11)"),
        ),
    ),
    Case(
        # tomorrow is not the future yet (time zones ahead of UTC); the day after is
        "ads_daily/day-after-tomorrow",
        "ads_daily",
        csv_rows(
            "ads_daily",
            "2025-09-11,google_ads,A1,C1,Brand,1000,50,12.50,EUR",
            "2025-09-12,google_ads,A1,C1,Brand,1000,50,12.50,EUR",
        ),
        quarantined=((3, "date", "in the future: '2025-09-12' (after 2025-09-11)"),),
    ),
    Case(
        "ads_daily/absurd-spend",
        "ads_daily",
        replaced("ads_daily", "2000,20,30,EUR", "2000,20,1000000000000000,EUR"),
        quarantined=((3, "spend", "absurd value '1000000000000000' (over 10^12)"),),
    ),
    Case(
        "crm_deals/absurd-amount",
        "crm_deals",
        replaced("crm_deals", "open,1000.00", "open,1e15"),
        quarantined=((2, "amount", "absurd value '1e15' (over 10^12)"),),
    ),
    Case(
        "crm_contacts/before-earliest-date",
        "crm_contacts",
        replaced("crm_contacts", "c2,2025-09-01", "c2,1970-01-01T00:00:00"),
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
        replaced("ads_daily", "2025-09-01,meta_ads", "2013-03-03,meta_ads"),
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
] + EXPORT_CASES
