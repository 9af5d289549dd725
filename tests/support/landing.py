"""Landing-folder writers: CSV files from rows, header-only files, and the loader tests' small
valid landing folder (one file per table a run needs) with a table's text replaced at will; the
last is the bad-input matrix's own (dagster_project/faults/inputs.py), which reports use too."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dagster_project.faults.inputs import LOADED_AT, NEEDED, OPTIONAL, VALID, landing, write

__all__ = [
    "LOADED_AT",
    "NEEDED",
    "OPTIONAL",
    "VALID",
    "landing",
    "write",
    "write_csv",
    "write_header_only",
]


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
