"""How the bad-input cases break a valid landing folder: a table's rows replaced, a value
swapped, raw bytes, gzip, Parquet, stray and missing files (bad_input_cases.py uses them)."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from dagster_project.faults.inputs import VALID

ADS_HEADER = VALID["ads_daily"].splitlines()[0]
DEALS_HEADER = VALID["crm_deals"].splitlines()[0]
WEB_HEADER = VALID["web_events"].splitlines()[0]
TARGETS_HEADER = "period_start,metric,value,channel"
CLOSED_DEALS_HEADER = DEALS_HEADER + ",closed_at"


def csv_rows(table: str, *rows: str, header: str | None = None) -> dict[str, str]:
    """A table's file: the valid header (or another) and these data rows."""
    head = header if header is not None else VALID[table].splitlines()[0]
    return {table: "\n".join([head, *rows]) + "\n"}


def replaced(table: str, old: str, new: str) -> dict[str, str]:
    assert old in VALID[table], old
    return {table: VALID[table].replace(old, new, 1)}


def raw_bytes(table: str, data: bytes) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        (raw / table / "part-001.csv").write_bytes(data)

    return prepare


def truncated_parquet(table: str) -> Callable[[Path], None]:
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


def gzipped(table: str) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        csv_path = raw / table / "part-001.csv"
        (raw / table / "part-001.csv.gz").write_bytes(gzip.compress(csv_path.read_bytes()))
        csv_path.unlink()

    return prepare


def stray(table: str) -> Callable[[Path], None]:
    """Things a person drops into a table folder that are not data files."""

    def prepare(raw: Path) -> None:
        (raw / table / "notes.txt").write_text("spend is in EUR\n", encoding="utf-8")
        (raw / table / "x.csv").mkdir()
        (raw / table / "x.csv" / "inner.csv").write_text(VALID[table], encoding="utf-8")
        (raw / table / ".~lock.part-001.csv#").write_text("", encoding="utf-8")  # hidden

    return prepare


def removed(table: str) -> Callable[[Path], None]:
    def prepare(raw: Path) -> None:
        shutil.rmtree(raw / table)

    return prepare


def emptied(table: str) -> Callable[[Path], None]:
    """The table's folder is there, its files are not (an export that wrote nothing)."""

    def prepare(raw: Path) -> None:
        for path in (raw / table).iterdir():
            path.unlink()

    return prepare


def utf16(table: str, bom: bool) -> Callable[[Path], None]:
    """The valid file saved as UTF-16 (Excel's "Unicode Text"), with its byte-order mark or not."""
    return raw_bytes(table, VALID[table].encode("utf-16" if bom else "utf-16-le"))


def long_field(table: str, text: str, column: int, chars: int) -> Callable[[Path], None]:
    """``text`` with the ``column``-th field of its first data row made ``chars`` long (written
    when the case runs: megabytes have no place in a module's constants)."""

    def prepare(raw: Path) -> None:
        lines = text.split("\n")
        fields = lines[1].split(",")
        fields[column] = "x" * chars
        lines[1] = ",".join(fields)
        (raw / table / "part-001.csv").write_text("\n".join(lines), encoding="utf-8")

    return prepare


def deals_parquet(contacts: list[str]) -> Callable[[Path], None]:
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
