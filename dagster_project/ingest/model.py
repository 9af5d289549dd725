"""What the loader's stages hand on to each other: one landing file (and the SQL that reads it
with its row numbers) and one table's load plan."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Literal

from dagster_project.ingest.contract import RawTable
from dagster_project.ingest.sql import path_lit

# Name of the row-number column added to every source relation. Unusual on purpose, so that it
# cannot collide with a column of the file.
RN = "__firewatch_rn"
# The longest CSV line (record) read, in bytes: DuckDB's default, stated so that lines.py can
# name the line that is longer and Python's csv module reads what DuckDB reads.
MAX_LINE_BYTES = 2_000_000


@dataclass
class SourceFile:
    path: Path
    rel: str  # name relative to the table folder; what _source_file holds
    index: int  # position in name order, from 0
    kind: Literal["csv", "parquet"]
    refs: dict[str, str] = field(default_factory=dict)  # lower-case name -> SQL reference
    types: dict[str, str] = field(default_factory=dict)  # lower-case name -> DuckDB type
    n_fields: int = 0  # CSV: number of header fields
    rows: int = 0
    readable: bool = True
    size: int = 0
    mtime_ns: int = 0
    # Rows set aside (valid, but not believable): (line, column, problem, value), and the SQL
    # predicate over the values relation that keeps them out of the raw table.
    quarantined: list[tuple[int, str, str, str | None]] = field(default_factory=list)
    quarantine_sql: str | None = None

    @property
    def display(self) -> str:
        return str(self.path)

    @property
    def gzipped(self) -> bool:
        return self.path.name.lower().endswith(".gz")

    def open_text(self, **kwargs: str) -> IO[str]:
        """The CSV file as text (a .csv.gz decompressed): what Python reads for header and lines."""
        if self.gzipped:
            return gzip.open(self.path, "rt", **kwargs)  # type: ignore[return-value]
        return self.path.open(**kwargs)

    def open_bytes(self) -> IO[bytes]:
        if self.gzipped:
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb")

    def header_line(self) -> int | None:
        return 1 if self.kind == "csv" else None

    def relation(self) -> str:
        """A subquery with the file's columns plus its 1-based row number ``RN``."""
        path = path_lit(self.path)
        if self.kind == "csv":
            cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(self.n_fields))
            # Explicit options instead of sniffing: RFC 4180, comma, double quote, the header
            # row skipped. Column names are positional (c0, c1, ...) so that odd header names
            # need no quoting. row_number() OVER () runs as DuckDB's order-preserving streaming
            # window, so it is the record number in the file.
            return (
                f"(SELECT *, row_number() OVER () AS {RN} FROM read_csv({path}, header = true, "
                f"auto_detect = false, columns = {{{cols}}}, delim = ',', quote = '\"', "
                f"escape = '\"', skip = 0, strict_mode = true, null_padding = false, "
                f"encoding = 'utf-8', max_line_size = {MAX_LINE_BYTES}))"
            )
        if "file_row_number" in self.refs:
            # The file has its own column of that name; fall back to the (slower) window.
            return f"(SELECT *, row_number() OVER () AS {RN} FROM read_parquet({path}))"
        return (
            f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {RN} "
            f"FROM read_parquet({path}, file_row_number = true))"
        )


@dataclass
class TablePlan:
    table: RawTable
    folder: Path
    files: list[SourceFile] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)  # lower-case, in order of first appearance
    # "replace": rebuild from all files; "append": add files[n_loaded:]; "unchanged": nothing new
    mode: Literal["replace", "append", "unchanged"] = "replace"
    n_loaded: int = 0
    future_after: date | None = None  # a not_future value after this day is quarantined
    earliest: date | None = None  # a not_too_old value before this day is quarantined
    # Entries of the table folder the load does not read (other files, sub-folders), as paths
    # relative to the landing folder; a folder ends in "/".
    ignored: list[str] = field(default_factory=list)

    @property
    def new_files(self) -> list[SourceFile]:
        return self.files[self.n_loaded :]
