"""Raw tables that are already in the warehouse (`FIREWATCH_RAW_SOURCE=warehouse`): an ELT tool
(Fivetran, Airbyte, dlt, a warehouse's own loader) lands them in the `raw` schema, or views
there name its tables as the contract does (docs/engines.md). The loader does not run, so no
file is validated; instead a night checks what dbt will read and decides the night as the loader
would:

- every table the run needs is there, and every table has the contract's columns and the
  loader's bookkeeping columns (`_source_file`, `_file_index`, `_row_number`, `_loaded_at`:
  staging keeps the row of the latest file per key) — else the run is refused, naming each
  table and column, before dbt starts;
- an optional table that is not there is created empty (its metrics are then absent, as with no
  files), and so is `raw._quarantine` (nothing is quarantined without a loader);
- `raw._run_night` gets the night by the loader's rule (`night.default_night`: the last day both
  ads and web have data), from the tables' own last days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from dagster_project.ingest.contract import META_COLUMNS, TABLES, ColumnType, RawTable
from dagster_project.ingest.night import ACTIVITY_COLUMNS, default_night, tomorrow
from dagster_project.warehouse.ddl import create_table
from dagster_project.warehouse.engine import Warehouse

RAW = "raw"
_PYTHON: Mapping[ColumnType | str, type] = {
    "string": str,
    "integer": int,
    "number": float,
    "date": date,
    "timestamp": datetime,
    "varchar": str,
    "bigint": int,
}
# What the loader writes besides the raw tables, as dbt reads them.
NIGHT_COLUMNS = (
    ("night", date),
    ("ads_last_day", date),
    ("web_last_day", date),
    ("crm_last_day", date),
    ("decided_at", datetime),
)
QUARANTINE_COLUMNS = (
    ("table_name", str),
    ("source_file", str),
    ("line", int),
    ("column_name", str),
    ("problem", str),
    ("value", str),
    ("loaded_at", datetime),
)


class RawSchemaError(ValueError):
    """The warehouse's raw tables cannot be read as the contract says; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class RawInWarehouse:
    """What a night found in the warehouse's raw schema."""

    night: date | None
    row_counts: dict[str, int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)  # optional tables created empty


def expected_columns(table: RawTable) -> list[tuple[str, type]]:
    """The columns dbt reads of a raw table: the contract's, then the loader's bookkeeping."""
    return [(c.name, _PYTHON[c.type]) for c in table.columns] + [
        (name, _PYTHON["bigint" if kind == "integer" else kind])
        for name, kind in META_COLUMNS.items()
    ]


def _problems(wh: Warehouse, table: RawTable, where: str) -> list[str]:
    have = {name.lower() for name in wh.frame(f"select * from {RAW}.{table.name} where 1 = 0")}
    missing = [name for name, _ in expected_columns(table) if name.lower() not in have]
    if not missing:
        return []
    return [
        f"{RAW}.{table.name} in {where} has no column {', '.join(missing)} (a view over the "
        "ELT tool's table can add them: docs/engines.md)"
    ]


def _last_day(wh: Warehouse, table: str, column: str) -> date | None:
    day = f"cast({column} as date)"
    [(last,)] = wh.rows(f"select max({day}) from {RAW}.{table} where {day} <= ?", [tomorrow()])
    return last


def last_days(wh: Warehouse) -> dict[str, date | None]:
    """Each raw table's last day of data (a table not there has none)."""
    return {
        table: _last_day(wh, table, column) if wh.table_exists(RAW, table) else None
        for table, column in ACTIVITY_COLUMNS
    }


def warehouse_night(wh: Warehouse) -> date | None:
    """The night a run over the warehouse's raw tables is for (the loader's rule)."""
    return default_night(last_days(wh))


def check_raw_in_warehouse(wh: Warehouse, where: str) -> RawInWarehouse:
    """Checks the raw schema (raises RawSchemaError, writing nothing), creates what the loader
    would have (empty optional tables, `_quarantine`) and records the night in `_run_night`."""
    problems: list[str] = []
    absent: list[RawTable] = []
    for table in TABLES.values():
        if wh.table_exists(RAW, table.name):
            problems += _problems(wh, table, where)
        elif table.needed_for_run:
            problems.append(
                f"{RAW}.{table.name} is not in {where}: the run needs it (docs/contract.md)"
            )
        else:
            absent.append(table)
    if problems:
        raise RawSchemaError(problems)
    wh.execute(f"create schema if not exists {RAW}")
    for table in absent:
        create_table(wh, f"{RAW}.{table.name}", expected_columns(table))
    create_table(wh, f"{RAW}._quarantine", QUARANTINE_COLUMNS)
    last = last_days(wh)
    night = default_night(last)
    crm = [day for table, day in last.items() if table.startswith("crm_") and day]
    create_table(wh, f"{RAW}._run_night", NIGHT_COLUMNS)
    import pandas as pd

    row = (night, last["ads_daily"], last["web_events"], max(crm, default=None),
           datetime.now(UTC).replace(tzinfo=None))  # fmt: skip
    frame = pd.DataFrame([row], columns=[name for name, _ in NIGHT_COLUMNS])
    with wh.transaction():
        wh.overwrite(f"{RAW}._run_night", frame)
    counts = {name: int(wh.rows(f"select count(*) from {RAW}.{name}")[0][0]) for name in TABLES}
    return RawInWarehouse(night, counts, [t.name for t in absent])
