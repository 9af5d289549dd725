"""The measured pipeline runs of one data set: the full build of the history, the engine floor
on the same files, the nightly that adds day D; with what each run's dbt invocations did (from
their dbt logs) and how the loader took each table."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.pipeline_datasets import Dataset, link_tree
from bench.pipeline_measure import Measurement, measure
from dagster_project.faults.env import sql_literal
from dagster_project.runtime.floor import floor_differences

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DBT_TARGET = ROOT / "dbt_project" / "target"


def supports_full_refresh(env: dict[str, str]) -> bool:
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
    """One `dbt build` of a run (the nightly job's dbt step has one), from its target folder:
    dagster-dbt writes dbt_project/target/<op>-<run id[:7]>-<random>/."""

    step: str  # the Dagster op, e.g. firewatch_dbt
    log_seconds: float  # dbt's first to last log line
    parse_seconds: float  # first log line to "Found N models"
    parse_note: str  # why dbt parsed the whole project, if it did
    elapsed: float  # dbt's "Finished running" line: executing the selected nodes
    models: list[tuple[str, float]]  # (model, execution_time)
    tests: list[float]


def _invocation(folder: Path) -> DbtInvocation | None:
    """What dbt's log (JSON lines, at info level or finer) says of one invocation: a night
    writes no run_results.json (defs/dbt.py), so node times come from the log's result lines."""
    log = folder / "dbt.log"
    if not log.exists():
        return None
    kinds: dict[str, list[tuple[str, float]]] = {"model": [], "test": []}
    stamps: list[datetime] = []
    found_at, note, elapsed = None, "", 0.0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data", {})
            stamp = datetime.fromisoformat(info["ts"])
        except (ValueError, KeyError, TypeError):
            continue
        stamps.append(stamp)
        name = info.get("name")
        if name == "FoundStats" and found_at is None:
            found_at = stamp
        elif name == "UnableToPartialParse":
            note = data.get("reason", "") or info.get("msg", "").removeprefix(
                "Unable to do partial parsing because "
            )
        elif name in ("LogModelResult", "LogTestResult"):
            unique_id = data.get("node_info", {}).get("unique_id", "")
            kind = unique_id.split(".")[0]
            if kind in kinds:
                kinds[kind].append(
                    (unique_id.split(".")[-1], float(data.get("execution_time") or 0))
                )
        elif name == "FinishedRunningStats":
            elapsed = float(data.get("execution_time") or 0.0)
    if not stamps:
        return None
    first = min(stamps)
    return DbtInvocation(
        step=folder.name.rsplit("-", 2)[0],
        log_seconds=(max(stamps) - first).total_seconds(),
        parse_seconds=(found_at - first).total_seconds() if found_at else 0.0,
        parse_note=note,
        elapsed=elapsed,
        models=kinds["model"],
        tests=[t for _, t in kinds["test"]],
    )


def _dbt_folders(run_ids: set[str], started: float, ended: float) -> list[Path]:
    """The run's dbt target folders, by Dagster run id; else those written during the run."""
    folders = [f for run_id in run_ids for f in DBT_TARGET.glob(f"*-{run_id[:7]}-*") if f.is_dir()]
    if not folders:
        folders = [
            f.parent for f in DBT_TARGET.glob("*/dbt.log") if started <= f.stat().st_mtime <= ended
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
    dbt.log files are kept beside the run's log."""
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
            shutil.copyfile(folder / "dbt.log", logs / f"{label}.{invocation.step}.dbt.log")
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
    control_daily and web components), then the nightly that adds day D on the same warehouse.
    Every data set runs in the same run_dir, so the warehouse path stays the same, as it does
    night after night (dbt's partial parse holds for one profile, and the path is part of it)."""
    logs = dataset.folder / "logs"
    shutil.rmtree(run_dir, ignore_errors=True)
    landing = run_dir / "raw"
    warehouse = run_dir / "warehouse.duckdb"
    day = dataset.last_day
    history_end = day - timedelta(days=1)
    link_tree(dataset.history, landing)
    print(f"  {dataset.name}: full build as of {history_end}", flush=True)
    out = {
        "full": firewatch_run(
            "full_build", landing, warehouse, history_end, env, logs, full_refresh
        )
    }
    if with_floor:
        print(f"  {dataset.name}: engine floor, capped and not", flush=True)
        # The capped floor's time moves by up to a factor of two from run to run (spilling at
        # the cap): the best of two, against one full build, so the ratio errs against us.
        floors = [
            _floor_run(
                label, dataset.history, run_dir / "floor.duckdb", history_end, env, logs,
                capped=True,
            )
            for label in ("floor", "floor_again")
        ]  # fmt: skip
        out["floor"] = min(floors, key=lambda m: m.seconds)
        out["floor"].extra["tries"] = [m.seconds for m in floors]
        out["floor"].extra["differences"] = floor_differences(warehouse, run_dir / "floor.duckdb")
        out["floor"].extra["rows"] = _count(run_dir / "floor.duckdb", "control_daily")
        out["floor"].extra["web_rows"] = _count(run_dir / "floor.duckdb", "web_components")
        out["floor_uncapped"] = _floor_run(
            "floor_uncapped", dataset.history, run_dir / "floor_u.duckdb", history_end, env, logs
        )
    _save_catalog(warehouse, logs / "metric_catalog.parquet")
    link_tree(dataset.day_files, landing)
    if with_floor:
        out["nightly"], out["plain"] = nightly_against_plain(
            landing, warehouse, day, env, logs, run_dir
        )
        # The incremental nightly must end where a build of all files would: the floor on the
        # whole landing folder as of D is that build's control_daily and web components.
        after = _floor_run(
            "floor_after_nightly", landing, run_dir / "floor_d.duckdb", day, env, logs
        )
        out["nightly"].extra["differences"] = floor_differences(warehouse, after.extra["database"])
    else:
        print(f"  {dataset.name}: nightly as of {day}", flush=True)
        out["nightly"] = firewatch_run("nightly", landing, warehouse, day, env, logs)
    # Warehouses are big and rebuilt every time; logs stay.
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


# Nightly and plain build, run in turn this many times: one pair is as noisy as the margin.
PAIRS = 3


def _median_run(runs: list[Measurement]) -> Measurement:
    """The run of median wall time (a real run, so its stages and logs are the median's), with
    every run's time in `extra["tries"]`, in the order they ran."""
    middle = sorted(runs, key=lambda m: m.seconds)[(len(runs) - 1) // 2]
    middle.extra["tries"] = [m.seconds for m in runs]
    middle.extra["pick"] = "median"
    return middle


def nightly_against_plain(
    landing: Path,
    warehouse: Path,
    day: date,
    env: dict[str, str],
    logs: Path,
    run_dir: Path,
    pairs: int = PAIRS,
) -> tuple[Measurement, Measurement]:
    """The nightly that adds day D and the plain `dbt build` of the same night, in turn
    (nightly, plain, nightly, plain, ...), each from the same state: every nightly from a copy
    of the warehouse as the full build left it, every plain build from a copy of the warehouse
    as the first nightly left it (at its own path, so the nightly's warehouse is only ever
    written by nightlies; its warm-up build runs on a copy of its own first). Both are the
    median of `pairs` runs (an odd number, so the median is a run); the plain one's
    `extra["ratios"]` holds each pair's nightly / plain, side by side in time, as the machine's
    speed drifts."""
    if pairs < 1 or pairs % 2 == 0:
        raise ValueError(f"pairs must be odd, got {pairs}")
    for old in [*logs.glob("nightly*"), *logs.glob("plain_dbt*")]:
        old.unlink()  # a run's logs only (a smaller `pairs` would leave older ones looking new)
    before = run_dir / "before_nightly.duckdb"
    after = run_dir / "after_nightly.duckdb"
    plain_warehouse = run_dir / "plain.duckdb"
    _copy_closed(warehouse, before)
    nights: list[Measurement] = []
    plains: list[Measurement] = []
    for i in range(1, pairs + 1):
        _restore(before, warehouse)
        print(f"  nightly as of {day} ({i} of {pairs})", flush=True)
        nights.append(firewatch_run(f"nightly_{i}", landing, warehouse, day, env, logs))
        if i == 1:
            _copy_closed(warehouse, after)
            _restore(after, plain_warehouse)
            plain_dbt_build(
                plain_warehouse, day, env, logs, run_dir / "plain_target", "plain_dbt_warmup"
            )
        _restore(after, plain_warehouse)
        print(f"  plain dbt build, as of {day} ({i} of {pairs})", flush=True)
        plains.append(
            plain_dbt_build(
                plain_warehouse, day, env, logs, run_dir / "plain_target", f"plain_dbt_{i}"
            )
        )
    for stale in (before, after, plain_warehouse):
        stale.unlink(missing_ok=True)
    nightly, plain = _median_run(nights), _median_run(plains)
    plain.extra["ratios"] = [n.seconds / p.seconds for n, p in zip(nights, plains, strict=True)]
    return nightly, plain


def _copy_closed(warehouse: Path, copy: Path) -> None:
    """A copy of a warehouse that was closed cleanly: a WAL beside it would hold committed data
    the copy lacks."""
    wal = _wal(warehouse)
    if wal.exists():
        raise RuntimeError(f"{wal} exists: {warehouse} was not closed cleanly; not copying it")
    shutil.copyfile(warehouse, copy)


def _restore(source: Path, warehouse: Path) -> None:
    """The warehouse as `source` holds it (the warehouse's own WAL, if any, goes with it)."""
    _wal(warehouse).unlink(missing_ok=True)
    shutil.copyfile(source, warehouse)


def _wal(database: Path) -> Path:
    """DuckDB's write-ahead log beside a database file."""
    return database.with_name(database.name + ".wal")


def plain_dbt_build(
    warehouse: Path,
    as_of: date,
    env: dict[str, str],
    logs: Path,
    target: Path,
    label: str = "plain_dbt",
) -> Measurement:
    """The reference a nightly is held against: `dbt build` of the same project on the same
    warehouse and night (unit tests excluded, as the nightly does), no loader, no Dagster, in
    its own target folder (warmed by one unmeasured build, so that it parses partially like a
    nightly)."""
    command = [
        str(BIN / "dbt"), "build", "--exclude", "test_type:unit",
        "--project-dir", str(DBT_TARGET.parent), "--profiles-dir", str(DBT_TARGET.parent),
        "--target-path", str(target),
    ]  # fmt: skip
    run_env = {**env, "FIREWATCH_WAREHOUSE": str(warehouse), "FIREWATCH_AS_OF": as_of.isoformat()}
    return measure(label, command, run_env, logs / f"{label}.log")


def _floor_run(
    label: str,
    raw_dir: Path,
    database: Path,
    as_of: date,
    env: dict[str, str],
    logs: Path,
    capped: bool = False,
) -> Measurement:
    """The floor script as its own process (Python, DuckDB and the script); `capped`: with the
    pipeline's DuckDB memory cap and settings (the bench's reference), else DuckDB's defaults."""
    from dagster_project.settings import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_ENV

    # the cap the bench's runs give dbt (profiles.yml reads the same variable)
    cap = (env.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT) if capped else ""
    for stale in (database, _wal(database)):
        stale.unlink(missing_ok=True)  # each run starts from an empty database
    measured = measure(
        label,
        [
            str(BIN / "python"), "-c",
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from dagster_project.runtime.floor import run_floor; "
            "run_floor(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5])",
            str(ROOT), str(raw_dir), str(database), as_of.isoformat(), cap,
        ],
        env,
        logs / f"{label}.log",
    )  # fmt: skip
    measured.extra["database"] = database
    measured.extra["memory_limit"] = cap
    parts = _FLOOR_PARTS.search((logs / f"{label}.log").read_text(encoding="utf-8"))
    if parts:
        measured.extra["control_part"] = float(parts.group(1))
        measured.extra["web_part"] = float(parts.group(2))
    return measured


# run_floor's last line: "floor parts: control_daily 21.30 s, web components 11.40 s"
_FLOOR_PARTS = re.compile(r"floor parts: control_daily ([\d.]+) s, web components ([\d.]+) s")


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
        con.execute(f"copy main.metric_catalog to {sql_literal(str(path))} (format parquet)")
    finally:
        con.close()
