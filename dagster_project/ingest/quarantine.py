"""Rows that parse but cannot be believed (absurd amounts, dates in the future or implausibly
old, a zero exchange rate, unknown values, a deal closed before it was created, a won deal
without a close date, a deal or stage of a contact not in crm_contacts): the checks that find
them, and the `raw._quarantine` table that keeps them out of the raw tables but in view (dbt's
`quarantine` model)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from dagster_project.ingest.contract import ABSURD_VALUE
from dagster_project.ingest.convert import Check, Conv
from dagster_project.ingest.lines import line_numbers
from dagster_project.ingest.model import RN, SourceFile, TablePlan
from dagster_project.ingest.problems import show_value
from dagster_project.ingest.references import reference_checks
from dagster_project.ingest.sql import lit

# docs/contract.md calls such rows "quarantined". `line` is the CSV line (header = 1) or the
# Parquet row.
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw._quarantine (
    table_name VARCHAR, source_file VARCHAR, line BIGINT, column_name VARCHAR, problem VARCHAR,
    value VARCHAR, loaded_at TIMESTAMP
)"""


def quarantine_checks(plan: TablePlan, convs: dict[str, Conv], idx: dict[str, int]) -> list[Check]:
    """Rows that parse but cannot be believed: absurd amounts, dates in the future or before the
    earliest plausible date, a 0 where it would wipe out money, values outside a column's
    allowed set, an empty value another column makes necessary, a deal closed before it was
    created, a key of another table that it will not hold (references.py)."""
    table, out = plan.table, []
    for col in table.columns:
        if col.name not in convs:
            continue
        p, shown = f"p_{idx[col.name]}", f"CAST(v_{idx[col.name]} AS VARCHAR)"
        if col.type in ("integer", "number"):
            out.append(
                Check(
                    col.name,
                    f"{p} > {ABSURD_VALUE:.0f}",
                    shown,
                    "absurd value {value} (over 10^12)",
                )
            )
        if col.not_future and plan.future_after is not None:
            cutoff = plan.future_after.isoformat()
            out.append(
                Check(
                    col.name,
                    f"CAST({p} AS DATE) > DATE {lit(cutoff)}",
                    shown,
                    f"in the future: {{value}} (after {cutoff})",
                )
            )
        if col.not_too_old and plan.earliest is not None:
            earliest = plan.earliest.isoformat()
            out.append(
                Check(
                    col.name,
                    f"CAST({p} AS DATE) < DATE {lit(earliest)}",
                    shown,
                    f"{{value}} is before the earliest plausible date {earliest}",
                )
            )
        if col.positive and col.type in ("integer", "number"):
            out.append(Check(col.name, f"{p} = 0", shown, f"zero value {{value}}: {col.positive}"))
        if col.allowed:
            listed = ", ".join(lit(a) for a in col.allowed)
            out.append(
                Check(
                    col.name,
                    f"lower(trim({p})) NOT IN ({listed})",
                    shown,
                    f"unknown value {{value}} (allowed: {', '.join(col.allowed)})",
                )
            )
    for col in table.columns:
        if not col.required_if or col.required_if[0] not in convs:
            continue
        other, value, why = col.required_if
        here = col.name in convs
        out.append(
            Check(
                col.name,
                f"lower(trim(p_{idx[other]})) = {lit(value)}"
                + (f" AND p_{idx[col.name]} IS NULL" if here else ""),
                f"CAST(v_{idx[col.name]} AS VARCHAR)" if here else "CAST(NULL AS VARCHAR)",
                f"empty while {other} is {value!r}: {why}",
            )
        )
    for later, earlier in table.ordered:
        if later in convs and earlier in convs:
            pl, pe = f"p_{idx[later]}", f"p_{idx[earlier]}"
            out.append(
                Check(
                    later,
                    f"{pl} < {pe}",
                    f"CAST(v_{idx[later]} AS VARCHAR)",
                    f"{{value}} is before {earlier}",
                )
            )
    return out + reference_checks(table, convs, idx)


def collect_quarantine(
    con: duckdb.DuckDBPyConnection, f: SourceFile, rel: str, held: list[Check]
) -> None:
    """Note on ``f`` every row a check in ``held`` sets aside, by line, column and reason."""
    found: list[tuple[int, str, str, str]] = []
    for check in held:
        rows = con.execute(
            f"SELECT {RN}, {check.shown} FROM ({rel}) WHERE coalesce({check.predicate}, false)"
        ).fetchall()
        found += [
            (
                int(rn),
                check.column,
                check.message.replace("{value}", show_value(v)),
                None if v is None else str(v),
            )
            for rn, v in rows
        ]
    lines = line_numbers(f, {rn for rn, *_ in found})
    f.quarantined = sorted(
        (lines.get(rn, rn), column, problem, value) for rn, column, problem, value in found
    )


def clear_quarantine(con: duckdb.DuckDBPyConnection, table_name: str) -> None:
    """Forget a table's quarantined rows: it is being replaced from all its files."""
    con.execute("DELETE FROM raw._quarantine WHERE table_name = ?", [table_name])


def store_quarantine(
    con: duckdb.DuckDBPyConnection, table_name: str, f: SourceFile, stamp: datetime
) -> None:
    """Write the rows set aside from ``f`` into ``raw._quarantine``."""
    con.executemany(
        "INSERT INTO raw._quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[table_name, f.rel, *q, stamp] for q in f.quarantined],
    )
