"""A won deal and a lifecycle stage of a contact not in crm_contacts change no number (issue 14).

The hand-built `tiny` landing folder (tests/e2e/test_pipeline_tiny.py: March revenue 1,200 USD,
d1's 1,000 EUR at 1.20) is run again with one more deals file and one more stages file, both of
contact c404, whom no contacts file holds. Before, dbt added the deal to revenue under
"unattributed" and dropped the stage without a word; now both rows are quarantined, and every
revenue and funnel number is the `tiny` run's. When c404's contact row arrives on the next
night, the deal counts: 5,000 EUR at 1.20, so the rows were real and only held back.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.landing import write
from tests.support.pipeline import run_pipeline
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import metric, query

AS_OF = "2025-05-31"
MONTH = "2025-03-01"
REVENUE = (
    "select grain, period_start, dimension, dimension_value, numerator, value "
    "from metric_series where metric_id = 'revenue' order by all"
)
CONTROL = "select period_start, dimension, revenue from control_monthly order by all"
FUNNEL = (
    "select metric_id, grain, period_start, dimension_value, numerator, denominator "
    "from metric_series where metric_id in ('leads', 'mql', 'sql', 'customers') order by all"
)
QUARANTINE = (
    "select table_name, source_file, line, column_name, problem, value from quarantine "
    "where column_name = 'contact_id' order by table_name"
)


@pytest.fixture(scope="module")
def with_unknown_contact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unknown-contact")
    raw = root / "raw"
    write_tiny_landing(raw)
    write(
        raw,
        "crm_deals",
        "deals-unknown.csv",
        "deal_id,contact_id,created_at,status,amount,currency,closed_at\n"
        "d404,c404,2025-03-12T10:00:00Z,won,5000,EUR,2025-03-21T12:00:00Z\n",
    )
    write(
        raw,
        "crm_lifecycle_events",
        "stages-unknown.csv",
        "contact_id,stage,entered_at\nc404,sql,2025-03-11T12:00:00Z\n",
    )
    warehouse = root / "firewatch.duckdb"
    assert run_pipeline(raw, warehouse, as_of=AS_OF) == 0
    return warehouse


def test_revenue_and_funnel_are_those_without_the_rows(
    tiny: Path, with_unknown_contact: Path
) -> None:
    assert query(with_unknown_contact, REVENUE) == query(tiny, REVENUE)
    assert query(with_unknown_contact, CONTROL) == query(tiny, CONTROL)
    assert query(with_unknown_contact, FUNNEL) == query(tiny, FUNNEL)
    assert metric(with_unknown_contact, "revenue", "month", MONTH)[2] == pytest.approx(1200.0)
    assert metric(with_unknown_contact, "customers", "month", MONTH)[2] == 1


def test_the_rows_are_in_the_quarantine_mart_with_file_line_column_and_reason(
    with_unknown_contact: Path,
) -> None:
    assert query(with_unknown_contact, QUARANTINE) == [
        (
            "crm_deals",
            "deals-unknown.csv",
            2,
            "contact_id",
            "contact_id 'c404' is not in crm_contacts",
            "c404",
        ),
        (
            "crm_lifecycle_events",
            "stages-unknown.csv",
            2,
            "contact_id",
            "contact_id 'c404' is not in crm_contacts",
            "c404",
        ),
    ]


def test_the_deal_counts_once_its_contact_arrives(
    with_unknown_contact: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "firewatch.duckdb"
    shutil.copy(with_unknown_contact, warehouse)
    raw = shutil.copytree(with_unknown_contact.parent / "raw", tmp_path / "raw")
    write(raw, "crm_contacts", "contacts-late.csv", "contact_id,created_at\nc404,2025-03-06\n")
    assert run_pipeline(raw, warehouse, as_of=AS_OF) == 0
    assert query(warehouse, QUARANTINE) == []
    # 1,000 EUR (d1) and 5,000 EUR (d404), both at the 1.20 of 03-15
    assert metric(warehouse, "revenue", "month", MONTH)[2] == pytest.approx(7200.0)
    assert metric(warehouse, "customers", "month", MONTH)[2] == 2
    assert metric(warehouse, "sql", "month", MONTH)[2] == 2
