"""From DuckDB's record numbers back to the physical CSV lines that messages name: a quoted
field may contain newlines, so record number != line number. Only error paths read this way."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from dagster_project.ingest.model import MAX_LINE_BYTES, SourceFile


def line_numbers(f: SourceFile, rns: set[int]) -> dict[int, int]:
    """Map 1-based data-record numbers to physical CSV lines (Parquet: rows are rows)."""
    if f.kind != "csv" or not rns:
        return {rn: rn for rn in rns}
    out: dict[int, int] = {}
    last = max(rns)
    try:
        for rn, (start, _record) in enumerate(_csv_records(f), start=1):
            if rn in rns:
                out[rn] = start
            if rn >= last:
                break
    except (OSError, EOFError, UnicodeDecodeError, csv.Error):
        pass  # DuckDB read it, so this should not happen; fall back to record numbers
    return out


def csv_structure_problem(f: SourceFile) -> tuple[int, str] | None:
    """First line that breaks RFC 4180 (bad quoting, wrong field count, bad UTF-8)."""
    # Bad UTF-8 first, line by line in binary, so the line number is exact.
    try:
        with f.open_bytes() as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return lineno, f"not UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)"
    except (OSError, EOFError) as exc:
        return 1, str(exc)
    where = [1]
    try:
        for start, record in _csv_records(f, where):
            if len(record) != f.n_fields:
                return start, f"{len(record)} fields where the header has {f.n_fields}"
            size = sum(len(x.encode("utf-8", "surrogateescape")) for x in record) + len(record)
            if size > MAX_LINE_BYTES:
                return start, _too_long(f"{size - 1:,} bytes")
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            return where[0], _too_long(f"a field of more than {MAX_LINE_BYTES:,} characters")
        # csv reports the error where it gave up, which for an unterminated quote is the end
        # of the file; name the line where the broken record began instead.
        return where[0], f"bad quoting ({exc}) in the record starting on this line"
    return None


def _too_long(what: str) -> str:
    return (
        f"the record starting on this line is too long ({what}; the loader reads at most "
        f"{MAX_LINE_BYTES:,} bytes a line)"
    )


def _csv_records(f: SourceFile, where: list[int] | None = None) -> Iterator[tuple[int, list[str]]]:
    """(physical start line, fields) of each data record, in DuckDB's record numbering.

    ``where[0]`` is set to the start line of the record being read, so a caller that catches
    a ``csv.Error`` knows where the broken record began.
    """
    # csv's own limit (131,072 characters a field) is lower than DuckDB's: a long field that
    # DuckDB read would stop the count here and every line after it would be misnamed.
    limit = csv.field_size_limit(MAX_LINE_BYTES)
    try:
        with f.open_text(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            next(reader, None)  # header
            while True:
                start = reader.line_num + 1
                if where is not None:
                    where[0] = start
                try:
                    record = next(reader)
                except StopIteration:
                    return
                # DuckDB skips blank lines, except in a one-column file where they are NULL rows.
                if not record and f.n_fields > 1:
                    continue
                yield start, record
    finally:
        csv.field_size_limit(limit)
