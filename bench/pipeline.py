"""Performance benchmark of the nightly pipeline against the engine floor. Writes
docs/performance.md.

For each profile (small, medium, large) it generates N+1 days (N = the profile's days) and
moves the last day D's rows of web_events and ads_daily into day files, so that one landing
folder holds the history up to D-1 and the day files add exactly one day. Then, each as its own
process, with wall time and peak RSS of the whole process tree (psutil, polled every 50 ms):

- full build: `firewatch run --as-of D-1` on a fresh warehouse with the history;
- nightly: the day files added, `firewatch run --as-of D` on the same warehouse;
- the same two on 2N+1 generated days (the nightly is the target there);
- the engine floor: bench/floor_control.sql (control_daily from the raw files, one DuckDB
  process, no dbt, no Dagster) on the same history as the full build;

and once per bench run (they do not depend on the data set): the divergence checks alone
(`detect`) over ~10,000 synthetic series, and the load of the Dagster code location.

    .venv/bin/python bench/pipeline.py                     # small, medium and large
    .venv/bin/python bench/pipeline.py --profiles small    # one profile
    .venv/bin/python bench/pipeline.py --fresh             # regenerate the cached data sets

Generated data sets are kept under --work (default bench/.cache/pipeline) and reused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import string
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from dagster_project.ingest.contract import TABLES  # noqa: E402

FLOOR_SQL = ROOT / "bench" / "floor_control.sql"
SEEDS = ROOT / "dbt_project" / "seeds"
DBT_TARGET = ROOT / "dbt_project" / "target"
DEFAULT_WORK = ROOT / "bench" / ".cache" / "pipeline"
PROFILES = ("small", "medium", "large")
POLL_SECONDS = 0.05
CHECK_SERIES = 10_000
# The doubled history's runs only measure how the nightly grows; its full build is not a target.
DOUBLED_MEMORY_LIMIT = "3GB"
MEMORY_LIMIT_ENV = "FIREWATCH_DUCKDB_MEMORY_LIMIT"
# Bumped whenever _split changes what it writes, so cached data sets are made again.
SPLIT_VERSION = "2"
GB = 1e9  # peak RSS is reported in GB of 10^9 bytes, as the targets are written

# Targets (issue "Nightly operations", part "Performance benchmark").
FULL_FLOOR_FACTOR, FULL_FIXED_SECONDS, MAX_RSS_GB = 2.0, 10.0, 4.0
NIGHTLY_SHARE, DOUBLED_FACTOR = 0.10, 1.2
CHECKS_SECONDS, LOAD_SECONDS = 5.0, 3.0


# ---------------------------------------------------------------------------- engine floor


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def floor_sources(raw_dir: Path) -> dict[str, str]:
    """Per raw table, a relation over every file of its folder: CSV as text, Parquet natively,
    plus `filename`. A table without files is an empty relation of its contract's columns."""
    sources: dict[str, str] = {}
    for name, table in TABLES.items():
        folder = raw_dir / name
        readers = []
        if any(folder.glob("*.csv")):
            readers.append(
                f"select * from read_csv({_lit(str(folder / '*.csv'))}, header = true, "
                "all_varchar = true, union_by_name = true, filename = true, delim = ',', "
                "quote = '\"', escape = '\"')"
            )
        if any(folder.glob("*.parquet")):
            readers.append(
                f"select * from read_parquet({_lit(str(folder / '*.parquet'))}, "
                "union_by_name = true, filename = true)"
            )
        if not readers:
            columns = ", ".join(f"cast(null as varchar) as {c.name}" for c in table.columns)
            readers.append(f"select {columns}, cast(null as varchar) as filename where false")
        sources[name] = "(" + " union all by name ".join(readers) + ")"
    return sources


def run_floor(raw_dir: Path, database: Path, as_of: str = "") -> None:
    """Runs bench/floor_control.sql on a landing folder; writes `control_daily` to database."""
    import duckdb

    script = string.Template(FLOOR_SQL.read_text(encoding="utf-8")).substitute(
        floor_sources(Path(raw_dir)), seeds=str(SEEDS), as_of=as_of
    )
    con = duckdb.connect(str(database))
    try:
        con.execute(script)
    finally:
        con.close()


# ----------------------------------------------------------------------------- measuring


@dataclass
class Measurement:
    """One process (tree): wall seconds, peak RSS, and when each progress stage ended."""

    label: str
    seconds: float
    peak_rss: int  # bytes, the largest sum over the process and its children at one poll
    log: Path
    # (stage, first line at, last line at) in seconds from process start, in order
    stages: list[tuple[str, float, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rss_gb(self) -> float:
        return self.peak_rss / GB


# ConsoleProgress: "[  12.3s] dbt events      5/16  built ..." (a stage name may hold spaces)
_STAGE_LINE = re.compile(r"^\[\s*[\d.]+s\] (.+?)\s+\d+(?:/\d+)?  ")


def _tree_rss(root: Any) -> int:
    import psutil

    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        # a child may exit between listing and reading
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


def _stop_tree(root: Any) -> None:
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        processes = [*root.children(recursive=True), root]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        psutil.wait_procs(processes, timeout=10)


def measure(label: str, command: Sequence[str], env: dict[str, str], log: Path) -> Measurement:
    """Runs a command, polling the RSS of its process tree; stderr lines are time-stamped on
    arrival so the progress stages of `firewatch run` can be timed from process start."""
    import psutil

    log.parent.mkdir(parents=True, exist_ok=True)
    stages: list[tuple[str, float, float]] = []
    with log.open("w", encoding="utf-8") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            list(command), env=env, cwd=ROOT, stdout=out, stderr=subprocess.PIPE, text=True
        )
        root = psutil.Process(process.pid)

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                at = time.monotonic() - started
                out.write(line)
                match = _STAGE_LINE.match(line)
                if match:
                    if stages and stages[-1][0] == match.group(1):
                        stages[-1] = (stages[-1][0], stages[-1][1], at)
                    else:
                        stages.append((match.group(1), at, at))

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        peak = 0
        try:
            while process.poll() is None:
                peak = max(peak, _tree_rss(root))
                time.sleep(POLL_SECONDS)
        except BaseException:
            _stop_tree(root)  # interrupted: leave no orphaned run or dbt process behind
            raise
        seconds = time.monotonic() - started
        reader.join()
    if process.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-30:])
        raise SystemExit(f"{label} failed ({' '.join(command)}); log {log}:\n{tail}")
    return Measurement(label, seconds, peak, log, stages)


def bench_env(work: Path) -> dict[str, str]:
    """The environment of every measured process: the venv first, a private Dagster instance,
    no telemetry, the project's defaults (FIREWATCH_* unset), not Dagster's dev CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREWATCH_")}
    env.pop("DAGSTER_IS_DEV_CLI", None)
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    # No network here; the nightly job does not depend on telemetry either way.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DAGSTER_HOME=str(home),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


# ------------------------------------------------------------------------------ data sets


@dataclass(frozen=True)
class Dataset:
    """A generated data set split into history (up to D-1) and the files of day D."""

    profile: str
    days: int  # days generated: the history's days + 1
    folder: Path

    @property
    def history(self) -> Path:
        return self.folder / "history"

    @property
    def day_files(self) -> Path:
        return self.folder / "day"

    @property
    def last_day(self) -> date:
        truth = json.loads((self.folder / "ground_truth.json").read_text(encoding="utf-8"))
        return date.fromisoformat(truth["end_date"])

    @property
    def name(self) -> str:
        return f"{self.profile}, {self.days - 1} + 1 days"


def _data_files(folder: Path) -> list[Path]:
    """A table folder's files in the loader's order (name order, no hidden files)."""
    if not folder.is_dir():
        return []
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix in (".csv", ".parquet")
        ),
        key=lambda p: p.name,
    )


def _reader(path: Path) -> str:
    """One file as DuckDB reads it for copying: CSV values as text, so they are written back
    exactly as they were; Parquet with its own types."""
    if path.suffix == ".csv":
        return (
            f"read_csv({_lit(str(path))}, header = true, all_varchar = true, delim = ',', "
            "quote = '\"', escape = '\"')"
        )
    return f"read_parquet({_lit(str(path))})"


def _copy(con: Any, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # zstd like the generator, so a rewritten file reads as fast as the files left alone
    options = (
        "format csv, header true" if path.suffix == ".csv" else "format parquet, compression zstd"
    )
    con.execute(f"copy ({select}) to {_lit(str(path))} ({options})")


def _split(gen_raw: Path, history: Path, day_dir: Path, day: date) -> None:
    """Moves day D's rows of web_events and ads_daily out of the generated files into day
    files; every other table keeps its full export (the nightly gets the same CRM files)."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")  # the loader's reading of timestamps
    is_day = {
        "web_events": f"cast(cast(event_timestamp as timestamptz) as date) = date '{day}'",
        "ads_daily": f"cast(date as date) = date '{day}'",
    }
    previous = (day - timedelta(days=1)).isoformat()
    try:
        for table in TABLES:
            files = _data_files(gen_raw / table)
            if table not in is_day:
                for path in files:
                    (history / table).mkdir(parents=True, exist_ok=True)
                    os.replace(path, history / table / path.name)
                continue
            cond = is_day[table]
            parts = []
            for index, path in enumerate(files):
                (history / table).mkdir(parents=True, exist_ok=True)
                (n_day,) = con.execute(
                    f"select count(*) from {_reader(path)} where {cond}"
                ).fetchone()
                if not n_day:  # a file without the day (an earlier month) stays as generated
                    os.replace(path, history / table / path.name)
                    continue
                # What is left of a file that held day D is named after the last day it now
                # holds (the ads exports are named after their last day already): D's own file
                # must sort after every history file, or the loader would take it for a late
                # file and reload the whole table ("2025-09-28" sorts before "2025-09").
                if table == "ads_daily" and path.name.startswith(day.isoformat()):
                    name = previous + path.name[len(day.isoformat()) :]
                else:
                    name = previous + path.suffix
                rest = f"select * from {_reader(path)} where not ({cond})"
                (n_rest,) = con.execute(f"select count(*) from ({rest})").fetchone()
                if n_rest:
                    if (history / table / name).exists():
                        raise SystemExit(f"two files of {gen_raw / table} hold rows of {day}")
                    _copy(con, rest, history / table / name)
                parts.append(f"select *, {index} as _file_index from {_reader(path)} where {cond}")
            if not parts:
                raise SystemExit(f"{gen_raw / table} holds no rows of {day}")
            rows = " union all by name ".join(parts)
            if table == "ads_daily":
                # One export for the day, with the restatement's values where it has the key.
                select = (
                    f"select * exclude (_file_index) from ({rows}) qualify row_number() over "
                    "(partition by date, platform, account_id, campaign_id "
                    "order by _file_index desc) = 1"
                )
                target = day_dir / table / f"{day}_export{files[-1].suffix}"
            else:
                select = f"select * exclude (_file_index) from ({rows})"
                target = day_dir / table / f"{day}{files[-1].suffix}"
            _copy(con, select, target)
    finally:
        con.close()


def prepare_dataset(
    profile: str, days: int, work: Path, env: dict[str, str], fresh: bool
) -> tuple[Dataset, Measurement | None]:
    """The data set from the cache, else generated and split (with the generation measured)."""
    folder = work / f"{profile}-{days}d"
    dataset = Dataset(profile, days, folder)
    done = folder / "done"
    if done.exists() and not fresh and done.read_text(encoding="utf-8") == SPLIT_VERSION:
        return dataset, None
    shutil.rmtree(folder, ignore_errors=True)
    gen = folder / "gen"
    generated = measure(
        f"generate {profile} {days} days",
        [str(BIN / "firewatch"), "generate", "--out", str(gen), "--profile", profile,
         "--days", str(days)],
        env,
        folder / "logs" / "generate.log",
    )  # fmt: skip
    shutil.move(gen / "ground_truth.json", folder / "ground_truth.json")
    _split(gen / "raw", dataset.history, dataset.day_files, dataset.last_day)
    shutil.rmtree(gen)
    done.write_text(SPLIT_VERSION, encoding="utf-8")
    return dataset, generated


def _link_tree(source: Path, target: Path) -> None:
    """Hard links (a copy where they cannot be made) of every data file under source."""
    for table_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        (target / table_dir.name).mkdir(parents=True, exist_ok=True)
        for path in _data_files(table_dir):
            destination = target / table_dir.name / path.name
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)


# -------------------------------------------------------------------------- pipeline runs


def _supports_full_refresh(env: dict[str, str]) -> bool:
    """`firewatch run --full-refresh` is newer than this benchmark; use it where it exists."""
    result = subprocess.run(
        [str(BIN / "firewatch"), "run", "--help"], env=env, cwd=ROOT, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    return "--full-refresh" in result.stdout


# The loader's progress line: "raw.web_events: 6,963,080 rows (append, 1 new)"
_LOAD_LINE = re.compile(r"raw\.(\w+): [\d,]+ rows \((\w+)")


def _dagster_runs(env: dict[str, str]) -> set[str]:
    storage = Path(env["DAGSTER_HOME"]) / "storage"
    return {p.name for p in storage.iterdir() if p.is_dir()} if storage.is_dir() else set()


@dataclass
class DbtInvocation:
    """One `dbt build` of a run (the nightly job has one per dbt step), from its target folder:
    dagster-dbt writes dbt_project/target/<op>-<run id[:7]>-<random>/."""

    step: str  # the Dagster op, e.g. firewatch_event_models
    log_seconds: float  # dbt's first to last log line
    parse_seconds: float  # first log line to "Found N models"
    parse_note: str  # why dbt parsed the whole project, if it did
    elapsed: float  # run_results.json: executing the selected nodes
    models: list[tuple[str, float]]  # (model, execution_time)
    tests: list[float]


def _invocation(folder: Path) -> DbtInvocation | None:
    results_file = folder / "run_results.json"
    if not results_file.exists():
        return None
    data = json.loads(results_file.read_text(encoding="utf-8"))
    kinds: dict[str, list[tuple[str, float]]] = {"model": [], "test": []}
    for r in data["results"]:
        kind = r["unique_id"].split(".")[0]
        if kind in kinds:
            kinds[kind].append((r["unique_id"].split(".")[-1], float(r["execution_time"] or 0)))
    stamps: list[datetime] = []
    found_at, note = None, ""
    log = folder / "dbt.log"
    for line in (
        log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    ):
        try:
            info = json.loads(line)["info"]
            stamp = datetime.fromisoformat(info["ts"])
        except (ValueError, KeyError, TypeError):
            continue
        stamps.append(stamp)
        if info.get("name") == "FoundStats" and found_at is None:
            found_at = stamp
        elif info.get("name") == "UnableToPartialParse":
            note = info.get("msg", "").removeprefix("Unable to do partial parsing because ")
    first = min(stamps) if stamps else None
    return DbtInvocation(
        step=folder.name.rsplit("-", 2)[0],
        log_seconds=(max(stamps) - first).total_seconds() if first else 0.0,
        parse_seconds=(found_at - first).total_seconds() if first and found_at else 0.0,
        parse_note=note,
        elapsed=float(data.get("elapsed_time") or 0.0),
        models=kinds["model"],
        tests=[t for _, t in kinds["test"]],
    )


def _dbt_folders(run_ids: set[str], started: float, ended: float) -> list[Path]:
    """The run's dbt target folders, by Dagster run id; else those written during the run."""
    folders = [f for run_id in run_ids for f in DBT_TARGET.glob(f"*-{run_id[:7]}-*") if f.is_dir()]
    if not folders:
        folders = [
            f.parent
            for f in DBT_TARGET.glob("*/run_results.json")
            if started <= f.stat().st_mtime <= ended
        ]
    return sorted(folders, key=lambda f: f.stat().st_mtime)


def firewatch_run(
    label: str,
    raw_dir: Path,
    warehouse: Path,
    as_of: date,
    env: dict[str, str],
    logs: Path,
    full_refresh: bool = False,
) -> Measurement:
    """`firewatch run` as its own process, with what its dbt invocations did; their
    run_results.json are kept beside the run's log."""
    command = [
        str(BIN / "firewatch"), "run", "--raw-dir", str(raw_dir), "--warehouse", str(warehouse),
        "--as-of", as_of.isoformat(),
    ]  # fmt: skip
    if full_refresh:
        command.append("--full-refresh")
    before = _dagster_runs(env)
    started = time.time()
    result = measure(label, command, env, logs / f"{label}.log")
    invocations = []
    for folder in _dbt_folders(_dagster_runs(env) - before, started, time.time()):
        invocation = _invocation(folder)
        if invocation is not None:
            invocations.append(invocation)
            shutil.copyfile(
                folder / "run_results.json", logs / f"{label}.{invocation.step}.run_results.json"
            )
    result.extra["dbt"] = invocations
    # How the loader took each table that changed ("append", or "replace" for a full reload)
    result.extra["load_modes"] = {
        table: mode
        for table, mode in _LOAD_LINE.findall(result.log.read_text(encoding="utf-8"))
        if mode != "unchanged"
    }
    return result


def measure_dataset(
    dataset: Dataset, run_dir: Path, env: dict[str, str], full_refresh: bool, with_floor: bool
) -> dict[str, Measurement]:
    """Full build of the history, the floor on the same files (compared with the build's
    control_daily), then the nightly that adds day D on the same warehouse. Every data set runs
    in the same run_dir, so the warehouse path stays the same, as it does night after night
    (dbt's partial parse holds for one profile, and the path is part of it)."""
    logs = dataset.folder / "logs"
    shutil.rmtree(run_dir, ignore_errors=True)
    landing = run_dir / "raw"
    warehouse = run_dir / "warehouse.duckdb"
    day = dataset.last_day
    history_end = day - timedelta(days=1)
    _link_tree(dataset.history, landing)
    print(f"  {dataset.name}: full build as of {history_end}", flush=True)
    out = {
        "full": firewatch_run(
            "full_build", landing, warehouse, history_end, env, logs, full_refresh
        )
    }
    if with_floor:
        print(f"  {dataset.name}: engine floor", flush=True)
        out["floor"] = _floor_run(
            "floor", dataset.history, run_dir / "floor.duckdb", history_end, env, logs
        )
        out["floor"].extra["differences"] = floor_differences(warehouse, run_dir / "floor.duckdb")
        out["floor"].extra["rows"] = _count(run_dir / "floor.duckdb", "control_daily")
    _save_catalog(warehouse, logs / "metric_catalog.parquet")
    _link_tree(dataset.day_files, landing)
    print(f"  {dataset.name}: nightly as of {day}", flush=True)
    out["nightly"] = firewatch_run("nightly", landing, warehouse, day, env, logs)
    if with_floor:
        # The incremental nightly must end where a build of all files would: the floor on the
        # whole landing folder as of D is that build's control_daily.
        after = _floor_run(
            "floor_after_nightly", landing, run_dir / "floor_d.duckdb", day, env, logs
        )
        out["nightly"].extra["differences"] = floor_differences(warehouse, after.extra["database"])
    # Warehouses are big and rebuilt every time; logs and run_results stay.
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


def _floor_run(
    label: str, raw_dir: Path, database: Path, as_of: date, env: dict[str, str], logs: Path
) -> Measurement:
    """bench/floor_control.sql as its own process (Python, DuckDB and the script)."""
    measured = measure(
        label,
        [
            str(BIN / "python"), "-c",
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from bench.pipeline import run_floor; "
            "run_floor(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])",
            str(ROOT), str(raw_dir), str(database), as_of.isoformat(),
        ],
        env,
        logs / f"{label}.log",
    )  # fmt: skip
    measured.extra["database"] = database
    return measured


def _count(database: Path, table: str) -> int:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        (n,) = con.execute(f"select count(*) from {table}").fetchone()
        return int(n)
    finally:
        con.close()


def _save_catalog(warehouse: Path, path: Path) -> None:
    """The build's metric_catalog, for the checks benchmark after the warehouse is gone."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(f"copy main.metric_catalog to {_lit(str(path))} (format parquet)")
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
        con.execute(f"attach {_lit(str(warehouse))} as pipeline (read_only)")
        con.execute(f"attach {_lit(str(floor_db))} as floor (read_only)")
        key = "period_start, dimension, dimension_value"
        problems = [
            f"only in {side}: {row}"
            for side, a, b in (("pipeline", "pipeline.main", "floor.main"),
                               ("floor", "floor.main", "pipeline.main"))
            for row in con.execute(
                f"select {key} from {a}.control_daily except select {key} from {b}.control_daily "
                f"order by all limit {limit}"
            ).fetchall()
        ]  # fmt: skip
        for measure_name in (*EXACT_MEASURES, *CLOSE_MEASURES, "is_complete_period"):
            p, f = f"p.{measure_name}", f"f.{measure_name}"
            if measure_name in CLOSE_MEASURES:
                same = f"abs({p} - {f}) <= 1e-6 * greatest(abs({p}), abs({f}))"
            else:
                same = f"{p} = {f}"
            rows = con.execute(
                f"select p.period_start, p.dimension_value, {p}, {f} "
                f"from pipeline.main.control_daily as p join floor.main.control_daily as f "
                f"using ({key}) where not (({p} is null and {f} is null) or coalesce({same}, "
                f"false)) order by all limit {limit}"
            ).fetchall()
            problems += [f"{measure_name} {day} {value}: pipeline {a}, floor {b}"
                         for day, value, a, b in rows]  # fmt: skip
        return problems
    finally:
        con.close()


# ------------------------------------------------------------- checks and code location


def synthetic_series(
    catalog: Any, rules: Sequence[Any], n_values: int, as_of: date, seed: int = 7
) -> Any:
    """A metric_series frame for the metrics the rules read: `n_values` channels plus the total,
    26 weeks of day rows (and their weeks) ending on as_of, with volumes like a mid-sized
    advertiser's channel (so most series are tested, not skipped for volume)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_days = 7 * 26
    days = pd.date_range(end=pd.Timestamp(as_of), periods=n_days, freq="D").as_unit("us")
    scale = rng.lognormal(0.0, 0.4, (n_values, 1))
    weekday = np.where(days.weekday >= 5, 0.7, 1.12)[None, :]

    def counts(mean: float) -> np.ndarray:
        mu = np.broadcast_to(mean * scale * weekday, (n_values, n_days))
        return rng.negative_binomial(40, 40 / (40 + mu)).astype(float)

    def share(of: np.ndarray, p: float) -> np.ndarray:
        return rng.binomial(of.astype(np.int64), p).astype(float)

    c: dict[str, np.ndarray] = {
        "impressions": counts(14000),
        "ad_engagements": counts(90),
        "spend": 900 * scale * weekday * rng.lognormal(0, 0.06, (n_values, n_days)),
        "sessions": counts(260),
        "leads": counts(20),
        "customers": counts(5),
    }
    c["engaged_sessions"] = share(c["sessions"], 0.55)
    c["lead_sessions"] = share(c["sessions"], 0.05)
    c["visitors"] = share(c["sessions"], 0.8)
    c["returning_visitors"] = share(c["visitors"], 0.35)
    c["sql_within_early_window"] = share(c["leads"], 0.1)
    c["sql_within_window"] = share(c["leads"], 0.25)
    c["revenue"] = np.where(c["customers"] > 0, rng.gamma(2 * c["customers"] + 1e-9, 750), 0.0)
    c = {k: np.vstack([v.sum(axis=0, keepdims=True), v]) for k, v in c.items()}  # total first

    values = np.array(["total"] + [f"channel_{i:05d}" for i in range(n_values)], dtype=object)
    dims = np.array(["total"] + ["channel"] * n_values, dtype=object)
    info = catalog.set_index("metric_id")
    needed = {(r.leading_metric, r.grain) for r in rules} | {
        (r.outcome_metric, r.grain) for r in rules
    }
    frames = []
    for metric_id, grain in sorted(needed):
        row = info.loc[metric_id]
        num = c[row["numerator_component"]]
        den = (
            c[row["denominator_component"]]
            if isinstance(row["denominator_component"], str)
            else None
        )
        starts = days
        if grain == "week":
            starts = days[::7]
            num = num.reshape(len(values), -1, 7).sum(axis=2)
            den = den.reshape(len(values), -1, 7).sum(axis=2) if den is not None else None
        elif grain != "day":
            raise ValueError(f"synthetic series have day and week rows, not {grain}")
        length = 7 if grain == "week" else 1
        ends = starts + pd.Timedelta(days=length - 1)
        mature = (pd.Timestamp(as_of) - ends).days >= int(row["maturity_lag_days"])
        n_periods = len(starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = num / den if den is not None else num
        frames.append(
            pd.DataFrame(
                {
                    "metric_id": metric_id,
                    "grain": grain,
                    "period_start": np.tile(starts.to_numpy(), len(values)),
                    "dimension": np.repeat(dims, n_periods),
                    "dimension_value": np.repeat(values, n_periods),
                    "numerator": num.ravel(),
                    "denominator": den.ravel() if den is not None else np.nan,
                    "value": value.ravel(),
                    "layer": row["layer"],
                    "is_mature": np.tile(np.asarray(mature), len(values)),
                    "is_complete_period": True,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def time_checks(catalog_file: Path, result_file: Path, n_series: int = CHECK_SERIES) -> None:
    """Times `detect` alone over ~n_series rule x dimension-value series (with a build's real
    metric catalog and rules.yml); writes the figures to result_file as JSON."""
    import pandas as pd

    from dagster_project.divergence.detect import evaluate, prepare
    from dagster_project.divergence.rules import load_rules

    catalog = pd.read_parquet(catalog_file)
    rules = load_rules(None, catalog)
    totals = sum(1 for r in rules if "total" in r.dimensions)
    per_channel = sum(1 for r in rules if "channel" in r.dimensions)
    n_values = max(1, -(-(n_series - totals) // per_channel))
    as_of = date(2025, 9, 28)  # a Sunday, so the 26 weeks of day rows are whole weeks
    series = synthetic_series(catalog, rules, n_values, as_of)
    started = time.perf_counter()
    report = evaluate(series, catalog, rules, as_of)  # what detect() runs, with the counts
    seconds = time.perf_counter() - started
    # The same work in its two parts, for the reader: indexing the frame, then the tests.
    started = time.perf_counter()
    prepared = prepare(series, catalog, rules)
    prepare_seconds = time.perf_counter() - started
    started = time.perf_counter()
    evaluate(prepared, catalog, rules, as_of)
    tests_seconds = time.perf_counter() - started
    tested = sum(1 for e in report.evaluations if e.status != "skipped")
    result = {
        "seconds": seconds,
        "prepare_seconds": prepare_seconds,
        "tests_seconds": tests_seconds,
        "series": len(report.evaluations),
        "tested": tested,
        "findings": len(report.findings),
        "rows": len(series),
    }
    result_file.write_text(json.dumps(result), encoding="utf-8")


def measure_checks(catalog_file: Path, env: dict[str, str], logs: Path) -> Measurement:
    result_file = logs / "checks.json"
    measured = measure(
        "checks",
        [
            str(BIN / "python"), "-c",
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from bench.pipeline import time_checks; time_checks(Path(sys.argv[2]), "
            "Path(sys.argv[3]))",
            str(ROOT), str(catalog_file), str(result_file),
        ],
        env,
        logs / "checks.log",
    )  # fmt: skip
    measured.extra.update(json.loads(result_file.read_text(encoding="utf-8")))
    return measured


def measure_code_location(env: dict[str, str], logs: Path) -> Measurement:
    """Import of the definitions and resolution of the nightly job: what `dagster dev` or a
    code server pays before it can serve the location. Timed from process start to the moment
    the job is resolved (a progress-style line on stderr, timed on arrival like the run's
    stages); the process's exit, which a code server never reaches, is recorded beside it
    (finalising dbt's and Dagster's modules takes about a second more)."""
    command = [
        str(BIN / "python"), "-c",
        "import sys; from dagster_project.definitions import defs; "
        "defs.resolve_job_def('nightly'); "
        "print('[ 0.0s] code location ready  1/1  nightly resolved', file=sys.stderr, "
        "flush=True)",
    ]  # fmt: skip
    tries = [
        measure("code location", command, env, logs / f"code_location_{i}.log") for i in range(3)
    ]
    for m in tries:
        if not m.stages:
            raise SystemExit(f"the code location never reported ready; log {m.log}")
        m.extra["ready"] = m.stages[0][1]
    best = min(tries, key=lambda m: m.extra["ready"])
    best.extra["tries"] = [m.extra["ready"] for m in tries]
    return best


# ---------------------------------------------------------------------------------- report


@dataclass
class ProfileResult:
    profile: str
    days: int  # history days N
    base: dict[str, Measurement]  # full, floor, nightly on N days
    doubled: dict[str, Measurement]  # full, nightly on 2N days


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def _row(what: str, m: Measurement, target: str) -> str:
    return f"| {what} | {m.seconds:,.1f} | {m.rss_gb:.2f} | {target} |"


def _rss_target(m: Measurement) -> str:
    return f"≤ {MAX_RSS_GB:g} GB {_mark(m.rss_gb <= MAX_RSS_GB)}"


def _profile_section(r: ProfileResult) -> list[str]:
    full, floor, nightly = r.base["full"], r.base["floor"], r.base["nightly"]
    full2, nightly2 = r.doubled["full"], r.doubled["nightly"]
    n, n2 = r.days, 2 * r.days
    full_limit = FULL_FLOOR_FACTOR * floor.seconds + FULL_FIXED_SECONDS
    nightly_limit = NIGHTLY_SHARE * full.seconds
    doubled_limit = DOUBLED_FACTOR * nightly.seconds
    lines = [
        f"## {r.profile}: {n} days of history, then {n2}",
        "",
        "| run | wall s | peak RSS GB | target |",
        "|---|---|---|---|",
        _row(
            f"full build, {n} days (as of D-1, fresh warehouse)",
            full,
            f"≤ {FULL_FLOOR_FACTOR:g} × floor + {FULL_FIXED_SECONDS:g} s = {full_limit:,.1f} s "
            f"{_mark(full.seconds <= full_limit)} · {_rss_target(full)}",
        ),
        _row(f"engine floor, the same {n} days", floor, "reference"),
        _row(
            "nightly, + 1 day",
            nightly,
            f"≤ {NIGHTLY_SHARE:.0%} of the full build = {nightly_limit:,.1f} s "
            f"{_mark(nightly.seconds <= nightly_limit)}",
        ),
        _row(f"full build, {n2} days", full2, "recorded"),
        _row(
            f"nightly, + 1 day on {n2} days",
            nightly2,
            f"≤ {DOUBLED_FACTOR:g} × the nightly on {n} days = {doubled_limit:,.1f} s "
            f"{_mark(nightly2.seconds <= doubled_limit)}",
        ),
        "",
        f"Full build / floor: **{full.seconds / floor.seconds:,.1f}×** "
        f"({full.seconds:,.1f} s against {floor.seconds:,.1f} s).",
    ]
    for what, m in (("full build", floor), ("nightly", nightly)):
        differences = m.extra.get("differences", [])
        if differences:
            lines += ["", f"control_daily after the {what} differs from the floor's:", ""]
            lines += [f"- {d}" for d in differences[:20]]
    if not floor.extra.get("differences") and not nightly.extra.get("differences"):
        lines += [
            "",
            f"control_daily equals the floor's after the full build ({floor.extra['rows']:,} "
            "rows) and after the nightly (the floor on all files as of D): every measure, "
            "counts exactly, the rest to 1e-6 relative.",
        ]
    return lines


def _stages(m: Measurement) -> list[tuple[str, float]]:
    """(segment, seconds): start-up to the first progress line, each stage up to its last line,
    then what follows the last stage (checks, alerts, queue, summary) up to exit."""
    if not m.stages:
        return [("whole run", m.seconds)]
    out = [("start-up", m.stages[0][1])]
    previous = m.stages[0][1]
    for name, _first, last in m.stages:
        out.append((name, last - previous))
        previous = last
    out.append(("after the last stage", m.seconds - previous))
    return out


def _slowest(m: Measurement, count: int = 10) -> list[tuple[str, float]]:
    models = [model for inv in m.extra.get("dbt", []) for model in inv.models]
    return sorted(models, key=lambda x: -x[1])[:count]


def _time_section(r: ProfileResult) -> list[str]:
    runs = [
        (f"full build, {r.days} days", r.base["full"]),
        ("nightly, + 1 day", r.base["nightly"]),
        (f"nightly on {2 * r.days} days", r.doubled["nightly"]),
    ]
    lines = [f"### {r.profile}", ""]
    for what, m in runs:
        stages = _stages(m)
        segments = " · ".join(f"{name} {s:,.1f} s" for name, s in stages)
        lines.append(f"- {what}, {m.seconds:,.1f} s: {segments}")
        modes = m.extra.get("load_modes", {})
        if modes:
            lines.append(
                "  - loaded: "
                + ", ".join(f"{t} {mode}" for t, mode in modes.items())
                + (" (the other tables unchanged)" if len(modes) < len(TABLES) else "")
            )
        invocations: list[DbtInvocation] = m.extra.get("dbt", [])
        for inv in invocations:
            lines.append(
                f"  - `{inv.step}`: dbt's log spans {inv.log_seconds:,.1f} s, of which parsing "
                f"{inv.parse_seconds:,.1f} s"
                + (f" (the whole project: {inv.parse_note})" if inv.parse_note else "")
                + f" and executing {inv.elapsed:,.1f} s ({len(inv.models)} models "
                f"{sum(t for _, t in inv.models):,.1f} s and {len(inv.tests)} tests "
                f"{sum(inv.tests):,.1f} s, summed over threads)"
            )
        dbt_stage = sum(s for name, s in stages if name.startswith("dbt"))
        if invocations and dbt_stage:
            rest = dbt_stage - sum(inv.log_seconds for inv in invocations)
            lines.append(
                f"  - the dbt stage outside dbt's own log (starting the dbt processes, "
                f"Dagster recording materializations and checks): {rest:,.1f} s"
            )
        if not invocations:
            lines.append("  - no dbt run_results found for this run")
    full_top, nightly_top = _slowest(r.base["full"]), _slowest(r.base["nightly"])
    if full_top or nightly_top:
        lines += [
            "",
            "| # | full build: model | s | nightly: model | s |",
            "|---|---|---|---|---|",
        ]
        for i in range(max(len(full_top), len(nightly_top))):
            a = full_top[i] if i < len(full_top) else ("", None)
            b = nightly_top[i] if i < len(nightly_top) else ("", None)
            cells = [f"{name} | {t:,.2f}" if t is not None else " | " for name, t in (a, b)]
            lines.append(f"| {i + 1} | {cells[0]} | {cells[1]} |")
    return [*lines, ""]


def write_report(
    path: Path,
    command: str,
    results: list[ProfileResult],
    checks: Measurement,
    location: Measurement,
    full_refresh: bool,
    load: tuple[float, float],
) -> str:
    lines = [
        "# Pipeline performance",
        "",
        f"Machine: {describe()}. Measured {date.today().isoformat()} with `{command}` "
        "(`make bench` runs all three profiles). The bench does not stop other processes; the "
        f"1-minute load average was {load[0]:.1f} at the start and {load[1]:.1f} at the end, and "
        "on a busy machine figures of a few seconds vary by 10-20% from run to run.",
        "",
        "How: each profile is generated for N+1 days (N = the profile's days); day D's rows of "
        "web_events and ads_daily are moved into day files (`web_events/<D>`, "
        "`ads_daily/<D>_export`), so the landing folder holds the history up to D-1 and the "
        "day files add exactly one day (the CRM, social, targets and fx files are the same full "
        "exports in both). What is left of a file that held day D is named after D-1 "
        "(`web_events/<D-1>`, `ads_daily/<D-1>_export`), so the day files sort after the "
        "history: a file sorting before one already loaded makes the loader reload the whole "
        "table. Every run is its own process: wall time from start to exit, peak "
        "RSS the largest sum over the process and all its children (dbt included), polled "
        "every 50 ms, in GB of 10^9 bytes. The full build is `firewatch run --as-of D-1` on a "
        "fresh warehouse"
        + (" with `--full-refresh`" if full_refresh else "")
        + "; the nightly adds the day files and runs `firewatch run --as-of D` on the same "
        "warehouse; the doubled history is generated with 2N+1 days and run the same way, with "
        f"DuckDB's memory cap raised to {DOUBLED_MEMORY_LIMIT} (at the default 2GB the doubled "
        "`large` full build, 44 M events, runs out of memory in the page-load percentiles). The "
        "engine floor is `bench/floor_control.sql`: control_daily (every measure, per day and "
        "channel) computed by one DuckDB process straight from the same raw files, no loader, "
        "dbt or Dagster; `tests/test_floor_sql.py` checks it against the pipeline's numbers. "
        "The targets are set for the large profile; the smaller ones are shown against the "
        "same formulas, where the fixed start-up costs weigh more.",
        "",
    ]
    for r in results:
        lines += [*_profile_section(r), ""]
    series = checks.extra
    checks_ok = _mark(series["seconds"] <= CHECKS_SECONDS)
    tries = ", ".join(f"{t:.1f}" for t in location.extra["tries"])
    ready = location.extra["ready"]
    lines += [
        "## Independent of the data set",
        "",
        "| run | wall s | peak RSS GB | target |",
        "|---|---|---|---|",
        f"| divergence checks alone: `detect` over {series['series']:,} series (rules × "
        f"dimension values; {series['tested']:,} tested, {series['findings']} findings), "
        f"synthetic metric_series of {series['rows']:,} rows | {series['seconds']:,.2f} | "
        f"{checks.rss_gb:.2f} | ≤ {CHECKS_SECONDS:g} s {checks_ok} |",
        f"| Dagster code location: import the definitions and resolve the `nightly` job, "
        f"process start to the job resolved, best of 3 ({tries} s; the process exits "
        f"{location.seconds - ready:,.1f} s later) "
        f"| {ready:,.2f} | {location.rss_gb:.2f} | ≤ {LOAD_SECONDS:g} s "
        f"{_mark(ready <= LOAD_SECONDS)} |",
        "",
        "The checks' wall time is `detect` alone (the process's RSS includes building the frame); "
        f"of it, indexing the frame (`prepare`) takes {series['prepare_seconds']:,.2f} s and the "
        f"tests on the prepared series {series['tests_seconds']:,.2f} s.",
        "",
        "## Where the time goes",
        "",
        "Segments from `firewatch run`'s progress lines, timed as they arrive: start-up "
        "(imports, definitions, Dagster instance) up to the first line, then each stage up to "
        "its last line, then the rest (divergence checks, alerts, queue, BI copy, notifications, "
        "the summary) up to exit. Model times are dbt's `execution_time` from the run's "
        "`run_results.json` files (4 dbt threads on 2 cores, so summed times exceed the wall "
        "time).",
        "",
    ]
    for r in results:
        lines += _time_section(r)
    text = "\n".join(lines).rstrip() + "\n"
    path.write_text(text, encoding="utf-8")
    return text


# ------------------------------------------------------------------------------------ main


def main(argv: Sequence[str] | None = None) -> int:
    from dagster_project.generate.profiles import PROFILES as SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--fresh", action="store_true", help="regenerate the data sets")
    args = parser.parse_args(argv)
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown or not profiles:
        parser.error(f"--profiles: choose from {', '.join(PROFILES)}")
    load_at_start = os.getloadavg()[0]
    work = args.work.resolve()
    # A fresh Dagster instance per bench run: its run history is not what is measured.
    shutil.rmtree(work / "dagster_home", ignore_errors=True)
    env = bench_env(work)
    full_refresh = _supports_full_refresh(env)
    results = []
    for profile in profiles:
        n = SIZES[profile].days
        print(f"{profile}: {n} days, then {2 * n}", flush=True)
        measured = []
        for days, with_floor in ((n + 1, True), (2 * n + 1, False)):
            dataset, generated = prepare_dataset(profile, days, work, env, args.fresh)
            if generated is not None:
                print(f"  generated {days} days in {generated.seconds:.1f} s", flush=True)
            run_env = env if with_floor else {**env, MEMORY_LIMIT_ENV: DOUBLED_MEMORY_LIMIT}
            measured.append(
                measure_dataset(dataset, work / "run", run_env, full_refresh, with_floor)
            )
        results.append(ProfileResult(profile, n, measured[0], measured[1]))
    logs = work / "logs"
    print("divergence checks and code location", flush=True)
    first = work / f"{profiles[0]}-{SIZES[profiles[0]].days + 1}d" / "logs"
    checks = measure_checks(first / "metric_catalog.parquet", env, logs)
    location = measure_code_location(env, logs)
    command = ".venv/bin/python bench/pipeline.py" + (
        f" --profiles {','.join(profiles)}" if profiles != list(PROFILES) else ""
    )
    load = (load_at_start, os.getloadavg()[0])
    print(write_report(args.out, command, results, checks, location, full_refresh, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
