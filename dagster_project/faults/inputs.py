"""The small valid landing folder the bad-input matrix breaks one thing in (the loader tests
build on it too, through tests/support/landing.py), and the shape of one case of the matrix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from dagster_project.ingest.contract import TABLES

LOADED_AT = datetime(2025, 9, 2, 6, 0, 0)
# "In the future" is measured from this day (the loader's `today`), so the cases do not age.
TODAY = date(2025, 9, 10)

# One valid file per table needed for a run (header + rows, as CSV text).
VALID: dict[str, str] = {
    "ads_daily": (
        "date,platform,account_id,campaign_id,campaign_name,impressions,clicks,spend,currency\n"
        "2025-09-01,google_ads,A1,C1,Brand,1000,50,12.50,EUR\n"
        "2025-09-01,meta_ads,M1,C9,Retarget,2000,20,30,EUR\n"
    ),
    "web_events": (
        "event_id,event_timestamp,event_name,user_pseudo_id,session_id,page_location\n"
        "e1,2025-09-01T10:11:12Z,session_start,u1,s1,https://x.test/\n"
        "e2,2025-09-01T10:11:13Z,page_view,u1,s1,https://x.test/\n"
        ",2025-09-01T10:11:14Z,page_view,u1,s1,https://x.test/a\n"
    ),
    "crm_contacts": "contact_id,created_at\nc1,2025-09-01T10:00:00Z\nc2,2025-09-01\n",
    "crm_lifecycle_events": (
        "contact_id,stage,entered_at\nc1,lead,2025-09-01T10:00:00Z\nc1,mql,2025-09-02T10:00:00Z\n"
    ),
    "crm_deals": (
        "deal_id,contact_id,created_at,status,amount,currency\n"
        "d1,c1,2025-09-03T10:00:00Z,open,1000.00,EUR\n"
    ),
}

NEEDED = [t.name for t in TABLES.values() if t.needed_for_run]
OPTIONAL = [t.name for t in TABLES.values() if not t.needed_for_run]


def write(raw: Path, table: str, name: str, text: str) -> Path:
    folder = raw / table
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def landing(root: Path, **override: str) -> Path:
    """A valid landing folder ``root/raw``; ``override`` replaces a table's file text."""
    raw = root / "raw"
    for table in NEEDED:
        write(raw, table, "part-001.csv", override.get(table, VALID[table]))
    return raw


@dataclass(frozen=True)
class Case:
    """One kind of messy input and the outcome a person sees, written out by hand: exactly one
    of ``errors`` (the load is refused with these problems), ``quarantined`` (these rows are set
    aside, the rest loads) or neither (it loads; ``loaded`` and ``note`` say what is right)."""

    id: str  # <table>/<kind>
    table: str
    files: dict[str, str] = field(default_factory=dict)  # table -> CSV text of part-001.csv
    prepare: Callable[[Path], None] | None = None  # anything CSV text cannot say
    # expected outcome
    errors: tuple[tuple[int | None, str | None, str], ...] = ()  # (line, column, message part)
    quarantined: tuple[tuple[int, str, str], ...] = ()  # (line, column, problem part)
    loaded: tuple[str, list[tuple]] | None = None  # (SQL on the warehouse, its rows)
    note: str = ""  # for a load: why it is the right one
    error_file: str = "part-001.csv"
    source_file: str = "part-001.csv"  # of the quarantined rows
    ignored: tuple[str, ...] = ()  # LoadReport.ignored: what the load did not read
    env: dict[str, str] = field(default_factory=dict)  # settings for this case

    @property
    def kind(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def expected(self) -> str:
        if self.errors:
            return "refused"
        return "quarantined" if self.quarantined else "loaded"
