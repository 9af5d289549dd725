"""The whole nightly job on DuckDB (the file), PostgreSQL (`--target postgres`) and Spark
(`--target spark`), full build and nightly. Writes the section "On each engine" at the end of
docs/performance.md.

For each profile (default small and medium) it takes the data set of bench/pipeline.py (history
up to D-1 plus the files of day D, from bench/.cache/pipeline, generated when missing) and runs,
each as its own process with wall time and peak RSS of the process tree (bench/pipeline_runs.py):

- DuckDB full build: `firewatch run --full-refresh --as-of D-1` on a fresh warehouse file;
- DuckDB nightly: the day files added, `firewatch run --as-of D` on the same file;
- PostgreSQL full build and nightly: the same two with FIREWATCH_TARGET=postgres against a fresh
  throwaway server (tests/support/postgres.py, one per profile); `--warehouse` is then the
  loader's DuckDB staging file, kept in the engine's run folder like the DuckDB warehouse;
- Spark full build and nightly: the same two with FIREWATCH_TARGET=spark and
  FIREWATCH_SPARK_HOME a fresh folder in the engine's run folder (the Hive metastore, embedded
  Derby, and Spark's warehouse folder); `--warehouse` is the staging file as on PostgreSQL. The
  raw tables are copied to the catalog whole every night, and the incremental models are plain
  tables there (no Delta Lake), so the nightly rebuilds the event-level models whole.

The PostgreSQL server's processes are not in the run's process tree: their memory is sampled
apart (the sum of PSS over the postmaster and its children). Spark's JVMs are children of the
run (its own session) and of dbt: they are in the tree. After the nightlies the active alerts
and the decision queue of each engine are compared with DuckDB's; Spark's are read from the
catalog once the run has ended, by a process of their own (bench/engines_spark.py: Derby
admits one JVM at a time). Spark is skipped, with the reason, where pyspark, dbt-spark or Java
is missing.

    .venv/bin/python bench/engines.py                          # small and medium, all engines
    .venv/bin/python bench/engines.py --profiles small         # one profile
    .venv/bin/python bench/engines.py --engines duckdb,postgres   # without Spark
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import zip_longest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.pipeline_datasets import Dataset, chosen_profiles, link_tree, prepare_dataset  # noqa: E402
from bench.pipeline_measure import GB, Measurement  # noqa: E402
from bench.pipeline_report import _slowest, _stages  # noqa: E402
from bench.pipeline_runs import BIN, firewatch_run  # noqa: E402
from dagster_project.faults.env import private_env  # noqa: E402
from dagster_project.warehouse.spark import spark_missing  # noqa: E402
from dagster_project.warehouse.target import SPARK_HOME_ENV, SPARK_SCHEMA_ENV, TARGET_ENV  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_server  # noqa: E402

DATASETS = ROOT / "bench" / ".cache" / "pipeline"  # bench/pipeline.py's cache, shared
DEFAULT_WORK = ROOT / "bench" / ".cache" / "engines"
PROFILES = ("small", "medium", "large")
DEFAULT_PROFILES = ("small", "medium")
ENGINES = ("duckdb", "postgres", "spark")
NAMES = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark"}
SECTION = "## On each engine: DuckDB, PostgreSQL and Spark"
SECTION_PREFIX = "## On each engine"  # an older heading of the section is replaced too
SERVER_POLL_SECONDS = 0.5
LOAD_POLL_SECONDS = 30.0  # over the whole bench
RUN_LOAD_POLL_SECONDS = 5.0  # during each run
SPARK_SCHEMA = "firewatch"  # the marts' database on Spark (FIREWATCH_SPARK_SCHEMA)
SPARK_READ_SECONDS = 900  # reading the alerts and queue back from the catalog (a JVM start)
# "[  41.2s] load            0/9  copied 7,123,456 rows of 13 tables to ..." (PostgreSQL, Spark)
_COPIED = re.compile(r"^\[\s*([\d.]+)s\] load\s.*copied ([\d,]+) rows", re.MULTILINE)
# "[   1.2s] load            2/9  raw.web_events: 6,963,080 rows (append, 1 new)"
_LOADED = re.compile(r"raw\.(\w+): ([\d,]+) rows \((\w+)")
_READING = re.compile(r"^\[\s*([\d.]+)s\] load\s.*reading ", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """What the night left for people: the active alerts and the decision queue."""

    active_alerts: frozenset[str]  # alert_id
    queue: frozenset[tuple[str, str]]  # (decision_id, status)
    alerts_rows: int  # every status
    metric_series_rows: int


@dataclass
class EngineRuns:
    """One engine's full build and nightly of one profile."""

    engine: str
    runs: dict[str, Measurement] = field(default_factory=dict)  # "full", "nightly"
    server_pss: dict[str, int] = field(default_factory=dict)  # PostgreSQL only, bytes
    load: dict[str, float] = field(default_factory=dict)  # mean 1-minute load during the run
    outcome: Outcome | None = None
    stopped: str = ""  # why a run was stopped or failed, if one was
    failed: bool = False  # a run exited with an error (not stopped by the watchdog)


@dataclass
class ProfileRuns:
    profile: str
    days: int  # history days N
    engines: dict[str, EngineRuns]


class ServerMemory:
    """Samples the PostgreSQL server's memory while a run goes on: the sum of PSS (shared
    buffers counted once, not once per backend) over the postmaster and its children."""

    def __init__(self, data_dir: Path) -> None:
        self._pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self._pid)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += process.memory_full_info().pss
        return total

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(SERVER_POLL_SECONDS)

    def __enter__(self) -> ServerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class LoadAverage:
    """The machine's 1-minute load average when started, every `every` seconds and when asked
    (the bench's own runs count in it): the mean and the highest of the samples."""

    def __init__(self, every: float = LOAD_POLL_SECONDS) -> None:
        self.samples = [os.getloadavg()[0]]
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self._every):
            self.samples.append(os.getloadavg()[0])

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    def now(self) -> tuple[float, float, float, float]:
        """(at the start, now, the mean so far, the highest so far)."""
        current = os.getloadavg()[0]
        seen = [*self.samples, current]
        return seen[0], current, sum(seen) / len(seen), max(seen)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Watchdog:
    """Stops this process's children running `program` (and theirs) after `seconds`."""

    def __init__(self, seconds: float, program: str = str(BIN / "firewatch")) -> None:
        self.fired = False
        self._program = program
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        import psutil

        self.fired = True
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if self._program in child.cmdline():
                    tree = [*child.children(recursive=True), child]
                    for process in tree:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            process.terminate()
                    psutil.wait_procs(tree, timeout=20)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _duckdb_outcome(warehouse: Path) -> Outcome:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        alerts = con.execute("select alert_id from main.alerts where status = 'active'").fetchall()
        queue = con.execute("select decision_id, status from main.decision_queue").fetchall()
        counts = con.execute(
            "select (select count(*) from main.alerts), (select count(*) from main.metric_series)"
        ).fetchone()
    finally:
        con.close()
    return Outcome(frozenset(a for (a,) in alerts), frozenset(map(tuple, queue)), *counts)


def _postgres_outcome(server: PostgresServer, schema: str) -> Outcome:
    con = server.connect()
    try:
        with con.cursor() as cursor:
            cursor.execute(f"select alert_id from {schema}.alerts where status = 'active'")
            alerts = cursor.fetchall()
            cursor.execute(f"select decision_id, status from {schema}.decision_queue")
            queue = cursor.fetchall()
            cursor.execute(
                f"select (select count(*) from {schema}.alerts), "
                f"(select count(*) from {schema}.metric_series)"
            )
            counts = cursor.fetchone()
    finally:
        con.close()
    return Outcome(frozenset(a for (a,) in alerts), frozenset(map(tuple, queue)), *counts)


def _spark_outcome(home: Path, schema: str, env: dict[str, str], logs: Path) -> Outcome:
    """Read from the catalog by bench/engines_spark.py, a process of its own started after the
    run ended (the embedded Derby metastore admits one JVM; this process never starts one)."""
    result = logs / "spark_outcome.json"
    result.unlink(missing_ok=True)
    command = [
        str(BIN / "python"), "-m", "bench.engines_spark", str(home), str(result),
        "--schema", schema,
    ]  # fmt: skip
    log = logs / "spark_outcome.log"
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            timeout=SPARK_READ_SECONDS, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        raise RuntimeError(f"exit {done.returncode}: {(lines or [''])[-1][:200]} (log {log})")
    c = json.loads(result.read_text(encoding="utf-8"))
    return Outcome(
        frozenset(c["active_alerts"]),
        frozenset(map(tuple, c["queue"])),
        c["alerts_rows"],
        c["metric_series_rows"],
    )


def _failure(error: SystemExit) -> str:
    """Why a run failed, from the tail of its log that measure() put in the SystemExit: the
    run's "firewatch run: step ... failed" line and the error under it, else the last line."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = next((i for i, line in enumerate(lines) if line.startswith("firewatch run:")), None)
    why = " ".join(lines[said : said + 2]) if said is not None else (lines or [""])[-1]
    log = re.search(r"; log (\S+):", text)
    return why[:300] + (f" (log {log.group(1)})" if log else "")


def _engine_runs(
    engine: str,
    dataset: Dataset,
    run_dir: Path,
    env: dict[str, str],
    logs: Path,
    max_seconds: float,
    server: PostgresServer | None = None,
) -> EngineRuns:
    """Full build as of D-1 on a fresh warehouse (or staging file and database, or staging file
    and catalog), then the nightly with day D's files, in a run folder whose path stays the same
    from profile to profile (dbt's partial parse holds for one path, as night after night). A
    run stopped or failed ends the engine's runs for the profile, the other engines' stand."""
    out = EngineRuns(engine)
    shutil.rmtree(run_dir, ignore_errors=True)
    landing = run_dir / "raw"
    warehouse = run_dir / ("warehouse.duckdb" if engine == "duckdb" else "stage.duckdb")
    if engine == "spark":  # a fresh catalog: FIREWATCH_SPARK_HOME is inside run_dir
        Path(env[SPARK_HOME_ENV]).mkdir(parents=True)
    day = dataset.last_day
    link_tree(dataset.history, landing)
    steps = (
        ("full", "full build", day - timedelta(days=1), True),
        ("nightly", "nightly", day, False),
    )
    for key, what, as_of, full_refresh in steps:
        if key == "nightly":
            link_tree(dataset.day_files, landing)
        print(f"  {engine} {what} as of {as_of}", flush=True)
        label = f"{engine}_{key}"
        memory = ServerMemory(server.data_dir) if server is not None else None
        load = LoadAverage(RUN_LOAD_POLL_SECONDS)
        with Watchdog(max_seconds) as watchdog, memory or contextlib.nullcontext():
            try:
                out.runs[key] = firewatch_run(
                    label, landing, warehouse, as_of, env, logs, full_refresh
                )
            except SystemExit as error:
                if watchdog.fired:
                    out.stopped = f"the {what} was stopped after {max_seconds / 60:g} min"
                else:
                    out.stopped = f"the {what} failed: {_failure(error)}"
                    out.failed = True
        load.stop()
        out.load[key] = load.mean
        if memory is not None:
            out.server_pss[key] = memory.peak
        if out.stopped:
            print(f"  {engine}: {out.stopped}", flush=True)
            break
        m = out.runs[key]
        print(
            f"    {m.seconds:,.1f} s, peak RSS {m.rss_gb:.2f} GB, 1-minute load average "
            f"{out.load[key]:.1f} during the run",
            flush=True,
        )
    if not out.stopped:
        try:
            if engine == "duckdb":
                out.outcome = _duckdb_outcome(warehouse)
            elif engine == "postgres":
                assert server is not None
                out.outcome = _postgres_outcome(server, env["FIREWATCH_PG_SCHEMA"])
            else:
                home = Path(env[SPARK_HOME_ENV])
                out.outcome = _spark_outcome(home, env[SPARK_SCHEMA_ENV], env, logs)
        except Exception as error:  # the timings stand without it; the report says so
            out.stopped = f"alerts and queue not read: {type(error).__name__}: {error}"
            print(f"  {engine}: {out.stopped}", flush=True)
    if out.stopped:  # the run's detailed log beside the warehouse (dbt's, stack traces)
        for detail in run_dir.glob("*.log"):
            shutil.copyfile(detail, logs / f"{engine}_{detail.name}")
    # Warehouses, staging files and catalogs are big and rebuilt every time; logs stay.
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


def measure_profile(
    profile: str,
    days: int,
    work: Path,
    env: dict[str, str],
    max_seconds: float,
    chosen: Sequence[str] = ENGINES,
    spark_skipped: str | None = None,
) -> ProfileRuns:
    """DuckDB's full build and nightly, then PostgreSQL's on a fresh server, then Spark's on a
    fresh catalog."""
    dataset, generated = prepare_dataset(profile, days + 1, DATASETS, env, False)
    if generated is not None:
        print(f"  generated {days + 1} days in {generated.seconds:.1f} s", flush=True)
    logs = work / "logs" / profile
    engines = {}
    if "duckdb" in chosen:
        engines["duckdb"] = _engine_runs("duckdb", dataset, work / "duckdb", env, logs, max_seconds)
    if "postgres" in chosen:
        with postgres_server() as server:
            pg_env = {**env, **server.dbt_env(), TARGET_ENV: "postgres"}
            engines["postgres"] = _engine_runs(
                "postgres", dataset, work / "postgres", pg_env, logs, max_seconds, server
            )
    if "spark" in chosen and spark_skipped is None:
        run_dir = work / "spark"
        spark_env = {
            **env,
            TARGET_ENV: "spark",
            SPARK_HOME_ENV: str(run_dir / "catalog"),
            SPARK_SCHEMA_ENV: SPARK_SCHEMA,
        }
        engines["spark"] = _engine_runs("spark", dataset, run_dir, spark_env, logs, max_seconds)
    return ProfileRuns(profile, days, engines)


def _ratio(other: float, duck: float) -> str:
    return f"{other / duck:.2f}×" if duck else "n/a"


def _copied(m: Measurement) -> tuple[float, int] | None:
    """Seconds from the load's first line to its "copied" line (the checked load into the
    staging file plus the copy to PostgreSQL or to Spark's catalog) and the rows copied, from
    the run's progress lines."""
    text = m.log.read_text(encoding="utf-8", errors="replace")
    reading, copied = _READING.search(text), _COPIED.search(text)
    if not (reading and copied):
        return None
    seconds = float(copied.group(1)) - float(reading.group(1))
    return seconds, int(copied.group(2).replace(",", ""))


def _copy_note(m: Measurement, engine: str) -> str:
    copied = _copied(m)
    if copied is None or engine == "duckdb":
        return ""
    to = (
        "COPY of {rows:,} rows to the database"
        if engine == "postgres"
        else "the copy of {rows:,} rows (every raw table, whole) to Parquet in the catalog"
    )
    return (
        f" (the checked load into the staging file plus {to.format(rows=copied[1])}: "
        f"{copied[0]:,.1f} s)"
    )


def _spark_copy_share(full: Measurement | None, nightly: Measurement | None) -> list[str]:
    """What the nightly copies to Spark's catalog beside the full build's copy: all of it,
    plus the day."""
    a, b = (_copied(m) if m is not None else None for m in (full, nightly))
    if a is None or b is None or not a[1]:
        return []
    return [
        "",
        f"On Spark the nightly copied {b[1]:,} rows to the catalog, {b[1] / a[1]:.1%} of the "
        f"full build's {a[1]:,} ({b[0]:,.1f} s with the checked load, {a[0]:,.1f} s in the full "
        "build): every table of the staging file's `raw` schema is written as Parquet and "
        "registered again, whole, every night, so the nightly's copy grows with the history.",
    ]


def _copy_share(full: Measurement | None, nightly: Measurement | None) -> list[str]:
    """How much of the full build's COPY the nightly sends again, and whether the tables the
    loader left unchanged were among it."""
    a, b = (_copied(m) if m is not None else None for m in (full, nightly))
    if nightly is None or a is None or b is None or not a[1]:
        return []
    loaded = _LOADED.findall(nightly.log.read_text(encoding="utf-8", errors="replace"))
    total = sum(int(rows.replace(",", "")) for _, rows, _ in loaded)
    unchanged = sum(int(rows.replace(",", "")) for _, rows, mode in loaded if mode == "unchanged")
    appended = total - unchanged  # rows of the tables the load appended to or replaced
    line = (
        f"On PostgreSQL the nightly's COPY sent {b[1]:,} rows, {b[1] / a[1]:.1%} of the full "
        f"build's {a[1]:,} ({b[0]:,.1f} s with the checked load; DuckDB appends the day's files "
        "in place). "
    )
    if b[1] < appended:
        line += (
            "Only the new files' rows of the tables the load appended to were copied, and the "
            "loader's bookkeeping tables; the tables it left unchanged were not copied at all "
            f"({unchanged:,} rows)."
        )
    else:
        line += (
            "The tables the load appended to (web_events, ads_daily) were copied whole, so the "
            "nightly's load grows with the history"
            + (f"; the unchanged ones ({unchanged:,} rows) too." if b[1] >= total else ".")
        )
    return ["", line]


def _cells(m: Measurement | None, engine: EngineRuns | None) -> str:
    """A run's wall seconds and peak RSS as two table cells, or why there are none."""
    if m is not None:
        return f"{m.seconds:,.1f} | {m.rss_gb:.2f}"
    why = (engine.stopped if engine else "") or "not run"
    return f"{why.replace('|', '/')} | "


_NOTHING_RAISED = (
    "(Neither engine's night raised an alert on this generated profile, so the queue is empty "
    "on both and the alerts compared here are only their absence; {tested}.)"
)
_TESTED = {
    "postgres": "tests/e2e/test_postgres_pipeline.py compares both engines on a landing with "
    "planted changes and alerts",
    "spark": "tests/e2e/test_spark_equality.py writes the same alerts and actions on both "
    "engines and reads back the same alerts, log and queue",
}


def _comparison(a: EngineRuns, b: EngineRuns) -> list[str]:
    """The active alerts and the queue after the nightly on engine `a` and `b`: the same, or
    how they differ."""
    x, y = a.outcome, b.outcome
    if x is None or y is None:
        why = "; ".join(e.stopped for e in (a, b) if e.stopped) or "a nightly did not finish"
        return [f"Alerts and queue of {NAMES[b.engine]} not compared: {why}."]
    same = x == y
    line = (
        f"After the nightly: {NAMES[a.engine]} {len(x.active_alerts)} active alerts and "
        f"{len(x.queue)} decision_queue rows, {NAMES[b.engine]} {len(y.active_alerts)} and "
        f"{len(y.queue)}; alerts of every status {x.alerts_rows} and {y.alerts_rows}; "
        f"metric_series {x.metric_series_rows:,} and {y.metric_series_rows:,} rows: "
        + (
            "**the same** (the same alert ids, decision ids and statuses, row counts)."
            if same
            else "**they differ**:"
        )
    )
    if not same:
        names = NAMES[a.engine], NAMES[b.engine]
        for what, p, q in (
            ("active alerts", x.active_alerts, y.active_alerts),
            ("queue rows", x.queue, y.queue),
        ):
            for name, only in ((names[0], p - q), (names[1], q - p)):
                if only:
                    shown = ", ".join(sorted(map(str, only))[:5])
                    line += f" {what} only on {name}: {len(only)} ({shown});"
        line = line.rstrip(";") + "."
    if same and not x.active_alerts and not x.queue:
        return [line, _NOTHING_RAISED.format(tested=_TESTED[b.engine])]
    return [line]


def _profile_lines(r: ProfileRuns) -> list[str]:
    present = [r.engines[e] for e in ENGINES if e in r.engines]
    duck = r.engines.get("duckdb")
    lines = [
        f"### {r.profile}: {r.days} days of history + 1",
        "",
        "| run | engine | wall s | peak RSS GB (firewatch tree) | PostgreSQL server peak PSS GB "
        "| wall / DuckDB | RSS / DuckDB | load during the run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    whats = {"full": f"full build, {r.days} days (as of D-1, fresh)", "nightly": "nightly, + 1 day"}
    for key, what in whats.items():
        for i, engine in enumerate(present):
            m = engine.runs.get(key)
            d = duck.runs.get(key) if duck is not None else None
            server = f"{engine.server_pss[key] / GB:.2f}" if key in engine.server_pss else ""
            ratios = (
                f"**{_ratio(m.seconds, d.seconds)}** | {_ratio(m.rss_gb, d.rss_gb)}"
                if m is not None and d is not None and engine is not duck
                else " | "
            )
            label = what if i == 0 else ""
            name = NAMES[engine.engine]
            load = f"{engine.load[key]:.1f}" if m is not None and key in engine.load else ""
            lines.append(
                f"| {label} | {name} | {_cells(m, engine)} | {server} | {ratios} | {load} |"
            )
    lines += ["", "Where the time goes (progress lines of `firewatch run`):", ""]
    for engine in present:
        for key, what in (("full", "full build"), ("nightly", "nightly")):
            m = engine.runs.get(key)
            if m is None:
                continue
            segments = " · ".join(f"{name} {s:,.1f} s" for name, s in _stages(m))
            note = _copy_note(m, engine.engine)
            lines.append(f"- {NAMES[engine.engine]} {what}, {m.seconds:,.1f} s: {segments}{note}")
    pg, spark = r.engines.get("postgres"), r.engines.get("spark")
    if pg is not None:
        lines += _copy_share(pg.runs.get("full"), pg.runs.get("nightly"))
    if spark is not None:
        lines += _spark_copy_share(spark.runs.get("full"), spark.runs.get("nightly"))
    for key, what in (("full", "full build"), ("nightly", "nightly")):
        ran = [(e, e.runs[key]) for e in present if key in e.runs]
        if not ran:
            continue
        lines += [
            "",
            f"Slowest dbt models, {what} (dbt's execution_time, s):",
            "",
            "| # | " + " | ".join(f"{NAMES[e.engine]} | s" for e, _ in ran) + " |",
            "|---|" + "---|---|" * len(ran),
        ]
        columns = [_slowest(m, 6) for _, m in ran]
        for i, row in enumerate(zip_longest(*columns, fillvalue=None), start=1):
            cells = [f"{x[0]} | {x[1]:.2f}" if x is not None else " | " for x in row]
            lines.append(f"| {i} | " + " | ".join(cells) + " |")
    if duck is not None:
        for other in (pg, spark):
            if other is not None:
                lines += ["", *_comparison(duck, other)]
    return lines


SPARK_HOW = (
    "Spark runs the same two with `FIREWATCH_TARGET=spark`, `FIREWATCH_SPARK_HOME` a fresh "
    "folder per profile (the Hive metastore in an embedded Derby database and Spark's "
    'warehouse folder) and the marts in its database `firewatch` (docs/engines.md, "The night '
    "on Spark\"); `--warehouse` is again the loader's DuckDB staging file. The loader checks "
    "the landing folder into the staging file, then **every table of its `raw` schema is "
    "written as Parquet and registered in the catalog, whole, every night** (in the load "
    "stage below); the dbt step builds there with dbt-spark's session method (Spark inside "
    "the dbt process, `local[2]`, driver memory 2g: a JVM of its own); the guard, "
    "the checks, the alerts, the queue, ritual metrics and the brief then run on the catalog "
    "in the run's own Spark session; no BI copy. **On Spark the six incremental models are "
    "plain tables rebuilt whole every night** (dbt-spark has no `delete+insert`, and `merge` "
    "needs Delta Lake, which is not installed here), so the Spark nightly is a full rebuild of "
    "the event-level models over the history plus one day, not DuckDB's and PostgreSQL's "
    "incremental one. Peak RSS counts the JVMs (children of the firewatch and dbt "
    "processes). The alerts and the queue are read after the run has ended, by a process of "
    "their own (bench/engines_spark.py: Derby admits one JVM at a time); that read is not "
    "measured."
)


def section(
    results: list[ProfileRuns],
    command: str,
    load: tuple[float, float, float, float],
    spark_skipped: str | None = None,
) -> str:
    """The markdown section, from its heading to the end."""
    niced = f", under `nice -n {os.nice(0)}`" if os.nice(0) else ""
    lines = [
        SECTION,
        "",
        f"Machine: {describe()}. Measured {date.today().isoformat()} with `{command}` (`make "
        f"bench-engines`){niced}. The bench does not stop other processes: the 1-minute load "
        f"average was {load[0]:.1f} at the start and {load[1]:.1f} at the end, {load[2]:.1f} on "
        f"average and {load[3]:.1f} at most over the bench (sampled every "
        f"{LOAD_POLL_SECONDS:g} s; the bench's own runs count in it); on 2 cores the figures, "
        "the PostgreSQL server's included, vary by 10-20% from run to run, more when something "
        "else runs. The last column of the tables is the 1-minute load average sampled every "
        f"{RUN_LOAD_POLL_SECONDS:g} s during that run (a trailing average, so a short run shows "
        "some of the minute before it; the run's own processes count in it: on a machine left "
        "to the bench a DuckDB or PostgreSQL run shows about 1-3, a Spark run about 4-5 (its "
        "JVMs' threads); more means something else ran too).",
        "",
        "How: the data sets of the bench above (history up to D-1, then the files of day D). "
        "Each run is `firewatch run` as its own process (wall time start to exit, peak RSS the "
        "largest sum over the process and its children, dbt included, polled every 50 ms, GB of "
        "10^9 bytes): the full build with `--full-refresh --as-of D-1` on a fresh warehouse, "
        "then the nightly with day D's files added, `--as-of D`, on the same warehouse; the "
        "engines run one after the other, never at the same time. "
        "PostgreSQL runs the same two with `FIREWATCH_TARGET=postgres` against a fresh "
        "throwaway server per profile (`tests/support/postgres.py`: PostgreSQL from Debian's "
        "package on 127.0.0.1, its default memory settings, fsync, synchronous commit and full "
        "page writes off, so writes cost less than on a durable production server); there "
        "`--warehouse` is the loader's DuckDB staging file. **The PostgreSQL server's "
        "processes are not in the firewatch process tree**, so their memory is not in the "
        "peak RSS column: it is sampled apart every 0.5 s as the sum of PSS over the "
        "postmaster and its backends (shared buffers counted once). The server's CPU time is "
        "in the wall time, as it is a night's. The server start (initdb, pg_ctl) is not "
        "measured.",
        "",
        SPARK_HOW if spark_skipped is None else f"Spark: not measured ({spark_skipped}).",
        "",
    ]
    for r in results:
        lines += _profile_lines(r) + [""]
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces the section (its heading up to the next `## ` heading) or appends it."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTION_PREFIX)), None)
    if start is None:
        before, after = old.rstrip() + "\n\n", ""
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        before = "".join(lines[:start])
        after = "".join(lines[end:])
        after = "\n" + after if after else ""
    path.write_text(before + text + after, encoding="utf-8")


@contextlib.contextmanager
def _no_firewatch_env() -> Iterator[None]:
    """Nothing from the caller's FIREWATCH_* reaches the server helper or this process."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("FIREWATCH_")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def main(argv: Sequence[str] | None = None) -> int:
    from dagster_project.generate.profiles import PROFILES as SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default=",".join(DEFAULT_PROFILES), help="comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated, of " + ", ".join(ENGINES) + " (each compared with DuckDB's if run)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=30.0,
        help="stop a run that takes longer (a Spark night of medium takes about 10 min)",
    )
    args = parser.parse_args(argv)
    profiles = chosen_profiles(parser, args.profiles, PROFILES)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - set(ENGINES):
        parser.error(f"--engines: choose from {', '.join(ENGINES)}")
    spark_skipped = spark_missing() if "spark" in engines else None
    if spark_skipped is not None:
        print(f"Spark skipped: {spark_skipped}", flush=True)
    load = LoadAverage()
    work = args.work.resolve()
    # A fresh Dagster instance per bench run: its run history is not what is measured.
    shutil.rmtree(work / "dagster_home", ignore_errors=True)
    env = private_env(work)
    results = []
    with _no_firewatch_env():
        print(f"1-minute load average at the start: {load.samples[0]:.2f}", flush=True)
        for profile in profiles:
            days = SIZES[profile].days
            print(f"{profile}: {days} days + 1", flush=True)
            results.append(
                measure_profile(
                    profile, days, work, env, args.max_minutes * 60, engines, spark_skipped
                )
            )
            # Written after each profile, so a bench stopped on a larger one keeps the others.
            done = [r.profile for r in results]
            command = ".venv/bin/python bench/engines.py" + (
                f" --profiles {','.join(done)}" if done != list(DEFAULT_PROFILES) else ""
            )
            if engines != list(ENGINES):
                command += f" --engines {','.join(engines)}"
            text = section(results, command, load.now(), spark_skipped)
            write_section(args.out, text)
    load.stop()
    print(text)
    failed = [
        f"{NAMES[e.engine]} {r.profile}: {e.stopped}"
        for r in results
        for e in r.engines.values()
        if e.failed
    ]
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
