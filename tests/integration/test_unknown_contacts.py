"""Deals and lifecycle events of contacts not in crm_contacts are quarantined (issue 14), judged
against the contacts the warehouse will hold after the load: replaced, appended to or left as
they are, as the loader decides per table. A contact that arrives on a later night brings its
deal back; one that a replaced contacts table no longer holds takes its deal out. The numbers
through dbt are tests/e2e/test_unknown_contacts_revenue.py; single files are cases of the
bad-input matrix (dagster_project/faults/bad_input_cases.py)."""

from __future__ import annotations

from pathlib import Path

from dagster_project.ingest.contract import TABLES
from dagster_project.ingest.loader import LoadReport, load_raw
from tests.support.landing import LOADED_AT, VALID, landing, write
from tests.support.warehouse import query

DEALS = "deal_id,contact_id,created_at,status,amount,currency,closed_at\n"
STAGES = "contact_id,stage,entered_at\n"
CONTACTS = "contact_id,created_at\n"
HELD = "SELECT table_name, source_file, line, column_name, problem, value FROM raw._quarantine"


def _load(raw: Path, wh: Path) -> LoadReport:
    return load_raw(raw, wh, loaded_at=LOADED_AT)


def test_referenced_tables_are_written_before_the_tables_that_name_them() -> None:
    # write.py writes in this order and the check reads raw.crm_contacts as just written
    order = list(TABLES)
    named = [(t.name, c.references) for t in TABLES.values() for c in t.columns if c.references]
    assert named == [
        ("crm_lifecycle_events", "crm_contacts"),
        ("crm_deals", "crm_contacts"),
    ]
    for table, referenced in named:
        assert order.index(referenced) < order.index(table)
        assert len(TABLES[referenced].key) == 1


def test_a_deal_and_a_stage_of_an_unknown_contact_are_quarantined_and_counted(
    tmp_path: Path,
) -> None:
    raw = landing(tmp_path)
    write(raw, "crm_deals", "part-002.csv", DEALS + "d9,c9,2025-09-03,won,500,EUR,2025-09-04\n")
    write(raw, "crm_lifecycle_events", "part-002.csv", STAGES + "c9,sql,2025-09-02\n")
    wh = tmp_path / "wh.duckdb"
    report = _load(raw, wh)
    assert query(wh, HELD + " ORDER BY table_name") == [
        (
            "crm_deals",
            "part-002.csv",
            2,
            "contact_id",
            "contact_id 'c9' is not in crm_contacts",
            "c9",
        ),
        (
            "crm_lifecycle_events",
            "part-002.csv",
            2,
            "contact_id",
            "contact_id 'c9' is not in crm_contacts",
            "c9",
        ),
    ]
    assert report.quarantined["crm_deals"] == report.quarantined["crm_lifecycle_events"] == 1
    assert "quarantined 2 rows (crm_lifecycle_events 1, crm_deals 1)" in report.summary()
    assert report.row_counts["crm_deals"] == 1
    assert query(wh, "SELECT deal_id FROM raw.crm_deals") == [("d1",)]
    assert query(wh, "SELECT count(*) FROM raw.crm_lifecycle_events") == [(2,)]


def test_a_contact_that_arrives_a_night_later_brings_its_deal_back(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    write(raw, "crm_deals", "part-002.csv", DEALS + "d9,c9,2025-09-03,won,500,EUR,2025-09-04\n")
    wh = tmp_path / "wh.duckdb"
    _load(raw, wh)
    # a night with nothing new: the deal stays held back, nothing is read again
    report = _load(raw, wh)
    assert report.modes["crm_deals"] == "unchanged"
    assert [r[0] for r in query(wh, HELD)] == ["crm_deals"]
    # the CRM's next contacts export has c9: appended, and the deals are read again
    write(raw, "crm_contacts", "part-002.csv", CONTACTS + "c9,2025-09-02\n")
    report = _load(raw, wh)
    assert report.modes["crm_contacts"] == "append"
    assert report.modes["crm_deals"] == "replace"
    assert query(wh, "SELECT deal_id FROM raw.crm_deals ORDER BY deal_id") == [("d1",), ("d9",)]
    assert query(wh, HELD) == []
    assert report.quarantined["crm_deals"] == 0


def test_new_deals_of_contacts_loaded_before_or_now_are_appended(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    _load(raw, wh)
    write(raw, "crm_contacts", "part-002.csv", CONTACTS + "c7,2025-09-05\n")
    write(
        raw,
        "crm_deals",
        "part-002.csv",
        DEALS + "d2,c2,2025-09-05,open,5,EUR,\nd7,c7,2025-09-05,open,7,EUR,\n",
    )
    write(raw, "crm_lifecycle_events", "part-002.csv", STAGES + "c7,lead,2025-09-05\n")
    report = _load(raw, wh)
    # c2 is known from the warehouse, c7 from this night's file: nothing held back
    assert report.modes == {**report.modes, "crm_contacts": "append", "crm_deals": "append"}
    assert report.modes["crm_lifecycle_events"] == "append"
    assert query(wh, HELD) == []
    assert query(wh, "SELECT deal_id FROM raw.crm_deals ORDER BY deal_id") == [
        ("d1",),
        ("d2",),
        ("d7",),
    ]


def test_a_contact_gone_from_a_replaced_contacts_table_takes_its_deal_out(
    tmp_path: Path,
) -> None:
    raw = landing(tmp_path)
    wh = tmp_path / "wh.duckdb"
    _load(raw, wh)
    # the contacts export is rewritten without c1: the table is replaced, and with it the deals
    # and stages, whose rows of c1 are held back now
    write(raw, "crm_contacts", "part-001.csv", CONTACTS + "c2,2025-09-01\n")
    report = _load(raw, wh)
    assert report.modes["crm_contacts"] == "replace"
    assert report.modes["crm_deals"] == report.modes["crm_lifecycle_events"] == "replace"
    assert query(wh, "SELECT count(*) FROM raw.crm_deals") == [(0,)]
    assert query(wh, HELD + " ORDER BY table_name, line") == [
        (
            "crm_deals",
            "part-001.csv",
            2,
            "contact_id",
            "contact_id 'c1' is not in crm_contacts",
            "c1",
        ),
        (
            "crm_lifecycle_events",
            "part-001.csv",
            2,
            "contact_id",
            "contact_id 'c1' is not in crm_contacts",
            "c1",
        ),
        (
            "crm_lifecycle_events",
            "part-001.csv",
            3,
            "contact_id",
            "contact_id 'c1' is not in crm_contacts",
            "c1",
        ),
    ]
    # a replaced contacts table that still holds every contact leaves the deals as they are
    write(raw, "crm_contacts", "part-001.csv", VALID["crm_contacts"])
    report = _load(raw, wh)
    assert report.modes["crm_contacts"] == "replace"
    assert report.modes["crm_deals"] == "replace"  # c1 is back: its deal with it
    assert query(wh, "SELECT deal_id FROM raw.crm_deals") == [("d1",)]
    assert query(wh, HELD) == []
    write(raw, "crm_contacts", "part-001.csv", VALID["crm_contacts"] + "c5,2025-09-03\n")
    report = _load(raw, wh)
    assert report.modes["crm_contacts"] == "replace"
    assert report.modes["crm_deals"] == report.modes["crm_lifecycle_events"] == "unchanged"


def test_a_deal_of_a_quarantined_contact_is_quarantined_too(tmp_path: Path) -> None:
    # c2's row is held back (1970): raw.crm_contacts will not hold c2, so neither can its deal
    raw = landing(
        tmp_path,
        crm_contacts=CONTACTS + "c1,2025-09-01\nc2,1970-01-01\n",
        crm_deals=DEALS + "d1,c1,2025-09-03,open,1,EUR,\nd2,c2,2025-09-03,won,9,EUR,2025-09-04\n",
    )
    wh = tmp_path / "wh.duckdb"
    report = _load(raw, wh)
    assert [(t, n, c) for t, _, n, c, *_ in query(wh, HELD + " ORDER BY table_name")] == [
        ("crm_contacts", 3, "created_at"),
        ("crm_deals", 3, "contact_id"),
    ]
    assert report.quarantined["crm_deals"] == 1
    assert query(wh, "SELECT deal_id FROM raw.crm_deals") == [("d1",)]


def test_a_full_refresh_judges_against_the_contacts_files_alone(tmp_path: Path) -> None:
    raw = landing(tmp_path)
    write(raw, "crm_deals", "part-002.csv", DEALS + "d9,c9,2025-09-03,won,500,EUR,2025-09-04\n")
    wh = tmp_path / "wh.duckdb"
    _load(raw, wh)
    report = load_raw(raw, wh, loaded_at=LOADED_AT, full_refresh=True)
    assert report.quarantined["crm_deals"] == 1
    assert [r[4] for r in query(wh, HELD)] == ["contact_id 'c9' is not in crm_contacts"]
