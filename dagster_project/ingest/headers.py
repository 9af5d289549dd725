"""A landing file's columns: its CSV header row or Parquet schema, matched to the contract's
lower-case names, with a problem for each name that is unreadable, repeated or reserved."""

from __future__ import annotations

import codecs
import csv

import duckdb

from dagster_project.ingest.contract import META_COLUMNS
from dagster_project.ingest.model import RN, SourceFile
from dagster_project.ingest.problems import InputProblem, first_line
from dagster_project.ingest.sql import ident, path_lit


def read_csv_header(f: SourceFile, problems: list[InputProblem]) -> list[tuple[str, str]] | None:
    """Header names of a CSV file as (name, SQL reference) pairs; None if unreadable."""
    try:
        utf16 = _utf16(f)
        if utf16:
            problems.append(InputProblem(f.display, 1, None, utf16))
            return None
        # utf-8-sig: Excel writes a byte-order mark that must not end up in the first name.
        # surrogateescape: text is decoded in chunks, so bad UTF-8 further down must not fail
        # the header; DuckDB reports it later with its line.
        with f.open_text(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            header = next(csv.reader(fh, strict=True), None)
            # Whitespace only (an export that wrote nothing but a newline or spaces): one
            # problem, not a "missing required column" for every column.
            blank = (
                header is not None
                and len(header) <= 1
                and not "".join(header).strip()
                and not fh.read().strip()
            )
    except (OSError, EOFError, csv.Error) as exc:
        problems.append(InputProblem(f.display, 1, None, f"unreadable header row: {exc}"))
        return None
    if header is None:
        problems.append(InputProblem(f.display, 1, None, "file is empty (no header row)"))
        return None
    if blank:
        problems.append(InputProblem(f.display, 1, None, "file is blank (no header row)"))
        return None
    if not "".join(header).strip():
        problems.append(
            InputProblem(f.display, 1, None, "header row is blank (it must be the first line)")
        )
        return None
    if any(_has_surrogates(name) for name in header):
        problems.append(InputProblem(f.display, 1, None, "header row is not UTF-8"))
        return None
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        # European Excel exports use ';' (or tabs); say so instead of "missing column" x9.
        sep = "semicolon" if ";" in header[0] else "tab"
        problems.append(
            InputProblem(
                f.display,
                1,
                None,
                f"the file is {sep}-separated; the contract needs comma-separated CSV (RFC 4180)",
            )
        )
        return None
    f.n_fields = len(header)
    f.types = {}
    return [(name, ident(f"c{i}")) for i, name in enumerate(header)]


def read_parquet_schema(
    con: duckdb.DuckDBPyConnection, f: SourceFile, problems: list[InputProblem]
) -> list[tuple[str, str]] | None:
    """Column names of a Parquet file as (name, SQL reference) pairs; None if unreadable."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({path_lit(f.path)})").fetchall()
    except duckdb.Error as exc:
        problems.append(InputProblem(f.display, None, None, f"unreadable file: {first_line(exc)}"))
        return None
    pairs = [(str(r[0]), ident(str(r[0]))) for r in rows]
    f.types = {str(r[0]).strip().lower(): str(r[1]).upper() for r in rows}
    return pairs


def map_columns(f: SourceFile, names: list[tuple[str, str]], problems: list[InputProblem]) -> None:
    """Match file columns to lower-case names; report duplicates and reserved names."""
    types = f.types
    f.refs, f.types = {}, {}
    for position, (raw_name, ref) in enumerate(names, start=1):
        name = raw_name.strip().lower()
        if not name:
            # pandas writes its index with an empty header; keep it under a stable name.
            name = f"unnamed_{position}"
        if name in f.refs:
            problems.append(
                InputProblem(f.display, f.header_line(), name, "column appears more than once")
            )
            continue
        if name in META_COLUMNS or name == RN:
            problems.append(
                InputProblem(
                    f.display, f.header_line(), name, "column name is reserved for the loader"
                )
            )
            continue
        f.refs[name] = ref
        f.types[name] = types.get(raw_name.strip().lower(), "VARCHAR")


def _utf16(f: SourceFile) -> str:
    """Why the file is not UTF-8 text when it looks like UTF-16 (Excel's "Unicode Text", some
    CRM exports), else ''. Read as UTF-8 its header would be names with NUL bytes between the
    letters: nine "missing required column" problems and no word of the encoding."""
    with f.open_bytes() as fh:
        head = fh.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        found = "the file is UTF-16 (it starts with a UTF-16 byte-order mark)"
    elif b"\x00" in head.split(b"\n", 1)[0]:
        found = "the header row holds NUL bytes (a UTF-16 or binary file)"
    else:
        return ""
    return f"{found}; the contract needs UTF-8 text (in Excel: Save As 'CSV UTF-8')"


def _has_surrogates(text: str) -> bool:
    # surrogateescape turns each byte that is not UTF-8 into one of these.
    return any("\udc80" <= ch <= "\udcff" for ch in text)
