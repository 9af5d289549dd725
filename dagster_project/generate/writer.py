"""Builds Arrow tables in the contract's column order and types, and writes them as CSV or
Parquet so that the same data always gives byte-identical files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dagster_project.ingest.contract import TABLES

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("ms"),
}
FORMATS = ("csv", "parquet")


def _array(value: object, type_: pa.DataType) -> pa.Array:
    """A column from an Arrow array, a sequence, or (values, null_mask)."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        return value if value.type == type_ else value.cast(type_)
    mask = None
    if isinstance(value, tuple):
        value, mask = value
        mask = np.asarray(mask, dtype=bool)
    if pa.types.is_timestamp(type_):
        # Timestamps arrive as epoch milliseconds.
        value = np.asarray(value, dtype=np.int64).view("datetime64[ms]")
    return pa.array(value, type=type_, mask=mask)


def make_table(name: str, columns: Mapping[str, object]) -> pa.Table:
    """A table with exactly the contract's columns of `name`, in contract order."""
    schema_cols = TABLES[name].columns
    expected = {c.name for c in schema_cols}
    if set(columns) != expected:
        missing, extra = expected - set(columns), set(columns) - expected
        raise ValueError(f"{name}: columns differ from the contract: {missing=} {extra=}")
    arrays = [_array(columns[c.name], ARROW_TYPES[c.type]) for c in schema_cols]
    return pa.table(arrays, names=[c.name for c in schema_cols])


def _iso(col: pa.Array, with_ms: bool) -> pa.Array:
    """ISO 8601 UTC text: 2025-09-01T10:11:12.123Z (or without the milliseconds)."""
    # Casting to string is ~20x faster than pc.strftime and prints the unit's precision.
    unit = pa.timestamp("ms" if with_ms else "s")
    text = col.cast(unit, safe=False).cast(pa.string())
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, pa.scalar("Z"), "")


def write_table(table: pa.Table, path: Path, fmt: str, *, with_ms: bool = False) -> int:
    """Writes `table`; CSV timestamps become ISO 8601 UTC with a `Z` (milliseconds if asked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        cols = [
            _iso(col.combine_chunks(), with_ms) if pa.types.is_timestamp(col.type) else col
            for col in table.columns
        ]
        out = pa.table(cols, names=table.column_names)
        pacsv.write_csv(out, path, pacsv.WriteOptions(quoting_style="needed"))
    else:
        raise ValueError(f"unknown format {fmt!r}; choose csv or parquet")
    return table.num_rows
