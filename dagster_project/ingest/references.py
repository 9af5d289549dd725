"""Rows that name a row of another table that the warehouse will not hold: a deal or a lifecycle
event of a contact missing from ``crm_contacts`` (docs/contract.md, "Deals and stages of
unknown contacts"). dbt would count such a won deal as revenue of no channel and drop such a
stage entry from every funnel, both without a word; the loader quarantines the row instead.

"Will hold" follows the loader's own plan for the referenced table: replaced, it holds what its
files bring; appended to, what the warehouse holds plus what its new files bring; unchanged,
what the warehouse holds. Rows the load quarantines are not held. Validation sees those keys as
``raw.<table>`` of its private database (`KnownKeys.remember`), and the write as the warehouse's
own ``raw.<table>``, written earlier in the same transaction (referenced tables come first in
``contract.TABLES``), so the one SQL check (`reference_checks`) gives the same rows in both.

Keys can also change under rows loaded on earlier nights: a contact that arrives after its deal
(an export run earlier than the other), or one that a replaced contacts table no longer holds.
Then the referencing table is replaced from all its files (`KnownKeys.recheck`), so a deal held
back yesterday is loaded today, and one of a contact gone is held back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from dagster_project.ingest.contract import TABLES, RawTable
from dagster_project.ingest.convert import Check, Conv, values_relation
from dagster_project.ingest.model import TablePlan
from dagster_project.ingest.sql import ident, lit
from dagster_project.settings import lock_wait

if TYPE_CHECKING:  # imported where used, as the warehouse package is
    import pyarrow as pa

# The referenced tables (crm_contacts), each with its one key column.
REFERENCED: dict[str, str] = {
    c.references: TABLES[c.references].key[0]
    for t in TABLES.values()
    for c in t.columns
    if c.references
}


def reference_message(column: str, referenced: str) -> str:
    """The reason a row naming an unknown key is quarantined with ({value}: the key)."""
    return f"{column} {{value}}{_not_in(referenced)}"


def _not_in(referenced: str) -> str:
    return f" is not in {referenced}"


def reference_checks(table: RawTable, convs: dict[str, Conv], idx: dict[str, int]) -> list[Check]:
    """One check per column that names another table's key: the key must be in that table."""
    out = []
    for col in table.columns:
        if not col.references or col.name not in convs:
            continue
        p = f"p_{idx[col.name]}"
        key = ident(REFERENCED[col.references])
        out.append(
            Check(
                col.name,
                f"{p} IS NOT NULL AND {p} NOT IN "
                f"(SELECT {key} FROM raw.{ident(col.references)} WHERE {key} IS NOT NULL)",
                f"CAST(v_{idx[col.name]} AS VARCHAR)",
                reference_message(col.name, col.references),
            )
        )
    return out


class KnownKeys:
    """The keys of the referenced tables as they will be after this load, in ``con`` (the
    validation database), and the loaded tables that have to be read again because of them.

    ``warehouse`` is None when nothing loaded before counts (a first load, a full refresh).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, warehouse: Path | None) -> None:
        self.con = con
        self.warehouse = warehouse if warehouse is not None and warehouse.exists() else None
        self.replaced: set[str] = set()  # referenced tables this load replaces

    def remember(self, plan: TablePlan) -> None:
        """After a referenced table's new files were validated: its keys after this load."""
        name = plan.table.name
        if name not in REFERENCED:
            return
        key = REFERENCED[name]
        target = f"raw.{ident(name)}"
        self.con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        self.con.execute(f"CREATE OR REPLACE TABLE {target} ({ident(key)} VARCHAR)")
        if plan.mode == "replace":
            self.replaced.add(name)
        else:
            self._insert(target, self._read(f"SELECT DISTINCT {ident(key)} FROM {target}", name))
        for f in plan.new_files:
            if not f.readable or key not in f.refs:
                continue
            rel, _ = values_relation(plan, f)
            p = f"p_{[c.name for c in plan.table.columns].index(key)}"
            held = f" AND NOT coalesce({f.quarantine_sql}, false)" if f.quarantine_sql else ""
            # an unreadable file: the load is refused and says why
            with contextlib.suppress(duckdb.Error):
                self.con.execute(
                    f"INSERT INTO {target} SELECT {p} FROM ({rel}) WHERE {p} IS NOT NULL{held}"
                )

    def recheck(self, plan: TablePlan) -> None:
        """Before a referencing table's files are validated: replace it instead of appending
        (or leaving it) when rows it holds or held back would now be judged otherwise."""
        name = plan.table.name
        columns = [c for c in plan.table.columns if c.references]
        if not columns or plan.mode == "replace" or self.warehouse is None:
            return
        for col in columns:
            known = f"raw.{ident(col.references)}"
            key = ident(REFERENCED[col.references])
            # held back earlier, for a key that is there now
            late = self._read(
                "SELECT DISTINCT value FROM raw._quarantine WHERE table_name = "
                f"{lit(name)} AND column_name = {lit(col.name)} AND problem LIKE "
                f"{lit('%' + _not_in(col.references))}",
                "_quarantine",
            )
            # loaded earlier, for a key a replaced table no longer holds
            gone = (
                self._read(f"SELECT DISTINCT {ident(col.name)} FROM raw.{ident(name)}", name)
                if col.references in self.replaced
                else None
            )
            for found, test in ((late, "IN"), (gone, "NOT IN")):
                if found is None or not found.num_rows:
                    continue
                with self._with("_found", found) as cur:
                    [(hit,)] = cur.execute(
                        f"SELECT count(*) FROM _found AS f({key}) WHERE {key} IS NOT NULL "
                        f"AND {key} {test} (SELECT {key} FROM {known} WHERE {key} IS NOT NULL)"
                    ).fetchall()
                if hit:
                    plan.mode, plan.n_loaded = "replace", 0
                    for f in plan.files:
                        f.rows = 0
                    return

    def _read(self, sql: str, table: str) -> pa.Table | None:
        """A query on the warehouse's raw schema as an Arrow table; None without that table."""
        if self.warehouse is None:
            return None
        from dagster_project.warehouse.connection import open_warehouse, table_exists

        with open_warehouse(self.warehouse, read_only=True, wait_seconds=lock_wait()) as con:
            if not table_exists(con, "raw", table):
                return None
            return con.cursor().sql(sql).to_arrow_table()

    def _insert(self, target: str, rows: pa.Table | None) -> None:
        if rows is None or not rows.num_rows:
            return
        with self._with("_rows", rows) as cur:
            cur.execute(f"INSERT INTO {target} SELECT * FROM _rows")

    @contextlib.contextmanager
    def _with(self, name: str, rows: pa.Table) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the validation database (its own results, so none of the loader's is
        pending) that sees ``rows`` as the view ``name``."""
        cur = self.con.cursor()
        try:
            cur.register(name, rows)
            yield cur
        finally:
            cur.close()
