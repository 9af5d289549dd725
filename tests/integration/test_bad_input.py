"""The bad-input matrix (issues 5 and 14): what each kind of messy marketing file does to a load.

The cases are dagster_project/faults/bad_input_cases.py (the reliability report lists them with
their messages): each starts from the valid landing folder, breaks one thing in one table, and
states the outcome a person would see, written out by hand:

- refused: the load stops before the warehouse is opened, with exactly these problems (file,
  line, column, message), so the previous good state stays;
- quarantined: the load goes on, the listed rows are not in ``raw.<table>`` but in
  ``raw._quarantine`` with file, line, column and reason (the dbt ``quarantine`` mart shows them),
  and the load's report counts them;
- loaded: the file is fine after all, and a check states what was loaded.

The end-to-end half (a bad night leaves the warehouse and the BI copy as they were; quarantined
rows reach the mart, the run log and the Dagster check) is tests/e2e/test_bad_input_nightly.py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.faults.bad_input import run_case
from dagster_project.faults.bad_input_cases import CASES, DEALS_HEADER
from dagster_project.faults.inputs import LOADED_AT, TODAY, VALID, Case, landing, write
from dagster_project.ingest.loader import load_raw


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(tmp_path: Path, case: Case) -> None:
    outcome = run_case(case, tmp_path)
    assert outcome.mismatches == []
    assert outcome.kind == case.expected
    assert outcome.said  # the report has something to say of every case


def test_the_matrix_covers_the_issue() -> None:
    """At least 25 cases (issue 5) and ten more (issue 14), and every kind they list has one."""
    assert len(CASES) >= 56
    assert len({c.id for c in CASES}) == len(CASES)
    kinds = {c.kind for c in CASES}
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
        # issue 14
        "unknown-contact",
        "won-without-closed-at",
        "duplicate-header-names",
        "crlf-line-endings",
        "quoted-newline-then-bad-value",
        "currency-not-in-fx-rates",
        "negative-engagement-time",
        "thousands-separator",
        "offset-crosses-midnight",
        "utf16-file",
        "huge-field",
        "empty-table-folder",
    ):
        assert kind in kinds, kind


def test_quarantine_is_replaced_with_its_table_and_kept_on_append(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "crm_deals/unknown-status")
    raw = landing(tmp_path, crm_deals=case.files["crm_deals"])
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
                "closed_at": [datetime(2025, 9, 4), None],
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
