"""What a load has to do: the landing files of each table in name order, what the warehouse
holds already, and whether each table is appended to, replaced or left as it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from dagster_project.ingest.contract import RawTable
from dagster_project.ingest.headers import map_columns, read_csv_header, read_parquet_schema
from dagster_project.ingest.model import SourceFile, TablePlan
from dagster_project.ingest.problems import InputProblem
from dagster_project.settings import lock_wait


def file_kind(path: Path) -> Literal["csv", "parquet"] | None:
    """How a landing file is read: ``.csv`` and ``.csv.gz`` (DuckDB and Python decompress it)
    as CSV, ``.parquet`` as Parquet; None for anything else."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    return None


def landing_files(folder: Path, ignored: list[Path] | None = None) -> list[Path]:
    """A table folder's data files in name order (the order "the later file wins" follows).

    What else the folder holds - other files, sub-folders - goes to ``ignored`` (when given),
    so the load can say it did not read them. Hidden entries (editor backups, macOS "._x.csv"
    resource forks) are not data and are skipped without a word.
    """
    if not folder.is_dir():
        return []
    files = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.name.startswith("."):
            continue
        if p.is_file() and file_kind(p) is not None:
            files.append(p)
        elif ignored is not None:
            ignored.append(p)
    return files


@dataclass(frozen=True)
class _Loaded:
    name: str
    index: int
    size: int
    mtime_ns: int
    rows: int
    columns: frozenset[str]


def loaded_files(warehouse: Path) -> dict[str, list[_Loaded]]:
    """What the warehouse holds already, per raw table; empty when it has no load yet."""
    if not warehouse.exists():
        return {}
    # Imported here, as in sql.connect: the warehouse package is needed only once a warehouse
    # exists, not to plan a first load or to find the last day of data.
    from dagster_project.warehouse.connection import open_warehouse, table_exists

    with open_warehouse(warehouse, read_only=True, wait_seconds=lock_wait()) as con:
        if not table_exists(con, "raw", "_loaded_files"):
            return {}
        columns: dict[str, set[str]] = {}
        for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw'"
        ).fetchall():
            columns.setdefault(table, set()).add(column)
        rows = con.execute(
            "SELECT table_name, file_name, file_index, size_bytes, mtime_ns, row_count "
            "FROM raw._loaded_files ORDER BY table_name, file_index"
        ).fetchall()
    loaded: dict[str, list[_Loaded]] = {}
    for table, name, index, size, mtime_ns, count in rows:
        if table not in columns:  # the table itself was dropped: load it again
            continue
        loaded.setdefault(table, []).append(
            _Loaded(name, index, size, mtime_ns, count, frozenset(columns[table]))
        )
    return loaded


def choose_mode(plan: TablePlan, loaded: list[_Loaded]) -> None:
    """Append when the loaded files are an unchanged prefix of today's files, else replace."""
    prefix = [(f.rel, f.index, f.size, f.mtime_ns) for f in plan.files[: len(loaded)]]
    same = prefix == [(x.name, x.index, x.size, x.mtime_ns) for x in loaded]
    if not loaded or not same:
        plan.mode, plan.n_loaded = "replace", 0
        return
    plan.n_loaded = len(loaded)
    for f, x in zip(plan.files, loaded, strict=False):
        f.rows = x.rows
    plan.mode = "append" if plan.new_files else "unchanged"


def plan_table(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, table: RawTable, problems: list[InputProblem]
) -> TablePlan:
    """A table's landing files with their columns read; header problems of every file (loaded
    before or not) go to ``problems``."""
    folder = raw_dir / table.name
    plan = TablePlan(table=table, folder=folder)
    ignored: list[Path] = []
    paths = landing_files(folder, ignored)
    plan.ignored = [
        p.relative_to(raw_dir).as_posix() + ("/" if p.is_dir() else "") for p in ignored
    ]
    if not paths:
        if table.needed_for_run:
            what = (
                "is empty (no .csv, .csv.gz or .parquet files)" if folder.is_dir() else "is missing"
            )
            problems.append(
                InputProblem(str(folder), None, None, f"folder {what}; table is needed for a run")
            )
        return plan

    contract = {c.name for c in table.columns}
    landing = raw_dir.resolve()
    outside = [p for p in paths if not p.resolve().is_relative_to(landing)]
    for path in outside:
        # A link out of the landing folder would let a landing file read anything the run can.
        problems.append(
            InputProblem(
                str(path),
                None,
                None,
                f"symlink to {path.resolve()}, outside the landing folder {landing}; copy the "
                "file in instead",
            )
        )
    paths = [p for p in paths if p not in outside]
    for index, path in enumerate(paths):
        kind = file_kind(path)
        assert kind is not None  # landing_files keeps only files it can read
        stat = path.stat()
        f = SourceFile(
            path=path,
            rel=path.name,
            index=index,
            kind=kind,
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )
        plan.files.append(f)
        names = (
            read_csv_header(f, problems) if kind == "csv" else read_parquet_schema(con, f, problems)
        )
        if names is None:
            f.readable = False
            continue
        map_columns(f, names, problems)
        for name in f.refs:
            if name not in contract and name not in plan.extras:
                plan.extras.append(name)
        for col in table.required_columns:
            if col not in f.refs:
                problems.append(
                    InputProblem(f.display, f.header_line(), col, "missing required column")
                )
    return plan
