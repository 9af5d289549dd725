"""Landing-folder writers: CSV files from rows, header-only files, and the loader tests' small
valid landing folder (one file per table a run needs) with a table's text replaced at will."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster_project.ingest.contract import TABLES


def write_csv(raw_dir: Path, table: str, name: str, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Writes rows to raw_dir/table/name with the union of their keys as the header."""
    rows = list(rows)
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    folder = raw_dir / table
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_header_only(raw_dir: Path, table: str, columns: list[str]) -> None:
    folder = raw_dir / table
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.csv").write_text(",".join(columns) + "\n", encoding="utf-8")


LOADED_AT = datetime(2025, 9, 2, 6, 0, 0)

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


def landing(tmp_path: Path, **override: str) -> Path:
    """A valid landing folder; ``override`` replaces a table's file text."""
    raw = tmp_path / "raw"
    for table in NEEDED:
        write(raw, table, "part-001.csv", override.get(table, VALID[table]))
    return raw
