"""Running the bad-input matrix (bad_input_cases.py): each case's landing folder loaded with the
loader in this process, what a person reads of it (the refusal's problems, the quarantined
rows, or the load), and how that differs from what the case states. The tests assert that it
does not (tests/integration/test_bad_input.py); the report lists every case with its message
(the "Bad input" section of docs/reliability.md, report.py).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import duckdb

from dagster_project.faults.inputs import LOADED_AT, TODAY, VALID, Case, landing, write
from dagster_project.ingest.loader import LoadReport, load_raw
from dagster_project.ingest.problems import InputProblem, RawInputError

SECTION = "## Bad input"


@dataclass
class Outcome:
    case: Case
    kind: str  # refused | quarantined | loaded
    said: list[str]  # what a person reads, paths relative to the landing folder
    mismatches: list[str] = field(default_factory=list)  # [] when it is as the case states
    seconds: float = 0.0


def build(case: Case, root: Path) -> Path:
    """The case's landing folder ``root/raw``: the valid one with the case's files."""
    raw = landing(root, **{k: v for k, v in case.files.items() if k in VALID})
    for table, text in case.files.items():
        if table not in VALID:  # an optional table's file
            write(raw, table, "part-001.csv", text)
    if case.prepare:
        case.prepare(raw)
    return raw


def run_case(case: Case, root: Path) -> Outcome:
    """Loads the case's landing folder into ``root/w.duckdb`` and compares."""
    started = time.perf_counter()
    raw = build(case, root)
    warehouse = root / "w.duckdb"
    with mock.patch.dict(os.environ, case.env):  # the case's settings, then the old ones
        try:
            report = load_raw(raw, warehouse, loaded_at=LOADED_AT, today=TODAY)
        except RawInputError as error:
            out = _refused(case, raw, warehouse, error.problems)
        else:
            out = _loaded(case, raw, warehouse, report)
    out.seconds = time.perf_counter() - started
    return out


def run_matrix(cases: Sequence[Case] | None = None) -> list[Outcome]:
    """Every case, each in a folder of its own that is removed afterwards."""
    if cases is None:
        from dagster_project.faults.bad_input_cases import CASES

        cases = CASES
    outcomes = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="firewatch-bad-input-") as tmp:
            outcomes.append(run_case(case, Path(tmp)))
    return outcomes


def _refused(case: Case, raw: Path, warehouse: Path, problems: list[InputProblem]) -> Outcome:
    said = [_relative(str(p), raw) for p in problems]
    out = Outcome(case, "refused", said)
    if not case.errors:
        out.mismatches.append(f"refused, expected {case.expected}: {said}")
        return out
    if len(problems) != len(case.errors):
        out.mismatches.append(f"{len(problems)} problems, expected {len(case.errors)}: {said}")
    folder = raw / case.table
    where = str(folder / case.error_file) if case.error_file else str(folder)
    for p, (line, column, message) in zip(problems, case.errors, strict=False):
        if (p.path, p.line, p.column) != (where, line, column):
            out.mismatches.append(f"{p} is not at {(where, line, column)}")
        if message not in p.message or not str(p).startswith(where):
            out.mismatches.append(f"{p} does not say {message!r}")
    if warehouse.exists():
        out.mismatches.append("the refused load created the warehouse")
    return out


def _loaded(case: Case, raw: Path, warehouse: Path, report: LoadReport) -> Outcome:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        held = con.execute(
            "select table_name, source_file, line, column_name, problem from raw._quarantine "
            "order by line"
        ).fetchall()
        said = [
            f"{t}/{f}, {'row' if f.endswith('.parquet') else 'line'} {n}, column {c}: "
            f"quarantined: {p}"
            for t, f, n, c, p in held
        ]
        out = Outcome(case, "quarantined" if held else "loaded", said)
        if case.errors:
            out.mismatches.append(f"loaded, expected refused with {case.errors}")
        if report.ignored != list(case.ignored):
            out.mismatches.append(f"ignored {report.ignored}, expected {list(case.ignored)}")
        expected = [(case.table, case.source_file, *q) for q in case.quarantined]
        if [h[:4] for h in held] != [e[:4] for e in expected] or any(
            e[4] not in h[4] for h, e in zip(held, expected, strict=False)
        ):
            out.mismatches.append(f"quarantined {held}, expected {expected}")
        if case.quarantined:
            _count_quarantined(case, con, report, out)
        elif "quarantined" in report.summary():
            out.mismatches.append(f"the summary speaks of quarantine: {report.summary()}")
        if case.loaded:
            sql, rows = case.loaded
            got = con.execute(sql).fetchall()
            if got != rows:
                out.mismatches.append(f"{sql} gave {got}, expected {rows}")
            if not held:
                out.said = [f"loaded: {case.note}" if case.note else f"loaded: {sql} = {got}"]
        elif not held:
            out.said = [f"loaded: {case.note}" if case.note else "loaded"]
    finally:
        con.close()
    return out


def _count_quarantined(
    case: Case, con: duckdb.DuckDBPyConnection, report: LoadReport, out: Outcome
) -> None:
    """The run's output counts the rows, and they are out of the raw table, the others in."""
    if report.quarantined.get(case.table) != len(case.quarantined):
        out.mismatches.append(f"the report counts {report.quarantined}")
    if "quarantined" not in report.summary():
        out.mismatches.append(f"the summary does not say quarantined: {report.summary()}")
    if case.table not in case.files:
        return  # a file written by `prepare`: its rows are not counted here
    (loaded,) = con.execute(f"select count(*) from raw.{case.table}").fetchone()
    text = case.files[case.table]
    limit = csv.field_size_limit(len(text))  # a case may hold a field longer than csv's limit
    try:
        # records, not lines: a quoted field may hold a newline
        file_rows = sum(1 for r in csv.reader(io.StringIO(text)) if r) - 1
    finally:
        csv.field_size_limit(limit)
    if loaded != file_rows - len(case.quarantined):
        out.mismatches.append(f"{loaded} rows loaded of {file_rows}")


def _relative(text: str, raw: Path) -> str:
    return text.replace(f"{raw}{os.sep}", "").replace(str(raw), "(landing folder)")


def matrix_section(outcomes: Sequence[Outcome]) -> list[str]:
    """The report's "Bad input" section: the count, then every case with what it says."""
    kinds = {k: sum(o.kind == k for o in outcomes) for k in ("refused", "quarantined", "loaded")}
    stated = sum(not o.mismatches for o in outcomes)
    lines = [
        SECTION,
        "",
        "`dagster_project/faults/bad_input_cases.py` breaks one thing in a small valid landing "
        "folder per case and states the outcome a person must see; "
        "`dagster_project/faults/bad_input.py` loads each with the loader and compares "
        "(`python -m dagster_project.faults.report` rewrites this section; "
        "tests/integration/test_bad_input.py asserts it). Refused: nothing is written and the "
        "message names file, line and column. Quarantined: the row is kept out of the raw "
        "table and listed in `raw._quarantine` (the `quarantine` mart) with file, line, column "
        "and reason. Loaded: the input is right as it is, for the reason given.",
        "",
        f"**Bad-input cases as stated: {stated}/{len(outcomes)}** ({kinds['refused']} refused, "
        f"{kinds['quarantined']} quarantined, {kinds['loaded']} loaded; "
        f"{sum(o.seconds for o in outcomes):.1f} s, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC).",
        "",
        "| case | outcome | what the load says (file relative to the landing folder) |",
        "|---|---|---|",
    ]
    for o in outcomes:
        text = "<br>".join(_cell(s) for s in o.said)
        if o.mismatches:
            text += "<br>**NOT AS STATED:** " + "; ".join(_cell(m) for m in o.mismatches)
        lines.append(f"| `{o.case.id}` | {o.kind} | {text} |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "\\r").replace("\n", "\\n")
