"""Load the landing folder (docs/contract.md section 1) into the DuckDB warehouse's ``raw`` schema:
``load_raw`` runs the stages (plan, validate, write) and reports what it loaded.

``load_raw`` looks at ``<raw_dir>/<table>/*.csv|*.csv.gz|*.parquet`` for every table in
``contract.TABLES`` (anything else in a table folder is named in ``LoadReport.ignored``).
Loads are incremental by file: ``raw._loaded_files`` remembers every file loaded (name,
position in name order, size, modification time, rows). When those files are still the first
files of the table's folder in name order, each with the same name, position, size and
modification time, only the files after them are validated and appended (none: the table is left
as it is). Otherwise - a loaded file changed, was removed or renamed, or a new file sorts before
one already loaded - the table is replaced from all its files, as it is on its first load, when
its raw table was dropped, and for every table with ``full_refresh=True``. A night that adds one
day of files therefore reads one day, not the history. ``raw._load_log`` records how each table
was loaded, so dbt's incremental models know when a table was replaced and a full rebuild of
them is due.

The header of every file is checked on every load; the values of the files to be loaded are
checked against the contract. Any problem - a missing required column, an unparsable or
negative value, an empty required value, a duplicate key within one file, an unreadable file -
is collected (all tables, all files) and raised as one ``RawInputError`` that names the file,
the line (CSV: physical line, header = line 1; Parquet: 1-based row) and the column. Nothing is
written to the warehouse in that case (it is at most read, to learn what is loaded already), so
its raw schema keeps its content. Only when nothing is wrong are all tables written, in one
transaction. Rows that are valid but not believable do not stop the load: they are set aside in
``raw._quarantine`` instead of the raw table (see quarantine.py), among them deals and lifecycle
events of contacts not in crm_contacts, which also make those tables replaced rather than
appended to when a contact arrives late or goes (references.py).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster_project.ingest.contract import FUTURE_SLACK_DAYS, TABLES
from dagster_project.ingest.model import TablePlan
from dagster_project.ingest.plan import choose_mode, loaded_files, plan_table
from dagster_project.ingest.problems import InputProblem, RawInputError
from dagster_project.ingest.references import KnownKeys
from dagster_project.ingest.sql import connect
from dagster_project.ingest.validate import validate_file
from dagster_project.ingest.write import write_warehouse
from dagster_project.settings import earliest_date

__all__ = ["LoadReport", "load_raw"]


@dataclass
class LoadReport:
    """What ``load_raw`` wrote."""

    warehouse: Path
    loaded_at: datetime
    row_counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    missing_optional: list[str] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)  # replace | append | unchanged
    new_files: dict[str, list[str]] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)  # rows set aside from new files
    # What the table folders hold that the load does not read (not .csv, .csv.gz or .parquet,
    # or a sub-folder), relative to the landing folder; a folder ends in "/".
    ignored: list[str] = field(default_factory=list)
    # The night the loaded data is complete to (ingest/night.py; raw._run_night).
    night: date | None = None
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())

    def summary(self) -> str:
        lines = [
            f"loaded {self.total_rows:,} rows into {len(self.row_counts)} raw tables "
            f"of {self.warehouse} in {self.seconds:.1f}s"
        ]
        for name, rows in self.row_counts.items():
            n_files = len(self.files.get(name, []))
            line = f"  {name}: {rows:,} rows from {n_files} file{'s' if n_files != 1 else ''}"
            if name in self.modes:
                line += f" ({self.modes[name]}, {len(self.new_files.get(name, []))} new)"
            if self.extra_columns.get(name):
                line += f" (extra columns: {', '.join(self.extra_columns[name])})"
            lines.append(line)
        if self.missing_optional:
            lines.append(f"  missing optional tables: {', '.join(self.missing_optional)}")
        if self.quarantine_message():
            lines.append(f"  {self.quarantine_message()}")
        return "\n".join(lines)

    def quarantine_message(self) -> str:
        """One sentence on the rows set aside by this load ('' when none were)."""
        counts = {t: n for t, n in self.quarantined.items() if n}
        if not counts:
            return ""
        listed = ", ".join(f"{t} {n:,}" for t, n in counts.items())
        return (
            f"quarantined {sum(counts.values()):,} rows ({listed}): not loaded; see the "
            "`quarantine` table for file, line, column and reason"
        )


def load_raw(
    raw_dir: Path,
    warehouse: Path,
    *,
    loaded_at: datetime | None = None,
    full_refresh: bool = False,
    today: date | None = None,
) -> LoadReport:
    """Validate the new raw files under ``raw_dir`` and bring ``raw.*`` in ``warehouse`` up to date.

    Raises ``RawInputError`` (listing all problems) without touching the warehouse when any
    input breaks the contract. ``loaded_at`` (default: now) is stored in ``_loaded_at`` as a
    naive UTC timestamp; an aware value is converted to UTC, a naive one is taken as UTC.
    ``today`` (default: the UTC date now) is what "in the future" is measured from.
    """
    started = time.perf_counter()
    raw_dir = Path(raw_dir)
    warehouse = Path(warehouse)
    stamp = _utc_naive(loaded_at if loaded_at is not None else datetime.now(UTC))
    report = LoadReport(warehouse=warehouse, loaded_at=stamp)
    problems: list[InputProblem] = []

    if not raw_dir.is_dir():
        problems.append(InputProblem(str(raw_dir), None, None, "raw folder does not exist"))
        raise RawInputError(problems)

    plans: list[TablePlan] = []
    future_after = (today or datetime.now(UTC).date()) + timedelta(days=FUTURE_SLACK_DAYS)
    earliest = earliest_date()
    loaded = {} if full_refresh else loaded_files(warehouse)
    # Validation runs in a private in-memory database whose spill files go to a temporary
    # folder, so a failed load never writes (let alone creates or locks) the warehouse.
    with tempfile.TemporaryDirectory(prefix="firewatch-load-") as tmp:
        con = connect(":memory:", temp_directory=tmp)
        keys = KnownKeys(con, None if full_refresh else warehouse)
        try:
            for table in TABLES.values():
                found: list[InputProblem] = []
                plan = plan_table(con, raw_dir, table, found)
                plan.future_after = future_after
                plan.earliest = earliest
                plans.append(plan)
                if not plan.files and not table.needed_for_run:
                    report.missing_optional.append(table.name)
                choose_mode(plan, loaded.get(table.name, []))
                keys.recheck(plan)  # a contact that came late, or went: read the table again
                for f in plan.new_files:
                    validate_file(con, plan, f, found)
                keys.remember(plan)  # the contacts there will be, for the deals after them
                # Header problems are found before any values; list them file by file.
                order = {f.display: f.index for f in plan.files}
                problems.extend(sorted(found, key=lambda p: order.get(p.path, -1)))
        finally:
            con.close()

    if problems:
        raise RawInputError(problems)

    for plan in plans:
        name = plan.table.name
        report.ignored += plan.ignored
        report.files[name] = [f.rel for f in plan.files]
        report.row_counts[name] = sum(f.rows for f in plan.files)
        report.extra_columns[name] = list(plan.extras)
        report.modes[name] = plan.mode
        report.new_files[name] = [f.rel for f in plan.new_files]
        report.quarantined[name] = sum(len({q[0] for q in f.quarantined}) for f in plan.new_files)

    report.night = write_warehouse(warehouse, plans, stamp)
    report.seconds = time.perf_counter() - started
    return report


def _utc_naive(ts: datetime) -> datetime:
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts
