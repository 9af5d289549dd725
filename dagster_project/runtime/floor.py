"""The engine floor of the performance bench: floor_control.sql (beside this module) computes
control_daily and the web components at every grain straight from a landing folder's raw files
in one DuckDB process (no loader, dbt or Dagster), and `floor_differences` compares them with the
pipeline's, measure by measure.

Given `memory_limit`, the floor runs with the DuckDB settings of the pipeline's dbt profile
(that memory cap, insertion order not kept), so the bench holds the pipeline against what the
engine does with the same memory: left uncapped, DuckDB takes 80% of the machine (10.4 GB for
the `large` floor against the pipeline's 2GB), and deduplicating 22 M events in memory is a
different job from doing it in 2GB."""

from __future__ import annotations

import string
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_project.ingest.contract import TABLES
from dagster_project.ingest.sql import lit as sql_literal

if TYPE_CHECKING:
    import duckdb

ROOT = Path(__file__).resolve().parents[2]
FLOOR_SQL = Path(__file__).resolve().parent / "floor_control.sql"
SEEDS = ROOT / "dbt_project" / "seeds"


def floor_sources(raw_dir: Path) -> dict[str, str]:
    """Per raw table, a relation over every file of its folder: CSV as text, Parquet natively,
    plus `filename`. A table without files is an empty relation of its contract's columns."""
    sources: dict[str, str] = {}
    for name, table in TABLES.items():
        folder = raw_dir / name
        readers = []
        if any(folder.glob("*.csv")):
            readers.append(
                f"select * from read_csv({sql_literal(str(folder / '*.csv'))}, header = true, "
                "all_varchar = true, union_by_name = true, filename = true, delim = ',', "
                "quote = '\"', escape = '\"')"
            )
        if any(folder.glob("*.parquet")):
            readers.append(
                f"select * from read_parquet({sql_literal(str(folder / '*.parquet'))}, "
                "union_by_name = true, filename = true)"
            )
        if not readers:
            columns = ", ".join(f"cast(null as varchar) as {c.name}" for c in table.columns)
            readers.append(f"select {columns}, cast(null as varchar) as filename where false")
        sources[name] = "(" + " union all by name ".join(readers) + ")"
    return sources


# Where floor_control.sql's second part begins: the web components beyond control_daily.
WEB_PART = "-- web components, every grain"


def run_floor(raw_dir: Path, database: Path, as_of: str = "", memory_limit: str = "") -> None:
    """Runs floor_control.sql on a landing folder; writes `control_daily` and `web_components`
    to database, and prints how long each part took (the bench reads it from the log).
    `memory_limit` (e.g. "2GB", as settings.duckdb_memory_limit() checks it): run with the
    pipeline's DuckDB settings; empty: DuckDB's defaults."""
    import time

    import duckdb

    script = string.Template(FLOOR_SQL.read_text(encoding="utf-8")).substitute(
        floor_sources(Path(raw_dir)), seeds=str(SEEDS), as_of=as_of
    )
    control, web = script.split(WEB_PART)
    con = duckdb.connect(str(database))
    try:
        if memory_limit:
            # dbt_project/profiles.yml's duckdb settings
            con.execute(f"set memory_limit = {sql_literal(memory_limit)}")
            con.execute("set preserve_insertion_order = false")
        started = time.perf_counter()
        con.execute(control)
        middle = time.perf_counter()
        con.execute(web)
        print(
            f"floor parts: control_daily {middle - started:.2f} s, "
            f"web components {time.perf_counter() - middle:.2f} s",
            flush=True,
        )
    finally:
        con.close()


# Units of control_daily's measures (metric_catalog): counts must match exactly, the rest
# (sums of money, ratios of sums, percentiles) to 1e-6 relative.
EXACT_MEASURES = (
    "impressions", "clicks", "ad_engagements", "sessions", "engaged_sessions", "leads", "mql",
    "sql", "customers", "social_engagements",
)  # fmt: skip
CLOSE_MEASURES = (
    "spend", "revenue", "ctr", "cpc", "session_to_lead_rate", "mql_per_lead", "sql_per_mql",
    "customers_per_sql", "cpl", "cac", "roas", "page_load_p75",
)  # fmt: skip


def floor_differences(warehouse: Path, floor_db: Path, limit: int = 20) -> list[str]:
    """Where the floor's control_daily differs from the pipeline's main.control_daily: rows
    present in one only, and measures outside their tolerance (a null matches only a null)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"attach {sql_literal(str(warehouse))} as pipeline (read_only)")
        con.execute(f"attach {sql_literal(str(floor_db))} as floor (read_only)")
        key = "period_start, dimension, dimension_value"
        problems = _only_in(
            con, "pipeline.main.control_daily", "floor.main.control_daily", key, "", limit
        )
        for measure_name in (*EXACT_MEASURES, *CLOSE_MEASURES, "is_complete_period"):
            p, f = f"p.{measure_name}", f"f.{measure_name}"
            same = _close(p, f) if measure_name in CLOSE_MEASURES else f"{p} = {f}"
            rows = con.execute(
                f"select p.period_start, p.dimension_value, {p}, {f} "
                f"from pipeline.main.control_daily as p join floor.main.control_daily as f "
                f"using ({key}) where not (({p} is null and {f} is null) or coalesce({same}, "
                f"false)) order by all limit {limit}"
            ).fetchall()
            problems += [f"{measure_name} {day} {value}: pipeline {a}, floor {b}"
                         for day, value, a, b in rows]  # fmt: skip
        return problems + _web_differences(con, limit)
    finally:
        con.close()


def _close(p: str, f: str) -> str:
    """SQL: two values equal to 1e-6 relative (sums of money, ratios, percentiles)."""
    return f"abs({p} - {f}) <= 1e-6 * greatest(abs({p}), abs({f}))"


def _only_in(
    con: duckdb.DuckDBPyConnection, pipeline: str, floor: str, key: str, what: str, limit: int
) -> list[str]:
    """The keys found on one side only, both ways (``what`` names the rows in the message)."""
    return [
        f"{what}only in {side}: {row}"
        for side, a, b in (("pipeline", pipeline, floor), ("floor", floor, pipeline))
        for row in con.execute(
            f"select {key} from {a} except select {key} from {b} order by all limit {limit}"
        ).fetchall()
    ]


# The pipeline's web components beside the floor's: counts exactly, the percentile to 1e-6.
_PIPELINE_WEB = (
    "(select * from pipeline.intermediate.int_components__web union all "
    "select * from pipeline.intermediate.int_components__page_load)"
)
_WEB_KEY = "grain, period_start, dimension, dimension_value, component"


def _web_differences(con: duckdb.DuckDBPyConnection, limit: int) -> list[str]:
    """Where the floor's web_components differ from the pipeline's int_components__web and
    int_components__page_load (``con`` has both databases attached)."""
    floor = "floor.main.web_components"
    problems = _only_in(con, _PIPELINE_WEB, floor, _WEB_KEY, "web component ", limit)
    rows = con.execute(
        f"select {_WEB_KEY}, p.value, f.value from {_PIPELINE_WEB} as p "
        f"join {floor} as f using ({_WEB_KEY}) "
        f"where not coalesce(case when component = 'page_load_p75' "
        f"then {_close('p.value', 'f.value')} else p.value = f.value end, false) order by all "
        f"limit {limit}"
    ).fetchall()
    return problems + [
        f"{component} {grain} {period} {dimension}={value}: pipeline {a}, floor {b}"
        for grain, period, dimension, value, component, a, b in rows
    ]
